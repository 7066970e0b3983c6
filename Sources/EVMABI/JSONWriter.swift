/// A small writer of JSON text as UTF-8 bytes. The caller places commas and colons through
/// `raw`; `string` escapes.
public struct JSONWriter: Sendable {
    public var bytes: [UInt8]

    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public var text: String { String(decoding: bytes, as: UTF8.self) }

    /// Appends bytes as they are (punctuation, numbers, literals).
    public mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    public mutating func raw(_ byte: UInt8) {
        bytes.append(byte)
    }

    /// Appends a JSON string literal: quotes, `\"`, `\\`, and control characters escaped.
    public mutating func string(_ value: String) {
        var value = value
        value.withUTF8 { appendEscaped($0) }
    }

    /// Appends `"key":`.
    public mutating func key(_ name: String) {
        string(name)
        bytes.append(UInt8(ascii: ":"))
    }

    /// Appends `"0x…"` with lowercase hex digits.
    public mutating func hexString(_ value: [UInt8]) {
        hexString(value, from: 0, count: value.count)
    }

    /// Appends `"0x…"` for `count` bytes of `value` from `start` (the caller checks the range).
    mutating func hexString(_ value: [UInt8], from start: Int, count: Int) {
        precondition(start >= 0 && count >= 0 && start <= value.count - count)
        // Sized once and filled through a pointer: an `append` per digit costs more than the digit.
        let at = bytes.count
        bytes.append(contentsOf: repeatElement(UInt8(ascii: "\""), count: 2 * count + 4))
        bytes.withUnsafeMutableBufferPointer { out in
            out[at + 1] = UInt8(ascii: "0")
            out[at + 2] = UInt8(ascii: "x")
            var k = at + 3
            value.withUnsafeBufferPointer { buffer in
                for index in start..<(start + count) {
                    let byte = buffer[index]
                    out[k] = JSONWriter.hexDigit(byte >> 4)
                    out[k + 1] = JSONWriter.hexDigit(byte & 0x0f)
                    k += 2
                }
            }
        }
    }

    @inline(__always)
    static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") - 10 + nibble
    }

    /// Appends the decimal digits of `value` (no quotes).
    public mutating func decimal(_ value: UInt64) {
        var digits = 1
        var scale: UInt64 = 10
        while digits < 20 && value >= scale {
            digits += 1
            if digits < 20 { scale *= 10 }
        }
        decimal(value, width: digits)
    }

    /// Appends exactly `width` (at most 20) decimal digits of `value`, zero-padded on the left.
    mutating func decimal(_ value: UInt64, width: Int) {
        var digits = InlineArray<20, UInt8>(repeating: UInt8(ascii: "0"))
        var remaining = value
        var index = 19
        while remaining > 0 && index >= 0 {
            digits[index] = UInt8(ascii: "0") + UInt8(remaining % 10)
            remaining /= 10
            index -= 1
        }
        for position in (20 - width)..<20 {
            bytes.append(digits[position])
        }
    }

    mutating func appendEscaped(_ utf8: UnsafeBufferPointer<UInt8>) {
        bytes.append(UInt8(ascii: "\""))
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(UInt8(ascii: "\\")); bytes.append(byte)
            case UInt8(ascii: "\\"): bytes.append(UInt8(ascii: "\\")); bytes.append(byte)
            case 0x0a: bytes.append(UInt8(ascii: "\\")); bytes.append(UInt8(ascii: "n"))
            case 0x0d: bytes.append(UInt8(ascii: "\\")); bytes.append(UInt8(ascii: "r"))
            case 0x09: bytes.append(UInt8(ascii: "\\")); bytes.append(UInt8(ascii: "t"))
            case 0x08: bytes.append(UInt8(ascii: "\\")); bytes.append(UInt8(ascii: "b"))
            case 0x0c: bytes.append(UInt8(ascii: "\\")); bytes.append(UInt8(ascii: "f"))
            case 0x00..<0x20, 0x7f:
                bytes.append(UInt8(ascii: "\\")); bytes.append(UInt8(ascii: "u"))
                bytes.append(UInt8(ascii: "0")); bytes.append(UInt8(ascii: "0"))
                bytes.append(JSONWriter.hexDigit(byte >> 4))
                bytes.append(JSONWriter.hexDigit(byte & 0x0f))
            default:
                bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
