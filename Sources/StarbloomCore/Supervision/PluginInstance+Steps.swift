import CStarbloomABI
import Foundation

/// Processor instances used as pipeline steps (`{ type = "processor", instance = "NAME" }`).
///
/// A pipeline's thread calls the plugin's `process` directly, under the incarnation's `stepLock`:
/// calls from several pipelines never overlap, none starts before `start` returned or after a stop
/// was requested, and `stopLive` takes the lock before `destroy` (a call still inside the plugin at
/// the stop timeout makes the incarnation hung, as a feed that does not return). Step calls are
/// refused for a processor that has `inputs`: its own feed calls `process` on its worker thread.
extension PluginInstance {
    /// What one `process` call made for a pipeline step came to.
    enum StepCallResult {
        /// `process` returned OK: the records it emitted, in order, and the inputs it rejected.
        case processed(emitted: [QueueRecord], rejected: [(index: Int, reason: String)])
        /// Nothing was processed and the records are not at fault: the instance is not running, cannot
        /// serve as a step, or failed the whole call (it is then stopped and its restart policy
        /// acts). The caller waits and tries again.
        case unavailable(String)
    }

    /// Calls `process` with `records` for a pipeline step, collecting what the plugin emits and rejects.
    func processForStep(_ records: [QueueRecord]) -> StepCallResult {
        guard let run = stepTarget.withLock({ $0 }) else { return .unavailable(stepUnavailableReason) }
        if !run.inputs.isEmpty {
            return .unavailable("processor instance '\(name)' has inputs (\(run.inputs.joined(separator: ", "))) and is fed by them; "
                + "an instance used as a pipeline step must have none (remove its inputs, or configure another instance for the pipeline)")
        }
        run.stepLock.lock()
        if run.stepClosed || run.context.isStopRequested {
            run.stepLock.unlock()
            return .unavailable(stepUnavailableReason)
        }
        let outcome = Self.callProcess(run, records)
        if outcome.status != SB_OK { run.stepClosed = true }
        run.stepLock.unlock()

        if outcome.status != SB_OK {
            let message = "process failed (\(outcome.status.name)): \(outcome.message)"
            clearStepTarget(run)
            stepCallFailed(run, message)
            return .unavailable("processor instance '\(name)': \(message); waiting for its restart")
        }
        recordsIn.add(UInt64(records.count))
        recordsOut.add(UInt64(outcome.emitted.count))
        return .processed(emitted: outcome.emitted, rejected: outcome.rejected)
    }

    /// Why the instance cannot serve a step call now, for the pipeline's last error.
    private var stepUnavailableReason: String {
        let status = self.status
        if let kind = pluginKind, kind != .processor {
            return "instance '\(name)' runs plugin '\(status.plugin)', a \(kind.rawValue); a pipeline step needs a processor instance"
        }
        if !status.enabled { return "processor instance '\(name)' is disabled" }
        var text = "processor instance '\(name)' is not running (state \(status.state.rawValue)"
        if let error = status.lastError, !error.isEmpty { text += "; last error: \(error)" }
        return text + ")"
    }

    /// Lays the records out as `sb_record`s and calls `process` on the calling thread.
    private static func callProcess(_ run: LiveRun, _ records: [QueueRecord])
        -> (status: sb_status, message: String, emitted: [QueueRecord], rejected: [(index: Int, reason: String)]) {
        let arena = RecordArena(records)
        defer { arena.release() }
        let collector = StepEmitCollector(count: records.count)
        return withExtendedLifetime(collector) {
            var emitter = sb_emitter(
                ctx: Unmanaged.passUnretained(collector).toOpaque(),
                emit: { ctx, record in
                    guard let ctx else { return SB_ERR_INVALID_ARGUMENT }
                    guard let record else { return HostAPITable.fail(SB_ERR_INVALID_ARGUMENT, "emit: record is NULL") }
                    return Unmanaged<StepEmitCollector>.fromOpaque(ctx)._withUnsafeGuaranteedRef { $0.emit(record) }
                },
                reject: { ctx, index, reason in
                    guard let ctx else { return SB_ERR_INVALID_ARGUMENT }
                    return Unmanaged<StepEmitCollector>.fromOpaque(ctx)._withUnsafeGuaranteedRef { $0.reject(index, reason) }
                })
            var message = sb_message()
            let status = run.plugin.process!(run.pointer, arena.records, records.count, &emitter, &message)
            return (status, CStrings.read(message: &message), collector.emitted, collector.rejected)
        }
    }
}

/// The `ctx` of the emitter handed to a step's `process` call: emitted records are copied (the
/// plugin's buffers are borrowed for the call) and kept for the pipeline instead of being published.
final class StepEmitCollector {
    let count: Int
    var emitted: [QueueRecord] = []
    var rejected: [(index: Int, reason: String)] = []

    init(count: Int) { self.count = count }

    func emit(_ pointer: UnsafePointer<sb_record>) -> sb_status {
        let record = pointer.pointee
        var headers: [QueueRecord.Header] = []
        if record.header_count > 0 {
            guard let base = record.headers else {
                return HostAPITable.fail(SB_ERR_INVALID_ARGUMENT, "emit: headers is NULL with header_count \(record.header_count)")
            }
            headers.reserveCapacity(record.header_count)
            for header in UnsafeBufferPointer(start: base, count: record.header_count) {
                headers.append(QueueRecord.Header(name: CStrings.string(header.name), value: CStrings.bytes(header.value)))
            }
        }
        // The topic is ignored: in a pipeline, what a step emits goes to the next step.
        emitted.append(QueueRecord(topic: "", offset: 0, key: CStrings.bytes(record.key), payload: CStrings.bytes(record.payload),
                                   headers: headers, eventTimeNs: record.event_time_ns))
        return SB_OK
    }

    func reject(_ index: Int, _ reason: sb_str) -> sb_status {
        guard index < count else {
            return HostAPITable.fail(SB_ERR_INVALID_ARGUMENT, "reject: index \(index) is outside the batch of \(count)")
        }
        let text = CStrings.string(reason)
        rejected.append((index, text.isEmpty ? "rejected by the plugin" : text))
        return SB_OK
    }
}
