import Foundation

/// A problem in starbloom.toml, naming where it is.
public struct ConfigFileError: Error, Sendable, CustomStringConvertible {
    public let file: String
    public let message: String
    public var description: String { "\(file): \(message)" }
}

extension HostConfiguration {
    /// Reads starbloom.toml. Unknown keys are errors (a typo must not silently fall back to a default).
    public static func load(file: String) throws(ConfigFileError) -> HostConfiguration {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ConfigFileError(file: file, message: "cannot read the file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigFileError(file: file, message: "is not valid UTF-8")
        }
        return try parse(text, file: file)
    }

    public static func parse(_ text: String, file: String = "starbloom.toml") throws(ConfigFileError) -> HostConfiguration {
        let root: TOMLTable
        do {
            root = try TOMLParser.parse(text)
        } catch {
            throw ConfigFileError(file: file, message: error.description)
        }
        var reader = TableReader(table: root, path: "", file: file)
        var configuration = HostConfiguration()
        configuration.dataDirectory = try reader.string("data_dir") ?? configuration.dataDirectory
        configuration.pluginsDirectory = try reader.string("plugins_dir") ?? configuration.pluginsDirectory
        if let admin = try reader.table("admin") {
            var adminReader = TableReader(table: admin, path: "admin.", file: file)
            configuration.adminHost = try adminReader.string("host") ?? configuration.adminHost
            if let port = try adminReader.int("port") {
                guard (0...65535).contains(port) else {
                    throw ConfigFileError(file: file, message: "admin.port must be 0-65535, got \(port)")
                }
                configuration.adminPort = Int(port)
            }
            if let auth = try adminReader.string("auth") {
                guard auth == "keys" || auth == "none" else {
                    throw ConfigFileError(file: file, message: "admin.auth must be \"keys\" or \"none\", got \"\(auth)\"")
                }
                configuration.apiAuthentication = auth == "keys"
            }
            if let connections = try adminReader.int("max_connections") {
                guard (1...100_000).contains(connections) else {
                    throw ConfigFileError(file: file, message: "admin.max_connections must be 1-100000, got \(connections)")
                }
                configuration.apiLimits.maxConnections = Int(connections)
            }
            if let bytes = try adminReader.int("max_header_bytes") {
                guard (1_024...1_048_576).contains(bytes) else {
                    throw ConfigFileError(file: file, message: "admin.max_header_bytes must be 1024-1048576, got \(bytes)")
                }
                configuration.apiLimits.maxHeaderBytes = Int(bytes)
            }
            try adminReader.rejectUnknown()
        }
        if let host = try reader.table("host") {
            var hostReader = TableReader(table: host, path: "host.", file: file)
            if let interval = try hostReader.int("health_check_interval_ms") {
                guard interval >= 10 else {
                    throw ConfigFileError(file: file, message: "host.health_check_interval_ms must be at least 10, got \(interval)")
                }
                configuration.healthCheckInterval = Double(interval) / 1000
            }
            if let interval = try hostReader.int("rescan_interval_ms") {
                guard interval >= 0 else {
                    throw ConfigFileError(file: file, message: "host.rescan_interval_ms must be 0 (off) or positive, got \(interval)")
                }
                configuration.rescanInterval = interval == 0 ? nil : Double(interval) / 1000
            }
            if let bundled = try hostReader.stringList("bundled_plugin_dirs") {
                configuration.bundledPluginDirectories = bundled
            }
            try hostReader.rejectUnknown()
        }
        if let storage = try reader.table("storage") {
            var storageReader = TableReader(table: storage, path: "storage.", file: file)
            if let bytes = try storageReader.int("cache_bytes") {
                configuration.cacheBytes = try Self.cacheBound(bytes, "storage.cache_bytes", file)
            }
            if let bytes = try storageReader.int("query_cache_bytes") {
                configuration.queryCacheBytes = try Self.cacheBound(bytes, "storage.query_cache_bytes", file)
            }
            if let seconds = try storageReader.intList("rollup_seconds") {
                guard seconds.allSatisfy({ $0 > 0 && $0 <= 366 * 86_400 }) else {
                    throw ConfigFileError(file: file, message: "storage.rollup_seconds must list resolutions from 1 to 31622400 seconds, got \(seconds)")
                }
                configuration.rollupResolutions = seconds.map { $0 * 1_000_000_000 }
            }
            try storageReader.rejectUnknown()
        }
        if let policies = try reader.tableArray("series_retention") {
            for (index, table) in policies.enumerated() {
                var policyReader = TableReader(table: table, path: "series_retention[\(index)].", file: file)
                guard let metric = try policyReader.string("metric"), !metric.isEmpty else {
                    throw ConfigFileError(file: file, message: "series_retention[\(index)]: 'metric' (a name or pattern with *) is required")
                }
                guard let seconds = try policyReader.double("max_age_seconds"), seconds > 0, seconds < 9e9 else {
                    throw ConfigFileError(file: file, message: "series_retention[\(index)]: 'max_age_seconds' must be a positive number")
                }
                try policyReader.rejectUnknown()
                configuration.seriesRetention.append(.init(metricPattern: metric, maxAgeNs: Int64(seconds * 1e9)))
            }
        }
        if let queue = try reader.table("queue") {
            configuration.queueDefaults = try topicSettings(queue, base: TopicSettings(), path: "queue.", file: file, allowName: false)
        }
        if let topics = try reader.tableArray("topics") {
            for (index, table) in topics.enumerated() {
                guard let name = table["name"]?.stringValue else {
                    throw ConfigFileError(file: file, message: "topics[\(index)]: 'name' is required")
                }
                if let problem = TopicName.problem(with: name) {
                    throw ConfigFileError(file: file, message: "topics[\(index)]: \(problem)")
                }
                let settings = try topicSettings(table, base: configuration.queueDefaults, path: "topic '\(name)': ", file: file, allowName: true)
                configuration.topics.append((name, settings))
            }
        }
        if let instances = try reader.tableArray("instances") {
            var names = Set<String>()
            for (index, table) in instances.enumerated() {
                let spec = try instance(table, index: index, file: file)
                guard names.insert(spec.name).inserted else {
                    throw ConfigFileError(file: file, message: "instances[\(index)]: instance name '\(spec.name)' is used twice")
                }
                configuration.instances.append(spec)
            }
        }
        if let pipelines = try reader.tableArray("pipelines") {
            var names = Set<String>()
            for (index, table) in pipelines.enumerated() {
                let definition: PipelineDefinition
                do throws(PipelineConfigError) {
                    definition = try PipelineDefinition.parse(table)
                } catch {
                    throw ConfigFileError(file: file, message: "pipelines[\(index)]: \(error)")
                }
                guard names.insert(definition.name).inserted else {
                    throw ConfigFileError(file: file, message: "pipelines[\(index)]: pipeline name '\(definition.name)' is used twice")
                }
                configuration.pipelines.append(definition)
            }
        }
        try reader.rejectUnknown()
        return configuration
    }

    static func instance(_ table: TOMLTable, index: Int, file: String) throws(ConfigFileError) -> InstanceSpec {
        var reader = TableReader(table: table, path: "instances[\(index)].", file: file)
        guard let name = try reader.string("name") else {
            throw ConfigFileError(file: file, message: "instances[\(index)]: 'name' is required")
        }
        reader.path = "instance '\(name)': "
        guard let plugin = try reader.string("plugin") else {
            throw ConfigFileError(file: file, message: "instance '\(name)': 'plugin' is required")
        }
        var spec = InstanceSpec(name: name, plugin: plugin)
        spec.enabled = try reader.bool("enabled") ?? true
        spec.inputs = try reader.stringList("inputs") ?? []
        spec.output = try reader.string("output")
        if let timeout = try reader.int("stop_timeout_ms") { spec.stopTimeoutMs = Int(clamping: timeout) }
        if let mode = try reader.string("publish") {
            switch mode {
            case "block": spec.nonBlockingPublish = false
            case "fail-when-full": spec.nonBlockingPublish = true
            default: throw ConfigFileError(file: file, message: "instance '\(name)': publish must be block or fail-when-full, got '\(mode)'")
            }
        }
        if let restart = table["restart"] {
            reader.consumed.insert("restart")
            switch restart {
            case .string(let mode):
                spec.restart.mode = try restartMode(mode, where: "instance '\(name)': restart", file: file)
            case .table(let policy):
                var policyReader = TableReader(table: policy, path: "instance '\(name)': restart.", file: file)
                if let mode = try policyReader.string("policy") {
                    spec.restart.mode = try restartMode(mode, where: "instance '\(name)': restart.policy", file: file)
                }
                if let value = try policyReader.int("backoff_min_ms") { spec.restart.backoffMinMs = Int(clamping: value) }
                if let value = try policyReader.int("backoff_max_ms") { spec.restart.backoffMaxMs = Int(clamping: value) }
                if let value = try policyReader.int("max_restarts") { spec.restart.maxRestarts = Int(clamping: value) }
                if let value = try policyReader.double("window_seconds") { spec.restart.windowSeconds = value }
                try policyReader.rejectUnknown()
            default:
                throw ConfigFileError(file: file, message: "instance '\(name)': restart must be a string or a table, got \(restart.typeName)")
            }
        }
        if let settings = try reader.table("settings") {
            for (key, value) in settings.entries {
                spec.settings[key] = try settingValue(value, where: "instance '\(name)': settings.\(key)", file: file)
            }
        }
        try reader.rejectUnknown()
        if let problem = spec.problem { throw ConfigFileError(file: file, message: problem) }
        return spec
    }

    static func topicSettings(_ table: TOMLTable, base: TopicSettings, path: String, file: String, allowName: Bool) throws(ConfigFileError) -> TopicSettings {
        var reader = TableReader(table: table, path: path, file: file)
        if allowName { _ = try reader.string("name") }
        var settings = base
        if let value = try reader.int("partitions") { settings.partitions = Int(clamping: value) }
        if let text = try reader.string("durability") {
            guard let durability = TopicSettings.Durability(text: text) else {
                throw ConfigFileError(file: file, message: "\(path)durability must be always, none, interval or interval:<ms>, got '\(text)'")
            }
            settings.durability = durability
        }
        if let value = try reader.int("max_record_bytes") { settings.maxRecordBytes = Int(clamping: value) }
        if let value = try reader.int("segment_bytes") { settings.segmentBytes = Int(clamping: value) }
        if let value = try reader.double("retention_seconds") { settings.retentionSeconds = value }
        if let value = try reader.int("retention_bytes") { settings.retentionBytes = Int(clamping: value) }
        if let value = try reader.bool("compact") { settings.compact = value }
        try reader.rejectUnknown()
        if let problem = settings.problem { throw ConfigFileError(file: file, message: "\(path)\(problem)") }
        return settings
    }

    /// A cache's byte bound: not negative, and not above the machine's memory (a typo, not a plan:
    /// the cache would push the host into swap or the OOM killer long before it evicted anything).
    static func cacheBound(_ bytes: Int64, _ key: String, _ file: String) throws(ConfigFileError) -> Int {
        guard bytes >= 0 else { throw ConfigFileError(file: file, message: "\(key) must not be negative, got \(bytes)") }
        let memory = Int64(sysconf(Int32(_SC_PHYS_PAGES))) * Int64(sysconf(Int32(_SC_PAGESIZE)))
        guard memory <= 0 || bytes <= memory else {
            throw ConfigFileError(file: file, message: "\(key) is \(bytes), more than this machine's memory (\(memory) bytes)")
        }
        return Int(clamping: bytes)
    }

    static func restartMode(_ text: String, where location: String, file: String) throws(ConfigFileError) -> RestartPolicy.Mode {
        guard let mode = RestartPolicy.Mode(rawValue: text) else {
            throw ConfigFileError(file: file, message: "\(location) must be never, on-failure or always, got '\(text)'")
        }
        return mode
    }

    static func settingValue(_ value: TOMLValue, where location: String, file: String) throws(ConfigFileError) -> SettingValue {
        switch value {
        case .string(let text): return .string(text)
        case .integer(let number): return .int(number)
        case .float(let number): return .float(number)
        case .bool(let flag): return .bool(flag)
        case .datetime(let text): return .string(text)
        case .array(let items):
            var values: [SettingValue] = []
            for item in items {
                guard case .string(let text) = item else {
                    throw ConfigFileError(file: file, message: "\(location) must be a list of strings, but contains \(item.typeName)")
                }
                values.append(.string(text))
            }
            return .list(values)
        case .table:
            throw ConfigFileError(file: file, message: "\(location) is a table; settings are strings, numbers, booleans or lists of strings")
        }
    }
}

/// Reads typed keys from a TOML table and remembers which were read, so leftovers can be reported.
struct TableReader {
    let table: TOMLTable
    var path: String
    let file: String
    var consumed: Set<String> = []

    init(table: TOMLTable, path: String, file: String) {
        self.table = table
        self.path = path
        self.file = file
    }

    private mutating func value(_ key: String) -> TOMLValue? {
        consumed.insert(key)
        return table[key]
    }

    private func mismatch(_ key: String, _ expected: String, _ value: TOMLValue) -> ConfigFileError {
        ConfigFileError(file: file, message: "\(path)\(key) must be \(expected), got \(value.typeName)")
    }

    mutating func string(_ key: String) throws(ConfigFileError) -> String? {
        guard let value = value(key) else { return nil }
        guard let text = value.stringValue else { throw mismatch(key, "a string", value) }
        return text
    }

    mutating func int(_ key: String) throws(ConfigFileError) -> Int64? {
        guard let value = value(key) else { return nil }
        guard case .integer(let number) = value else { throw mismatch(key, "an integer", value) }
        return number
    }

    mutating func double(_ key: String) throws(ConfigFileError) -> Double? {
        guard let value = value(key) else { return nil }
        switch value {
        case .integer(let number): return Double(number)
        case .float(let number): return number
        default: throw mismatch(key, "a number", value)
        }
    }

    mutating func bool(_ key: String) throws(ConfigFileError) -> Bool? {
        guard let value = value(key) else { return nil }
        guard let flag = value.boolValue else { throw mismatch(key, "a boolean", value) }
        return flag
    }

    mutating func stringList(_ key: String) throws(ConfigFileError) -> [String]? {
        guard let value = value(key) else { return nil }
        guard let items = value.arrayValue else { throw mismatch(key, "a list of strings", value) }
        var result: [String] = []
        for item in items {
            guard let text = item.stringValue else { throw mismatch(key, "a list of strings", value) }
            result.append(text)
        }
        return result
    }

    mutating func intList(_ key: String) throws(ConfigFileError) -> [Int64]? {
        guard let value = value(key) else { return nil }
        guard let items = value.arrayValue else { throw mismatch(key, "a list of integers", value) }
        var result: [Int64] = []
        for item in items {
            guard case .integer(let number) = item else { throw mismatch(key, "a list of integers", value) }
            result.append(number)
        }
        return result
    }

    mutating func table(_ key: String) throws(ConfigFileError) -> TOMLTable? {
        guard let value = value(key) else { return nil }
        guard let table = value.tableValue else { throw mismatch(key, "a table", value) }
        return table
    }

    mutating func tableArray(_ key: String) throws(ConfigFileError) -> [TOMLTable]? {
        guard let value = value(key) else { return nil }
        guard let items = value.arrayValue else { throw mismatch(key, "an array of tables ([[\(key)]])", value) }
        var tables: [TOMLTable] = []
        for item in items {
            guard let table = item.tableValue else { throw mismatch(key, "an array of tables ([[\(key)]])", value) }
            tables.append(table)
        }
        return tables
    }

    func rejectUnknown() throws(ConfigFileError) {
        for key in table.keys where !consumed.contains(key) {
            // "admin." reads as "admin: unknown key 'x'"; "instance 'a': " stays as it is.
            let location = path.hasSuffix(".") ? String(path.dropLast()) + ": " : path
            throw ConfigFileError(file: file, message: "\(location)unknown key '\(key)'")
        }
    }
}
