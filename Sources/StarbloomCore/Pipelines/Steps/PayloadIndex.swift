import StarbloomJSON

/// One event's JSON payload indexed once (its top-level members), for the expressions the steps
/// evaluate on it. One index is shared by all steps of a pipeline: a step that meets the payload the
/// previous step indexed (the same array, held here so its storage cannot be reused meanwhile)
/// does not scan it again. Indexing allocates nothing once warm.
final class PayloadIndex {
    private(set) var fields: [JSONField] = []
    /// The payload `fields` describe, or nil when the last scan failed.
    private var indexed: [UInt8]?

    /// Indexes `event`'s payload; a payload that is not a JSON object fails the record.
    func load(_ event: PipelineEvent) throws(StepFailure) {
        if let indexed, indexed.count == event.payload.count,
           indexed.withUnsafeBufferPointer({ a in event.payload.withUnsafeBufferPointer { b in a.baseAddress == b.baseAddress } }) {
            return
        }
        if let prefetched = event.indexedFields {
            fields = prefetched
            indexed = event.payload
            return
        }
        indexed = nil
        let outcome = event.payload.withUnsafeBytes { bytes -> JSONSyntaxError? in
            do throws(JSONSyntaxError) {
                try JSONScanner.indexObject(bytes, into: &fields)
                return nil
            } catch {
                return error
            }
        }
        if let outcome { throw StepFailure("payload is not a JSON object: \(outcome)") }
        indexed = event.payload
    }

    func value(_ expression: Expression, of event: PipelineEvent) throws(StepFailure) -> ExpressionValue {
        do throws(ExpressionEvaluationError) {
            return try expression.evaluate(payload: event.payload, fields: fields, headers: event.headers)
        } catch {
            throw StepFailure("\(error)")
        }
    }

    func matches(_ expression: Expression, of event: PipelineEvent) throws(StepFailure) -> Bool {
        do throws(ExpressionEvaluationError) {
            return try expression.matches(payload: event.payload, fields: fields, headers: event.headers)
        } catch {
            throw StepFailure("\(error)")
        }
    }

    /// The member a one-segment path names, if the expression is one (the fast paths read its raw bytes).
    func topLevelField(_ key: [UInt8], of event: PipelineEvent) -> JSONField? {
        event.payload.withUnsafeBytes { JSONScanner.lookup($0, fields: fields, key: key) }
    }
}

extension Expression {
    /// The key when the whole expression is one top-level field (`amount`, not `a.b` or `x + 1`).
    var topLevelKey: [UInt8]? {
        guard let path, path.count == 1, case .key(let key) = path[0] else { return nil }
        return key
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
