import CStarbloomABI
import Foundation
import Testing
@testable import StarbloomCore

/// A fresh directory per test.
private final class QueueDirectory {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("starbloom-queue-\(UUID().uuidString)").path
    init() { try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// Appends records with the given payloads/keys through the ABI record path.
@discardableResult
private func publish(_ appender: any TopicAppender, payloads: [[UInt8]], keys: [[UInt8]]? = nil) throws(QueueError) -> RecordPosition {
    let records = payloads.enumerated().map { index, payload in
        QueueRecord(topic: "", offset: 0, key: keys?[index] ?? [], payload: payload, headers: [.init(name: "h", value: [1, 2])], eventTimeNs: 7)
    }
    let arena = RecordArena(records)
    defer { arena.release() }
    return try appender.append(UnsafeBufferPointer(start: arena.records, count: records.count), defaultEventTimeNs: 1)
}

private func readAll(_ queue: any MessageQueue, _ topic: String, partition: Int = 0, from: UInt64 = 0) throws -> [QueueRecord] {
    var result: [QueueRecord] = []
    var next = from
    while true {
        let batch = try queue.read(topic: topic, partition: partition, from: next, limit: 1000)
        guard let last = batch.last else { return result }
        result += batch
        next = last.offset + 1
    }
}

private func payload(_ sequence: Int, _ bytes: Int = 200) -> [UInt8] { QueuePattern.payload(sequence: sequence, bytes: bytes) }

private func residentBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let fields = text.split(separator: " ")
    return (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE)))
}

@Suite("Durable queue")
struct DurableQueueTests {
    @Test("records survive a reopen byte-identical, with headers, keys and event times")
    func reopen() throws {
        let directory = QueueDirectory()
        do {
            let queue = try DurableQueue(directory: directory.path)
            let topic = try queue.topic(named: "chain.blocks")
            let last = try publish(topic, payloads: (0..<500).map { payload($0) })
            #expect(last == RecordPosition(partition: 0, offset: 499))
            queue.close()
        }
        let reopened = try DurableQueue(directory: directory.path)
        let records = try readAll(reopened, "chain.blocks")
        #expect(records.map(\.offset) == Array(0..<500))
        #expect(records.allSatisfy { $0.payload == payload(Int($0.offset)) && $0.eventTimeNs == 7 && $0.headers == [.init(name: "h", value: [1, 2])] })
        #expect(reopened.recoveryReport.isEmpty)
        // Appends continue after the last offset.
        #expect(try publish(try reopened.topic(named: "chain.blocks"), payloads: [payload(500)]).offset == 500)
    }

    @Test("a synced batch of several MiB (streamed to the disk in pieces, rolling a segment midway) is stored byte-identical")
    func largeSyncedBatch() throws {
        let directory = QueueDirectory()
        let count = 3_000 // 1,500-byte payloads: ~4.6 MB in one flush, over 3 MiB segments
        do {
            let queue = try DurableQueue(directory: directory.path)
            try queue.createTopic("big.batch", settings: TopicSettings(durability: .always, segmentBytes: 3 << 20))
            let last = try publish(try queue.topic(named: "big.batch"), payloads: (0..<count).map { payload($0, 1_500) })
            #expect(last.offset == UInt64(count - 1))
            queue.close()
        }
        let reopened = try DurableQueue(directory: directory.path)
        let records = try readAll(reopened, "big.batch")
        #expect(records.map(\.offset) == (0..<count).map { UInt64($0) })
        #expect(records.allSatisfy { $0.payload == payload(Int($0.offset), 1_500) })
        #expect(reopened.recoveryReport.isEmpty)
        let segments = try FileManager.default.contentsOfDirectory(atPath: "\(directory.path)/topics/big.batch/0").filter { $0.hasSuffix(".log") }
        #expect(segments.count == 2)
        // The writer itself reports a refused write with its errno instead of looping.
        #expect([UInt8](repeating: 1, count: 3 << 20).withUnsafeBytes { streamedWrite(-1, $0.baseAddress!, count: $0.count, at: 0, streaming: true) } == EBADF)
    }

    @Test("a read stops at its byte bound (the record that reaches it included, a larger one alone), on disk and in memory")
    func readByteBound() throws {
        let directory = QueueDirectory()
        let durable = try DurableQueue(directory: directory.path)
        defer { durable.close() }
        let memory = InMemoryQueue()
        for queue in [durable, memory] as [any MessageQueue] {
            let topic = try queue.topic(named: "sized")
            _ = try publish(topic, payloads: (0..<10).map { payload($0, 100) } + [payload(10, 5_000)] + [payload(11, 100)])
            // Records of 100 payload bytes plus a header (and, on disk, framing): the bound of 250 is
            // reached by the second or third.
            let bounded = try queue.read(topic: "sized", partition: 0, from: 0, limit: 100, maxBytes: 250).map(\.offset)
            #expect(bounded == [0, 1] || bounded == [0, 1, 2], "\(bounded)")
            #expect(try queue.read(topic: "sized", partition: 0, from: 3, limit: 2, maxBytes: 10_000).map(\.offset) == [3, 4], "the count bound still holds")
            #expect(try queue.read(topic: "sized", partition: 0, from: 10, limit: 100, maxBytes: 1_000).map(\.offset) == [10], "one record larger than the bound comes alone")
            #expect(try queue.read(topic: "sized", partition: 0, from: 0, limit: 100).count == 12)
        }
    }

    @Test("a publisher killed with SIGKILL mid-stream loses no acknowledged record: no gap, no duplicate, byte-identical")
    func killNine() throws {
        try #require(FileManager.default.isExecutableFile(atPath: TestPaths.queueTool), "build starbloom-queue-tool first (swift build --build-tests)")
        for (round, killAfter) in [2_000, 7_000, 15_000].enumerated() {
            let directory = QueueDirectory()
            let (acknowledged, killedBySignal) = try runAndKill(
                arguments: ["publish", directory.path, "crash.test", "10000000", "always", "200", "37"], killAfter: killAfter)
            #expect(killedBySignal, "round \(round): the publisher must die by the signal")
            #expect(acknowledged >= killAfter)

            let queue = try DurableQueue(directory: directory.path)
            let records = try readAll(queue, "crash.test")
            #expect(records.count >= acknowledged, "round \(round): \(records.count) records on disk, \(acknowledged) acknowledged")
            #expect(records.map(\.offset) == Array(0..<UInt64(records.count)), "round \(round): offsets must be contiguous from 0")
            let mismatched = records.first { $0.payload != payload(Int($0.offset)) }
            #expect(mismatched == nil, "round \(round): record \(mismatched?.offset ?? 0) differs from what was published")
            queue.close()
        }
    }

    @Test("a consumer group resumes at its committed offset after a restart and gets the uncommitted records again")
    func consumerGroupResume() throws {
        let directory = QueueDirectory()
        do {
            let queue = try DurableQueue(directory: directory.path)
            try publish(try queue.topic(named: "orders"), payloads: (0..<100).map { payload($0) })
            #expect(queue.committedOffset(group: "billing", topic: "orders") == nil)
            let first = try queue.read(topic: "orders", from: 0, limit: 30)
            try queue.commit(group: "billing", topic: "orders", offset: first.last!.offset + 1)
            _ = try queue.read(topic: "orders", from: 30, limit: 20) // delivered, never committed: the consumer "crashes"
            queue.close()
        }
        let queue = try DurableQueue(directory: directory.path)
        let resume = try #require(queue.committedOffset(group: "billing", topic: "orders"))
        #expect(resume == 30)
        let redelivered = try queue.read(topic: "orders", from: resume, limit: 20)
        #expect(redelivered.map(\.offset) == Array(30..<50))
        #expect(queue.committedOffset(group: "unknown-group", topic: "orders") == nil)
        #expect(queue.groups == ["billing"])
    }

    @Test("deleting a topic: its records and files go, a kept appender fails, commits reset, the name starts over; in memory too")
    func deleteTopic() throws {
        let directory = QueueDirectory()
        do {
            let queue = try DurableQueue(directory: directory.path)
            let kept = try queue.topic(named: "orders")
            try publish(kept, payloads: (0..<10).map { payload($0) })
            try queue.commit(group: "billing", topic: "orders", offset: 7)
            try queue.deleteTopic("orders")
            #expect(!queue.topics().contains { $0.name == "orders" })
            #expect(!FileManager.default.fileExists(atPath: "\(directory.path)/topics/orders"))
            #expect(throws: QueueError.self) { try publish(kept, payloads: [payload(99)]) }
            #expect(queue.committedOffset(group: "billing", topic: "orders") == 0)
            #expect((try? queue.deleteTopic("orders")) == nil, "a second delete is unknownTopic")
            do { try queue.deleteTopic("orders") } catch { #expect(error.code == .unknownTopic) }
            try publish(try queue.topic(named: "orders"), payloads: [payload(1)])
            #expect(try readAll(queue, "orders").map(\.offset) == [0])
            // The longest valid name (255 bytes) deletes too (its directory's new name stays short).
            let longest = String(repeating: "a", count: 255)
            try publish(try queue.topic(named: longest), payloads: [payload(1)])
            try queue.deleteTopic(longest)
            #expect(!queue.topics().contains { $0.name == longest })
            queue.close()
        }
        // A deletion interrupted between its rename and the removal is finished at the next start.
        try FileManager.default.createDirectory(atPath: "\(directory.path)/topics/.deleted.x.1/0", withIntermediateDirectories: true)
        let queue = try DurableQueue(directory: directory.path)
        #expect(queue.topics().map(\.name) == ["orders"])
        #expect(try readAll(queue, "orders").map(\.offset) == [0])
        #expect(!FileManager.default.fileExists(atPath: "\(directory.path)/topics/.deleted.x.1"))
        queue.close()

        let memory = InMemoryQueue()
        let keptInMemory = try memory.topic(named: "orders")
        try publish(keptInMemory, payloads: [payload(1)])
        try memory.deleteTopic("orders")
        #expect(memory.topics().isEmpty)
        #expect(throws: QueueError.self) { try publish(keptInMemory, payloads: [payload(2)]) }
    }

    @Test("bad input gets a clear error: topic names, oversized records, offsets past the end, missing partitions, bad settings")
    func badInput() throws {
        let directory = QueueDirectory()
        let queue = try DurableQueue(directory: directory.path, defaults: TopicSettings(maxRecordBytes: 1024, segmentBytes: 1 << 20))
        #expect(throws: QueueError.self) { try queue.topic(named: "bad topic") }
        #expect((try? queue.topic(named: "a..b")) == nil)
        let topic = try queue.topic(named: "small")
        do {
            try publish(topic, payloads: [payload(0, 100), [UInt8](repeating: 1, count: 2000)])
            Issue.record("an oversized record must be refused")
        } catch {
            #expect(error.code == .tooLarge)
            #expect(error.message.contains("exceeds the limit of 1024 bytes"))
        }
        #expect(try readAll(queue, "small").isEmpty, "nothing of the refused batch may be stored")
        try publish(topic, payloads: [payload(0, 100)])
        do {
            _ = try queue.read(topic: "small", partition: 0, from: 5, limit: 10)
            Issue.record("reading past the end must fail")
        } catch {
            #expect(error.code == .invalidOffset)
            #expect(error.message.contains("beyond the end"))
        }
        #expect(throws: QueueError.self) { try queue.read(topic: "small", partition: 3, from: 0, limit: 1) }
        #expect(throws: QueueError.self) { try queue.commit(group: "g", topic: "small", partition: 0, offset: 99) }
        #expect(throws: QueueError.self) { try queue.commit(group: "g", topic: "never.created", partition: 0, offset: 0) }
        #expect(throws: QueueError.self) { try queue.createTopic("x.y", settings: TopicSettings(partitions: 0)) }
        #expect(throws: QueueError.self) { try queue.createTopic("small", settings: TopicSettings(partitions: 4)) }
        #expect(TopicSettings(segmentBytes: 100).problem != nil)
    }

    @Test("keys route to partitions: every record of a key lands in one partition, in publish order")
    func partitionsKeepKeyOrder() throws {
        let directory = QueueDirectory()
        let queue = try DurableQueue(directory: directory.path)
        try queue.createTopic("trades", settings: TopicSettings(partitions: 4))
        let topic = try queue.topic(named: "trades")
        let keys = (0..<400).map { Array("token-\($0 % 13)".utf8) }
        let payloads = (0..<400).map { Array("\($0)".utf8) }
        try publish(topic, payloads: payloads, keys: keys)
        var seen: [String: Int] = [:]
        var total = 0
        for partition in 0..<4 {
            var lastSequence: [String: Int] = [:]
            for record in try readAll(queue, "trades", partition: partition) {
                let key = String(decoding: record.key, as: UTF8.self)
                let sequence = Int(String(decoding: record.payload, as: UTF8.self))!
                #expect(seen[key] == nil || seen[key] == partition, "key \(key) appears in two partitions")
                seen[key] = partition
                #expect(sequence > (lastSequence[key] ?? -1), "order within a key must be kept")
                lastSequence[key] = sequence
                total += 1
            }
        }
        #expect(total == 400)
        #expect(Set(seen.values).count > 1, "13 keys should spread over more than one of 4 partitions")
        #expect(queue.topics().first { $0.name == "trades" }?.partitions.count == 4)
    }

    @Test("retention by size drops whole old segments; readers start at the oldest retained record")
    func retentionBySize() throws {
        let directory = QueueDirectory()
        let queue = try DurableQueue(directory: directory.path)
        let settings = TopicSettings(durability: .none, maxRecordBytes: 4096, segmentBytes: 64 << 10, retentionBytes: 160 << 10)
        try queue.createTopic("metrics.raw", settings: settings)
        let topic = try queue.topic(named: "metrics.raw")
        for batch in 0..<20 { try publish(topic, payloads: (0..<100).map { payload(batch * 100 + $0) }) }
        // `none`: records become readable when the background flusher writes them (every 2 ms).
        #expect(waitUntil(timeout: 5) { ((try? queue.read(topic: "metrics.raw", from: 1999, limit: 1)) ?? []).count == 1 })
        queue.enforceRetention()
        let info = queue.topics().first!.partitions[0]
        #expect(info.firstOffset > 0, "old segments must be gone")
        #expect(info.bytes <= (160 << 10) + (64 << 10))
        let files = try FileManager.default.contentsOfDirectory(atPath: "\(directory.path)/topics/metrics.raw/0").filter { $0.hasSuffix(".log") }
        #expect(files.count == info.segments)
        let retained = try readAll(queue, "metrics.raw")
        #expect(retained.first?.offset == info.firstOffset)
        #expect(retained.last?.offset == 1999)
        #expect(retained.allSatisfy { $0.payload == payload(Int($0.offset)) })
    }

    @Test("retention by age drops segments whose newest record is older than the limit")
    func retentionByAge() throws {
        let directory = QueueDirectory()
        let queue = try DurableQueue(directory: directory.path)
        try queue.createTopic("old.data", settings: TopicSettings(durability: .always, maxRecordBytes: 4096, segmentBytes: 16 << 10, retentionSeconds: 0.2))
        let topic = try queue.topic(named: "old.data")
        try publish(topic, payloads: (0..<300).map { payload($0) })
        Thread.sleep(forTimeInterval: 0.3)
        try publish(topic, payloads: [payload(300)])
        queue.enforceRetention()
        let info = queue.topics().first!.partitions[0]
        #expect(info.segments == 1, "only the active segment is kept")
        #expect(try readAll(queue, "old.data").first?.offset == info.firstOffset)
    }

    /// The position where written data ends in the only segment of partition 0.
    private func segmentPath(_ directory: QueueDirectory, _ topic: String, base: UInt64 = 0) -> String {
        "\(directory.path)/topics/\(topic)/0/\(LogSegment.fileName(baseOffset: base))"
    }

    @Test("a tail torn mid-record is truncated and reported at start; the partition keeps working")
    func tornTail() throws {
        let directory = QueueDirectory()
        var dataEnd = 0
        do {
            let queue = try DurableQueue(directory: directory.path)
            try publish(try queue.topic(named: "torn"), payloads: (0..<100).map { payload($0) })
            dataEnd = queue.topics().first!.partitions[0].bytes
            queue.close()
        }
        // Simulate a crash during a write: half of a new frame's bytes reached the disk.
        let path = segmentPath(directory, "torn")
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        try handle.seek(toOffset: UInt64(dataEnd))
        var torn = [UInt8](repeating: 0, count: 120)
        torn.withUnsafeMutableBytes { $0.storeBytes(of: UInt32(300).littleEndian, as: UInt32.self) } // claims 300 bytes
        for i in 8..<120 { torn[i] = UInt8(i) }
        try handle.write(contentsOf: torn)
        try handle.close()

        let queue = try DurableQueue(directory: directory.path)
        #expect(queue.recoveryReport.contains { $0.contains("truncated a torn tail") }, "\(queue.recoveryReport)")
        let preserved = try FileManager.default.contentsOfDirectory(atPath: "\(directory.path)/topics/torn/0").filter { $0.contains(".damaged-") }
        #expect(preserved.count == 1, "the segment as found is kept aside before truncation")
        let records = try readAll(queue, "torn")
        #expect(records.map(\.offset) == Array(0..<100))
        #expect(try publish(try queue.topic(named: "torn"), payloads: [payload(100)]).offset == 100)
        #expect(try readAll(queue, "torn").last?.payload == payload(100))
    }

    @Test("a missing index is rebuilt; a corrupt segment in the middle is reported and the rest is served")
    func indexesAndCorruptMiddle() throws {
        let directory = QueueDirectory()
        var bases: [UInt64] = []
        do {
            let queue = try DurableQueue(directory: directory.path)
            try queue.createTopic("multi", settings: TopicSettings(maxRecordBytes: 4096, segmentBytes: 32 << 10))
            let topic = try queue.topic(named: "multi")
            for batch in 0..<6 { try publish(topic, payloads: (0..<100).map { payload(batch * 100 + $0) }) }
            queue.close()
            let names = try FileManager.default.contentsOfDirectory(atPath: "\(directory.path)/topics/multi/0")
            bases = names.filter { $0.hasSuffix(".log") }.compactMap { UInt64($0.prefix(20)) }.sorted()
        }
        #expect(bases.count >= 4)
        // Remove every index file; flip a byte inside the second segment.
        for name in try FileManager.default.contentsOfDirectory(atPath: "\(directory.path)/topics/multi/0") where name.hasSuffix(".idx") {
            try FileManager.default.removeItem(atPath: "\(directory.path)/topics/multi/0/\(name)")
        }
        let damaged = segmentPath(directory, "multi", base: bases[1])
        let handle = try #require(FileHandle(forUpdatingAtPath: damaged))
        try handle.seek(toOffset: 5000)
        let original = try handle.read(upToCount: 1)!.first!
        try handle.seek(toOffset: 5000)
        try handle.write(contentsOf: [original ^ 0xFF])
        try handle.close()

        let queue = try DurableQueue(directory: directory.path)
        #expect(queue.recoveryReport.contains { $0.contains("rebuilt the missing index") })
        #expect(queue.recoveryReport.contains { $0.contains("is corrupt") && $0.contains(LogSegment.fileName(baseOffset: bases[1])) })
        let records = try readAll(queue, "multi")
        let offsets = Set(records.map(\.offset))
        #expect(offsets.isSuperset(of: Set(0..<bases[1])), "the first segment is served whole")
        #expect(offsets.isSuperset(of: Set(bases[2]..<600)), "segments after the damage are served whole")
        #expect(records.allSatisfy { $0.payload == payload(Int($0.offset)) }, "no damaged record is served")
        #expect(records.count < 600)
        // Index files are written again for sealed segments.
        #expect(FileManager.default.fileExists(atPath: segmentPath(directory, "multi", base: bases[0]).replacingOccurrences(of: ".log", with: ".idx")))
    }

    @Test("interval and none durability make records readable without a per-publish fsync")
    func relaxedDurability() throws {
        let directory = QueueDirectory()
        let queue = try DurableQueue(directory: directory.path)
        try queue.createTopic("fast.none", settings: TopicSettings(durability: .none))
        try queue.createTopic("fast.interval", settings: TopicSettings(durability: .interval(milliseconds: 20)))
        try publish(try queue.topic(named: "fast.none"), payloads: (0..<10).map { payload($0) })
        try publish(try queue.topic(named: "fast.interval"), payloads: (0..<10).map { payload($0) })
        #expect(waitUntil(timeout: 5) { ((try? readAll(queue, "fast.none").count) ?? 0) == 10 })
        #expect(waitUntil(timeout: 5) { ((try? readAll(queue, "fast.interval").count) ?? 0) == 10 })
        queue.close()
        let reopened = try DurableQueue(directory: directory.path)
        #expect(try readAll(reopened, "fast.interval").count == 10)
        #expect(reopened.topics().first { $0.name == "fast.interval" }?.durability == "interval:20")
    }

    @Test("memory stays bounded while 200 MB are published and nobody consumes")
    func boundedMemory() throws {
        let directory = QueueDirectory()
        let queue = try DurableQueue(directory: directory.path)
        try queue.createTopic("firehose", settings: TopicSettings(durability: .none))
        let topic = try queue.topic(named: "firehose")
        let payloads = (0..<1000).map { payload($0, 1000) }
        let before = residentBytes()
        var peak = before
        for _ in 0..<200 {
            try publish(topic, payloads: payloads)
            peak = max(peak, residentBytes())
        }
        #expect(peak - before < 96 << 20, "resident memory grew by \((peak - before) >> 20) MiB")
        #expect(waitUntil(timeout: 10) { queue.topics().first!.partitions[0].nextOffset == 200_000 })
    }

    @Test("concurrent publishers with always durability share fsyncs and every acknowledged record is stored once")
    func groupCommit() async throws {
        let directory = QueueDirectory()
        let queue = try DurableQueue(directory: directory.path)
        let topic = try queue.topic(named: "concurrent")
        await withTaskGroup(of: Void.self) { group in
            for producer in 0..<16 {
                group.addTask {
                    for i in 0..<50 { _ = try? publish(topic, payloads: [Array("p\(producer)-\(i)".utf8)]) }
                }
            }
        }
        let records = try readAll(queue, "concurrent")
        #expect(records.count == 800)
        #expect(Set(records.map(\.payload)).count == 800)
        #expect(records.map(\.offset) == Array(0..<800))
    }

    @Test("async publishers awaiting each ack share fsyncs, and producers that stop early do not hold the others up")
    func asyncGroupCommit() async throws {
        let directory = QueueDirectory()
        let queue = try DurableQueue(directory: directory.path)
        defer { queue.close() }
        let topic = try queue.topic(named: "concurrent.async")
        // 32 producers; producer p publishes 10 + p records, so they drop out one by one and the
        // flusher's gather (which expects every acknowledged producer back) must time out, not hang.
        let acknowledged = await withTaskGroup(of: [UInt64].self) { group in
            for producer in 0..<32 {
                group.addTask {
                    var offsets: [UInt64] = []
                    for i in 0..<(10 + producer) {
                        let records = [QueueRecord(topic: "", offset: 0, key: [], payload: Array("p\(producer)-\(i)".utf8), headers: [], eventTimeNs: 7)]
                        let arena = RecordArena(records)
                        defer { arena.release() }
                        if let position = try? await topic.appendAsync(UnsafeBufferPointer(start: arena.records, count: 1), defaultEventTimeNs: 1) {
                            offsets.append(position.offset)
                        }
                    }
                    return offsets
                }
            }
            return await group.reduce(into: [UInt64]()) { $0 += $1 }
        }
        let total = (0..<32).reduce(0) { $0 + 10 + $1 }
        #expect(acknowledged.count == total)
        #expect(acknowledged.sorted() == Array(0..<UInt64(total)), "every acknowledged offset is distinct, with no gap")
        let records = try readAll(queue, "concurrent.async")
        #expect(records.count == total)
        #expect(Set(records.map(\.payload)).count == total)
        let partition = queue.topics().first { $0.name == "concurrent.async" }!.partitions[0]
        #expect(partition.syncs > 0 && partition.syncs * 2 < UInt64(total),
                "\(partition.syncs) fsyncs for \(total) records: acknowledged publishers did not share fsyncs")
    }

    @Test("compaction keeps the newest record per key in sealed segments, keeps keyless records, and survives a reopen")
    func compaction() throws {
        let directory = QueueDirectory()
        do {
            let queue = try DurableQueue(directory: directory.path)
            try queue.createTopic("balances", settings: TopicSettings(maxRecordBytes: 4096, segmentBytes: 16 << 10, compact: true))
            let topic = try queue.topic(named: "balances")
            // 10 keys updated 30 times each, plus one keyless record per round.
            for round in 0..<30 {
                try publish(topic, payloads: (0..<10).map { Array("k\($0)=\(round)".utf8) } + [Array("note-\(round)".utf8)],
                            keys: (0..<10).map { Array("k\($0)".utf8) } + [[]])
            }
            let before = try readAll(queue, "balances")
            #expect(before.count == 330)
            let removed = try queue.compactNow()
            #expect(removed > 0)
            let after = try readAll(queue, "balances")
            #expect(after.count == 330 - removed)
            // The newest value of every key is still there, and reads go on over the offset gaps.
            for key in 0..<10 {
                let values = after.filter { $0.key == Array("k\(key)".utf8) }.map { String(decoding: $0.payload, as: UTF8.self) }
                #expect(values.last == "k\(key)=29")
            }
            #expect(after.filter { $0.key.isEmpty }.count == 30, "records without a key are never compacted away")
            #expect(after.map(\.offset) == after.map(\.offset).sorted())
            queue.close()
        }
        let reopened = try DurableQueue(directory: directory.path)
        #expect(reopened.recoveryReport.isEmpty, "\(reopened.recoveryReport)")
        let records = try readAll(reopened, "balances")
        #expect(records.last?.offset == 329)
        #expect(try publish(try reopened.topic(named: "balances"), payloads: [Array("k0=30".utf8)], keys: [Array("k0".utf8)]).offset == 330)
    }

    @Test("[queue] and [[topics]] in starbloom.toml set defaults and create topics; bad values name the key")
    func queueConfiguration() throws {
        let configuration = try HostConfiguration.parse("""
            [queue]
            durability = "interval:50"
            partitions = 2
            [[topics]]
            name = "chain.logs"
            partitions = 8
            durability = "always"
            compact = true
            retention_seconds = 3600
            """)
        #expect(configuration.queueDefaults.durability == .interval(milliseconds: 50))
        #expect(configuration.queueDefaults.partitions == 2)
        let topic = try #require(configuration.topics.first)
        #expect(topic.name == "chain.logs" && topic.settings.partitions == 8 && topic.settings.compact && topic.settings.retentionSeconds == 3600)

        let directory = QueueDirectory()
        var hostConfiguration = configuration
        hostConfiguration.dataDirectory = directory.path
        let services = try HostServices.embedded(configuration: hostConfiguration)
        #expect(services.queue.topics().first { $0.name == "chain.logs" }?.partitions.count == 8)
        (services.queue as? DurableQueue)?.close()

        for (text, fragment) in [
            ("[queue]\ndurability = \"sometimes\"", "queue.durability must be always, none, interval"),
            ("[queue]\npartitions = 0", "partitions must be 1-256"),
            ("[[topics]]\npartitions = 2", "topics[0]: 'name' is required"),
            ("[[topics]]\nname = \"bad name\"", "topics[0]: topic name 'bad name' contains ' '"),
            ("[queue]\nretention = 5", "queue: unknown key 'retention'"),
        ] {
            do {
                _ = try HostConfiguration.parse(text)
                Issue.record("expected an error for \(text)")
            } catch {
                #expect(error.description.contains(fragment), "\(error.description)")
            }
        }
    }

    @Test("with the disk stalled, a non-blocking publisher gets FULL once both buffers are full; a blocking one waits and then succeeds")
    func nonBlockingFull() throws {
        let directory = QueueDirectory()
        let queue = try DurableQueue(directory: directory.path, defaults: TopicSettings(durability: .none))
        let topic = try queue.topic(named: "stalled") as! DurableTopic
        let partition = topic.partitions[0]
        let stall = DispatchSemaphore(value: 0)
        let reached = DispatchSemaphore(value: 0)
        partition.stallFlushesForTesting = stall
        partition.stallReachedForTesting = reached
        let big = (0..<5000).map { payload($0, 1000) } // ~5 MB: flushed inline by its publisher, which then stalls
        let first = Thread { _ = try? publish(topic, payloads: big) }
        first.start()
        #expect(reached.wait(timeout: .now() + 10) == .success, "the first flush must reach the stall")
        // The spare buffer is stuck in the stalled flush; fill the pending one.
        let chunk = (0..<3000).map { payload($0, 1000) }
        let records = chunk.map { QueueRecord(topic: "", offset: 0, key: [], payload: $0, headers: [], eventTimeNs: 1) }
        let arena = RecordArena(records)
        defer { arena.release() }
        let buffer = UnsafeBufferPointer(start: arena.records, count: records.count)
        _ = try topic.append(buffer, defaultEventTimeNs: 1, nonBlocking: true)
        do {
            _ = try topic.append(buffer, defaultEventTimeNs: 1, nonBlocking: true)
            Issue.record("a non-blocking publish into full buffers must fail")
        } catch {
            #expect(error.code == .full)
            #expect(error.message.contains("write buffers are full"))
        }
        // A blocking publisher waits for the disk, then gets through.
        let blockedDone = DispatchSemaphore(value: 0)
        let blocked = Thread {
            _ = try? publish(topic, payloads: chunk) // does not fit either: must wait for the disk
            blockedDone.signal()
        }
        blocked.start()
        #expect(blockedDone.wait(timeout: .now() + 0.3) == .timedOut, "the blocking publisher must wait while the disk is stalled")
        partition.stallFlushesForTesting = nil
        stall.signal()
        #expect(blockedDone.wait(timeout: .now() + 10) == .success)
        #expect(waitUntil(timeout: 10) { ((try? readAll(queue, "stalled").count) ?? 0) == 5000 + 3000 + 3000 })
        queue.close()
    }

    @Test("a committed offset beyond the log after recovery is pulled back, so later records are not skipped")
    func committedOffsetClampedAfterRecovery() throws {
        let directory = QueueDirectory()
        var positionOfFifth = 0
        do {
            let queue = try DurableQueue(directory: directory.path)
            try publish(try queue.topic(named: "lossy"), payloads: (0..<10).map { payload($0) })
            try queue.commit(group: "g", topic: "lossy", offset: 10)
            positionOfFifth = 5 * (RecordFrame.headerSize + 6 + 1 + 2 + 200) // five frames with one 1-byte-name header
            queue.close()
        }
        // Damage record 5: recovery truncates the tail there (records 5...9 are gone, as after an OS crash).
        let handle = try #require(FileHandle(forUpdatingAtPath: segmentPath(directory, "lossy")))
        try handle.seek(toOffset: UInt64(positionOfFifth + 40))
        try handle.write(contentsOf: [0xFF, 0xFF, 0xFF])
        try handle.close()
        let queue = try DurableQueue(directory: directory.path)
        #expect(try readAll(queue, "lossy").count == 5)
        #expect(queue.committedOffset(group: "g", topic: "lossy") == 5)
        #expect(queue.recoveryReport.contains { $0.contains("reset to 5") }, "\(queue.recoveryReport)")
        try publish(try queue.topic(named: "lossy"), payloads: [payload(5)])
        #expect(try queue.read(topic: "lossy", from: 5, limit: 10).map(\.offset) == [5], "the new record is delivered to the group")
        queue.close()
    }

    @Test("records the frame format cannot hold and empty batches are refused, not crashed on")
    func unrepresentableRecords() throws {
        let directory = QueueDirectory()
        let queue = try DurableQueue(directory: directory.path)
        let topic = try queue.topic(named: "edge")
        let longName = String(repeating: "n", count: 70_000)
        let record = QueueRecord(topic: "", offset: 0, key: [], payload: [1], headers: [.init(name: longName, value: [])], eventTimeNs: 0)
        let arena = RecordArena([record])
        defer { arena.release() }
        do {
            _ = try topic.append(UnsafeBufferPointer(start: arena.records, count: 1), defaultEventTimeNs: 0)
            Issue.record("a 70,000-byte header name must be refused")
        } catch {
            #expect(error.code == .tooLarge)
        }
        #expect(throws: QueueError.self) { try topic.append(UnsafeBufferPointer(start: arena.records, count: 0), defaultEventTimeNs: 0) }
        queue.close()
    }

    @Test("a second queue on the same directory is refused while the first is open, and allowed after it closes")
    func oneProcessPerDirectory() throws {
        let directory = QueueDirectory()
        let first = try DurableQueue(directory: directory.path)
        do {
            _ = try DurableQueue(directory: directory.path)
            Issue.record("two queues on one directory must not both open")
        } catch {
            #expect(error.message.contains("in use by another process"))
        }
        first.close()
        let second = try DurableQueue(directory: directory.path)
        second.close()
    }
}
