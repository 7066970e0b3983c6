import Foundation

/// Key-value stand-in: a dictionary per namespace.
/// `@unchecked Sendable`: `namespaces` and `nextVersion` are guarded by `lock`.
public final class InMemoryKeyValueStore: KeyValueStore, @unchecked Sendable {
    private let lock = NSLock()
    private var namespaces: [String: [[UInt8]: VersionedValue]] = [:]
    private var nextVersion: UInt64 = 1

    public init() {}

    private func check(_ key: [UInt8], _ value: [UInt8]?) throws(StoreError) {
        if key.count > StoreLimits.maxKeyBytes {
            throw StoreError(code: .tooLarge, message: "key of \(key.count) bytes exceeds \(StoreLimits.maxKeyBytes) bytes")
        }
        if let value, value.count > StoreLimits.maxValueBytes {
            throw StoreError(code: .tooLarge, message: "value of \(value.count) bytes exceeds \(StoreLimits.maxValueBytes) bytes")
        }
    }

    public func get(namespace: String, key: [UInt8]) -> VersionedValue? {
        lock.lock()
        defer { lock.unlock() }
        return namespaces[namespace]?[key]
    }

    public func put(namespace: String, key: [UInt8], value: [UInt8]) throws(StoreError) -> UInt64 {
        try check(key, value)
        lock.lock()
        defer { lock.unlock() }
        let version = nextVersion
        nextVersion += 1
        namespaces[namespace, default: [:]][key] = VersionedValue(value: value, version: version)
        return version
    }

    public func delete(namespace: String, key: [UInt8]) throws(StoreError) {
        try check(key, nil)
        lock.lock()
        defer { lock.unlock() }
        if namespaces[namespace]?.removeValue(forKey: key) == nil {
            throw StoreError(code: .notFound, message: "key not found")
        }
    }

    public func compareAndSwap(namespace: String, key: [UInt8], expectedVersion: UInt64, value: [UInt8]) throws(StoreError) -> UInt64 {
        try check(key, value)
        lock.lock()
        defer { lock.unlock() }
        let current = namespaces[namespace]?[key]?.version ?? 0
        guard current == expectedVersion else {
            throw StoreError(code: .conflict, message: "version is \(current), expected \(expectedVersion)")
        }
        let version = nextVersion
        nextVersion += 1
        namespaces[namespace, default: [:]][key] = VersionedValue(value: value, version: version)
        return version
    }

    public func keys(namespace: String) -> [[UInt8]] {
        lock.lock()
        defer { lock.unlock() }
        return Array(namespaces[namespace]?.keys ?? [:].keys).sorted { $0.lexicographicallyPrecedes($1) }
    }
}

/// Checkpoint stand-in. `@unchecked Sendable`: `states` is guarded by `lock`.
public final class InMemoryCheckpointStore: CheckpointStore, @unchecked Sendable {
    private let lock = NSLock()
    private var states: [String: [UInt8]] = [:]

    public init() {}

    public func save(owner: String, state: [UInt8]) throws(StoreError) {
        if state.count > StoreLimits.maxValueBytes {
            throw StoreError(code: .tooLarge, message: "checkpoint of \(state.count) bytes exceeds \(StoreLimits.maxValueBytes) bytes")
        }
        lock.lock()
        defer { lock.unlock() }
        states[owner] = state
    }

    public func load(owner: String) -> [UInt8]? {
        lock.lock()
        defer { lock.unlock() }
        return states[owner]
    }

    private var sequences: [String: UInt64] = [:]
    private var pendingLists: [String: [PendingRecords]] = [:]
    private var slots: [String: [Int: [UInt8]]] = [:]

    public func save(owner: String, state: [UInt8], nextSequence: UInt64, write: PendingRecords?, pending: [PendingRecords]) throws(StoreError) {
        if state.count > StoreLimits.maxValueBytes {
            throw StoreError(code: .tooLarge, message: "checkpoint of \(state.count) bytes exceeds \(StoreLimits.maxValueBytes) bytes")
        }
        lock.lock()
        defer { lock.unlock() }
        if let write { slots[owner, default: [:]][write.slot] = write.bytes }
        states[owner] = state
        sequences[owner] = nextSequence
        pendingLists[owner] = pending.map { PendingRecords(slot: $0.slot, firstSequence: $0.firstSequence, size: $0.size) }
    }

    public func transaction(owner: String) throws(StoreError) -> (nextSequence: UInt64, pending: [PendingRecords])? {
        lock.lock()
        defer { lock.unlock() }
        guard let next = sequences[owner] else { return nil }
        return (next, (pendingLists[owner] ?? []).map { entry in
            var loaded = entry
            loaded.bytes = slots[owner]?[entry.slot] ?? []
            return loaded
        })
    }

    public func clearPending(owner: String) throws(StoreError) {
        lock.lock()
        defer { lock.unlock() }
        pendingLists[owner] = []
    }
}

/// Time-series stand-in: the most recent `capacity` points, oldest dropped first.
/// `@unchecked Sendable`: `buffer` is guarded by `lock`.
public final class InMemoryTimeSeriesStore: TimeSeriesStore, @unchecked Sendable {
    private let lock = NSLock()
    private var buffer: [TimeSeriesPoint] = []
    private let capacity: Int

    public init(capacity: Int = 1_000_000) {
        self.capacity = capacity
    }

    public func write(_ point: TimeSeriesPoint) throws(StoreError) {
        guard point.value.isFinite else {
            throw StoreError(code: .invalid, message: "value \(point.value) is not finite")
        }
        if point.metric.isEmpty { throw StoreError(code: .invalid, message: "metric name is empty") }
        if point.tags.count > StoreLimits.maxTags {
            throw StoreError(code: .invalid, message: "\(point.tags.count) tags (at most \(StoreLimits.maxTags))")
        }
        lock.lock()
        defer { lock.unlock() }
        if buffer.count >= capacity { buffer.removeFirst(buffer.count - capacity + 1) }
        buffer.append(point)
    }

    public func points(metric: String) -> [TimeSeriesPoint] {
        lock.lock()
        defer { lock.unlock() }
        return buffer.filter { $0.metric == metric }
    }
}
