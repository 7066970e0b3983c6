#if canImport(Glibc)
import Glibc
#endif

/// One range of blocks read ahead: its blocks and their logs, already parsed.
struct RangeAnswers {
    let first: UInt64
    let last: UInt64
    let blocks: [ReadBlock]
    /// nil when `eth_getLogs` failed or did not cover the blocks read (the run thread then reads
    /// the logs itself, with its retry policy).
    let logs: LogReader.Outcome?
}

/// Reads and parses the next range's blocks and logs on a helper thread while the run thread
/// publishes the current range: the endpoint's answers, their parsing and the disk overlap.
///
/// The RPC client is not thread-safe: it is used by the helper only between `start` and `join`,
/// and the run thread calls `join` before it uses the client again. A read-ahead that failed or no
/// longer fits (the range changed) is dropped and the range read normally.
final class RangePrefetch: @unchecked Sendable { // handed to one helper thread; see above
    private var thread: pthread_t?
    private var work: (() -> RangeAnswers?)?
    private var answers: RangeAnswers?

    /// Starts `work` on a new thread (after joining any previous one).
    func start(_ work: @escaping () -> RangeAnswers?) {
        _ = join()
        self.work = work
        answers = nil
        let context = Unmanaged.passRetained(self).toOpaque()
        var created = pthread_t()
        let status = pthread_create(&created, nil, { raw in
            let prefetch = Unmanaged<RangePrefetch>.fromOpaque(raw!).takeRetainedValue()
            prefetch.answers = prefetch.work?()
            prefetch.work = nil
            return nil
        }, context)
        if status == 0 {
            thread = created
        } else {
            Unmanaged<RangePrefetch>.fromOpaque(context).release() // no thread: read normally
            self.work = nil
        }
    }

    /// Waits for the read-ahead started last, if any, and hands over its answers (once).
    func join() -> RangeAnswers? {
        guard let running = thread else { return nil }
        pthread_join(running, nil)
        thread = nil
        defer { answers = nil }
        return answers
    }
}
