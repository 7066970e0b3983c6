/// Hands each event to a processor plugin instance configured on the host
/// (`{ type = "processor", instance = "NAME" }`), through the ABI's `process` with a batch of one.
///
/// - Every record the plugin emits becomes an event for the next step: its key, payload and
///   headers, its event time (the input's when the plugin left it 0), and the input's revert flag
///   (also set when the plugin added `starbloom-revert`). The emitted record's topic is ignored.
///   The delivered `sb_record` has an empty topic and offset/partition 0 (a step sees events, not
///   topic positions).
/// - A rejected record (`emitter->reject`) is delivered again, up to 3 deliveries in all; then the
///   step fails it with the plugin's reason (the runner sends it to the dead-letter topic). What the
///   plugin emitted during a rejected delivery is discarded.
/// - Instance-level trouble — no instance by that name, not a processor, disabled, not running,
///   restarting, fed by its own `inputs`, or `process` failing the whole call — is never the
///   record's fault: the step throws a transient `StepFailure` and the pipeline waits and retries
///   from its last checkpoint (the instance follows its own restart policy meanwhile).
///
/// The instance is looked up when the step first needs it, and again after any instance-level
/// trouble, so instances created (or re-created) after the pipeline are found.
final class ProcessorStep: PipelineStep {
    static let maxDeliveries = 3
    let instanceName: String
    private let instances: PipelineInstances
    private var instance: PluginInstance?

    init(instance: String, instances: PipelineInstances) {
        self.instanceName = instance
        self.instances = instances
    }

    func process(_ event: PipelineEvent, into output: inout StepOutput) throws(StepFailure) {
        let record = QueueRecord(topic: "", offset: 0, key: event.key, payload: event.payload, headers: event.headers,
                                 eventTimeNs: event.eventTimeNs)
        var reason = ""
        for _ in 0..<Self.maxDeliveries {
            let target = try resolve()
            switch target.processForStep([record]) {
            case .unavailable(let why):
                instance = nil
                throw StepFailure(why, isTransient: true)
            case .processed(let emitted, let rejected):
                if let rejection = rejected.first {
                    reason = rejection.reason
                    continue
                }
                for result in emitted {
                    let isRevert = event.isRevert
                        || result.headers.contains { $0.name == PipelineHeaders.revert && PipelineHeaders.isTrue($0.value) }
                    output.events.append(PipelineEvent(
                        key: result.key, payload: result.payload, headers: result.headers,
                        eventTimeNs: result.eventTimeNs != 0 ? result.eventTimeNs : event.eventTimeNs, isRevert: isRevert))
                }
                return
            }
        }
        instance?.deadLettered.add()
        throw StepFailure("processor instance '\(instanceName)' rejected the record \(Self.maxDeliveries) times: \(reason)")
    }

    private func resolve() throws(StepFailure) -> PluginInstance {
        if let instance { return instance }
        guard let found = instances.named(instanceName) else {
            let known = instances.all().filter { $0.pluginKind == .processor }.map(\.name).sorted()
            throw StepFailure("no instance named '\(instanceName)' (processor instances: \(known.isEmpty ? "none" : known.joined(separator: ", "))); "
                + "the pipeline waits until it exists", isTransient: true)
        }
        instance = found
        return found
    }
}
