import StarbloomJSON

/// What an expression reads: fields by path and record headers.
///
/// JSON-backed inputs also expose their payload (`jsonPayload`) and answer `jsonField(at:)`; the
/// evaluator then reads fields in place — comparing strings as bytes, parsing numbers without
/// building a String — and calls `value(at:)` only for inputs without a payload.
public protocol ExpressionInput {
    /// The field at `path`, `.missing` when absent.
    func value(at path: [PathComponent]) -> ExpressionValue
    /// The value of the record header `name`, nil when absent.
    func header(_ name: String) -> [UInt8]?
    /// The JSON text fields point into, valid while the evaluation runs. Default: nil.
    var jsonPayload: UnsafeRawBufferPointer? { get }
    /// With a payload: the field at `path` in it, nil when absent. Default: nil.
    func jsonField(at path: [PathComponent]) -> JSONField?
}

extension ExpressionInput {
    public var jsonPayload: UnsafeRawBufferPointer? { nil }
    public func jsonField(at path: [PathComponent]) -> JSONField? { nil }
}
