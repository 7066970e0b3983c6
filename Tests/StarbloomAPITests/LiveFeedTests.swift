import Dispatch
import Foundation
import StarbloomCore
import Testing
@testable import StarbloomAPI

/// The live feed behind SSE and WebSocket: every stream gets every record of its topics once, in
/// order, whether it keeps up, stalls past its mailbox or follows a topic created meanwhile.
@Suite("Live feed")
struct LiveFeedTests {
    static func record(_ n: Int) -> QueueRecord {
        QueueRecord(topic: "", offset: 0, key: Array("k\(n)".utf8), payload: Array(#"{"n":\#(n)}"#.utf8), headers: [], eventTimeNs: 0)
    }

    @Test("tails that keep up, one that stalls past its mailbox and one from the start all get every record once, in order")
    func fanOutWithOverflow() async throws {
        let queue = InMemoryQueue()
        _ = try await queue.publish(topic: "live.a", records: (0..<10).map(Self.record)) // before the tails: not for `latest`
        let feed = LiveFeed(queue: queue)
        let follows: @Sendable (String) -> Bool = { $0.hasPrefix("live.") }
        let published = 3 * LiveSubscription.maxItems
        // (tail, stalls at first, starts at the oldest record)
        let tails = [(false, false), (false, false), (true, false), (false, true)].map { stalls, earliest in
            (LiveTail(queue: queue, feed: feed, follower: TopicFollower(queue: queue, follows: follows, resumeAt: nil, fromEarliest: earliest)),
             stalls, earliest)
        }
        let readers = tails.map { start, stalls, earliest in
            Task { () -> [String: [UInt64]] in
                var tail = start
                defer { tail.close() }
                if stalls { // takes nothing until the feed has overrun its mailbox
                    let until = DispatchTime.now().uptimeNanoseconds + 20_000_000_000
                    while feed.overflows.value == 0 && DispatchTime.now().uptimeNanoseconds < until { try? await Task.sleep(for: .milliseconds(10)) }
                }
                var seen: [String: [UInt64]] = [:]
                let expected = published + 100 + (earliest ? 10 : 0)
                let giveUp = DispatchTime.now().uptimeNanoseconds + 30_000_000_000
                while seen.values.map(\.count).reduce(0, +) < expected && DispatchTime.now().uptimeNanoseconds < giveUp {
                    for entry in await tail.next(deadline: DispatchTime.now().uptimeNanoseconds + 50_000_000) {
                        seen[entry.record.topic, default: []].append(entry.record.offset)
                    }
                }
                return seen
            }
        }
        for batch in stride(from: 0, to: published, by: 64) {
            _ = try await queue.publish(topic: "live.a", records: (batch..<min(batch + 64, published)).map(Self.record))
            if batch == published / 2 {
                _ = try await queue.publish(topic: "live.b", records: (0..<100).map(Self.record)) // a topic created meanwhile
            }
            await Task.yield()
        }
        for (index, reader) in readers.enumerated() {
            let seen = await reader.value
            let first: UInt64 = tails[index].2 ? 0 : 10
            #expect(seen["live.a"] == Array(first..<UInt64(10 + published)), "tail \(index): live.a once, in order")
            #expect(seen["live.b"] == Array(0..<100), "tail \(index): the topic created meanwhile, from its start")
        }
        #expect(feed.overflows.value >= 1, "the stalled tail's mailbox overflowed")
        #expect(feed.subscriptionCount == 0)
        let deadline = DispatchTime.now().uptimeNanoseconds + 2_000_000_000
        while feed.isRunning && DispatchTime.now().uptimeNanoseconds < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(!feed.isRunning, "the feed's task ends with its last subscription")
    }

    @Test("a tail wakes at its deadline with nothing, and at once when cancelled")
    func deadlinesAndCancellation() async throws {
        let queue = InMemoryQueue()
        let feed = LiveFeed(queue: queue)
        let tail: @Sendable () -> LiveTail = { LiveTail(queue: queue, feed: feed, follower: TopicFollower(queue: queue, follows: { _ in true }, resumeAt: nil, fromEarliest: false)) }
        // Bounds are loose on purpose: the whole suite shares two cores, and a starved executor can
        // delay any wake-up by seconds. A broken deadline shows as no return at all (the 600 s race).
        let started = DispatchTime.now().uptimeNanoseconds
        let outcome = await withTaskGroup(of: Int?.self) { group in
            group.addTask {
                var waiting = tail()
                defer { waiting.close() }
                return await waiting.next(deadline: DispatchTime.now().uptimeNanoseconds + 300_000_000).count
            }
            group.addTask { try? await Task.sleep(for: .seconds(600)); return nil }
            let first = await group.next()!
            group.cancelAll()
            return first
        }
        let waited = DispatchTime.now().uptimeNanoseconds - started
        #expect(outcome == 0, "returned empty at its deadline (nil: not within 600 s)")
        #expect(waited >= 250_000_000, "not before its deadline: woke after \(waited / 1_000_000) ms")

        let cancelled = Task {
            var waiting = tail()
            defer { waiting.close() }
            return await waiting.next(deadline: DispatchTime.now().uptimeNanoseconds + 3_600_000_000_000).count
        }
        try await Task.sleep(for: .milliseconds(100))
        let cancelledAt = DispatchTime.now().uptimeNanoseconds
        cancelled.cancel()
        #expect(await cancelled.value == 0)
        #expect(DispatchTime.now().uptimeNanoseconds - cancelledAt < 600_000_000_000, "cancellation, not the hour-long deadline, ended the wait")
    }

    @Test("on the durable queue, records still in a none topic's write buffer when the feed starts reach a tail from the start, once each")
    func startsAtTheReadableEnd() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("starbloom-feed-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let queue = try DurableQueue(directory: directory)
        defer { queue.close() }
        try queue.createTopic("live.none", settings: TopicSettings(durability: .none))
        for round in 0..<20 {
            let feed = LiveFeed(queue: queue)
            let base = round * 5
            // Published, not yet readable (the background flush runs every 2 ms), as the feed starts.
            _ = try await queue.publish(topic: "live.none", records: (base..<(base + 5)).map(Self.record))
            var tail = LiveTail(queue: queue, feed: feed,
                                follower: TopicFollower(queue: queue, follows: { $0 == "live.none" }, resumeAt: nil, fromEarliest: true))
            var offsets: [UInt64] = []
            let giveUp = DispatchTime.now().uptimeNanoseconds + 30_000_000_000
            while offsets.count < base + 5 && DispatchTime.now().uptimeNanoseconds < giveUp {
                offsets += await tail.next(deadline: DispatchTime.now().uptimeNanoseconds + 100_000_000).map(\.record.offset)
            }
            tail.close()
            #expect(offsets == Array(0..<UInt64(base + 5)), "round \(round)")
        }
    }
}
