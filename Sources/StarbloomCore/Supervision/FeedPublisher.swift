import CStarbloomABI
import Foundation

/// Runs a processor feed's publishes and offset commits on a thread of its own, in the order they
/// were submitted, so that the worker reads and processes the next batch while the previous batch's
/// output is written and fsynced. On this project's 2-core benchmark machine the worker spent about
/// a fifth of its time waiting for those fsyncs.
///
/// Order is the whole contract: a batch's commit job runs only after its publish jobs succeeded, and
/// after any job fails nothing more runs (the uncommitted batches are delivered again after the
/// restart: at-least-once, as before). At most one job waits behind the one running, so memory
/// stays bounded by three `process` calls' output — the running job's, the queued job's and the
/// worker's current one (each at most 64 MiB, see `ProcessorFeed.EmitContext`).
final class FeedPublisher: @unchecked Sendable { // all state under `condition`
    typealias Failure = (sb_status, String)
    typealias Job = () -> Failure?

    private let condition = NSCondition()
    private var queued: [Job] = []
    private var running = false
    private var finished = false
    private var failed: Failure?
    private var thread: Thread?
    private let name: String

    init(name: String) {
        self.name = name
    }

    /// The first failure of a job, if any (nothing ran after it).
    var failure: Failure? {
        condition.lock()
        defer { condition.unlock() }
        return failed
    }

    /// Queues `job`, waiting while another job is already queued. Returns the failure that stopped
    /// the publisher instead of queueing when there is one.
    @discardableResult
    func submit(_ job: @escaping Job) -> Failure? {
        condition.lock()
        defer { condition.unlock() }
        while !queued.isEmpty && failed == nil { condition.wait() }
        if let failed { return failed }
        queued.append(job)
        if thread == nil {
            let thread = Thread { [self] in work() }
            thread.name = name
            self.thread = thread
            thread.start()
        }
        condition.broadcast()
        return nil
    }

    /// Waits until every queued job ran (or one failed), then ends the thread. Returns the failure.
    func finish() -> Failure? {
        condition.lock()
        defer { condition.unlock() }
        while (running || !queued.isEmpty) && failed == nil { condition.wait() }
        finished = true
        condition.broadcast()
        while running { condition.wait() } // a failed job's thread is already idle; nothing else runs
        return failed
    }

    private func work() {
        condition.lock()
        while true {
            while queued.isEmpty && !finished { condition.wait() }
            if queued.isEmpty || failed != nil { break }
            let job = queued.removeFirst()
            running = true
            condition.broadcast() // a submitter waiting for room
            condition.unlock()
            let outcome = job()
            condition.lock()
            running = false
            if let outcome {
                failed = outcome
                queued.removeAll() // nothing after a failure: those batches are delivered again
            }
            condition.broadcast()
        }
        thread = nil
        condition.unlock()
    }
}
