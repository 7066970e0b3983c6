/// One event's JSON payload indexed once (its top-level members), for the expressions a step
/// evaluates on it. Held by a step and reused, so indexing allocates nothing once warm.
struct PayloadIndex {
    private(set) var fields: [JSONField] = []

    /// Indexes `event`'s payload; a payload that is not a JSON object fails the record.
    mutating func load(_ event: PipelineEvent) throws(StepFailure) {
        let outcome = event.payload.withUnsafeBytes { bytes -> JSONSyntaxError? in
            do throws(JSONSyntaxError) {
                try JSONScanner.indexObject(bytes, into: &fields)
                return nil
            } catch {
                return error
            }
        }
        if let outcome { throw StepFailure("payload is not a JSON object: \(outcome)") }
    }

    func value(_ expression: Expression, of event: PipelineEvent) throws(StepFailure) -> ExpressionValue {
        let outcome = event.payload.withUnsafeBytes { bytes -> Result<ExpressionValue, ExpressionEvaluationError> in
            do throws(ExpressionEvaluationError) {
                return .success(try expression.evaluate(JSONRecordInput(payload: bytes, fields: fields, headers: event.headers)))
            } catch {
                return .failure(error)
            }
        }
        switch outcome {
        case .success(let value): return value
        case .failure(let error): throw StepFailure("\(error)")
        }
    }

    func matches(_ expression: Expression, of event: PipelineEvent) throws(StepFailure) -> Bool {
        let outcome = event.payload.withUnsafeBytes { bytes -> Result<Bool, ExpressionEvaluationError> in
            do throws(ExpressionEvaluationError) {
                return .success(try expression.matches(JSONRecordInput(payload: bytes, fields: fields, headers: event.headers)))
            } catch {
                return .failure(error)
            }
        }
        switch outcome {
        case .success(let value): return value
        case .failure(let error): throw StepFailure("\(error)")
        }
    }

    /// The raw JSON of a top-level member, if present.
    func raw(_ key: [UInt8], of event: PipelineEvent) -> [UInt8]? {
        event.payload.withUnsafeBytes { bytes in
            guard let field = JSONScanner.lookup(bytes, fields: fields, key: key) else { return nil }
            return Array(bytes[Int(field.valueStart)..<Int(field.valueEnd)])
        }
    }
}

extension ExpressionValue {
    /// The value as key bytes (lookups, dedupe, grouping): strings as their text — lower-cased when
    /// they are 0x-hex, since addresses compare without case — integers in decimal, others as JSON.
    var keyBytes: [UInt8] {
        switch self {
        case .string(let text):
            return text.hasPrefix("0x") || text.hasPrefix("0X") ? Array(text.lowercased().utf8) : Array(text.utf8)
        case .integer(let negative, let magnitude):
            var digits: [UInt8] = negative ? [UInt8(ascii: "-")] : []
            magnitude.appendDecimal(to: &digits)
            return digits
        case .missing:
            return []
        default:
            return json
        }
    }

    /// The value as JSON text (missing as null); 0x-hex strings lower-cased, as in `keyBytes`.
    var json: [UInt8] {
        var writer = JSONWriter()
        switch self {
        case .missing: writer.null()
        case .string(let text) where text.hasPrefix("0x") || text.hasPrefix("0X"): writer.string(text.lowercased())
        default: write(to: &writer)
        }
        return writer.bytes
    }

    var typeDescription: String {
        switch self {
        case .missing: "a missing field"
        case .null: "null"
        case .bool: "a boolean"
        case .integer, .decimal: "a number"
        case .string: "a string"
        case .json(let bytes): bytes.first == UInt8(ascii: "[") ? "an array" : "an object"
        }
    }
}
