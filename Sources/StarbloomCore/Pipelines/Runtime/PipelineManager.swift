import Foundation
import Synchronization

/// The running pipelines: those of `starbloom.toml` and those made over the API (stored in
/// `state.db` and started again at the next start). A file definition replaces a stored one of the
/// same name at start.
///
/// Changes at runtime: `apply` stops the old runner (which checkpoints and delivers its outputs)
/// and starts the new one. If the steps are unchanged the state carries over; if they changed,
/// windows and dedupe keys start empty while the inputs continue from the offsets reached (nothing
/// is read twice). `remove` stops a pipeline and forgets its definition, state and offsets.
public final class PipelineManager: Sendable {
    /// Each pipeline has two threads; the API refuses more than this many.
    public static let maxPipelines = 64

    private let queue: any MessageQueue
    private let store: PipelineStore
    private let series: SQLiteTimeSeriesStore?
    private let keyValues: any KeyValueStore
    private let logger: @Sendable (String) -> Void
    private let instances: PipelineInstances
    private let runners = Mutex<[String: PipelineRunner]>([:])
    /// Serializes apply/remove so two changes to one pipeline cannot interleave.
    private let changes = NSLock()

    /// `instances`: the host's plugin instances, for processor steps (none by default: such a step then waits).
    public init(queue: any MessageQueue, state: SQLiteStateStore, series: SQLiteTimeSeriesStore?, keyValues: any KeyValueStore,
                instances: PipelineInstances = .none, logger: @escaping @Sendable (String) -> Void) {
        self.queue = queue
        self.instances = instances
        self.store = PipelineStore(state)
        self.series = series
        self.keyValues = keyValues
        self.logger = logger
    }

    /// Starts the stored pipelines and the configured ones (configured win on a name clash). A stored
    /// definition that no longer parses is logged and skipped, not fatal.
    public func start(configured: [PipelineDefinition]) throws(StoreError) {
        var definitions: [String: PipelineDefinition] = [:]
        for (name, text) in try store.definitions() {
            do throws(PipelineConfigError) {
                definitions[name] = try PipelineDefinition.parse(try PipelineDefinition.table(fromJSON: Array(text.utf8)), name: name)
            } catch {
                logger("stored pipeline '\(name)' is not started: \(error)")
            }
        }
        for definition in configured { definitions[definition.name] = definition }
        for definition in definitions.values.sorted(by: { $0.name < $1.name }) {
            try apply(definition, persist: false)
        }
    }

    /// Creates or replaces a pipeline. Returns true when it was new.
    @discardableResult
    public func apply(_ definition: PipelineDefinition, persist: Bool = true) throws(StoreError) -> Bool {
        changes.lock()
        defer { changes.unlock() }
        let old = runners.withLock { $0[definition.name] }
        // The new runner notices changed steps itself (the checkpoint records their fingerprint).
        old?.stop()
        if persist { try store.saveDefinition(name: definition.name, definition: String(decoding: definition.sourceJSON, as: UTF8.self)) }
        let runner = PipelineRunner(definition: definition, queue: queue, store: store, series: series, keyValues: keyValues,
                                    instances: instances, logger: logger)
        runners.withLock { $0[definition.name] = runner }
        runner.start()
        return old == nil
    }

    /// Stops a pipeline and forgets it. False when there was none.
    @discardableResult
    public func remove(name: String) throws(StoreError) -> Bool {
        changes.lock()
        defer { changes.unlock() }
        guard let runner = runners.withLock({ $0.removeValue(forKey: name) }) else { return false }
        runner.stop()
        try store.delete(name: name)
        return true
    }

    public func pipeline(named name: String) -> PipelineRunner? {
        runners.withLock { $0[name] }
    }

    public var all: [PipelineRunner] {
        runners.withLock { Array($0.values) }.sorted { $0.definition.name < $1.definition.name }
    }

    /// Stops every pipeline (each checkpoints first).
    public func stopAll() {
        changes.lock()
        defer { changes.unlock() }
        let all = runners.withLock { current in
            defer { current = [:] }
            return Array(current.values)
        }
        for runner in all { runner.stop() }
    }
}
