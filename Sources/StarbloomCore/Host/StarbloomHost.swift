import Foundation
import Logging
import Synchronization

/// The plugin host: the catalog of loaded plugins, the configured instances and their supervisors,
/// and the core services they reach through the ABI. The admin API and the CLI drive it.
///
/// `@unchecked Sendable`: `instances`, `order` and `healthThread` are guarded by `lock`; the rest is
/// immutable or Sendable.
public final class StarbloomHost: @unchecked Sendable {
    public let configuration: HostConfiguration
    public let services: HostServices
    public let catalog: PluginCatalog
    /// Pipelines run only on the SQLite stores (their checkpoints live in state.db).
    public let pipelines: PipelineManager?
    public let startedAt = Date()
    private let lock = NSLock()
    private var instances: [String: PluginInstance] = [:]
    private var order: [String] = []
    private var healthThread: Thread?
    private let stopping = NSCondition()
    private let lastRescan = Mutex(Date())
    private let lastPurge = Mutex(Date())
    private var isStopping = false

    public init(configuration: HostConfiguration, services: HostServices = HostServices()) {
        self.configuration = configuration
        self.services = services
        var directories = configuration.bundledPluginDirectories.map { PluginCatalog.Directory(path: $0, bundled: true) }
        directories.append(.init(path: configuration.pluginsDirectory, bundled: false))
        catalog = PluginCatalog(
            loader: PluginLoader(cacheDirectory: "\(configuration.dataDirectory)/plugin-cache"),
            directories: directories, logger: services.logger)
        if let state = services.keyValue as? SQLiteStateStore {
            let logger = services.logger
            let host = hostReference
            let instances = PipelineInstances(named: { host.host?.instance(named: $0) }, all: { host.host?.allInstances ?? [] })
            pipelines = PipelineManager(queue: services.queue, state: state, series: services.timeSeries as? SQLiteTimeSeriesStore,
                                        keyValues: state, instances: instances, logger: { logger.warning("\($0)") })
        } else {
            pipelines = nil
        }
        services.metrics.addCollector { [weak self] in self?.renderStateMetrics() ?? "" }
        hostReference.host = self
    }

    /// Lets the pipelines (created in `init`, before `self` can be captured) look up instances.
    private let hostReference = WeakHostReference()
    /// `@unchecked Sendable`: `host` is written once, at the end of `init`, before any pipeline starts.
    private final class WeakHostReference: @unchecked Sendable {
        weak var host: StarbloomHost?
    }

    /// Loads plugins, creates the configured instances and starts the enabled ones.
    ///
    /// A configured instance whose plugin is missing or whose settings do not fit is still created,
    /// in state `failed` with the reason as its last error, so that one bad instance never keeps the
    /// others from starting; an operator fixes it and restarts it. Throws only for a duplicate name.
    public func start() throws(ConfigError) {
        // A plugin writing to a socket its peer closed (OpenSSL writes with write(), not
        // send(MSG_NOSIGNAL)) must get EPIPE, not kill the host and every instance in it.
        signal(SIGPIPE, SIG_IGN)
        try? FileManager.default.createDirectory(atPath: configuration.pluginsDirectory, withIntermediateDirectories: true)
        catalog.rescan()
        for spec in configuration.instances {
            try register(spec)
        }
        do throws(StoreError) {
            try pipelines?.start(configured: configuration.pipelines)
        } catch {
            services.logger.error("pipelines not started: \(error)")
        }
        startHealthChecks()
    }

    /// Stops every instance, all at once, so that shutdown takes at most the longest stop timeout.
    public func shutdown() {
        stopping.lock()
        isStopping = true
        stopping.broadcast()
        stopping.unlock()
        let group = DispatchGroup()
        for instance in allInstances {
            DispatchQueue.global().async(group: group) { instance.shutdown() }
        }
        group.wait()
        pipelines?.stopAll() // after the instances, so that what they published last is processed and checkpointed
        // Only now: instances may publish until they stop. Writes what is buffered, syncs, stops the
        // queue's threads.
        (services.queue as? DurableQueue)?.close()
    }

    public var allInstances: [PluginInstance] {
        lock.lock()
        defer { lock.unlock() }
        return order.compactMap { instances[$0] }
    }

    public func instance(named name: String) -> PluginInstance? {
        lock.lock()
        defer { lock.unlock() }
        return instances[name]
    }

    /// Adds an instance and starts it if enabled. The settings are validated first.
    public func addInstance(_ spec: InstanceSpec) throws(ConfigError) {
        if let problem = spec.problem { throw ConfigError(instance: spec.name, field: nil, problem: problem) }
        guard let plugin = catalog.plugin(named: spec.plugin) else {
            let known = catalog.plugins.map(\.name).joined(separator: ", ")
            throw ConfigError(instance: spec.name, field: nil,
                              problem: "plugin '\(spec.plugin)' is not loaded (loaded: \(known.isEmpty ? "none" : known))")
        }
        _ = try ConfigValidator.validate(settings: spec.settings, fields: plugin.fields, instance: spec.name, plugin: plugin.name)
        try register(spec)
    }

    /// Creates the supervisor and starts it when enabled; its own start reports what is wrong.
    private func register(_ spec: InstanceSpec) throws(ConfigError) {
        let instance = PluginInstance(spec: spec, services: services) { [catalog] name in catalog.plugin(named: name) }
        lock.lock()
        if instances[spec.name] != nil {
            lock.unlock()
            throw ConfigError(instance: spec.name, field: nil, problem: "an instance with this name already exists")
        }
        instances[spec.name] = instance
        order.append(spec.name)
        lock.unlock()
        if spec.enabled { instance.enable() }
    }

    /// Stops and forgets an instance. Returns false if there is none by that name.
    @discardableResult
    public func removeInstance(named name: String) -> Bool {
        lock.lock()
        let instance = instances.removeValue(forKey: name)
        order.removeAll { $0 == name }
        lock.unlock()
        instance?.disable()
        return instance != nil
    }

    /// Checks settings against a plugin without creating anything (`plugins validate`).
    public func validate(plugin name: String, settings: [String: SettingValue], instance: String = "validate") throws(ConfigError) {
        guard let plugin = catalog.plugin(named: name) else {
            throw ConfigError(instance: instance, field: nil, problem: "plugin '\(name)' is not loaded")
        }
        _ = try ConfigValidator.validate(settings: settings, fields: plugin.fields, instance: instance, plugin: plugin.name)
    }

    @discardableResult
    public func rescan() -> PluginCatalog.Scan {
        catalog.rescan()
    }

    private func startHealthChecks() {
        let interval = configuration.healthCheckInterval
        let thread = Thread { [weak self] in
            while let self {
                self.stopping.lock()
                if !self.isStopping { _ = self.stopping.wait(until: Date(timeIntervalSinceNow: interval)) }
                let done = self.isStopping
                self.stopping.unlock()
                if done { return }
                for instance in self.allInstances { instance.checkHealth() }
                if Date().timeIntervalSince(self.lastPurge.withLock { $0 }) >= 60 {
                    // Expired key-value entries already read as absent; this reclaims their space.
                    self.lastPurge.withLock { $0 = Date() }
                    _ = try? (self.services.keyValue as? SQLiteStateStore)?.purgeExpired()
                    _ = try? (self.services.timeSeries as? SQLiteTimeSeriesStore)?.enforceRetention(
                        self.configuration.seriesRetention, nowNs: Int64(Date().timeIntervalSince1970 * 1e9))
                }
                if let rescanEvery = self.configuration.rescanInterval,
                   Date().timeIntervalSince(self.lastRescan.withLock { $0 }) >= rescanEvery {
                    self.lastRescan.withLock { $0 = Date() }
                    self.catalog.rescan()
                }
            }
        }
        thread.name = "sb-health"
        lock.lock()
        healthThread = thread
        lock.unlock()
        thread.start()
    }

    private func renderStateMetrics() -> String {
        var out = "# HELP starbloom_instance_state Current state of each instance (1 for the current state).\n# TYPE starbloom_instance_state gauge\n"
        for instance in allInstances {
            let status = instance.status
            for state in InstanceState.allCases {
                let labels = MetricsRegistry.render([("instance", status.name), ("plugin", status.plugin), ("state", state.rawValue)])
                out += "starbloom_instance_state\(labels) \(state == status.state ? 1 : 0)\n"
            }
        }
        out += "# HELP starbloom_plugins_loaded Plugins loaded.\n# TYPE starbloom_plugins_loaded gauge\nstarbloom_plugins_loaded \(catalog.plugins.count)\n"
        out += "# HELP starbloom_plugins_refused Plugin files refused.\n# TYPE starbloom_plugins_refused gauge\nstarbloom_plugins_refused \(catalog.refused.count)\n"
        out += "# HELP starbloom_uptime_seconds Seconds since the host started.\n# TYPE starbloom_uptime_seconds gauge\nstarbloom_uptime_seconds \(Int(Date().timeIntervalSince(startedAt)))\n"
        for topic in services.queue.topics() {
            out += "starbloom_queue_topic_next_offset\(MetricsRegistry.render([("topic", topic.name)])) \(topic.nextOffset)\n"
        }
        if let pipelines { out += Self.renderPipelineMetrics(pipelines.all) }
        return out
    }

    /// Per pipeline: records processed, results emitted, dead-lettered and late records, checkpoints,
    /// restarts, whether it runs, and how far behind its inputs it is.
    static func renderPipelineMetrics(_ runners: [PipelineRunner]) -> String {
        let counters: [(name: String, help: String, value: (PipelineStatus) -> UInt64)] = [
            ("starbloom_pipeline_processed_total", "Input records a pipeline processed.", { $0.processed }),
            ("starbloom_pipeline_emitted_total", "Results a pipeline sent to its outputs.", { $0.emitted }),
            ("starbloom_pipeline_dead_lettered_total", "Records a pipeline sent to its dead-letter topic.", { $0.deadLettered }),
            ("starbloom_pipeline_late_total", "Records a pipeline sent to a late topic.", { $0.late }),
            ("starbloom_pipeline_checkpoints_total", "Checkpoints a pipeline committed.", { $0.checkpoints }),
            ("starbloom_pipeline_restarts_total", "Times a pipeline restarted from its checkpoint after an error.", { $0.restarts }),
        ]
        let statuses = runners.map { ($0.definition.name, $0.status) }
        var out = ""
        for counter in counters {
            out += "# HELP \(counter.name) \(counter.help)\n# TYPE \(counter.name) counter\n"
            for (name, status) in statuses {
                out += "\(counter.name)\(MetricsRegistry.render([("pipeline", name)])) \(counter.value(status))\n"
            }
        }
        out += "# HELP starbloom_pipeline_running 1 while a pipeline runs, 0 while it waits after an error or is stopped.\n# TYPE starbloom_pipeline_running gauge\n"
        for (name, status) in statuses {
            out += "starbloom_pipeline_running\(MetricsRegistry.render([("pipeline", name)])) \(status.state == "running" ? 1 : 0)\n"
        }
        return out
    }
}
