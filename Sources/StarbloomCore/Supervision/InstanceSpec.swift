/// How an operator declared an instance (`[[instances]]` in starbloom.toml, or the admin API).
public struct InstanceSpec: Sendable, Codable, Equatable {
    public var name: String
    public var plugin: String
    public var enabled: Bool
    public var restart: RestartPolicy
    /// How long `stop` may take before the instance is declared hung and marked failed.
    public var stopTimeoutMs: Int
    /// Plugin settings, checked against the plugin's declared fields before every start.
    public var settings: [String: SettingValue]
    /// Processors and sinks: topic patterns they consume (`*` one segment, `>` the rest).
    public var inputs: [String]
    /// Topic used when a record is published or emitted with an empty topic.
    public var output: String?
    /// When the queue's buffers are full, publish returns SB_ERR_FULL at once instead of waiting
    /// (`publish = "fail-when-full"`; the default `"block"` waits for the disk).
    public var nonBlockingPublish = false

    public init(name: String, plugin: String, enabled: Bool = true, restart: RestartPolicy = RestartPolicy(),
                stopTimeoutMs: Int = 5_000, settings: [String: SettingValue] = [:], inputs: [String] = [],
                output: String? = nil) {
        self.name = name
        self.plugin = plugin
        self.enabled = enabled
        self.restart = restart
        self.stopTimeoutMs = stopTimeoutMs
        self.settings = settings
        self.inputs = inputs
        self.output = output
    }

    /// Checks what does not depend on the plugin. nil when fine.
    public var problem: String? {
        if !Naming.isValidPluginName(name) {
            return "instance name '\(name)' must be 1-64 characters of a-z, 0-9, '-' or '_'"
        }
        if let problem = restart.problem { return "instance '\(name)': restart \(problem)" }
        if stopTimeoutMs < 1 { return "instance '\(name)': stop_timeout_ms must be at least 1" }
        for pattern in inputs {
            if let problem = TopicName.patternProblem(pattern) { return "instance '\(name)': inputs: \(problem)" }
        }
        if let output, let problem = TopicName.problem(with: output) { return "instance '\(name)': output: \(problem)" }
        return nil
    }
}
