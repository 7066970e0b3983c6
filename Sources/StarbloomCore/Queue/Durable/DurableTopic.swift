import CStarbloomABI
import Foundation
import Synchronization

/// A topic of the durable queue: its settings and partitions. Records are routed to a partition by
/// a hash of their key (FNV-1a), so one key always lands in one partition and keeps its order there;
/// records without a key go to one partition per batch, rotating between batches.
final class DurableTopic: TopicAppender, Sendable {
    let name: String
    let settings: TopicSettings
    let partitions: [PartitionLog]
    private let rotation = Atomic<Int>(0)
    private let signal: AppendSignal
    var partitionCount: Int { partitions.count }

    init(name: String, directory: String, settings: TopicSettings, signal: AppendSignal) throws(QueueError) {
        self.signal = signal
        self.name = name
        self.settings = settings
        var partitions: [PartitionLog] = []
        for index in 0..<settings.partitions {
            partitions.append(try PartitionLog(topic: name, partition: index, directory: "\(directory)/\(index)", settings: settings))
        }
        self.partitions = partitions
    }

    @inline(__always)
    static func partition(forKey key: sb_bytes, count: Int) -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        if let base = key.ptr {
            for i in 0..<key.len {
                hash ^= UInt64(base[i])
                hash &*= 0x0000_0100_0000_01B3
            }
        }
        return Int(hash % UInt64(count))
    }

    func problem(with record: sb_record) -> QueueError? {
        if let problem = RecordFrame.problem(with: record) { return QueueError(code: .tooLarge, message: problem) }
        let bytes = RecordFrame.recordBytes(of: record)
        guard bytes > settings.maxRecordBytes else { return nil }
        return QueueError(code: .tooLarge, message: "record of \(bytes) bytes exceeds the limit of \(settings.maxRecordBytes) bytes on topic '\(name)'")
    }

    func append(_ records: UnsafeBufferPointer<sb_record>, defaultEventTimeNs: Int64, nonBlocking: Bool) throws(QueueError) -> RecordPosition {
        defer { signal.notify(topic: name) } // after a failure too: a partial multi-partition append may be readable
        if partitions.count == 1 {
            let offset = try partitions[0].append(records, indices: nil, defaultEventTimeNs: defaultEventTimeNs, nonBlocking: nonBlocking)
            return RecordPosition(partition: 0, offset: offset)
        }
        let keyless = rotation.add(1, ordering: .relaxed).newValue % partitions.count
        var groups = [[Int]](repeating: [], count: partitions.count)
        var lastPartition = 0
        for (index, record) in records.enumerated() {
            let target = record.key.len == 0 ? keyless : Self.partition(forKey: record.key, count: partitions.count)
            groups[target].append(index)
            lastPartition = target
        }
        var last = RecordPosition(partition: 0, offset: 0)
        for (partition, indices) in groups.enumerated() where !indices.isEmpty {
            let offset = try partitions[partition].append(records, indices: indices, defaultEventTimeNs: defaultEventTimeNs, nonBlocking: nonBlocking)
            if partition == lastPartition { last = RecordPosition(partition: partition, offset: offset) }
        }
        return last
    }

    /// Async publish: suspends until durable instead of blocking a thread (see `PartitionLog.appendAsync`).
    func appendAsync(_ records: UnsafeBufferPointer<sb_record>, defaultEventTimeNs: Int64) async throws(QueueError) -> RecordPosition {
        let partition = partitions.count == 1 || records.isEmpty
            ? 0 : (records[0].key.len == 0 ? rotation.add(1, ordering: .relaxed).newValue % partitions.count
                                           : Self.partition(forKey: records[0].key, count: partitions.count))
        if partitions.count > 1, records.contains(where: { record in
            record.key.len > 0 && Self.partition(forKey: record.key, count: partitions.count) != partition
        }) {
            // Mixed keys: fall back to the blocking path, which splits the batch per partition.
            return try append(records, defaultEventTimeNs: defaultEventTimeNs)
        }
        let offset = try await partitions[partition].appendAsync(records, indices: nil, defaultEventTimeNs: defaultEventTimeNs)
        signal.notify(topic: name)
        return RecordPosition(partition: partition, offset: offset)
    }

    /// Writes what publishers left in the buffers (`none` and `interval` topics, every 2 ms) and
    /// wakes readers if that made records readable: their append's wake-up came before.
    func flushPending() {
        var flushed = false
        for partition in partitions where partition.flushPending() { flushed = true }
        if flushed { signal.notify(topic: name) }
    }

    /// Each partition's offsets, without the sizes `info` sums.
    var ranges: [PartitionRange] {
        partitions.map(\.range)
    }

    var info: TopicInfo {
        TopicInfo(name: name, partitions: partitions.map(\.info), durability: settings.durability.text)
    }
}
