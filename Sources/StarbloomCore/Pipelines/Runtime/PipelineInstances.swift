/// How pipelines find the host's plugin instances (for processor steps) without holding the host:
/// the host builds its pipeline manager before it can hand out `self`.
public struct PipelineInstances: Sendable {
    public let named: @Sendable (String) -> PluginInstance?
    public let all: @Sendable () -> [PluginInstance]

    public init(named: @escaping @Sendable (String) -> PluginInstance?, all: @escaping @Sendable () -> [PluginInstance]) {
        self.named = named
        self.all = all
    }

    /// No instances: a processor step waits (its instance never appears).
    public static let none = PipelineInstances(named: { _ in nil }, all: { [] })
}
