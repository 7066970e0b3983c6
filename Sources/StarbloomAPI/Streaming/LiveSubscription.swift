import Dispatch
import StarbloomCore
import Synchronization

/// A record the live feed read once for every subscription following its topic, with its SSE
/// `data:` JSON encoded once too (shared, not copied, by every mailbox holding it).
struct LiveItem: Sendable {
    let record: QueueRecord
    let eventData: String
}

/// One subscriber's mailbox in the live feed (`LiveFeed`): bounded, never blocking the feed.
///
/// The feed `offer`s records; the subscriber `take`s them. When the mailbox is full (the subscriber
/// is slow or its client stalled) further records are dropped and `overflowed` is reported with
/// the next `take`: the subscriber then reads what it missed from the log, which is durable, so a
/// slow subscriber costs a bounded amount of memory and loses nothing.
final class LiveSubscription: Sendable {
    static let maxItems = 2_048
    static let maxBytes = 4 << 20

    let id: UInt64
    let follows: @Sendable (String) -> Bool
    /// The feed's count of mailbox overflows (each one later read from the log).
    private let overflows: Counter

    private struct Mailbox {
        var items: [LiveItem] = []
        var bytes = 0
        var overflowed = false
        var cancelled = false
        var waiter: CheckedContinuation<Void, Never>?
        /// Uptime (ns) at which a waiting `take` returns empty-handed (0: none).
        var wakeAt: UInt64 = 0
    }
    private let mailbox = Mutex(Mailbox())

    init(id: UInt64, follows: @escaping @Sendable (String) -> Bool, overflows: Counter) {
        self.id = id
        self.follows = follows
        self.overflows = overflows
    }

    /// From the feed: appends `items`, or drops them all once the mailbox is over its bound.
    func offer(_ items: [LiveItem], bytes: Int) {
        var overflowedNow = false
        let waiter = mailbox.withLock { box -> CheckedContinuation<Void, Never>? in
            if !box.overflowed {
                if box.items.count + items.count > Self.maxItems || box.bytes + bytes > Self.maxBytes {
                    // The subscriber re-reads the log from its own position anyway: holding what
                    // was kept would only pin memory while its client stalls.
                    box.overflowed = true
                    overflowedNow = true
                    box.items = []
                    box.bytes = 0
                } else {
                    box.items.append(contentsOf: items)
                    box.bytes += bytes
                }
            }
            defer { box.waiter = nil }
            return box.waiter
        }
        if overflowedNow { overflows.add() }
        waiter?.resume()
    }

    /// From the feed, now and then: wakes a `take` whose deadline passed.
    func wakeIfDue(now: UInt64) {
        let waiter = mailbox.withLock { box -> CheckedContinuation<Void, Never>? in
            guard box.waiter != nil, box.wakeAt != 0, box.wakeAt <= now else { return nil }
            defer { box.waiter = nil }
            return box.waiter
        }
        waiter?.resume()
    }

    /// Ends a waiting `take` now, and every later one at once (the server is shutting down).
    func interrupt() {
        let waiter = mailbox.withLock { box -> CheckedContinuation<Void, Never>? in
            box.cancelled = true
            defer { box.waiter = nil }
            return box.waiter
        }
        waiter?.resume()
    }

    /// Waits until records arrive, the mailbox overflowed, `deadline` (uptime ns; the feed checks
    /// it every `LiveFeed.tick`) passed or the task is cancelled; then empties the mailbox.
    /// `overflowed`: records were dropped since the last take, so read the log.
    func take(deadline: UInt64) async -> (items: [LiveItem], overflowed: Bool) {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = mailbox.withLock { box -> Bool in
                    if !box.items.isEmpty || box.overflowed || box.cancelled || deadline <= DispatchTime.now().uptimeNanoseconds { return true }
                    box.waiter = continuation
                    box.wakeAt = deadline
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            interrupt()
        }
        return mailbox.withLock { box in
            var taken: [LiveItem] = []
            swap(&taken, &box.items)
            defer { (box.bytes, box.overflowed, box.wakeAt) = (0, false, 0) }
            return (taken, box.overflowed)
        }
    }
}
