import CStarbloomABI
import Foundation

/// A queue without disk: per-topic append-only arenas in memory, bounded in bytes per topic (the
/// oldest chunks are dropped first, and readers skip ahead to what is retained). One partition per
/// topic. Used by benchmarks that measure the host without storage, and by tests.
///
/// `@unchecked Sendable`: `topicsByName` and `offsets` are guarded by `lock`; each topic guards itself.
public final class InMemoryQueue: MessageQueue, @unchecked Sendable {
    public let appendSignal = AppendSignal()
    public let maxRecordBytes: Int
    let maxBytesPerTopic: Int
    private let lock = NSLock()
    private var topicsByName: [String: InMemoryTopic] = [:]
    private var offsets: [String: [String: UInt64]] = [:]

    public init(maxRecordBytes: Int = 1 << 20, maxBytesPerTopic: Int = 256 << 20) {
        self.maxRecordBytes = maxRecordBytes
        self.maxBytesPerTopic = maxBytesPerTopic
    }

    public func topic(named name: String) throws(QueueError) -> any TopicAppender {
        lock.lock()
        defer { lock.unlock() }
        if let existing = topicsByName[name] { return existing }
        if let problem = TopicName.problem(with: name) {
            throw QueueError(code: .invalidTopic, message: problem)
        }
        let created = InMemoryTopic(name: name, maxRecordBytes: maxRecordBytes, maxBytes: maxBytesPerTopic, signal: appendSignal)
        topicsByName[name] = created
        return created
    }

    public func deleteTopic(_ name: String) throws(QueueError) {
        lock.lock()
        let removed = topicsByName.removeValue(forKey: name)
        if removed != nil {
            for group in offsets.keys where offsets[group]?[name] != nil { offsets[group]?[name] = 0 }
        }
        lock.unlock()
        guard let removed else {
            throw .missingTopic(name)
        }
        removed.markDeleted()
    }

    public func createTopic(_ name: String, settings: TopicSettings) throws(QueueError) {
        if settings.partitions != 1 {
            throw QueueError(code: .invalidSettings, message: "the in-memory queue keeps one partition per topic")
        }
        _ = try topic(named: name)
    }

    public func read(topic: String, partition: Int, from offset: UInt64, limit: Int, maxBytes: Int) throws(QueueError) -> [QueueRecord] {
        if partition != 0 {
            throw QueueError(code: .invalidOffset, message: "topic '\(topic)' has one partition; partition \(partition) does not exist")
        }
        lock.lock()
        let found = topicsByName[topic]
        lock.unlock()
        guard let found else {
            if let problem = TopicName.problem(with: topic) { throw QueueError(code: .invalidTopic, message: problem) }
            return []
        }
        return found.read(from: offset, limit: limit, maxBytes: maxBytes)
    }

    public func partitionRanges(topic: String) -> [PartitionRange]? {
        lock.lock()
        let found = topicsByName[topic]
        lock.unlock()
        return found?.info().partitions.map { PartitionRange(partition: 0, firstOffset: $0.firstOffset, nextOffset: $0.nextOffset) }
    }

    public func topics() -> [TopicInfo] {
        lock.lock()
        let all = Array(topicsByName.values)
        lock.unlock()
        return all.map { $0.info() }.sorted { $0.name < $1.name }
    }

    public func committedOffset(group: String, topic: String, partition: Int) -> UInt64? {
        lock.lock()
        defer { lock.unlock() }
        return offsets[group]?[topic]
    }

    public func commit(group: String, topic: String, partition: Int, offset: UInt64) throws(QueueError) {
        lock.lock()
        defer { lock.unlock() }
        offsets[group, default: [:]][topic] = offset
    }
}

/// One topic of the in-memory queue.
///
/// Records are framed into 4 MiB chunks so that appending costs one copy and no allocation per record:
///   u32 frame length, u32 key length, i64 event time, u32 payload length, u32 header count
///   (frames start 8-aligned, so these loads are aligned), then per header u32 name length,
///   u32 value length, name, value (unaligned); then key, then payload.
///
/// `@unchecked Sendable`: all mutable state is guarded by `lock`.
final class InMemoryTopic: TopicAppender, @unchecked Sendable {
    let name: String
    private let maxRecordBytes: Int
    private let maxBytes: Int
    private let lock = NSLock()
    private var chunks: [Chunk] = []
    private var nextOffset: UInt64 = 0
    private var totalBytes = 0
    /// Set by `deleteTopic`: appends through a handle kept from before fail.
    private var deleted = false

    func markDeleted() {
        lock.lock()
        deleted = true
        lock.unlock()
    }

    private static let chunkCapacity = 4 << 20
    private static let fixedHeader = 24

    final class Chunk {
        let firstOffset: UInt64
        let storage: UnsafeMutableRawPointer
        let capacity: Int
        var used = 0
        var positions: [Int32] = []

        init(firstOffset: UInt64, capacity: Int) {
            self.firstOffset = firstOffset
            self.capacity = capacity
            storage = .allocate(byteCount: capacity, alignment: 8)
            positions.reserveCapacity(capacity / 256)
        }
        deinit { storage.deallocate() }
    }

    private let signal: AppendSignal
    let partitionCount = 1 // the in-memory queue keeps one partition per topic

    init(name: String, maxRecordBytes: Int, maxBytes: Int, signal: AppendSignal) {
        self.signal = signal
        self.name = name
        self.maxRecordBytes = maxRecordBytes
        self.maxBytes = maxBytes
    }

    static func frameSize(_ record: sb_record) -> Int {
        var size = fixedHeader + record.key.len + record.payload.len
        if let headers = record.headers {
            for i in 0..<record.header_count {
                size += 8 + headers[i].name.len + headers[i].value.len
            }
        }
        return (size + 7) & ~7
    }

    func problem(with record: sb_record) -> QueueError? {
        let size = Self.frameSize(record)
        guard size - Self.fixedHeader > maxRecordBytes else { return nil }
        return QueueError(code: .tooLarge, message: "record of \(size - Self.fixedHeader) bytes exceeds the limit of \(maxRecordBytes) bytes on topic '\(name)'")
    }

    func append(_ records: UnsafeBufferPointer<sb_record>, defaultEventTimeNs: Int64, nonBlocking: Bool) throws(QueueError) -> RecordPosition {
        // Validate the whole batch first: all or nothing.
        for record in records {
            if let problem = problem(with: record) { throw problem }
        }
        defer { signal.notify(topic: name) } // runs after the unlock below
        lock.lock()
        defer { lock.unlock() }
        if deleted { throw QueueError(code: .unknownTopic, message: "topic '\(name)' was deleted") }
        let first = nextOffset
        for record in records {
            let size = Self.frameSize(record)
            if chunks.isEmpty || chunks[chunks.count - 1].capacity - chunks[chunks.count - 1].used < size {
                chunks.append(Chunk(firstOffset: nextOffset, capacity: max(Self.chunkCapacity, size)))
                totalBytes += chunks[chunks.count - 1].capacity
                trimIfNeeded()
            }
            let chunk = chunks[chunks.count - 1]
            write(record, size: size, into: chunk, defaultEventTimeNs: defaultEventTimeNs)
            nextOffset += 1
        }
        return RecordPosition(partition: 0, offset: first + UInt64(max(records.count - 1, 0)))
    }

    private func write(_ record: sb_record, size: Int, into chunk: Chunk, defaultEventTimeNs: Int64) {
        let base = chunk.storage + chunk.used
        chunk.positions.append(Int32(chunk.used))
        base.storeBytes(of: UInt32(size), as: UInt32.self)
        base.storeBytes(of: UInt32(record.key.len), toByteOffset: 4, as: UInt32.self)
        base.storeBytes(of: record.event_time_ns == 0 ? defaultEventTimeNs : record.event_time_ns, toByteOffset: 8, as: Int64.self)
        base.storeBytes(of: UInt32(record.payload.len), toByteOffset: 16, as: UInt32.self)
        base.storeBytes(of: UInt32(record.headers == nil ? 0 : record.header_count), toByteOffset: 20, as: UInt32.self)
        var cursor = base + Self.fixedHeader
        if let headers = record.headers {
            for i in 0..<record.header_count {
                let header = headers[i]
                cursor.storeBytes(of: UInt32(header.name.len), as: UInt32.self)
                cursor.storeBytes(of: UInt32(header.value.len), toByteOffset: 4, as: UInt32.self)
                cursor += 8
                if let p = header.name.ptr, header.name.len > 0 { cursor.copyMemory(from: p, byteCount: header.name.len) }
                cursor += header.name.len
                if let p = header.value.ptr, header.value.len > 0 { cursor.copyMemory(from: p, byteCount: header.value.len) }
                cursor += header.value.len
            }
        }
        if let p = record.key.ptr, record.key.len > 0 { cursor.copyMemory(from: p, byteCount: record.key.len) }
        cursor += record.key.len
        if let p = record.payload.ptr, record.payload.len > 0 { cursor.copyMemory(from: p, byteCount: record.payload.len) }
        chunk.used += size
    }

    /// Drops the oldest chunks while over the byte bound, always keeping the chunk being written.
    private func trimIfNeeded() {
        while totalBytes > maxBytes && chunks.count > 1 {
            totalBytes -= chunks[0].capacity
            chunks.removeFirst()
        }
    }

    func read(from offset: UInt64, limit: Int, maxBytes: Int = .max) -> [QueueRecord] {
        lock.lock()
        defer { lock.unlock() }
        guard let oldest = chunks.first?.firstOffset else { return [] }
        var current = max(offset, oldest)
        var result: [QueueRecord] = []
        guard var chunkIndex = chunks.lastIndex(where: { $0.firstOffset <= current }) else { return [] }
        var bytes = 0
        while result.count < limit && bytes < maxBytes && current < nextOffset && chunkIndex < chunks.count {
            let chunk = chunks[chunkIndex]
            let index = Int(current - chunk.firstOffset)
            if index >= chunk.positions.count {
                chunkIndex += 1
                continue
            }
            let record = decode(chunk.storage + Int(chunk.positions[index]), offset: current)
            bytes += record.key.count + record.payload.count + record.headers.reduce(0) { $0 + $1.name.utf8.count + $1.value.count }
            result.append(record)
            current += 1
        }
        return result
    }

    private func decode(_ base: UnsafeMutableRawPointer, offset: UInt64) -> QueueRecord {
        let keyLength = Int(base.load(fromByteOffset: 4, as: UInt32.self))
        let eventTime = base.load(fromByteOffset: 8, as: Int64.self)
        let payloadLength = Int(base.load(fromByteOffset: 16, as: UInt32.self))
        let headerCount = Int(base.load(fromByteOffset: 20, as: UInt32.self))
        var cursor = UnsafeRawPointer(base + Self.fixedHeader)
        var headers: [QueueRecord.Header] = []
        for _ in 0..<headerCount {
            let nameLength = Int(cursor.loadUnaligned(as: UInt32.self))
            let valueLength = Int(cursor.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
            cursor += 8
            let name = String(decoding: UnsafeRawBufferPointer(start: cursor, count: nameLength), as: UTF8.self)
            cursor += nameLength
            let value = [UInt8](UnsafeRawBufferPointer(start: cursor, count: valueLength))
            cursor += valueLength
            headers.append(.init(name: name, value: value))
        }
        let key = [UInt8](UnsafeRawBufferPointer(start: cursor, count: keyLength))
        cursor += keyLength
        let payload = [UInt8](UnsafeRawBufferPointer(start: cursor, count: payloadLength))
        return QueueRecord(topic: name, offset: offset, key: key, payload: payload, headers: headers, eventTimeNs: eventTime)
    }

    func info() -> TopicInfo {
        lock.lock()
        defer { lock.unlock() }
        return TopicInfo(name: name, partitions: [PartitionInfo(
            partition: 0, firstOffset: chunks.first?.firstOffset ?? nextOffset, nextOffset: nextOffset,
            bytes: chunks.reduce(0) { $0 + $1.used }, segments: chunks.count)], durability: "memory")
    }
}
