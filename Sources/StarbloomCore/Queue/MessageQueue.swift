import CStarbloomABI

/// What the plugin host needs from the queue. The embedded durable log (issue 3) implements this same
/// protocol; until then `InMemoryQueue` stands in, bounded in memory.
public protocol MessageQueue: AnyObject, Sendable {
    /// The append handle for a topic, created on first use. Throws for an invalid name.
    func topic(named name: String) throws(QueueError) -> any TopicAppender
    /// Reads up to `limit` records starting at `offset` (or at the oldest retained one if `offset`
    /// is older). Empty when nothing new.
    func read(topic: String, from offset: UInt64, limit: Int) throws(QueueError) -> [QueueRecord]
    func topics() -> [TopicInfo]
    /// Committed offsets of a consumer group: the next offset to deliver.
    func committedOffset(group: String, topic: String) -> UInt64?
    func commit(group: String, topic: String, offset: UInt64)
    /// Largest record (key + payload + headers) accepted.
    var maxRecordBytes: Int { get }
}

/// Appends to one topic. Held by the host API per instance so the hot path skips name lookups.
public protocol TopicAppender: AnyObject, Sendable {
    var name: String { get }
    /// Appends `records` (buffers borrowed for the call) in order; all or nothing. Returns the first offset.
    func append(_ records: UnsafeBufferPointer<sb_record>, defaultEventTimeNs: Int64) throws(QueueError) -> UInt64
}
