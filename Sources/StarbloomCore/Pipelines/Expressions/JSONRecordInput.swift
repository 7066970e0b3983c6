import StarbloomJSON

/// A record as expression input: its JSON payload, the index of the payload's top-level members
/// (from `JSONScanner.indexObject`) and its headers.
///
/// Top-level lookups scan `fields` comparing key bytes; deeper paths walk the nested objects and
/// arrays on demand (`JSONScanner.member`, `.element`). Neither allocates. `payload` must stay valid
/// while an expression evaluates on this input; create one per evaluation inside `withUnsafeBytes`.
public struct JSONRecordInput: ExpressionInput {
    public var payload: UnsafeRawBufferPointer
    public var fields: [JSONField]
    public var headers: [QueueRecord.Header]

    public init(payload: UnsafeRawBufferPointer, fields: [JSONField], headers: [QueueRecord.Header] = []) {
        self.payload = payload
        self.fields = fields
        self.headers = headers
    }

    public var jsonPayload: UnsafeRawBufferPointer? { payload }

    public func jsonField(at path: [PathComponent]) -> JSONField? {
        guard case .key(let name)? = path.first, var field = JSONScanner.lookup(payload, fields: fields, key: name) else {
            return nil
        }
        var position = 1
        while position < path.count {
            let next: JSONField?
            switch path[position] {
            case .key(let name): next = JSONScanner.member(name, in: field, of: payload)
            case .index(let index): next = JSONScanner.element(index, in: field, of: payload)
            }
            guard let next else { return nil }
            field = next
            position += 1
        }
        return field
    }

    public func value(at path: [PathComponent]) -> ExpressionValue {
        guard let field = jsonField(at: path) else { return .missing }
        return .fromJSON(payload, field)
    }

    /// The last header with this exact name (as `PipelineEvent.header` does).
    public func header(_ name: String) -> [UInt8]? {
        headers.last { $0.name == name }?.value
    }
}
