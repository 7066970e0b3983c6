import StarbloomJSON

/// Looks a key up in a key-value namespace and stores the value in a field: JSON values are merged
/// as JSON, anything else as a string. A revert is enriched the same way (with the entry as it is
/// then; enrichment data is expected to change rarely).
final class EnrichStep: PipelineStep {
    private let definition: PipelineDefinition.EnrichDefinition
    private let store: any KeyValueStore
    private let intoKey: [UInt8]
    private let index: PayloadIndex

    init(_ definition: PipelineDefinition.EnrichDefinition, store: any KeyValueStore, index: PayloadIndex = PayloadIndex()) {
        self.definition = definition
        self.index = index
        self.store = store
        intoKey = Array(definition.into.utf8)
    }

    func process(_ event: PipelineEvent, into output: inout StepOutput) throws(StepFailure) {
        try index.load(event)
        let key = try index.value(definition.key, of: event).keyBytes
        guard let entry = store.get(namespace: definition.namespace, key: key) else {
            switch definition.onMissing {
            case .keep: output.events.append(event)
            case .drop: break
            case .deadLetter: throw StepFailure("enrich: no entry for key '\(String(decoding: key.prefix(200), as: UTF8.self))' in namespace '\(definition.namespace)'")
            }
            return
        }
        let isJSON = entry.value.withUnsafeBytes { JSONScanner.isValidJSON($0) }
        var writer = JSONWriter()
        writer.beginObject()
        event.payload.withUnsafeBytes { bytes in
            for field in index.fields where JSONScanner.keyBytes(bytes, field) != intoKey {
                writer.key(utf8: JSONScanner.keyBytes(bytes, field))
                writer.raw(UnsafeRawBufferPointer(rebasing: bytes[Int(field.valueStart)..<Int(field.valueEnd)]))
            }
        }
        writer.key(utf8: intoKey)
        entry.value.withUnsafeBytes { value in
            if isJSON { writer.raw(value) } else { writer.string(utf8: value) }
        }
        writer.endObject()
        var enriched = event
        enriched.payload = writer.bytes
        output.events.append(enriched)
    }
}
