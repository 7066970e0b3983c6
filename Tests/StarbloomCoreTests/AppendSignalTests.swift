import CStarbloomABI
import Foundation
import Testing
@testable import StarbloomCore

@Suite("Append signal")
struct AppendSignalTests {
    @Test("waiters wake on an append, never miss one that came first, and time out when nothing comes")
    func wakeups() async throws {
        let signal = AppendSignal()
        // Missed-wakeup guard: an append between reading the version and waiting returns at once.
        let seen = signal.version
        signal.notify()
        let clock = ContinuousClock()
        // (Bounds are far from the timeouts: a missed wake-up shows as a 60 s wait, not as a slow one.)
        var elapsed = try await clock.measure { await signal.wait(after: seen, timeout: .seconds(60)) }
        #expect(elapsed < .seconds(30))
        // Timeout with nothing appended.
        elapsed = try await clock.measure { await signal.wait(after: signal.version, timeout: .milliseconds(100)) }
        #expect(elapsed >= .milliseconds(90))
        // Many waiters, one append: all wake well before their timeout.
        let start = signal.version
        let woken = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<200 {
                group.addTask {
                    await signal.wait(after: start, timeout: .seconds(60))
                    return 1
                }
            }
            try await Task.sleep(for: .milliseconds(100))
            let before = clock.now
            signal.notify()
            let total = try await group.reduce(0, +)
            #expect(clock.now - before < .seconds(30))
            return total
        }
        #expect(woken == 200)
    }

    @Test("an append to the durable or the in-memory queue notifies")
    func queuesNotify() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("starbloom-signal-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let queues: [any MessageQueue] = [try DurableQueue(directory: directory), InMemoryQueue()]
        for queue in queues {
            let before = queue.appendSignal.version
            var payload: [UInt8] = Array("x".utf8)
            try payload.withUnsafeMutableBufferPointer { bytes throws(QueueError) in
                var record = sb_record()
                record.payload = sb_bytes(ptr: UnsafePointer(bytes.baseAddress), len: bytes.count)
                _ = try withUnsafePointer(to: &record) { pointer throws(QueueError) in
                    try queue.topic(named: "signal.test").append(UnsafeBufferPointer(start: pointer, count: 1), defaultEventTimeNs: 1)
                }
            }
            #expect(queue.appendSignal.version > before, "\(type(of: queue))")
            (queue as? DurableQueue)?.close()
        }
    }

    @Test("trackers see each changed topic once; a durability-none topic notifies again when its records become readable")
    func trackersAndDeferredVisibility() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("starbloom-signal-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let queue = try DurableQueue(directory: directory)
        defer { queue.close() }
        try queue.createTopic("later.none", settings: TopicSettings(durability: .none))
        let tracker = queue.appendSignal.track()
        let other = queue.appendSignal.track()
        _ = try await queue.publish(topic: "changed.a", records: [QueueRecord(topic: "", offset: 0, key: [], payload: [1], headers: [], eventTimeNs: 1)])
        _ = try await queue.publish(topic: "changed.a", records: [QueueRecord(topic: "", offset: 0, key: [], payload: [2], headers: [], eventTimeNs: 1)])
        #expect(queue.appendSignal.changedTopics(tracker) == ["changed.a"])
        #expect(queue.appendSignal.changedTopics(tracker).isEmpty, "each change is taken once")
        #expect(queue.appendSignal.changedTopics(other) == ["changed.a"], "every tracker sees it")
        queue.appendSignal.untrack(other)
        #expect(queue.partitionRanges(topic: "changed.a") == [PartitionRange(partition: 0, firstOffset: 0, nextOffset: 2)])
        #expect(queue.partitionRanges(topic: "no.such") == nil)

        // `none`: the append returns before its record is readable; the background flush (every
        // 2 ms) makes it readable and must notify, or a reader waiting for it sleeps until some later
        // append. Caught when the append returned before that flush (tried until it does).
        var checked = 0
        for attempt in 0..<50 where checked < 3 {
            _ = try await queue.publish(topic: "later.none", records: [QueueRecord(topic: "", offset: 0, key: [], payload: [UInt8(attempt)], headers: [], eventTimeNs: 1)])
            let version = queue.appendSignal.version
            _ = queue.appendSignal.changedTopics(tracker)
            guard queue.partitionRanges(topic: "later.none")?.first?.nextOffset == UInt64(attempt) else { continue } // already flushed
            await queue.appendSignal.wait(after: version, timeout: .seconds(10))
            #expect(queue.appendSignal.version > version, "the flush that made the record readable notified")
            #expect(queue.appendSignal.changedTopics(tracker) == ["later.none"])
            #expect(queue.partitionRanges(topic: "later.none")?.first?.nextOffset == UInt64(attempt + 1))
            checked += 1
        }
        #expect(checked > 0, "no append returned before its flush in 50 tries")
        queue.appendSignal.untrack(tracker)
    }
}
