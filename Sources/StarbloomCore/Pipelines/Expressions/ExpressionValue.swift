import StarbloomJSON

/// The value of an expression, or of a field it reads.
///
/// Integers are exact: a sign and a 256-bit magnitude (token amounts), and zero is never negative.
/// `decimal` holds numbers with a fraction or exponent, and integers beyond 2^256-1. `json` is the
/// raw text of an object or array. `missing` means the field is absent, which differs from `null`.
public enum ExpressionValue: Hashable, Sendable, CustomStringConvertible {
    case missing
    case null
    case bool(Bool)
    case integer(negative: Bool, magnitude: UInt256)
    case decimal(Double)
    case string(String)
    case json([UInt8])

    public var isMissing: Bool {
        if case .missing = self { return true }
        return false
    }

    /// Writes the value as JSON. Integers of magnitude below 2^53 are JSON numbers; larger ones are
    /// JSON strings of digits ("-" first when negative), which readers that parse numbers as
    /// doubles cannot round. `missing` is written as `null` (callers normally leave the member out).
    /// Non-finite decimals are written as `null`.
    public func write(to writer: inout JSONWriter) {
        switch self {
        case .missing, .null:
            writer.null()
        case .bool(let value):
            writer.bool(value)
        case .integer(let negative, let magnitude):
            if magnitude.fitsInUInt64 && magnitude.w0 < 1 << 53 {
                let value = Int64(magnitude.w0)
                writer.integer(negative ? -value : value)
            } else if !negative {
                writer.uint256String(magnitude)
            } else {
                var digits: [UInt8] = [UInt8(ascii: "-")]
                magnitude.appendDecimal(to: &digits)
                digits.withUnsafeBytes { writer.string(utf8: $0) }
            }
        case .decimal(let value):
            writer.number(value)
        case .string(let text):
            writer.string(text)
        case .json(let bytes):
            writer.raw(bytes)
        }
    }

    /// The value of a field found by `JSONScanner` in `bytes`. Numbers without fraction or exponent
    /// become exact integers when they fit 256 bits; other numbers become decimals.
    public static func fromJSON(_ bytes: UnsafeRawBufferPointer, _ field: JSONField) -> ExpressionValue {
        guard field.valueStart >= 0, field.valueStart < field.valueEnd, Int(field.valueEnd) <= bytes.count else { return .missing }
        switch field.kind {
        case .object, .array: return .json(Array(bytes[field.valueRange]))
        case .string: return .string(JSONScanner.decodeString(bytes, field))
        case .number: return number(bytes, Int(field.valueStart), Int(field.valueEnd))
        case .trueValue: return .bool(true)
        case .falseValue: return .bool(false)
        case .null: return .null
        }
    }

    /// The JSON text, or `missing`.
    public var description: String {
        if case .missing = self { return "missing" }
        var writer = JSONWriter(capacity: 32)
        write(to: &writer)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    /// A JSON number's text `bytes[start..<end]` (already validated) as an exact integer or a decimal.
    static func number(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> ExpressionValue {
        if let (negative, magnitude) = integer(bytes, start, end) { return .integer(negative: negative, magnitude: magnitude) }
        return .decimal(decimal(bytes, start, end))
    }

    /// The exact integer a JSON number spells: no fraction or exponent, at most 2^256-1 in magnitude.
    /// Zero is never negative.
    @inline(__always)
    static func integer(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> (negative: Bool, magnitude: UInt256)? {
        let negative = bytes[start] == UInt8(ascii: "-")
        let digitsStart = negative ? start + 1 : start
        // UInt256(decimalUTF8:) refuses anything but digits, so a fraction or exponent gives nil.
        guard let magnitude = UInt256(decimalUTF8: UnsafeRawBufferPointer(rebasing: bytes[digitsStart..<end])) else { return nil }
        return (negative && !magnitude.isZero, magnitude)
    }

    /// A JSON number's text as a Double.
    static func decimal(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> Double {
        Double(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)) ?? .nan
    }
}
