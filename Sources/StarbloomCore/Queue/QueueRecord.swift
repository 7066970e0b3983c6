/// A record read back from the queue (an owned copy).
public struct QueueRecord: Sendable, Equatable {
    public var topic: String
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

    public init(topic: String, offset: UInt64, key: [UInt8], payload: [UInt8], headers: [Header], eventTimeNs: Int64) {
        self.topic = topic
        self.offset = offset
        self.key = key
        self.payload = payload
        self.headers = headers
        self.eventTimeNs = eventTimeNs
    }
}

/// Errors from the queue, mapped to ABI status codes at the boundary.
public struct QueueError: Error, Sendable, CustomStringConvertible {
    public enum Code: Sendable { case invalidTopic, tooLarge, full, unknownTopic }
    public let code: Code
    public let message: String
    public var description: String { message }
}

/// A topic's statistics, for listings.
public struct TopicInfo: Sendable, Codable, Equatable {
    public var name: String
    /// Offset of the oldest record still held, and the offset the next record will get.
    public var firstOffset: UInt64
    public var nextOffset: UInt64
    public var bytes: Int
}
