/// The validating pass behind `JSONScanner.indexObject`: a loop over a small state machine, with
/// the open containers kept as bits of one word (bit d-1 set when the container at depth d is an
/// array), which the depth limit of 64 makes exactly enough.
struct JSONObjectValidator {
    private let base: UnsafeRawPointer
    private let end: Int
    private var i = 0

    init(base: UnsafeRawPointer, end: Int) {
        self.base = base
        self.end = end
    }

    private enum State { case objectOpened, expectKey, expectValue, arrayOpened, afterValue, containerClosed }

    mutating func run(into fields: inout [JSONField]) throws(JSONSyntaxError) {
        skipWhitespace()
        guard i < end else { throw failure(at: i, "expected a JSON object, found end of input") }
        guard byte(i) == JSONByte.openBrace else {
            throw failure(at: i, "expected '{': the document must be a JSON object, found \(found(i))")
        }
        i += 1
        var depth = 1
        var arrayBits: UInt64 = 0
        var member = JSONField(keyStart: 0, keyEnd: 0, valueStart: 0, valueEnd: 0, kind: .null)
        var previous = JSONByte.openBrace // the punctuation read last, for messages
        var state = State.objectOpened
        while true {
            switch state {
            case .objectOpened:
                skipWhitespace()
                if i < end && byte(i) == JSONByte.closeBrace {
                    i += 1
                    state = .containerClosed
                } else {
                    state = .expectKey
                }

            case .expectKey:
                skipWhitespace()
                guard i < end, byte(i) == JSONByte.quote else {
                    let expected = previous == JSONByte.comma ? "expected a string key after ','" : "expected a string key or '}'"
                    throw failure(at: i, "\(expected), found \(found(i))")
                }
                let keyStart = i + 1
                let escaped = try scanString()
                if depth == 1 {
                    member.keyStart = Int32(truncatingIfNeeded: keyStart)
                    member.keyEnd = Int32(truncatingIfNeeded: i - 1)
                    member.keyHasEscapes = escaped
                }
                skipWhitespace()
                guard i < end, byte(i) == JSONByte.colon else {
                    throw failure(at: i, "expected ':' after object key, found \(found(i))")
                }
                i += 1
                previous = JSONByte.colon
                state = .expectValue

            case .expectValue:
                skipWhitespace()
                guard i < end else { throw failure(at: i, "expected a value \(context(previous)), found end of input") }
                let start = i
                let kind: JSONKind
                var escaped = false
                switch byte(i) {
                case JSONByte.openBrace, JSONByte.openBracket:
                    guard depth < JSONScanner.maximumDepth else {
                        throw failure(at: i, "nesting deeper than \(JSONScanner.maximumDepth) levels")
                    }
                    let isArray = byte(i) == JSONByte.openBracket
                    if depth == 1 {
                        member.valueStart = Int32(truncatingIfNeeded: i)
                        member.kind = isArray ? .array : .object
                        member.valueHasEscapes = false
                    }
                    let bit = UInt64(1) &<< UInt64(depth)
                    arrayBits = isArray ? arrayBits | bit : arrayBits & ~bit
                    depth += 1
                    i += 1
                    previous = byte(start)
                    state = isArray ? .arrayOpened : .objectOpened
                    continue
                case JSONByte.quote:
                    escaped = try scanString()
                    kind = .string
                case JSONByte.minus, JSONByte.zero...JSONByte.nine:
                    try scanNumber()
                    kind = .number
                case UInt8(ascii: "t"):
                    try scanLiteral("true")
                    kind = .trueValue
                case UInt8(ascii: "f"):
                    try scanLiteral("false")
                    kind = .falseValue
                case UInt8(ascii: "n"):
                    try scanLiteral("null")
                    kind = .null
                default:
                    throw failure(at: i, "expected a value \(context(previous)), found \(found(i))")
                }
                if depth == 1 {
                    member.valueStart = Int32(truncatingIfNeeded: start)
                    member.kind = kind
                    member.valueHasEscapes = escaped
                }
                state = .afterValue

            case .arrayOpened:
                skipWhitespace()
                if i < end && byte(i) == JSONByte.closeBracket {
                    i += 1
                    state = .containerClosed
                } else {
                    state = .expectValue
                }

            case .afterValue:
                if depth == 1 {
                    member.valueEnd = Int32(truncatingIfNeeded: i)
                    fields.append(member)
                }
                skipWhitespace()
                let inArray = arrayBits & (UInt64(1) &<< UInt64(depth - 1)) != 0
                let c: UInt8 = i < end ? byte(i) : 0
                if i < end && c == JSONByte.comma {
                    i += 1
                    previous = JSONByte.comma
                    state = inArray ? .expectValue : .expectKey
                } else if i < end && c == (inArray ? JSONByte.closeBracket : JSONByte.closeBrace) {
                    i += 1
                    state = .containerClosed
                } else {
                    let expected = inArray ? "expected ',' or ']' after array element" : "expected ',' or '}' after object member"
                    throw failure(at: i, "\(expected), found \(found(i))")
                }

            case .containerClosed:
                depth -= 1
                if depth > 0 {
                    state = .afterValue
                    continue
                }
                skipWhitespace()
                guard i == end else { throw failure(at: i, "expected end of input after the top-level object, found \(found(i))") }
                return
            }
        }
    }

    // MARK: - Tokens

    /// From an opening quote to just past the closing one; true when the text has escapes.
    /// Runs of plain bytes are skipped eight at a time.
    @inline(__always)
    private mutating func scanString() throws(JSONSyntaxError) -> Bool {
        let opening = i
        i += 1
        var escaped = false
        while true {
            while i + 8 <= end && !JSONBytes.hasQuoteBackslashOrControl(base.loadUnaligned(fromByteOffset: i, as: UInt64.self)) {
                i += 8
            }
            while i < end {
                let c = byte(i)
                if c == JSONByte.quote || c == JSONByte.backslash || c < 0x20 { break }
                i += 1
            }
            guard i < end else { throw failure(at: opening, "unterminated string") }
            let c = byte(i)
            if c == JSONByte.quote {
                i += 1
                return escaped
            }
            if c < 0x20 {
                throw failure(at: i, "unescaped control character \(hexByte(c)) in string")
            }
            escaped = true
            guard i + 1 < end else { throw failure(at: opening, "unterminated string") }
            switch byte(i + 1) {
            case JSONByte.quote, JSONByte.backslash, UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                 UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                i += 2
            case UInt8(ascii: "u"):
                guard i + 6 <= end, JSONBytes.hexValue(base, i + 2, 4) != nil else {
                    throw failure(at: i, "invalid \\u escape in string: expected four hex digits")
                }
                i += 6
            default:
                let escape = byte(i + 1)
                let shown = escape >= 0x21 && escape < 0x7F ? "'\\\(Character(Unicode.Scalar(escape)))'" : "'\\' followed by \(hexByte(escape))"
                throw failure(at: i, "invalid escape \(shown) in string")
            }
        }
    }

    private mutating func scanNumber() throws(JSONSyntaxError) {
        let start = i
        if byte(i) == JSONByte.minus {
            i += 1
            guard i < end, isDigit(byte(i)) else { throw failure(at: i, "expected a digit after '-', found \(found(i))") }
        }
        if byte(i) == JSONByte.zero {
            i += 1
            if i < end && isDigit(byte(i)) { throw failure(at: start, "leading zeros are not allowed in numbers") }
        } else {
            while i < end && isDigit(byte(i)) { i += 1 }
        }
        if i < end && byte(i) == UInt8(ascii: ".") {
            i += 1
            guard i < end, isDigit(byte(i)) else { throw failure(at: i, "expected a digit after '.' in number, found \(found(i))") }
            while i < end && isDigit(byte(i)) { i += 1 }
        }
        if i < end && byte(i) | 0x20 == UInt8(ascii: "e") {
            i += 1
            if i < end && (byte(i) == JSONByte.plus || byte(i) == JSONByte.minus) { i += 1 }
            guard i < end, isDigit(byte(i)) else { throw failure(at: i, "expected a digit in the exponent, found \(found(i))") }
            while i < end && isDigit(byte(i)) { i += 1 }
        }
    }

    private mutating func scanLiteral(_ word: StaticString) throws(JSONSyntaxError) {
        let count = word.utf8CodeUnitCount
        let letters = word.utf8Start
        var matched = i + count <= end
        var k = 0
        while matched && k < count {
            matched = byte(i + k) == letters[k]
            k += 1
        }
        guard matched else { throw failure(at: i, "invalid literal: expected true, false or null") }
        i += count
    }

    // MARK: - Helpers

    @inline(__always)
    private func byte(_ offset: Int) -> UInt8 { base.load(fromByteOffset: offset, as: UInt8.self) }

    @inline(__always)
    private func isDigit(_ c: UInt8) -> Bool { c &- JSONByte.zero < 10 }

    @inline(__always)
    private mutating func skipWhitespace() {
        while i < end {
            let c = byte(i)
            guard c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 else { return }
            i += 1
        }
    }

    private func context(_ previous: UInt8) -> String {
        switch previous {
        case JSONByte.colon: "after ':'"
        case JSONByte.comma: "after ','"
        default: "or ']'"
        }
    }

    private func found(_ offset: Int) -> String {
        guard offset < end else { return "end of input" }
        let c = byte(offset)
        return c >= 0x21 && c < 0x7F ? "'\(Character(Unicode.Scalar(c)))'" : hexByte(c)
    }

    private func hexByte(_ c: UInt8) -> String {
        let digits = Array("0123456789ABCDEF".utf8)
        return "byte 0x" + String(decoding: [digits[Int(c >> 4)], digits[Int(c & 15)]], as: UTF8.self)
    }

    private func failure(at offset: Int, _ message: String) -> JSONSyntaxError {
        JSONSyntaxError(offset: offset, message: message)
    }
}

/// ASCII bytes the JSON code names.
public enum JSONByte {
    public static let quote = UInt8(ascii: "\"")
    public static let backslash = UInt8(ascii: "\\")
    public static let openBrace = UInt8(ascii: "{")
    public static let closeBrace = UInt8(ascii: "}")
    public static let openBracket = UInt8(ascii: "[")
    public static let closeBracket = UInt8(ascii: "]")
    public static let colon = UInt8(ascii: ":")
    public static let comma = UInt8(ascii: ",")
    public static let minus = UInt8(ascii: "-")
    public static let plus = UInt8(ascii: "+")
    public static let zero = UInt8(ascii: "0")
    public static let nine = UInt8(ascii: "9")
}

/// Word-at-a-time and hex helpers shared by the scanner, the walker and the decoder.
public enum JSONBytes {
    private static let ones: UInt64 = 0x0101_0101_0101_0101
    private static let highs: UInt64 = 0x8080_8080_8080_8080

    /// True when one of the eight bytes is '"', '\' or below 0x20 (exact: no false positives for
    /// the word as a whole).
    @inline(__always)
    static func hasQuoteBackslashOrControl(_ word: UInt64) -> Bool {
        let quotes = word ^ (ones &* 0x22)
        let backslashes = word ^ (ones &* 0x5C)
        let zeroQuote = (quotes &- ones) & ~quotes
        let zeroBackslash = (backslashes &- ones) & ~backslashes
        let control = (word &- ones &* 0x20) & ~word
        return (zeroQuote | zeroBackslash | control) & highs != 0
    }

    /// True when one of the eight bytes is '"' or '\'.
    @inline(__always)
    static func hasQuoteOrBackslash(_ word: UInt64) -> Bool {
        let quotes = word ^ (ones &* 0x22)
        let backslashes = word ^ (ones &* 0x5C)
        return ((quotes &- ones) & ~quotes | (backslashes &- ones) & ~backslashes) & highs != 0
    }

    /// The value of `count` hex digits at `offset`, nil if one is not a hex digit.
    @inline(__always)
    static func hexValue(_ base: UnsafeRawPointer, _ offset: Int, _ count: Int) -> UInt32? {
        var value: UInt32 = 0
        for k in 0..<count {
            let c = base.load(fromByteOffset: offset + k, as: UInt8.self)
            let digit: UInt8
            switch c {
            case 0x30...0x39: digit = c &- 0x30
            case 0x41...0x46: digit = c &- 0x41 &+ 10
            case 0x61...0x66: digit = c &- 0x61 &+ 10
            default: return nil
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }
}
