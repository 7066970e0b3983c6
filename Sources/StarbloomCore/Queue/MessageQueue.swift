import CStarbloomABI

/// The queue as the rest of the host sees it. Backends: `DurableQueue` (the embedded log on disk, the
/// default) and `InMemoryQueue` (no disk; benchmarks and tests). A NATS JetStream backend is meant to
/// implement this same protocol, so nothing here assumes files.
public protocol MessageQueue: AnyObject, Sendable {
    /// The append handle for a topic, created with default settings on first use.
    func topic(named name: String) throws(QueueError) -> any TopicAppender
    /// Creates a topic with explicit settings. Throws if it exists with different settings.
    func createTopic(_ name: String, settings: TopicSettings) throws(QueueError)
    /// Deletes a topic and its records; `.unknownTopic` if there is none. Appenders already handed
    /// out fail from then on with an error saying so, never writing into the void. Consumer groups' commits
    /// for it are reset to 0, so a topic created again under the name is read from its start.
    func deleteTopic(_ name: String) throws(QueueError)
    /// Reads up to `limit` records of one partition starting at `offset`, stopping once the records
    /// read hold `maxBytes` (keys, payloads and headers; at least one record is returned even if
    /// larger).
    /// An offset older than the oldest retained record starts at the oldest; an offset past the end
    /// is an error.
    func read(topic: String, partition: Int, from offset: UInt64, limit: Int, maxBytes: Int) throws(QueueError) -> [QueueRecord]
    func topics() -> [TopicInfo]
    /// One topic's partition ranges, or nil if it does not exist. Cheaper than `topics()`: for
    /// readers that look at the topics that changed, often.
    func partitionRanges(topic: String) -> [PartitionRange]?
    /// The next offset a consumer group should read in a partition, if it ever committed one.
    func committedOffset(group: String, topic: String, partition: Int) -> UInt64?
    /// Persists a group's position: every record below `offset` is done.
    func commit(group: String, topic: String, partition: Int, offset: UInt64) throws(QueueError)
    /// Largest record accepted by default.
    var maxRecordBytes: Int { get }
    /// Notified after every append, for readers that wait for new records.
    var appendSignal: AppendSignal { get }
}

/// Appends to one topic. Held by the host API per instance so the hot path skips name lookups.
public protocol TopicAppender: AnyObject, Sendable {
    var name: String { get }
    var partitionCount: Int { get }
    /// Appends `records` (buffers borrowed for the call), routing each to a partition by its key;
    /// all or nothing per partition. Returns where the last record went. When the write buffers are
    /// full, waits for the disk — or, with `nonBlocking`, throws `.full` at once.
    func append(_ records: UnsafeBufferPointer<sb_record>, defaultEventTimeNs: Int64, nonBlocking: Bool) throws(QueueError) -> RecordPosition
    /// The same, suspending the caller until acknowledged instead of blocking its thread (the records
    /// are copied before the first suspension, so the buffers need only live until the call returns).
    func appendAsync(_ records: UnsafeBufferPointer<sb_record>, defaultEventTimeNs: Int64) async throws(QueueError) -> RecordPosition
    /// Why `append` would refuse this record (too large, malformed), checked without appending: for
    /// callers that collect records and append them later but must answer for each one now.
    func problem(with record: sb_record) -> QueueError?
}

extension MessageQueue {
    /// From `topics()`: correct for any backend; the built-in ones answer without listing all topics.
    public func partitionRanges(topic: String) -> [PartitionRange]? {
        topics().first { $0.name == topic }?.partitions.map {
            PartitionRange(partition: $0.partition, firstOffset: $0.firstOffset, nextOffset: $0.nextOffset)
        }
    }
}

extension TopicAppender {
    /// Blocking append (waits when buffers are full).
    public func append(_ records: UnsafeBufferPointer<sb_record>, defaultEventTimeNs: Int64) throws(QueueError) -> RecordPosition {
        try append(records, defaultEventTimeNs: defaultEventTimeNs, nonBlocking: false)
    }

    public func appendAsync(_ records: UnsafeBufferPointer<sb_record>, defaultEventTimeNs: Int64) async throws(QueueError) -> RecordPosition {
        try append(records, defaultEventTimeNs: defaultEventTimeNs)
    }
}

public struct RecordPosition: Sendable, Equatable {
    public var partition: Int
    public var offset: UInt64
}

extension MessageQueue {
    /// `read` bounded by count only.
    public func read(topic: String, partition: Int, from offset: UInt64, limit: Int) throws(QueueError) -> [QueueRecord] {
        try read(topic: topic, partition: partition, from: offset, limit: limit, maxBytes: .max)
    }

    /// Reads partition 0 (single-partition topics).
    public func read(topic: String, from offset: UInt64, limit: Int) throws(QueueError) -> [QueueRecord] {
        try read(topic: topic, partition: 0, from: offset, limit: limit)
    }
    public func committedOffset(group: String, topic: String) -> UInt64? {
        committedOffset(group: group, topic: topic, partition: 0)
    }
    public func commit(group: String, topic: String, offset: UInt64) throws(QueueError) {
        try commit(group: group, topic: topic, partition: 0, offset: offset)
    }
}
