import Foundation

extension PipelineDefinition {
    /// Parses one pipeline from its table (a `[[pipelines]]` entry, or JSON converted to a table).
    /// Every error names the pipeline, the entry and what to write instead.
    public static func parse(_ table: TOMLTable, name fixedName: String? = nil) throws(PipelineConfigError) -> PipelineDefinition {
        var reader = DefinitionReader(table: table, location: "pipeline")
        let name: String
        if let fixedName {
            if let given = try reader.string("name"), given != fixedName {
                throw PipelineConfigError("pipeline '\(fixedName)': the body names '\(given)'; leave 'name' out or make it match the path")
            }
            name = fixedName
        } else {
            guard let given = try reader.string("name") else { throw PipelineConfigError("pipeline: 'name' is required") }
            name = given
        }
        if let problem = nameProblem(name) { throw PipelineConfigError("pipeline '\(name)': \(problem)") }
        reader.location = "pipeline '\(name)'"
        guard let inputs = try reader.stringList("inputs"), !inputs.isEmpty else {
            throw PipelineConfigError("pipeline '\(name)': 'inputs' must list at least one topic or pattern (such as \"chain.logs\" or \"erc20.>\")")
        }
        for input in inputs {
            if let problem = TopicName.patternProblem(input) { throw PipelineConfigError("pipeline '\(name)': inputs: \(problem)") }
        }
        var steps: [StepDefinition] = []
        for (index, step) in (try reader.tableList("steps") ?? []).enumerated() {
            steps.append(try parseStep(step, location: "pipeline '\(name)': steps[\(index)]", pipeline: name))
        }
        var outputs: [OutputDefinition] = []
        for (index, output) in (try reader.tableList("outputs") ?? []).enumerated() {
            outputs.append(try parseOutput(output, location: "pipeline '\(name)': outputs[\(index)]"))
        }
        if outputs.isEmpty {
            throw PipelineConfigError("pipeline '\(name)': 'outputs' must name at least one destination, such as { topic = \"\(name).out\" }")
        }
        let deadLetter = try reader.string("dead_letter_topic") ?? "dlq.pipeline.\(name)"
        if let problem = TopicName.problem(with: deadLetter) { throw PipelineConfigError("pipeline '\(name)': dead_letter_topic: \(problem)") }
        let batchSize = try reader.int("batch_size") ?? 4096
        guard (1...100_000).contains(batchSize) else {
            throw PipelineConfigError("pipeline '\(name)': batch_size must be 1-100000, got \(batchSize)")
        }
        let interval = try reader.int("checkpoint_interval_ms") ?? 200
        guard (1...60_000).contains(interval) else {
            throw PipelineConfigError("pipeline '\(name)': checkpoint_interval_ms must be 1-60000, got \(interval)")
        }
        let start = try reader.string("start") ?? "earliest"
        guard start == "earliest" || start == "latest" else {
            throw PipelineConfigError("pipeline '\(name)': start must be \"earliest\" or \"latest\", got \"\(start)\"")
        }
        try reader.rejectUnknown()
        return PipelineDefinition(name: name, inputs: inputs, steps: steps, outputs: outputs, deadLetterTopic: deadLetter,
                                  batchSize: batchSize, checkpointIntervalMs: interval, startAtLatest: start == "latest", source: table)
    }

    /// Pipeline names appear in topic names and paths: letters, digits, '-' and '_'.
    public static func nameProblem(_ name: String) -> String? {
        if name.isEmpty || name.utf8.count > 64 { return "a pipeline name must be 1-64 characters" }
        let allowed = name.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x2D || byte == 0x5F
        }
        return allowed ? nil : "name '\(name)' may contain only letters, digits, '-' and '_'"
    }

    static func parseStep(_ table: TOMLTable, location: String, pipeline: String) throws(PipelineConfigError) -> StepDefinition {
        var reader = DefinitionReader(table: table, location: location)
        guard let type = try reader.string("type") else {
            throw PipelineConfigError("\(location): 'type' is required: one of filter, map, enrich, dedupe, window, processor")
        }
        reader.location = "\(location) (\(type))"
        let step: StepDefinition
        switch type {
        case "filter":
            guard let text = try reader.string("where") else { throw PipelineConfigError("\(reader.location): 'where' (an expression such as amount > 0) is required") }
            step = .filter(try reader.expression(text, key: "where"))
        case "map":
            var set: [(String, Expression)] = []
            for (field, value) in try reader.table("set")?.entries ?? [] {
                guard let text = value.stringValue else { throw PipelineConfigError("\(reader.location): set.\(field) must be an expression in a string") }
                set.append((field, try reader.expression(text, key: "set.\(field)")))
            }
            var rename: [(String, String)] = []
            for (from, value) in try reader.table("rename")?.entries ?? [] {
                guard let to = value.stringValue, !to.isEmpty else { throw PipelineConfigError("\(reader.location): rename.\(from) must be the new field name") }
                rename.append((from, to))
            }
            let map = MapDefinition(select: try reader.stringList("select"), rename: rename, drop: try reader.stringList("drop") ?? [], set: set)
            if map.select == nil && map.rename.isEmpty && map.drop.isEmpty && map.set.isEmpty {
                throw PipelineConfigError("\(reader.location): give at least one of select, rename, drop, set")
            }
            step = .map(map)
        case "enrich":
            guard let namespace = try reader.string("namespace"), !namespace.isEmpty else {
                throw PipelineConfigError("\(reader.location): 'namespace' (the key-value namespace to look in) is required")
            }
            guard let keyText = try reader.string("key") else { throw PipelineConfigError("\(reader.location): 'key' (an expression such as token) is required") }
            guard let into = try reader.string("into"), !into.isEmpty else { throw PipelineConfigError("\(reader.location): 'into' (the field to store the value in) is required") }
            let missingText = try reader.string("on_missing") ?? "keep"
            guard let missing = EnrichDefinition.MissingPolicy(rawValue: missingText) else {
                throw PipelineConfigError("\(reader.location): on_missing must be keep, drop or dead-letter, got \"\(missingText)\"")
            }
            step = .enrich(EnrichDefinition(namespace: namespace, key: try reader.expression(keyText, key: "key"), into: into, onMissing: missing))
        case "dedupe":
            guard let keyText = try reader.string("key") else { throw PipelineConfigError("\(reader.location): 'key' (an expression such as concat(tx, '/', log_index)) is required") }
            guard let window = try reader.duration("window") else { throw PipelineConfigError("\(reader.location): 'window' (such as \"10m\") is required") }
            step = .dedupe(DedupeDefinition(key: try reader.expression(keyText, key: "key"), windowNs: window))
        case "window":
            step = .window(try parseWindow(&reader, pipeline: pipeline))
        case "processor":
            // Only the name is checked here: instances live on the host and may be created after the
            // pipeline; a missing one makes the running pipeline wait (see ProcessorStep).
            guard let instance = try reader.string("instance"), !instance.isEmpty else {
                throw PipelineConfigError("\(reader.location): 'instance' (the name of a processor instance configured on the host) is required")
            }
            guard Naming.isValidPluginName(instance) else {
                throw PipelineConfigError("\(reader.location): instance '\(instance)' is not a valid instance name (1-64 characters of a-z, 0-9, '-' or '_')")
            }
            step = .processor(instance: instance)
        default:
            throw PipelineConfigError("\(location): unknown step type '\(type)'; use one of filter, map, enrich, dedupe, window, processor")
        }
        try reader.rejectUnknown()
        return step
    }

    static func parseWindow(_ reader: inout DefinitionReader, pipeline: String) throws(PipelineConfigError) -> WindowDefinition {
        let location = reader.location
        let kindText = try reader.string("kind") ?? "tumbling"
        let kind: WindowDefinition.Kind
        switch kindText {
        case "tumbling":
            guard let size = try reader.duration("size") else { throw PipelineConfigError("\(location): 'size' (such as \"1m\") is required") }
            kind = .tumbling(sizeNs: size)
        case "hopping":
            guard let size = try reader.duration("size"), let hop = try reader.duration("hop") else {
                throw PipelineConfigError("\(location): hopping windows need 'size' and 'hop' (such as size = \"5m\", hop = \"1m\")")
            }
            guard hop <= size, size % hop == 0 else {
                throw PipelineConfigError("\(location): 'size' must be a whole multiple of 'hop' (a window may not skip events)")
            }
            kind = .hopping(sizeNs: size, hopNs: hop)
        case "session":
            guard let gap = try reader.duration("gap") else { throw PipelineConfigError("\(location): session windows need 'gap' (such as \"30s\")") }
            kind = .session(gapNs: gap)
        default:
            throw PipelineConfigError("\(location): kind must be tumbling, hopping or session, got \"\(kindText)\"")
        }
        var timeField: Expression?
        if let text = try reader.string("time_field") { timeField = try reader.expression(text, key: "time_field") }
        let unit = try reader.timeUnit()
        var groupBy: [(String, Expression)] = []
        for field in try reader.stringList("group_by") ?? [] {
            let expression = try reader.expression(field, key: "group_by")
            groupBy.append((field.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." } ? String(field.split(separator: ".").last ?? "") : field, expression))
        }
        guard let aggregateTable = try reader.table("aggregates"), !aggregateTable.isEmpty else {
            throw PipelineConfigError("\(location): 'aggregates' is required, such as { transfers = \"count\", volume = \"sum(amount)\" }")
        }
        var aggregates: [AggregateDefinition] = []
        // In name order: a JSON body does not keep key order, and a definition must mean the same
        // (same result fields, same checkpoint layout) whichever way it arrived.
        for (name, value) in aggregateTable.entries.sorted(by: { $0.key < $1.key }) {
            guard let text = value.stringValue else { throw PipelineConfigError("\(location): aggregates.\(name) must be a string such as \"sum(amount)\"") }
            aggregates.append(try parseAggregate(name: name, text: text, location: "\(location): aggregates.\(name)"))
        }
        let reserved: Set<String> = ["window_start", "window_end", "revision"]
        for name in aggregates.map(\.name) + groupBy.map(\.0) where reserved.contains(name) {
            throw PipelineConfigError("\(location): '\(name)' is a field of every window result; choose another name")
        }
        let lateness = try reader.duration("allowed_lateness") ?? 0
        let retain = try reader.duration("retain_closed") ?? 3_600_000_000_000
        let lateTopic = try reader.string("late_topic") ?? "late.pipeline.\(pipeline)"
        if let problem = TopicName.problem(with: lateTopic) { throw PipelineConfigError("\(location): late_topic: \(problem)") }
        return WindowDefinition(kind: kind, timeField: timeField, timeUnitNs: unit, groupBy: groupBy, aggregates: aggregates,
                                allowedLatenessNs: lateness, retainClosedNs: retain, lateTopic: lateTopic)
    }

    static func parseAggregate(name: String, text: String, location: String) throws(PipelineConfigError) -> AggregateDefinition {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed == "count" || trimmed == "count()" { return AggregateDefinition(name: name, function: .count, argument: nil) }
        guard let open = trimmed.firstIndex(of: "("), trimmed.hasSuffix(")") else {
            throw PipelineConfigError("\(location): expected count or FUNCTION(expression) with FUNCTION one of \(AggregateDefinition.Function.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(text)\"")
        }
        let functionName = String(trimmed[..<open])
        guard let function = AggregateDefinition.Function(rawValue: functionName) else {
            throw PipelineConfigError("\(location): unknown aggregate '\(functionName)'; use one of \(AggregateDefinition.Function.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let inner = String(trimmed[trimmed.index(after: open)..<trimmed.index(before: trimmed.endIndex)])
        if function == .count && inner.trimmingCharacters(in: .whitespaces).isEmpty { return AggregateDefinition(name: name, function: .count, argument: nil) }
        do throws(ExpressionError) {
            return AggregateDefinition(name: name, function: function, argument: try Expression.parse(inner))
        } catch {
            throw PipelineConfigError("\(location): in the argument of \(functionName): \(error)")
        }
    }

    static func parseOutput(_ table: TOMLTable, location: String) throws(PipelineConfigError) -> OutputDefinition {
        var reader = DefinitionReader(table: table, location: location)
        let output: OutputDefinition
        if let topic = try reader.string("topic") {
            if let problem = TopicName.problem(with: topic) { throw PipelineConfigError("\(location): \(problem)") }
            output = .topic(topic)
        } else if let metric = try reader.string("series") {
            guard !metric.isEmpty else { throw PipelineConfigError("\(location): 'series' must name a metric") }
            guard let values = try reader.stringList("values"), !values.isEmpty else {
                throw PipelineConfigError("\(location): 'values' must list the numeric fields to store, such as [\"transfers\", \"volume\"]")
            }
            var time: (field: Expression, unitNs: Int64)?
            if let field = try reader.string("time") {
                time = (try reader.expression(field, key: "time"), try reader.timeUnit())
            }
            output = .series(metric: metric, values: values, tags: try reader.stringList("tags") ?? [], time: time)
        } else if let namespace = try reader.string("kv") {
            guard !namespace.isEmpty else { throw PipelineConfigError("\(location): 'kv' must name a namespace") }
            guard let keyText = try reader.string("key") else { throw PipelineConfigError("\(location): a kv output needs 'key' (an expression)") }
            output = .keyValue(namespace: namespace, key: try reader.expression(keyText, key: "key"))
        } else {
            throw PipelineConfigError("\(location): give one of topic = \"NAME\", series = \"METRIC\" (with values), kv = \"NAMESPACE\" (with key)")
        }
        try reader.rejectUnknown()
        return output
    }
}

/// Reads a definition table, remembering which keys were used so unknown ones are refused.
struct DefinitionReader {
    let table: TOMLTable
    var location: String
    private var consumed: Set<String> = []

    init(table: TOMLTable, location: String) {
        self.table = table
        self.location = location
    }

    private mutating func value(_ key: String) -> TOMLValue? {
        consumed.insert(key)
        return table[key]
    }

    private func mismatch(_ key: String, _ expected: String, _ value: TOMLValue) -> PipelineConfigError {
        PipelineConfigError("\(location): '\(key)' must be \(expected), got \(value.typeName)")
    }

    mutating func string(_ key: String) throws(PipelineConfigError) -> String? {
        guard let value = value(key) else { return nil }
        guard let text = value.stringValue else { throw mismatch(key, "a string", value) }
        return text
    }

    mutating func int(_ key: String) throws(PipelineConfigError) -> Int? {
        guard let value = value(key) else { return nil }
        guard case .integer(let number) = value else { throw mismatch(key, "an integer", value) }
        return Int(number)
    }

    mutating func stringList(_ key: String) throws(PipelineConfigError) -> [String]? {
        guard let value = value(key) else { return nil }
        if let single = value.stringValue { return [single] }
        guard let items = value.arrayValue else { throw mismatch(key, "a list of strings", value) }
        var result: [String] = []
        for item in items {
            guard let text = item.stringValue else { throw mismatch(key, "a list of strings", value) }
            result.append(text)
        }
        return result
    }

    mutating func table(_ key: String) throws(PipelineConfigError) -> TOMLTable? {
        guard let value = value(key) else { return nil }
        guard let table = value.tableValue else { throw mismatch(key, "a table", value) }
        return table
    }

    mutating func tableList(_ key: String) throws(PipelineConfigError) -> [TOMLTable]? {
        guard let value = value(key) else { return nil }
        guard let items = value.arrayValue else { throw mismatch(key, "a list of tables", value) }
        var tables: [TOMLTable] = []
        for item in items {
            guard let table = item.tableValue else { throw mismatch(key, "a list of tables", value) }
            tables.append(table)
        }
        return tables
    }

    /// "500ms", "10s", "5m", "2h", "1d", or a whole number of seconds.
    mutating func duration(_ key: String) throws(PipelineConfigError) -> Int64? {
        guard let value = value(key) else { return nil }
        let nanoseconds: Int64?
        switch value {
        case .integer(let seconds): nanoseconds = seconds > 0 && seconds < 100 * 365 * 86_400 ? seconds * 1_000_000_000 : nil
        case .string(let text): nanoseconds = Self.parseDuration(text)
        default: nanoseconds = nil
        }
        guard let nanoseconds, nanoseconds > 0 else {
            throw PipelineConfigError("\(location): '\(key)' must be a positive duration such as \"500ms\", \"10s\", \"5m\", \"1h\" or \"1d\"")
        }
        return nanoseconds
    }

    /// `time_unit`: "s" (the default), "ms", "us" or "ns", as nanoseconds per unit.
    mutating func timeUnit() throws(PipelineConfigError) -> Int64 {
        let text = try string("time_unit") ?? "s"
        let units: [String: Int64] = ["s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1]
        guard let unit = units[text] else { throw PipelineConfigError("\(location): time_unit must be s, ms, us or ns, got \"\(text)\"") }
        return unit
    }

    static func parseDuration(_ text: String) -> Int64? {
        let units: [(String, Int64)] = [("ms", 1_000_000), ("us", 1_000), ("ns", 1), ("s", 1_000_000_000), ("m", 60_000_000_000),
                                        ("h", 3_600_000_000_000), ("d", 86_400_000_000_000)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            guard let number = Int64(text.dropLast(suffix.count)), number > 0 else { return nil }
            let (product, overflow) = number.multipliedReportingOverflow(by: scale)
            return overflow ? nil : product
        }
        return nil
    }

    mutating func expression(_ text: String, key: String) throws(PipelineConfigError) -> Expression {
        do throws(ExpressionError) {
            return try Expression.parse(text)
        } catch {
            throw PipelineConfigError("\(location): \(key) \"\(text)\": \(error)")
        }
    }

    func rejectUnknown() throws(PipelineConfigError) {
        for key in table.keys where !consumed.contains(key) {
            throw PipelineConfigError("\(location): unknown key '\(key)'")
        }
    }
}
