extension MessageQueue {
    /// Publishes owned records (the API's path; plugins publish borrowed `sb_record`s) and returns
    /// where each went, in order. Waits until they are acknowledged under the topic's durability.
    /// A one-partition topic takes the batch in one append (its offsets are consecutive); records
    /// for a topic with several partitions are appended one at a time, which keeps each partition's
    /// order and tells every record's position.
    public func publish(topic name: String, records: [QueueRecord]) async throws(QueueError) -> [RecordPosition] {
        guard !records.isEmpty else { return [] }
        let appender = try topic(named: name)
        let now = Int64(Date().timeIntervalSince1970 * 1e9)
        if appender.partitionCount == 1 {
            let arena = RecordArena(records)
            defer { arena.release() }
            let last = try await appender.appendAsync(UnsafeBufferPointer(start: arena.records, count: records.count), defaultEventTimeNs: now)
            let first = last.offset + 1 - UInt64(records.count)
            return (0..<UInt64(records.count)).map { RecordPosition(partition: 0, offset: first + $0) }
        }
        var positions: [RecordPosition] = []
        for record in records {
            let arena = RecordArena([record])
            defer { arena.release() }
            positions.append(try await appender.appendAsync(UnsafeBufferPointer(start: arena.records, count: 1), defaultEventTimeNs: now))
        }
        return positions
    }
}

import Foundation
