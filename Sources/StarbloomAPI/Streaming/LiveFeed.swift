import Dispatch
import StarbloomCore
import Synchronization

/// The live side of SSE streams and WebSocket subscriptions: one task per server follows every
/// topic that some subscription follows, reads each new record from the log once, encodes its SSE
/// `data:` once, and puts it in the mailbox of each subscription following its topic.
///
/// Why: with every stream polling the log on every append, an append woke all of them (1,000
/// streams, 10,000 appends/s: ten million wake-ups and log reads per second, nearly all finding
/// nothing) and each stream encoded each record again. Now an append wakes the feed, and the feed
/// wakes only the subscriptions that get a record.
///
/// The feed never waits for a subscriber: a full mailbox drops what it cannot hold and the
/// subscriber reads the gap from the log (`LiveTail`). The task runs while there are subscriptions.
final class LiveFeed: Sendable {
    /// How often waiting subscriptions are checked for their deadline (SSE heartbeats).
    static let tickNanoseconds: UInt64 = 100_000_000
    /// Records read from one partition per pass, so that one busy topic cannot starve the others.
    static let recordsPerPass = 1_000

    private let queue: any MessageQueue
    private struct Registry {
        var subscriptions: [UInt64: LiveSubscription] = [:]
        var nextID: UInt64 = 0
        /// Bumped on every change, so the feed knows its topic → subscriptions routes are stale.
        var generation: UInt64 = 0
        var running = false
    }
    private let registry = Mutex(Registry())

    /// Mailbox overflows so far: subscribers that fell behind and read the log to catch up.
    let overflows: Counter

    init(queue: any MessageQueue, metrics: MetricsRegistry = MetricsRegistry()) {
        self.queue = queue
        overflows = metrics.counter("starbloom_api_stream_overflows_total",
                                    help: "SSE streams and WebSocket subscriptions that fell a mailbox behind the live feed and caught up from the log.")
    }

    /// Registers a subscription; records appended from now on reach its mailbox.
    func subscribe(follows: @escaping @Sendable (String) -> Bool) -> LiveSubscription {
        let (subscription, start) = registry.withLock { registry -> (LiveSubscription, (UInt64, [StreamPosition.Key: UInt64])?) in
            registry.nextID += 1
            let subscription = LiveSubscription(id: registry.nextID, follows: follows, overflows: overflows)
            registry.subscriptions[subscription.id] = subscription
            registry.generation += 1
            guard !registry.running else { return (subscription, nil) }
            registry.running = true
            // The feed starts at the end of every partition as of now, under the lock: whatever a
            // subscription registered from here on misses in its first read of the log, the feed
            // brings it. Appends are tracked from before that snapshot, so none falls between.
            let tracker = queue.appendSignal.track()
            var cursors: [StreamPosition.Key: UInt64] = [:]
            // The readable end (`partitionRanges`), not `topics()`'s next offset, which counts
            // records still in the write buffer: a cursor past the readable end would look like a
            // recreated topic and replay the partition.
            for topic in queue.topics() {
                for partition in queue.partitionRanges(topic: topic.name) ?? [] {
                    cursors[.init(topic: topic.name, partition: partition.partition)] = partition.nextOffset
                }
            }
            return (subscription, (tracker, cursors))
        }
        if let (tracker, cursors) = start { Task.detached { [self] in await run(tracker: tracker, cursors: cursors) } }
        return subscription
    }

    func unsubscribe(_ subscription: LiveSubscription) {
        registry.withLock { registry in
            if registry.subscriptions.removeValue(forKey: subscription.id) != nil { registry.generation += 1 }
        }
    }

    var subscriptionCount: Int { registry.withLock { $0.subscriptions.count } }
    /// Whether the feed's task runs (it ends soon after the last subscription).
    var isRunning: Bool { registry.withLock { $0.running } }

    /// `cursors`: where the feed reads each partition next. Partitions that existed when the feed
    /// started begin at their end then (subscriptions read anything older from the log
    /// themselves); those that appear later, at their start. Each pass looks only at the topics
    /// appended to since the last (`tracker`), so its cost follows the appends, not the topic count.
    private func run(tracker: UInt64, cursors start: [StreamPosition.Key: UInt64]) async {
        defer { queue.appendSignal.untrack(tracker) }
        var cursors = start
        var routes: [String: [LiveSubscription]] = [:]
        var routesGeneration = UInt64.max
        var subscriptions: [LiveSubscription] = []
        var unfinished: Set<String> = [] // topics left with records to read after a pass's budget
        var lastTick: UInt64 = 0
        while true {
            let seen = queue.appendSignal.version // before reading: an append after this ends the wait below
            var changed = queue.appendSignal.changedTopics(tracker)
            changed.formUnion(unfinished)
            unfinished.removeAll()
            // The partitions' ends before the subscriptions: a subscription registered after this
            // snapshot has its routes next pass, and no record past these ends is skipped for it.
            let ranges = changed.compactMap { name in queue.partitionRanges(topic: name).map { (name, $0) } }
            // The subscription list is copied only when it changed (not once per append).
            let known = routesGeneration
            let snapshot = registry.withLock { registry -> (alive: Bool, generation: UInt64, subscriptions: [LiveSubscription]?) in
                if registry.subscriptions.isEmpty {
                    registry.running = false
                    return (false, 0, nil)
                }
                return (true, registry.generation, registry.generation == known ? nil : Array(registry.subscriptions.values))
            }
            guard snapshot.alive else { return }
            if let changed = snapshot.subscriptions {
                subscriptions = changed
                routes.removeAll(keepingCapacity: true)
                routesGeneration = snapshot.generation
            }
            for (topic, partitions) in ranges {
                let followers = routes[topic] ?? {
                    let matching = subscriptions.filter { $0.follows(topic) }
                    routes[topic] = matching
                    return matching
                }()
                for partition in partitions {
                    let key = StreamPosition.Key(topic: topic, partition: partition.partition)
                    var cursor = max(cursors[key] ?? partition.firstOffset, partition.firstOffset)
                    if cursor > partition.nextOffset { cursor = partition.firstOffset } // the topic was recreated
                    if followers.isEmpty { cursor = partition.nextOffset }
                    var budget = Self.recordsPerPass
                    while cursor < partition.nextOffset && budget > 0 {
                        let records: [QueueRecord]
                        do throws(QueueError) {
                            // Bytes bounded too: one batch must fit an empty mailbox with room to spare.
                            records = try queue.read(topic: topic, partition: partition.partition, from: cursor,
                                                     limit: min(budget, Int(partition.nextOffset - cursor), TopicFollower.pageSize),
                                                     maxBytes: LiveSubscription.maxBytes / 4)
                        } catch {
                            break // retention moved the start: the next pass starts from the oldest
                        }
                        guard let last = records.last else { break }
                        var bytes = 0
                        let items = records.map { record in
                            let item = LiveItem(record: record, eventData: EventStreamRoutes.eventData(record))
                            bytes += item.eventData.utf8.count + record.payload.count
                            return item
                        }
                        for subscription in followers { subscription.offer(items, bytes: bytes) }
                        cursor = last.offset + 1
                        budget -= records.count
                    }
                    // More next pass only when the budget ran out: after a read error the topic waits
                    // for its next append (or tick) instead of spinning on the error.
                    if cursor < partition.nextOffset && budget <= 0 { unfinished.insert(topic) }
                    cursors[key] = cursor
                }
            }
            let now = DispatchTime.now().uptimeNanoseconds
            if now - lastTick >= Self.tickNanoseconds {
                lastTick = now
                for subscription in subscriptions { subscription.wakeIfDue(now: now) }
            }
            if unfinished.isEmpty { await queue.appendSignal.wait(after: seen, timeout: .nanoseconds(Int64(Self.tickNanoseconds))) }
        }
    }
}
