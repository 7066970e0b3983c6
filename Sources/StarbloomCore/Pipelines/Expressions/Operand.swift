import StarbloomJSON

/// A value while an expression evaluates: the cases of `ExpressionValue`, plus strings, objects and
/// arrays still lying in the input's payload, so they are compared or copied without being decoded.
enum Operand: Sendable {
    case missing
    case null
    case bool(Bool)
    case integer(negative: Bool, magnitude: UInt256)
    case decimal(Double)
    case string(String)
    case json([UInt8])
    /// A JSON string in the payload: the bytes between its quotes, escaped when `escaped`.
    case payloadString(start: Int, end: Int, escaped: Bool)
    /// A JSON object or array in the payload.
    case payloadJSON(JSONField)

    init(_ value: ExpressionValue) {
        switch value {
        case .missing: self = .missing
        case .null: self = .null
        case .bool(let value): self = .bool(value)
        case .integer(let negative, let magnitude): self = .integer(negative: negative, magnitude: magnitude)
        case .decimal(let value): self = .decimal(value)
        case .string(let text): self = .string(text)
        case .json(let bytes): self = .json(bytes)
        }
    }

    /// An integer, normalising the sign of zero.
    @inline(__always)
    static func signed(_ negative: Bool, _ magnitude: UInt256) -> Operand {
        .integer(negative: negative && !magnitude.isZero, magnitude: magnitude)
    }

    var isText: Bool {
        switch self {
        case .string, .payloadString: true
        default: false
        }
    }

    var isNumber: Bool {
        switch self {
        case .integer, .decimal: true
        default: false
        }
    }

    /// The value of a number operand as a Double.
    var doubleValue: Double {
        switch self {
        case .integer(let negative, let magnitude): negative ? -magnitude.doubleValue : magnitude.doubleValue
        case .decimal(let value): value
        default: .nan
        }
    }
}

/// The outcome of comparing two operands; `unordered` covers both "different types" and "equal
/// kinds without an order" (two different booleans), which the operators treat alike.
enum OperandOrder {
    case less, equal, greater, unordered
}
