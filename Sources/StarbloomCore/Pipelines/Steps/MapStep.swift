import StarbloomJSON

/// Reshapes a payload: keeps the selected top-level fields (all when `select` is absent), drops and
/// renames some, and sets computed ones (evaluated on the input payload). Kept values are copied as
/// their raw JSON text, so numbers and strings pass through byte for byte.
final class MapStep: PipelineStep {
    private let definition: PipelineDefinition.MapDefinition
    private let selected: [[UInt8]]?
    private let dropped: Set<[UInt8]>
    private let renamed: [[UInt8]: String]
    private let computedNames: Set<[UInt8]>
    private let index: PayloadIndex

    init(_ definition: PipelineDefinition.MapDefinition, index: PayloadIndex = PayloadIndex()) {
        self.definition = definition
        self.index = index
        selected = definition.select.map { $0.map { Array($0.utf8) } }
        dropped = Set(definition.drop.map { Array($0.utf8) })
        renamed = Dictionary(definition.rename.map { (Array($0.from.utf8), $0.to) }, uniquingKeysWith: { $1 })
        computedNames = Set(definition.set.map { Array($0.name.utf8) })
    }

    func process(_ event: PipelineEvent, into output: inout StepOutput) throws(StepFailure) {
        try index.load(event)
        var computed: [(String, ExpressionValue)] = []
        for (name, expression) in definition.set {
            computed.append((name, try index.value(expression, of: event)))
        }
        var writer = JSONWriter()
        writer.beginObject()
        var written = Set<[UInt8]>()
        event.payload.withUnsafeBytes { bytes in
            func copy(_ key: [UInt8], _ field: JSONField) {
                let name = renamed[key].map { Array($0.utf8) } ?? key
                guard !dropped.contains(key), !computedNames.contains(name), written.insert(name).inserted else { return }
                writer.key(utf8: name)
                writer.raw(UnsafeRawBufferPointer(rebasing: bytes[Int(field.valueStart)..<Int(field.valueEnd)]))
            }
            if let selected {
                for key in selected {
                    if let field = JSONScanner.lookup(bytes, fields: index.fields, key: key) { copy(key, field) }
                }
            } else {
                for field in index.fields {
                    copy(JSONScanner.keyBytes(bytes, field), field)
                }
            }
        }
        for (name, value) in computed where value != .missing {
            writer.key(name)
            value.write(to: &writer)
        }
        writer.endObject()
        var mapped = event
        mapped.payload = writer.bytes
        output.events.append(mapped)
    }
}
