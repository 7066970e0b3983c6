/// A record read back from the queue (an owned copy).
public struct QueueRecord: Sendable, Equatable {
    public var topic: String
    public var partition: Int = 0
    public var offset: UInt64
    public var key: [UInt8]
    public var payload: [UInt8]
    public var headers: [Header]
    public var eventTimeNs: Int64

    public struct Header: Sendable, Equatable {
        public var name: String
        public var value: [UInt8]
        public init(name: String, value: [UInt8]) {
            self.name = name
            self.value = value
        }
    }

    public init(topic: String, partition: Int = 0, offset: UInt64, key: [UInt8], payload: [UInt8], headers: [Header], eventTimeNs: Int64) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.key = key
        self.payload = payload
        self.headers = headers
        self.eventTimeNs = eventTimeNs
    }
}

/// Errors from the queue, mapped to ABI status codes at the boundary.
public struct QueueError: Error, Sendable, CustomStringConvertible {
    public enum Code: Sendable { case invalidTopic, tooLarge, full, unknownTopic, invalidOffset, invalidSettings, io, corrupt }
    public let code: Code
    public let message: String
    public var description: String { message }
}

extension QueueError {
    /// No topic called `name`: `.invalidTopic` naming the problem when the name could never be a
    /// topic's, else `.unknownTopic`.
    static func missingTopic(_ name: String) -> QueueError {
        if let problem = TopicName.problem(with: name) { return QueueError(code: .invalidTopic, message: problem) }
        return QueueError(code: .unknownTopic, message: "topic '\(name)' does not exist")
    }
}

/// A topic's statistics, for listings.
public struct TopicInfo: Sendable, Codable, Equatable {
    public var name: String
    public var partitions: [PartitionInfo]
    public var durability: String

    /// Records ever published (sum over partitions of the next offset).
    public var published: UInt64 { partitions.reduce(0) { $0 + $1.nextOffset } }
    public var bytes: Int { partitions.reduce(0) { $0 + $1.bytes } }
    /// Partition 0's first/next offsets (the whole topic when it has one partition).
    public var firstOffset: UInt64 { partitions.first?.firstOffset ?? 0 }
    public var nextOffset: UInt64 { partitions.first?.nextOffset ?? 0 }

    public init(name: String, partitions: [PartitionInfo], durability: String) {
        self.name = name
        self.partitions = partitions
        self.durability = durability
    }

    enum CodingKeys: String, CodingKey { case name, partitions, durability, published, bytes }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(partitions, forKey: .partitions)
        try container.encode(durability, forKey: .durability)
        try container.encode(published, forKey: .published)
        try container.encode(bytes, forKey: .bytes)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        partitions = try container.decode([PartitionInfo].self, forKey: .partitions)
        durability = try container.decode(String.self, forKey: .durability)
    }
}

/// Where a partition's readable records start and end: what a follower needs, without the sizes
/// and counts `PartitionInfo` gathers.
public struct PartitionRange: Sendable, Equatable {
    public var partition: Int
    public var firstOffset: UInt64
    /// The offset after the last readable record.
    public var nextOffset: UInt64

    public init(partition: Int, firstOffset: UInt64, nextOffset: UInt64) {
        self.partition = partition
        self.firstOffset = firstOffset
        self.nextOffset = nextOffset
    }
}

public struct PartitionInfo: Sendable, Codable, Equatable {
    public var partition: Int
    /// Offset of the oldest record still held, and the offset the next record will get.
    public var firstOffset: UInt64
    public var nextOffset: UInt64
    public var bytes: Int
    public var segments: Int
    /// Writes and fsyncs so far (records / syncs = how many records one fsync acknowledged).
    public var flushes: UInt64 = 0
    public var syncs: UInt64 = 0
}
