#if canImport(Glibc)
import Glibc
#endif

/// Why a log payload could not be read. Built only on the error path.
struct LogError: Error {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}

/// Where the fields of one log are: offsets into the payload for hex texts that are copied to the
/// output (after validation), decoded quantities, and the topic count. Topics and data are decoded
/// into the scanner's caller-owned buffers.
struct LogFields {
    /// Offset of the 40 hex digits of `address`.
    var address = -1
    var topicCount = -1
    var hasData = false
    /// Offsets of the 64 hex digits; -1 when missing or null.
    var blockHash = -1
    var transactionHash = -1
    var blockNumber: UInt64?
    var blockTimestamp: UInt64?
    var logIndex: UInt64?
    var removed = false
}

/// The members of a log object the decoder reads; others are skipped (after validation).
enum LogMember: Int {
    case address, topics, data, blockNumber, blockHash, blockTimestamp, transactionHash, transactionIndex, logIndex, removed

    var name: String {
        switch self {
        case .address: "address"
        case .topics: "topics"
        case .data: "data"
        case .blockNumber: "blockNumber"
        case .blockHash: "blockHash"
        case .blockTimestamp: "blockTimestamp"
        case .transactionHash: "transactionHash"
        case .transactionIndex: "transactionIndex"
        case .logIndex: "logIndex"
        case .removed: "removed"
        }
    }
}

/// What a hex string is, in messages: `'data'`, `topics[1]`.
enum HexLabel: CustomStringConvertible {
    case member(LogMember)
    case topic(Int)

    var description: String {
        switch self {
        case .member(let member): "'\(member.name)'"
        case .topic(let index): "topics[\(index)]"
        }
    }
}

/// A one-pass, validating reader of one `eth_getLogs` entry (a JSON object) over borrowed bytes.
/// It allocates nothing on the success path: topics go into a flat 4 × 32-byte buffer and data into
/// a reused array. Every read is bounds-checked; nesting of skipped values is limited; any
/// malformed input ends in a `LogError` naming the problem and where it is.
struct LogScanner {
    static let maxTopics = 4
    static let maxDepth = 64
    /// The largest integer a JSON number (an IEEE double) holds exactly: 2^53 − 1.
    static let maxExactInteger: UInt64 = (1 << 53) - 1

    let bytes: UnsafePointer<UInt8>
    let count: Int
    var index = 0

    init(_ payload: UnsafeRawBufferPointer) {
        // An empty payload may have no base address; point at a dummy byte that is never read.
        if let base = payload.baseAddress, payload.count > 0 {
            bytes = base.assumingMemoryBound(to: UInt8.self)
            count = payload.count
        } else {
            bytes = LogScanner.emptyBase
            count = 0
        }
    }

    private nonisolated(unsafe) static let emptyBase: UnsafePointer<UInt8> = {
        let pointer = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
        pointer.initialize(to: 0)
        return UnsafePointer(pointer)
    }()

    // MARK: The log object

    /// Reads the whole payload. `topics` receives `topicCount × 32` bytes; `data` the data bytes.
    mutating func scan(topics: UnsafeMutablePointer<UInt8>, data: inout [UInt8]) throws(LogError) -> LogFields {
        var fields = LogFields()
        skipWhitespace()
        guard index < count else { throw LogError(count == 0 ? "payload is empty" : "payload is only whitespace") }
        guard bytes[index] == UInt8(ascii: "{") else {
            throw LogError("payload is not a JSON object (starts with \(describe(bytes[index])))")
        }
        index += 1
        var seen: UInt16 = 0
        skipWhitespace()
        if index < count && bytes[index] == UInt8(ascii: "}") {
            index += 1
        } else {
            while true {
                skipWhitespace()
                guard index < count, bytes[index] == UInt8(ascii: "\"") else { throw syntax("expected a member name") }
                index += 1
                let key = try stringBody()
                skipWhitespace()
                try expect(UInt8(ascii: ":"))
                skipWhitespace()
                if !key.escaped, let member = LogScanner.member(bytes + key.start, key.end - key.start) {
                    let bit: UInt16 = 1 << UInt16(member.rawValue)
                    guard seen & bit == 0 else { throw LogError("duplicate member '\(member.name)'") }
                    seen |= bit
                    try read(member, into: &fields, topics: topics, data: &data)
                } else {
                    try skipValue(depth: 1)
                }
                skipWhitespace()
                guard index < count else { throw syntax("expected ',' or '}'") }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                guard bytes[index] == UInt8(ascii: "}") else { throw syntax("expected ',' or '}'") }
                index += 1
                break
            }
        }
        skipWhitespace()
        guard index == count else { throw syntax("unexpected text after the log object") }
        guard fields.address >= 0 else { throw LogError("missing 'address'") }
        guard fields.topicCount >= 0 else { throw LogError("missing 'topics'") }
        guard fields.hasData else { throw LogError("missing 'data'") }
        return fields
    }

    private mutating func read(_ member: LogMember, into fields: inout LogFields, topics: UnsafeMutablePointer<UInt8>,
                               data: inout [UInt8]) throws(LogError) {
        switch member {
        case .address:
            let text = try hexText(.member(member))
            guard text.digits == 40 else {
                throw LogError("'address' is not 0x and 40 hex digits: \(excerpt(text.start - 1, text.end + 1))")
            }
            fields.address = text.start + 2
        case .topics:
            fields.topicCount = try readTopics(into: topics)
        case .data:
            let text = try hexText(.member(member))
            let size = text.digits / 2
            data.removeAll(keepingCapacity: true)
            data.append(contentsOf: repeatElement(0, count: size))
            data.withUnsafeMutableBufferPointer { decodeHex(from: text.start + 2, bytes: size, into: $0.baseAddress!) }
            fields.hasData = true
        case .blockHash:
            fields.blockHash = try hash(member)
        case .transactionHash:
            fields.transactionHash = try hash(member)
        case .blockNumber:
            fields.blockNumber = try quantity(member)
        case .blockTimestamp:
            fields.blockTimestamp = try quantity(member)
        case .logIndex:
            fields.logIndex = try quantity(member)
        case .transactionIndex:
            _ = try quantity(member)
        case .removed:
            if matchLiteral("true") {
                fields.removed = true
            } else if matchLiteral("false") || matchLiteral("null") {
                fields.removed = false
            } else {
                throw LogError("'removed' is not true or false")
            }
        }
    }

    /// `"topics": ["0x…", …]`: each exactly 32 bytes, written one after another into `topics`.
    private mutating func readTopics(into topics: UnsafeMutablePointer<UInt8>) throws(LogError) -> Int {
        guard index < count, bytes[index] == UInt8(ascii: "[") else { throw LogError("'topics' is not an array") }
        index += 1
        skipWhitespace()
        if index < count && bytes[index] == UInt8(ascii: "]") {
            index += 1
            return 0
        }
        var topicCount = 0
        while true {
            skipWhitespace()
            guard index < count, bytes[index] == UInt8(ascii: "\"") else {
                throw LogError("topics[\(topicCount)] is not a string")
            }
            let text = try hexText(.topic(topicCount))
            guard text.digits == 64 else {
                throw LogError("topics[\(topicCount)] has \(text.digits / 2) bytes; a topic has 32")
            }
            guard topicCount < LogScanner.maxTopics else {
                throw LogError("'topics' has more than \(LogScanner.maxTopics) entries; a log has at most \(LogScanner.maxTopics)")
            }
            decodeHex(from: text.start + 2, bytes: 32, into: topics + topicCount * 32)
            topicCount += 1
            skipWhitespace()
            guard index < count else { throw syntax("expected ',' or ']' in 'topics'") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            guard bytes[index] == UInt8(ascii: "]") else { throw syntax("expected ',' or ']' in 'topics'") }
            index += 1
            return topicCount
        }
    }

    /// A 32-byte hash (`0x` and 64 hex digits) or null: the offset of its digits, or -1.
    private mutating func hash(_ member: LogMember) throws(LogError) -> Int {
        if matchLiteral("null") { return -1 }
        let text = try hexText(.member(member), nullable: true)
        guard text.digits == 64 else {
            throw LogError("'\(member.name)' is not 0x and 64 hex digits: \(excerpt(text.start - 1, text.end + 1))")
        }
        return text.start + 2
    }

    /// A JSON-RPC quantity (`0x` and 1 or more hex digits) or null. Values above 2^53 − 1 are
    /// refused: written as JSON numbers they could not be read back exactly.
    private mutating func quantity(_ member: LogMember) throws(LogError) -> UInt64? {
        if matchLiteral("null") { return nil }
        guard index < count, bytes[index] == UInt8(ascii: "\"") else {
            throw LogError("'\(member.name)' is not a hex quantity string")
        }
        let open = index
        index += 1
        let text = try stringBody()
        guard !text.escaped, text.end - text.start >= 3, bytes[text.start] == UInt8(ascii: "0"),
              bytes[text.start + 1] == UInt8(ascii: "x") else {
            throw LogError("'\(member.name)' is not a hex quantity (0x and hex digits): \(excerpt(open, index))")
        }
        var value: UInt64 = 0
        for position in (text.start + 2)..<text.end {
            let nibble = LogScanner.nibble(bytes[position])
            guard nibble < 16 else {
                throw LogError("malformed hex in '\(member.name)': \(describe(bytes[position])) at digit \(position - text.start - 2): \(excerpt(open, index))")
            }
            guard value <= LogScanner.maxExactInteger >> 4 else { throw tooLarge(member, open) }
            value = value << 4 | UInt64(nibble)
        }
        guard value <= LogScanner.maxExactInteger else { throw tooLarge(member, open) }
        return value
    }

    private func tooLarge(_ member: LogMember, _ open: Int) -> LogError {
        LogError("'\(member.name)' \(excerpt(open, index)) is larger than 2^53 - 1 (9007199254740991): refused rather than rounded in a JSON number")
    }

    /// A string that must be `0x` and an even number of hex digits (no escapes). Returns the
    /// offsets of the string's contents and the number of digits after `0x`.
    private mutating func hexText(_ label: HexLabel, nullable: Bool = false) throws(LogError) -> (start: Int, end: Int, digits: Int) {
        guard index < count, bytes[index] == UInt8(ascii: "\"") else {
            throw LogError("\(label) is not a string\(nullable ? " or null" : "")")
        }
        let open = index
        let start = index + 1
        // Fast path: `0x`, hex digits, closing quote. The quote is found with memchr (vectorized)
        // and the digits are then checked in a loop with no branch and no early exit, which the
        // compiler vectorizes too (a byte-at-a-time scan was about a sixth of the plugin's time).
        if count - start >= 3, bytes[start] == UInt8(ascii: "0"), bytes[start + 1] == UInt8(ascii: "x"),
           let quote = memchr(bytes + start + 2, Int32(UInt8(ascii: "\"")), count - start - 2) {
            let p = bytes
            let i = UnsafePointer<UInt8>(quote.assumingMemoryBound(to: UInt8.self)) - p
            var bad: UInt8 = 0
            for k in (start + 2)..<i {
                let c = p[k]
                let digit: UInt8 = c &- 48 < 10 ? 1 : 0
                let letter: UInt8 = (c | 0x20) &- 97 < 6 ? 1 : 0
                bad |= (digit | letter) ^ 1
            }
            if bad == 0 {
                let digits = i - start - 2
                index = i + 1
                guard digits & 1 == 0 else {
                    throw LogError("malformed hex in \(label): odd number of hex digits (\(digits))")
                }
                return (start, i, digits)
            }
        }
        // Otherwise find what is wrong.
        index = start
        let text = try stringBody()
        let where_ = label.description
        guard !text.escaped else {
            throw LogError("malformed hex in \(where_): escape sequence in a hex string")
        }
        let length = text.end - text.start
        guard length >= 2, bytes[text.start] == UInt8(ascii: "0"), bytes[text.start + 1] == UInt8(ascii: "x") else {
            throw LogError("malformed hex in \(where_): no 0x prefix: \(excerpt(open, index))")
        }
        let digits = length - 2
        for position in (text.start + 2)..<text.end where LogScanner.nibble(bytes[position]) > 15 {
            throw LogError("malformed hex in \(where_): \(describe(bytes[position])) at digit \(position - text.start - 2): \(excerpt(open, index))")
        }
        guard digits % 2 == 0 else {
            throw LogError("malformed hex in \(where_): odd number of hex digits (\(digits))")
        }
        return (text.start, text.end, digits)
    }

    /// Decodes `2 × bytes` validated hex digits at `offset`.
    private func decodeHex(from offset: Int, bytes size: Int, into output: UnsafeMutablePointer<UInt8>) {
        var source = bytes + offset
        for i in 0..<size {
            output[i] = LogScanner.nibble(source[0]) << 4 | LogScanner.nibble(source[1])
            source += 2
        }
    }

    /// The value of a hex digit, or 0xff.
    @inline(__always)
    static func nibble(_ c: UInt8) -> UInt8 {
        let digit = c &- UInt8(ascii: "0")
        if digit < 10 { return digit }
        let letter = (c | 0x20) &- UInt8(ascii: "a")
        if letter < 6 { return letter + 10 }
        return 0xff
    }

    // MARK: Member names

    private static func member(_ key: UnsafePointer<UInt8>, _ length: Int) -> LogMember? {
        func equals(_ name: StaticString) -> Bool {
            guard name.utf8CodeUnitCount == length else { return false }
            let expected = name.utf8Start
            for i in 0..<length where key[i] != expected[i] { return false }
            return true
        }
        switch length {
        case 4: return equals("data") ? .data : nil
        case 6: return equals("topics") ? .topics : nil
        case 7: return equals("address") ? .address : equals("removed") ? .removed : nil
        case 8: return equals("logIndex") ? .logIndex : nil
        case 9: return equals("blockHash") ? .blockHash : nil
        case 11: return equals("blockNumber") ? .blockNumber : nil
        case 14: return equals("blockTimestamp") ? .blockTimestamp : nil
        case 15: return equals("transactionHash") ? .transactionHash : nil
        case 16: return equals("transactionIndex") ? .transactionIndex : nil
        default: return nil
        }
    }

    // MARK: JSON syntax

    @inline(__always)
    private mutating func skipWhitespace() {
        while index < count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0a, 0x0d: index += 1
            default: return
            }
        }
    }

    private mutating func expect(_ byte: UInt8) throws(LogError) {
        guard index < count, bytes[index] == byte else { throw syntax("expected '\(Character(Unicode.Scalar(byte)))'") }
        index += 1
    }

    /// Consumes `literal` if it is next.
    private mutating func matchLiteral(_ literal: StaticString) -> Bool {
        let length = literal.utf8CodeUnitCount
        guard count - index >= length else { return false }
        let expected = literal.utf8Start
        for i in 0..<length where bytes[index + i] != expected[i] { return false }
        index += length
        return true
    }

    /// The rest of a string whose opening quote was consumed: the offsets of its contents (escapes
    /// not decoded) and whether it has any escape. Control characters and bad escapes are refused.
    private mutating func stringBody() throws(LogError) -> (start: Int, end: Int, escaped: Bool) {
        let start = index
        let p = bytes, n = count
        // Fast path: up to the first quote (memchr), with neither a backslash nor a control
        // character before it (checked without a branch per byte).
        if let quote = memchr(p + start, Int32(UInt8(ascii: "\"")), n - start) {
            let end = UnsafePointer<UInt8>(quote.assumingMemoryBound(to: UInt8.self)) - p
            var bad: UInt8 = 0
            for k in start..<end {
                let c = p[k]
                bad |= (c == UInt8(ascii: "\\") ? 1 : 0) | (c < 0x20 ? 1 : 0)
            }
            if bad == 0 {
                index = end + 1
                return (start, end, false)
            }
        }
        var i = index
        var escaped = false
        while i < n {
            let byte = p[i]
            if byte == UInt8(ascii: "\"") {
                index = i + 1
                return (start, i, escaped)
            }
            if byte == UInt8(ascii: "\\") {
                escaped = true
                guard i + 1 < n else { break }
                switch p[i + 1] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                     UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    i += 2
                case UInt8(ascii: "u"):
                    index = i
                    guard n - i >= 6 else { throw syntax("unterminated string") }
                    for k in 2..<6 where LogScanner.nibble(p[i + k]) > 15 {
                        throw syntax("bad \\u escape in a string")
                    }
                    i += 6
                default:
                    index = i
                    throw syntax("bad escape in a string")
                }
                continue
            }
            guard byte >= 0x20 else {
                index = i
                throw syntax("control character in a string")
            }
            i += 1
        }
        index = n
        throw syntax("unterminated string")
    }

    /// Skips any JSON value, validating it.
    private mutating func skipValue(depth: Int) throws(LogError) {
        guard index < count else { throw syntax("expected a value") }
        switch bytes[index] {
        case UInt8(ascii: "\""):
            index += 1
            _ = try stringBody()
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            guard depth < LogScanner.maxDepth else { throw syntax("values nest deeper than \(LogScanner.maxDepth) levels") }
            let isObject = bytes[index] == UInt8(ascii: "{")
            let close = isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")
            index += 1
            skipWhitespace()
            if index < count && bytes[index] == close {
                index += 1
                return
            }
            while true {
                skipWhitespace()
                if isObject {
                    try expect(UInt8(ascii: "\""))
                    _ = try stringBody()
                    skipWhitespace()
                    try expect(UInt8(ascii: ":"))
                    skipWhitespace()
                }
                try skipValue(depth: depth + 1)
                skipWhitespace()
                guard index < count else { throw syntax("unterminated \(isObject ? "object" : "array")") }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                guard bytes[index] == close else { throw syntax("expected ',' or '\(Character(Unicode.Scalar(close)))'") }
                index += 1
                return
            }
        case UInt8(ascii: "t"):
            guard matchLiteral("true") else { throw syntax("expected a value") }
        case UInt8(ascii: "f"):
            guard matchLiteral("false") else { throw syntax("expected a value") }
        case UInt8(ascii: "n"):
            guard matchLiteral("null") else { throw syntax("expected a value") }
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            try skipNumber()
        default:
            throw syntax("expected a value")
        }
    }

    private mutating func skipNumber() throws(LogError) {
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        func digits(_ scanner: inout LogScanner) -> Int {
            let start = scanner.index
            while scanner.index < scanner.count, scanner.bytes[scanner.index] &- UInt8(ascii: "0") < 10 { scanner.index += 1 }
            return scanner.index - start
        }
        guard index < count else { throw syntax("bad number") }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else if digits(&self) == 0 {
            throw syntax("bad number")
        }
        if index < count && bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard digits(&self) > 0 else { throw syntax("bad number") }
        }
        if index < count && (bytes[index] | 0x20) == UInt8(ascii: "e") {
            index += 1
            if index < count && (bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-")) { index += 1 }
            guard digits(&self) > 0 else { throw syntax("bad number") }
        }
    }

    // MARK: Messages

    private func syntax(_ problem: String) -> LogError {
        LogError("malformed JSON at byte \(index): \(problem)")
    }

    private func describe(_ byte: UInt8) -> String {
        byte >= 0x20 && byte < 0x7f ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x\(String(byte, radix: 16))"
    }

    /// The payload text in `start..<end`, shortened to 80 bytes.
    private func excerpt(_ start: Int, _ end: Int) -> String {
        let lower = max(0, min(start, count)), upper = max(lower, min(end, count))
        let shown = min(upper - lower, 80)
        let text = String(decoding: UnsafeBufferPointer(start: bytes + lower, count: shown), as: UTF8.self)
        return upper - lower > shown ? text + "…" : text
    }
}
