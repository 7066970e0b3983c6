import Dispatch
import StarbloomCore

/// What an SSE stream or a WebSocket subscription reads: first the log (from where it starts or
/// resumes, up to the end), then the live feed's records as they are published, back to the log
/// whenever the feed's records do not continue exactly where the stream stands (its mailbox
/// overflowed, or it started between two feed passes). Offsets decide: a record below the
/// stream's position is a duplicate and skipped, one above it means a gap, read from the log. So
/// the stream sees every record of its topics once, in offset order per partition.
struct LiveTail {
    private(set) var follower: TopicFollower
    private let queue: any MessageQueue
    private let feed: LiveFeed
    let subscription: LiveSubscription
    private var readingLog = true

    /// Registers with the feed at once: call `close()` when done.
    init(queue: any MessageQueue, feed: LiveFeed, follower: TopicFollower) {
        self.queue = queue
        self.feed = feed
        self.follower = follower
        subscription = feed.subscribe(follows: follower.follows)
    }

    func close() { feed.unsubscribe(subscription) }

    /// The next records with the position after each and, from the feed, their SSE data already
    /// encoded. Empty when `deadline` (uptime ns) passed or the task was cancelled first.
    /// `maxItems`: at most this many from the mailbox (the rest is read from the log later).
    mutating func next(deadline: UInt64, maxItems: Int = .max) async -> [(record: QueueRecord, position: StreamPosition, eventData: String?)] {
        if readingLog {
            let batch = follower.poll(queue)
            if !batch.isEmpty { return batch.map { ($0.record, $0.position, nil) } }
            readingLog = false
        }
        let (items, overflowed) = await subscription.take(deadline: deadline)
        if overflowed { readingLog = true }
        var result: [(record: QueueRecord, position: StreamPosition, eventData: String?)] = []
        result.reserveCapacity(items.count)
        for item in items {
            if result.count >= maxItems {
                readingLog = true // the rest comes from the log; later feed copies are duplicates
                return result
            }
            switch follower.accept(item.record) {
            case .next: result.append((item.record, follower.position, item.eventData))
            case .duplicate: continue
            case .gap:
                readingLog = true
                return result // the rest comes from the log; later feed copies are duplicates
            }
        }
        return result
    }
}
