/// Storage the plugin host needs. `serve` uses the SQLite-backed stores (`SQLite/`, `TimeSeries/`);
/// the in-memory types beside this file serve tests and benchmarks that measure the host without a disk.

public struct StoreError: Error, Sendable, CustomStringConvertible {
    public enum Code: Sendable { case notFound, conflict, tooLarge, invalid }
    public let code: Code
    public let message: String
    public var description: String { message }

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }
}

public struct VersionedValue: Sendable, Equatable {
    public var value: [UInt8]
    public var version: UInt64

    public init(value: [UInt8], version: UInt64) {
        self.value = value
        self.version = version
    }
}

public protocol KeyValueStore: AnyObject, Sendable {
    func get(namespace: String, key: [UInt8]) -> VersionedValue?
    /// Writes unconditionally; returns the new version.
    func put(namespace: String, key: [UInt8], value: [UInt8]) throws(StoreError) -> UInt64
    /// Throws `.notFound` when absent.
    func delete(namespace: String, key: [UInt8]) throws(StoreError)
    /// Writes only if the current version is `expectedVersion` (0: must be absent). Throws `.conflict`.
    func compareAndSwap(namespace: String, key: [UInt8], expectedVersion: UInt64, value: [UInt8]) throws(StoreError) -> UInt64
    func keys(namespace: String) -> [[UInt8]]
}

public protocol CheckpointStore: AnyObject, Sendable {
    func save(owner: String, state: [UInt8]) throws(StoreError)
    func load(owner: String) -> [UInt8]?
    /// Saves the checkpoint with the owner's publish-transaction state (`PublishTransaction`),
    /// atomically: `write`'s records are made durable in their slot first, then one commit records
    /// the checkpoint, `nextSequence` and `pending` — every transaction still pending after this
    /// one, oldest first (`write` included; entries of earlier calls need no bytes).
    func save(owner: String, state: [UInt8], nextSequence: UInt64, write: PendingRecords?, pending: [PendingRecords]) throws(StoreError)
    /// The owner's next sequence number and its pending transactions with their records.
    func transaction(owner: String) throws(StoreError) -> (nextSequence: UInt64, pending: [PendingRecords])?
    /// Forgets the pending transactions once all of them are appended; keeps the sequence.
    func clearPending(owner: String) throws(StoreError)
}

/// The records of one committed publish transaction (`PublishTransaction.encode`), kept until they
/// are all appended. Two slots per owner: one may be appending while the next is committed.
public struct PendingRecords: Sendable, Equatable {
    public var slot: Int
    public var firstSequence: UInt64
    public var size: Int
    /// The encoded records; empty when only referring to a slot written by an earlier call.
    public var bytes: [UInt8]

    public init(slot: Int, firstSequence: UInt64, size: Int, bytes: [UInt8] = []) {
        self.slot = slot
        self.firstSequence = firstSequence
        self.size = size
        self.bytes = bytes
    }
}

public struct TimeSeriesPoint: Sendable, Equatable {
    public var metric: String
    public var tags: [String: String]
    public var timestampNs: Int64
    public var value: Double

    public init(metric: String, tags: [String: String] = [:], timestampNs: Int64, value: Double) {
        self.metric = metric
        self.tags = tags
        self.timestampNs = timestampNs
        self.value = value
    }
}

public protocol TimeSeriesStore: AnyObject, Sendable {
    func write(_ point: TimeSeriesPoint) throws(StoreError)
    func points(metric: String) -> [TimeSeriesPoint]
}

/// Limits the ABI promises (see sb_host_api in plugin.h).
public enum StoreLimits {
    public static let maxKeyBytes = 1024
    public static let maxValueBytes = 1 << 20
    public static let maxTags = 32
}
