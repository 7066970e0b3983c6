import CStarbloomABI
import Dispatch
import Foundation
import Logging
import Synchronization

/// One configured instance of a plugin and its supervisor: starts it, watches it, restarts it by its
/// policy, and stops it — containing whatever the plugin does wrong.
///
/// Threads: every control action (enable, disable, restart, reconfigure, commands, health checks,
/// worker exits, scheduled restarts) runs on `control`, a serial queue, so the plugin's lifecycle
/// calls are serialized as the ABI promises. Plugin code that may block (create, start, stop,
/// destroy, health, commands) runs through `BlockingCall` with a timeout; `run` and the processor feed
/// loop run on a dedicated worker thread per incarnation.
///
/// Processor instances also serve pipeline steps (`processForStep`, in PluginInstance+Steps.swift):
/// a pipeline's thread calls `process` through `stepTarget` and the run's `stepLock`, which
/// `stopLive` takes before `destroy`.
///
/// `@unchecked Sendable`: `spec`, `live`, `restartTimes` and `incarnation` are touched only on
/// `control`; `snapshot` and `stepTarget` are Mutexes.
public final class PluginInstance: @unchecked Sendable {
    public let name: String
    let services: HostServices
    let resolvePlugin: @Sendable (String) -> LoadedPlugin?
    let control: DispatchQueue
    let metricTable = PluginMetricTable()
    let logBuffer = LogBuffer()
    let logger: Logger

    private var spec: InstanceSpec
    private var live: LiveRun?
    private var restartTimes: [Date] = []
    private var incarnation: UInt64 = 0
    private let snapshot: Mutex<InstanceStatus>
    /// The running incarnation of a processor, for pipeline steps; nil while it is not running or
    /// is being stopped. Set on `control`, read by pipeline threads.
    let stepTarget = Mutex<LiveRun?>(nil)

    let recordsIn: Counter
    let recordsOut: Counter
    let errors: Counter
    let restartsTotal: Counter
    let deadLettered: Counter

    /// Everything that belongs to one start of the instance.
    final class LiveRun: @unchecked Sendable { // touched only on `control`, plus `exited` (a semaphore)
        let id: UInt64
        let plugin: LoadedPlugin
        let context: InstanceContext
        let config: ValidatedConfig
        let pointer: UnsafeMutableRawPointer?
        let exited = DispatchSemaphore(value: 0)
        var workerStarted = false
        /// The input patterns of this start: a processor with inputs is fed by its own worker and
        /// refuses pipeline step calls.
        var inputs: [String] = []
        /// Held around every `process` call made for a pipeline step (one at a time per instance, as
        /// the ABI promises), and by `stopLive` before `destroy`.
        let stepLock = NSLock()
        /// Guarded by `stepLock`: no more step calls (stopping, or the last one failed).
        var stepClosed = false

        init(id: UInt64, plugin: LoadedPlugin, context: InstanceContext, config: ValidatedConfig, pointer: UnsafeMutableRawPointer?) {
            self.id = id
            self.plugin = plugin
            self.context = context
            self.config = config
            self.pointer = pointer
        }
    }

    init(spec: InstanceSpec, services: HostServices, resolvePlugin: @escaping @Sendable (String) -> LoadedPlugin?) {
        self.name = spec.name
        self.spec = spec
        self.services = services
        self.resolvePlugin = resolvePlugin
        self.control = DispatchQueue(label: "starbloom.instance.\(spec.name)")
        var logger = services.logger
        logger[metadataKey: "instance"] = .string(spec.name)
        self.logger = logger
        let labels = [("instance", spec.name), ("plugin", spec.plugin)]
        recordsIn = services.metrics.counter("starbloom_instance_records_in_total", help: "Records delivered to the instance", labels: labels)
        recordsOut = services.metrics.counter("starbloom_instance_records_out_total", help: "Records published or emitted by the instance", labels: labels)
        errors = services.metrics.counter("starbloom_instance_errors_total", help: "Failures of the instance (start, run, process, health)", labels: labels)
        restartsTotal = services.metrics.counter("starbloom_instance_restarts_total", help: "Restarts made by the restart policy", labels: labels)
        deadLettered = services.metrics.counter("starbloom_instance_dead_lettered_total", help: "Records sent to the dead-letter topic after their last delivery", labels: labels)
        snapshot = Mutex(InstanceStatus(
            name: spec.name, plugin: spec.plugin, pluginVersion: nil, enabled: spec.enabled, state: .available,
            lastError: nil, restarts: 0, stateSince: Date(), recordsIn: 0, recordsOut: 0, errors: 0))
    }

    // MARK: Public control (each blocks until the action is done; the admin API calls them off its executor)

    public var status: InstanceStatus {
        var status = snapshot.withLock { $0 }
        status.recordsIn = recordsIn.value
        status.recordsOut = recordsOut.value
        status.errors = errors.value
        return status
    }

    public var currentSpec: InstanceSpec { control.sync { spec } }

    /// The last lines the plugin logged, across restarts.
    public var logs: [String] { logBuffer.all }

    /// Starts the instance if it is not running and marks it enabled.
    public func enable() { control.sync { enableOnQueue() } }

    /// Stops the instance and marks it disabled.
    public func disable() { control.sync { disableOnQueue() } }

    /// Stops (if running) and starts again, clearing the restart history. Works from `failed` too.
    public func restart() { control.sync { restartOnQueue() } }

    /// Validates new settings against the plugin and, if valid, applies them with a restart when running.
    public func reconfigure(_ newSpec: InstanceSpec) throws(ConfigError) {
        let result: Result<Void, ConfigError> = control.sync { reconfigureOnQueue(newSpec) }
        try result.get()
    }

    /// Stops without changing `enabled` (host shutdown).
    func shutdown() {
        control.sync {
            incarnation += 1 // cancels a scheduled restart
            stopLive(reason: "host shutdown", finalState: .stopped, keepFailed: true)
        }
    }

    /// Probes health of a running instance.
    func checkHealth() { control.async { self.checkHealthOnQueue() } }

    // MARK: Control, on `control`

    func enableOnQueue() {
        spec.enabled = true
        updateSnapshot { $0.enabled = true }
        if live == nil { restartTimes.removeAll(); startOnQueue() }
    }

    func disableOnQueue() {
        spec.enabled = false
        incarnation += 1 // cancels a scheduled restart
        updateSnapshot { $0.enabled = false }
        stopLive(reason: "disabled", finalState: .stopped)
    }

    func restartOnQueue() {
        incarnation += 1
        if live != nil { stopLive(reason: "restart requested", finalState: .stopped) }
        spec.enabled = true
        updateSnapshot { $0.enabled = true }
        restartTimes.removeAll()
        startOnQueue()
    }

    func reconfigureOnQueue(_ newSpec: InstanceSpec) -> Result<Void, ConfigError> {
        if newSpec.name != name {
            return .failure(ConfigError(instance: name, field: nil, problem: "cannot be renamed to '\(newSpec.name)' (create a new instance instead)"))
        }
        if let problem = newSpec.problem { return .failure(ConfigError(instance: name, field: nil, problem: problem)) }
        if let plugin = resolvePlugin(newSpec.plugin) {
            do throws(ConfigError) {
                _ = try ConfigValidator.validate(settings: newSpec.settings, fields: plugin.fields, instance: name, plugin: plugin.name)
            } catch {
                return .failure(error)
            }
        } else {
            return .failure(ConfigError(instance: name, field: nil, problem: "plugin '\(newSpec.plugin)' is not loaded"))
        }
        let wasRunning = live != nil
        spec = newSpec
        updateSnapshot { $0.plugin = newSpec.plugin; $0.enabled = newSpec.enabled }
        if wasRunning { stopLive(reason: "reconfigured", finalState: .stopped) }
        if spec.enabled { restartTimes.removeAll(); startOnQueue() }
        return .success(())
    }

    private var currentState: InstanceState { snapshot.withLock { $0.state } }

    private func updateSnapshot(_ body: (inout InstanceStatus) -> Void) {
        snapshot.withLock { body(&$0) }
    }

    /// Moves to `state`; `error` replaces the last error when given (the last error is kept otherwise,
    /// so an operator can still see why an instance restarted).
    private func setState(_ state: InstanceState, error: String? = nil) {
        snapshot.withLock {
            if $0.state != state { $0.stateSince = Date() }
            $0.state = state
            if let error { $0.lastError = error }
        }
    }

    /// Creates, starts and launches the worker. Failures go through the restart policy.
    func startOnQueue() {
        guard live == nil else { return }
        incarnation += 1
        let id = incarnation
        setState(.starting)
        if let problem = spec.problem {
            return giveUp("invalid instance spec: \(problem)")
        }
        guard let plugin = resolvePlugin(spec.plugin) else {
            return giveUp("plugin '\(spec.plugin)' is not loaded")
        }
        updateSnapshot { $0.pluginVersion = plugin.version }
        let config: ValidatedConfig
        do {
            config = try ConfigValidator.validate(settings: spec.settings, fields: plugin.fields, instance: name, plugin: plugin.name)
        } catch {
            // A config error will not fix itself: no restart.
            return giveUp(error.description)
        }
        // A processor without inputs serves pipeline steps only (`{ type = "processor", instance = ... }`).
        if plugin.kind == .sink && spec.inputs.isEmpty {
            return giveUp("sink instance '\(name)' needs at least one input topic pattern (inputs = [...])")
        }
        // A transaction the last run committed but did not finish appending is finished first, so
        // that the checkpoint the plugin loads and the topics agree (see `PublishTransaction`).
        // An abandoned earlier run may still be appending a committed transaction: let it finish.
        for earlier in abandoned { earlier.context.transactionAppender.drain() }
        do {
            if let done = try PublishTransaction.recover(instance: name, owner: InstanceContext.namespace(of: name), services: services) {
                logger.warning("\(done)")
                logBuffer.append("warning: \(done)")
            }
        } catch {
            return failed("cannot complete the publish transaction left by the last run: \(error)", id: id)
        }
        let context = InstanceContext(
            instanceName: name, pluginName: plugin.name, services: services, outputTopic: spec.output,
            metricTable: metricTable, logBuffer: logBuffer, nonBlockingPublish: spec.nonBlockingPublish)
        let contextPointer = OpaquePointer(Unmanaged.passUnretained(context).toOpaque())
        let configPointer = UnsafeTransfer(UnsafePointer(config.config))
        let contextTransfer = UnsafeTransfer(contextPointer)

        // create
        let created = BlockingCall.run(timeout: startTimeout, name: "sb-create-\(name)") { () -> UnsafeTransfer<(sb_status, UnsafeMutableRawPointer?, String)> in
            var message = sb_message()
            var pointer: UnsafeMutableRawPointer?
            let status = plugin.create(HostAPITable.shared, contextTransfer.value, configPointer.value, &pointer, &message)
            return UnsafeTransfer((status, pointer, CStrings.read(message: &message)))
        }
        guard let created = created?.value else {
            // The stuck thread may still call the host with this context: keep it (and the config) alive.
            context.fence()
            abandoned.append(Abandoned(context: context, config: config))
            return giveUp("create did not return within \(startTimeout) s; instance abandoned")
        }
        if created.0 != SB_OK {
            return failed("create failed (\(created.0.name)): \(created.2)", id: id)
        }
        let run = LiveRun(id: id, plugin: plugin, context: context, config: config, pointer: created.1)
        run.inputs = spec.inputs
        live = run

        // start
        if let start = plugin.start {
            let pointer = UnsafeTransfer(run.pointer)
            let started = BlockingCall.run(timeout: startTimeout, name: "sb-start-\(name)") { () -> UnsafeTransfer<(sb_status, String)> in
                var message = sb_message()
                let status = start(pointer.value, &message)
                return UnsafeTransfer((status, CStrings.read(message: &message)))
            }
            guard let started = started?.value else {
                live = nil
                context.fence()
                abandoned.append(Abandoned(context: context, config: config))
                return giveUp("start did not return within \(startTimeout) s; instance abandoned")
            }
            if started.0 != SB_OK {
                destroyOnQueue(run)
                live = nil
                return failed("start failed (\(started.0.name)): \(started.1)", id: id)
            }
        }

        if plugin.kind == .processor { stepTarget.withLock { $0 = run } }
        setState(.running)
        logger.info("instance started", metadata: ["plugin": "\(plugin.name)", "version": "\(plugin.version)"])
        // A processor without inputs has no feed: only pipeline steps call it.
        if plugin.kind == .source || !run.inputs.isEmpty { launchWorker(run) }
    }

    private var startTimeout: Double { 30 }

    /// Waits until the records of the current run's committed publish transactions are all appended
    /// (they are appended in the background; for tests and tools that read topics right after).
    public func drainPublishTransactions() {
        let context = control.sync { live?.context }
        context?.transactionAppender.drain()
    }

    private func launchWorker(_ run: LiveRun) {
        run.workerStarted = true
        let inputs = spec.inputs
        let thread = Thread { [self] in
            let outcome: (sb_status, String)
            if run.plugin.kind == .source {
                var message = sb_message()
                let status = run.plugin.run!(run.pointer, &message)
                outcome = (status, CStrings.read(message: &message))
            } else {
                outcome = ProcessorFeed(instance: self, run: run, inputs: inputs).loop()
            }
            run.exited.signal()
            control.async { self.workerExited(run, status: outcome.0, message: outcome.1) }
        }
        thread.name = "sb-run-\(name)"
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// The worker returned. Ignored if a stop already handled this run.
    private func workerExited(_ run: LiveRun, status: sb_status, message: String) {
        guard let current = live, current.id == run.id else { return }
        clearStepTarget(run) // a fed processor refuses step calls, so none can be in flight
        destroyOnQueue(run)
        live = nil
        if status == SB_OK {
            logger.info("instance finished")
            if spec.restart.mode == .always && spec.enabled {
                scheduleRestart(after: "finished", countAsFailure: false)
            } else {
                setState(.stopped)
            }
        } else {
            failed("run failed (\(status.name)): \(message)", id: run.id)
        }
    }

    /// Stops the running incarnation, if any: signal, plugin stop, wait for the worker, destroy.
    func stopLive(reason: String, finalState: InstanceState, keepFailed: Bool = false) {
        guard let run = live else {
            // Nothing runs. A failed instance stays failed on host shutdown (its error must stay
            // visible); an operator's disable or restart moves it on.
            if !(keepFailed && currentState == .failed) { setState(finalState) }
            return
        }
        logger.info("stopping instance", metadata: ["reason": "\(reason)"])
        run.context.requestStop()
        clearStepTarget(run) // no new pipeline step calls
        let timeout = Double(spec.stopTimeoutMs) / 1000
        let deadline = DispatchTime.now() + timeout
        let deadlineDate = Date(timeIntervalSinceNow: timeout)
        if let stop = run.plugin.stop {
            let pointer = UnsafeTransfer(run.pointer)
            let stopped = BlockingCall.run(timeout: timeout, name: "sb-stop-\(name)") { () -> UnsafeTransfer<(sb_status, String)> in
                var message = sb_message()
                let status = stop(pointer.value, &message)
                return UnsafeTransfer((status, CStrings.read(message: &message)))
            }
            if stopped == nil {
                return hung(run, "stop did not return within \(spec.stopTimeoutMs) ms")
            }
            if let stopped = stopped?.value, stopped.0 != SB_OK {
                logger.warning("plugin stop reported an error", metadata: ["error": "\(stopped.1)"])
            }
        }
        if run.workerStarted && run.exited.wait(timeout: deadline) == .timedOut {
            return hung(run, "run did not return within \(spec.stopTimeoutMs) ms of the stop request")
        }
        // A pipeline step may be inside `process`: destroy only after it returned.
        guard run.stepLock.lock(before: deadlineDate) else {
            return hung(run, "process (called by a pipeline step) did not return within \(spec.stopTimeoutMs) ms of the stop request")
        }
        run.stepClosed = true
        run.stepLock.unlock()
        destroyOnQueue(run)
        live = nil
        setState(finalState)
    }

    /// A plugin that ignores stop cannot be destroyed safely (its thread is still inside it): the
    /// host abandons that incarnation, leaking it, and the instance stays failed until an operator acts.
    private func hung(_ run: LiveRun, _ message: String) {
        errors.add()
        clearStepTarget(run)
        live = nil
        // Keep the context and config alive: the stuck thread may still call the host API.
        run.context.fence()
        abandoned.append(Abandoned(context: run.context, config: run.config))
        logger.error("instance hung; abandoned", metadata: ["error": "\(message)"])
        setState(.failed, error: message)
    }
    /// What stuck plugin threads may still reach. Never released (the threads never end either).
    private var abandoned: [Abandoned] = []
    private struct Abandoned {
        let context: InstanceContext
        let config: ValidatedConfig
    }

    func clearStepTarget(_ run: LiveRun) {
        stepTarget.withLock { if $0 === run { $0 = nil } }
    }

    /// A `process` call made for a pipeline step failed as a whole: like a failed feed, the
    /// incarnation is stopped and destroyed and the restart policy acts.
    func stepCallFailed(_ run: LiveRun, _ message: String) {
        control.async { [self] in
            guard let current = live, current.id == run.id else { return }
            stopLive(reason: message, finalState: .stopped)
            if live == nil && currentState != .failed { failed(message, id: run.id) }
        }
    }

    /// The kind of the instance's plugin, if it is loaded.
    var pluginKind: PluginKind? { resolvePlugin(snapshot.withLock { $0.plugin })?.kind }

    private func destroyOnQueue(_ run: LiveRun) {
        // Committed transactions still being appended finish first: the next start's recovery must
        // not race them.
        run.context.transactionAppender.drain()
        let pointer = UnsafeTransfer(run.pointer)
        let destroy = run.plugin.destroy
        let done = BlockingCall.run(timeout: Double(spec.stopTimeoutMs) / 1000, name: "sb-destroy-\(name)") {
            destroy(pointer.value)
            return true
        }
        if done == nil {
            run.context.fence()
            abandoned.append(Abandoned(context: run.context, config: run.config))
            logger.error("destroy did not return in time; instance memory abandoned")
            return
        }
        // Every transaction of the run is appended (those committed inside destroy too): the next
        // start need not look for its records.
        let context = run.context
        context.transactionAppender.drain()
        if context.transactionNeedsClearing && context.transactionAppender.problem == nil {
            try? services.checkpoints.clearPending(owner: context.namespace)
        }
    }

    /// Applies the restart policy to a failure.
    private func failed(_ message: String, id: UInt64) {
        errors.add()
        logger.error("instance failed", metadata: ["error": "\(message)"])
        updateSnapshot { $0.lastError = message }
        guard spec.restart.mode != .never, spec.enabled else {
            return setState(.failed, error: message)
        }
        scheduleRestart(after: message, countAsFailure: true)
    }

    private func giveUp(_ message: String) {
        errors.add()
        logger.error("instance failed", metadata: ["error": "\(message)"])
        setState(.failed, error: message)
    }

    private func scheduleRestart(after reason: String, countAsFailure: Bool) {
        let now = Date()
        restartTimes = restartTimes.filter { now.timeIntervalSince($0) < spec.restart.windowSeconds }
        if restartTimes.count >= spec.restart.maxRestarts {
            let message = "gave up after \(restartTimes.count) restarts within \(Int(spec.restart.windowSeconds)) s; last: \(reason)"
            return setState(.failed, error: message)
        }
        restartTimes.append(now)
        let delay = spec.restart.backoff(attempt: restartTimes.count)
        setState(.restarting)
        restartsTotal.add()
        updateSnapshot { $0.restarts += 1 }
        let expected = incarnation
        control.asyncAfter(deadline: .now() + delay) { [self] in
            guard incarnation == expected, live == nil, spec.enabled else { return }
            startOnQueue()
        }
    }

    private func checkHealthOnQueue() {
        guard let run = live, let health = run.plugin.health else { return }
        let state = currentState
        guard state == .running || state == .degraded else { return }
        let pointer = UnsafeTransfer(run.pointer)
        let probed = BlockingCall.run(timeout: 2, name: "sb-health-\(name)") { () -> UnsafeTransfer<(sb_health, String)> in
            var detail = sb_message()
            let result = health(pointer.value, &detail)
            return UnsafeTransfer((result, CStrings.read(message: &detail)))
        }
        guard let probed = probed?.value else {
            setState(.degraded, error: "health probe did not answer within 2 s")
            return
        }
        switch probed.0 {
        case SB_HEALTH_OK:
            if state == .degraded { setState(.running) }
        case SB_HEALTH_DEGRADED:
            setState(.degraded, error: probed.1.isEmpty ? "plugin reports degraded" : probed.1)
        default:
            let message = "health probe reports failing: \(probed.1)"
            stopLive(reason: message, finalState: .stopped)
            if live == nil && currentState != .failed { failed(message, id: run.id) }
        }
    }

    /// The running plugin image and instance pointer, for benchmarks that call the plugin directly.
    /// The body runs on `control`, so the instance cannot be stopped while it runs.
    package func withLiveHandles<R>(_ body: (LoadedPlugin, UnsafeMutableRawPointer?) -> R) -> R? {
        control.sync { live.map { body($0.plugin, $0.pointer) } }
    }

    // MARK: Commands

    /// Calls a plugin command with text arguments, converted by the declared parameter types.
    public func call(command: String, arguments: [String]) throws(CommandError) -> String {
        let result: Result<String, CommandError> = control.sync {
            guard let run = live else {
                return .failure(CommandError(message: "instance '\(name)' is not running (state \(currentState.rawValue))"))
            }
            do throws(CommandError) {
                return .success(try CommandInvoker.invoke(plugin: run.plugin, instance: run.pointer, command: command, arguments: arguments, timeout: 30))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }
}
