/// Builds JSON text into `bytes`, placing commas itself: each open container remembers whether it
/// has an element yet, and a value right after `key` takes no comma.
///
/// The writer does not check structure (a value in an object without a key, unbalanced `end…`):
/// callers write well-formed sequences. Strings are escaped (quote, backslash and control
/// characters; other UTF-8 passes through as is). `reset()` keeps the capacity, so a writer reused
/// per event stops allocating once warm.
public struct JSONWriter: Sendable {
    public private(set) var bytes: [UInt8]
    /// One flag per open container: true once it has a member or element.
    private var hasElements: [Bool] = []
    private var afterKey = false

    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Empties the output, keeping its capacity.
    public mutating func reset() {
        bytes.removeAll(keepingCapacity: true)
        hasElements.removeAll(keepingCapacity: true)
        afterKey = false
    }

    // MARK: - Containers

    public mutating func beginObject() {
        separate()
        bytes.append(JSONByte.openBrace)
        hasElements.append(false)
    }

    public mutating func endObject() {
        bytes.append(JSONByte.closeBrace)
        _ = hasElements.popLast()
    }

    public mutating func beginArray() {
        separate()
        bytes.append(JSONByte.openBracket)
        hasElements.append(false)
    }

    public mutating func endArray() {
        bytes.append(JSONByte.closeBracket)
        _ = hasElements.popLast()
    }

    public mutating func key(_ name: String) {
        separate()
        var name = name
        name.withUTF8 { appendQuoted(UnsafeRawBufferPointer($0)) }
        bytes.append(JSONByte.colon)
        afterKey = true
    }

    public mutating func key(utf8 name: [UInt8]) {
        separate()
        name.withUnsafeBytes { appendQuoted($0) }
        bytes.append(JSONByte.colon)
        afterKey = true
    }

    // MARK: - Values

    public mutating func string(_ text: String) {
        separate()
        var text = text
        text.withUTF8 { appendQuoted(UnsafeRawBufferPointer($0)) }
    }

    /// A string from UTF-8 bytes (escaped here; not validated as UTF-8).
    public mutating func string(utf8 text: UnsafeRawBufferPointer) {
        separate()
        appendQuoted(text)
    }

    /// JSON text copied verbatim (a value cut from a scanned payload, say). Not checked.
    public mutating func raw(_ json: UnsafeRawBufferPointer) {
        separate()
        bytes.append(contentsOf: json)
    }

    public mutating func raw(_ json: [UInt8]) {
        separate()
        bytes.append(contentsOf: json)
    }

    public mutating func integer(_ value: Int64) {
        separate()
        if value < 0 { bytes.append(JSONByte.minus) }
        appendDigits(value.magnitude)
    }

    public mutating func integer(_ value: Int) {
        integer(Int64(value))
    }

    public mutating func unsigned(_ value: UInt64) {
        separate()
        appendDigits(value)
    }

    /// A number. Integral values of magnitude below 2^53 are written as integers ("3", not "3.0");
    /// others in Swift's shortest round-trip form ("0.1", "1e+16"). JSON has no NaN or infinity:
    /// those are written as `null`.
    public mutating func number(_ value: Double) {
        guard value.isFinite else {
            null()
            return
        }
        if value.magnitude < 9_007_199_254_740_992, Double(Int64(value)) == value {
            integer(Int64(value))
            return
        }
        separate()
        var text = value.description
        text.withUTF8 { bytes.append(contentsOf: $0) }
    }

    public mutating func bool(_ value: Bool) {
        separate()
        appendASCII(value ? "true" : "false")
    }

    public mutating func null() {
        separate()
        appendASCII("null")
    }

    /// A string whose text `write` appends, unescaped: only for text that needs no escaping (digits,
    /// hex), written without an intermediate String.
    public mutating func unescapedString(_ write: (inout [UInt8]) -> Void) {
        separate()
        bytes.append(JSONByte.quote)
        write(&bytes)
        bytes.append(JSONByte.quote)
    }

    // MARK: - Internals

    /// The comma before a value or key, unless it is the first in its container or follows a key.
    @inline(__always)
    private mutating func separate() {
        if afterKey {
            afterKey = false
            return
        }
        guard let last = hasElements.indices.last else { return }
        if hasElements[last] {
            bytes.append(JSONByte.comma)
        } else {
            hasElements[last] = true
        }
    }

    private mutating func appendASCII(_ text: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    private mutating func appendDigits(_ value: UInt64) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { buffer in
            var position = 20
            var rest = value
            repeat {
                position -= 1
                buffer[position] = 0x30 &+ UInt8(truncatingIfNeeded: rest % 10)
                rest /= 10
            } while rest != 0
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[position...]))
        }
    }

    /// `text` in quotes, escaping quote, backslash and bytes below 0x20; runs of plain bytes are
    /// copied in one append.
    private mutating func appendQuoted(_ text: UnsafeRawBufferPointer) {
        bytes.append(JSONByte.quote)
        var runStart = 0
        for index in 0..<text.count {
            let c = text[index]
            guard c < 0x20 || c == JSONByte.quote || c == JSONByte.backslash else { continue }
            if index > runStart { bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: text[runStart..<index])) }
            bytes.append(JSONByte.backslash)
            switch c {
            case JSONByte.quote, JSONByte.backslash: bytes.append(c)
            case 0x08: bytes.append(UInt8(ascii: "b"))
            case 0x0C: bytes.append(UInt8(ascii: "f"))
            case 0x0A: bytes.append(UInt8(ascii: "n"))
            case 0x0D: bytes.append(UInt8(ascii: "r"))
            case 0x09: bytes.append(UInt8(ascii: "t"))
            default:
                let hex: StaticString = "0123456789abcdef"
                bytes.append(UInt8(ascii: "u"))
                bytes.append(0x30)
                bytes.append(0x30)
                bytes.append(hex.utf8Start[Int(c >> 4)])
                bytes.append(hex.utf8Start[Int(c & 0xF)])
            }
            runStart = index + 1
        }
        if text.count > runStart { bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: text[runStart...])) }
        bytes.append(JSONByte.quote)
    }
}
