import Synchronization

/// An in-process LRU cache bounded in bytes (keys + values + a fixed per-entry overhead), with
/// hit/miss/eviction counters.
///
/// Stale reads are impossible by construction: writers update the cache (write-through) *after*
/// their write committed and *before* it returns, and bump a per-stripe write sequence; a reader that
/// missed may insert what it read only if no write touched its stripe since it started reading. So a
/// value read before a write can never land in the cache after that write returned.
///
/// `@unchecked Sendable`: all state is guarded by `lock`.
public final class ByteBoundedLRUCache<Value>: @unchecked Sendable {
    public struct Stats: Sendable, Equatable {
        public var hits: UInt64 = 0
        public var misses: UInt64 = 0
        public var evictions: UInt64 = 0
        public var bytes = 0
        public var entries = 0
    }

    private final class Node {
        let key: [UInt8]
        var value: Value
        var size: Int
        var previous: Node?
        var next: Node?
        init(key: [UInt8], value: Value, size: Int) {
            self.key = key
            self.value = value
            self.size = size
        }
    }

    public let capacityBytes: Int
    private let sizeOf: (Value) -> Int
    private let lock = NSLockLike()
    private var nodes: [[UInt8]: Node] = [:]
    private var head: Node? // most recent
    private var tail: Node? // least recent
    private var stats = Stats()
    private var sequences = [UInt64](repeating: 0, count: 64)
    static var entryOverhead: Int { 96 }

    public init(capacityBytes: Int, sizeOf: @escaping (Value) -> Int) {
        self.capacityBytes = max(capacityBytes, 0)
        self.sizeOf = sizeOf
    }

    @inline(__always)
    private static func stripe(_ key: [UInt8]) -> Int { key.hashValue & 63 }

    public var statistics: Stats {
        lock.lock()
        defer { lock.unlock() }
        return stats
    }

    /// The cached value, or the write sequence to hand back to `insert` after reading the source.
    public func lookup(_ key: [UInt8]) -> (value: Value?, sequence: UInt64) {
        lock.lock()
        defer { lock.unlock() }
        if let node = nodes[key] {
            stats.hits += 1
            moveToFront(node)
            return (node.value, 0)
        }
        stats.misses += 1
        return (nil, sequences[Self.stripe(key)])
    }

    /// Inserts what a reader fetched after a miss, unless a write touched the key's stripe meanwhile.
    public func insert(_ key: [UInt8], _ value: Value, ifSequence sequence: UInt64) {
        lock.lock()
        defer { lock.unlock() }
        guard sequences[Self.stripe(key)] == sequence, nodes[key] == nil else { return }
        store(key, value)
    }

    /// Write-through after a committed write: the new value (or nil to drop the key).
    public func written(_ key: [UInt8], _ value: Value?) {
        lock.lock()
        defer { lock.unlock() }
        sequences[Self.stripe(key)] &+= 1
        if let node = nodes.removeValue(forKey: key) {
            unlink(node)
            stats.bytes -= node.size
            stats.entries = nodes.count
        }
        if let value { store(key, value) }
    }

    /// Drops everything (bumping every stripe, so in-flight reads do not refill it).
    public func removeAll() {
        lock.lock()
        defer { lock.unlock() }
        for i in sequences.indices { sequences[i] &+= 1 }
        nodes.removeAll()
        head = nil
        tail = nil
        stats.bytes = 0
    }

    private func store(_ key: [UInt8], _ value: Value) {
        let size = key.count + sizeOf(value) + Self.entryOverhead
        guard size <= capacityBytes else { return } // larger than the whole cache: never cached
        let node = Node(key: key, value: value, size: size)
        nodes[key] = node
        node.next = head
        head?.previous = node
        head = node
        if tail == nil { tail = node }
        stats.bytes += size
        while stats.bytes > capacityBytes, let victim = tail {
            unlink(victim)
            nodes.removeValue(forKey: victim.key)
            stats.bytes -= victim.size
            stats.evictions += 1
        }
        stats.entries = nodes.count
    }

    private func unlink(_ node: Node) {
        node.previous?.next = node.next
        node.next?.previous = node.previous
        if head === node { head = node.next }
        if tail === node { tail = node.previous }
        node.previous = nil
        node.next = nil
        stats.entries = nodes.count
    }

    private func moveToFront(_ node: Node) {
        guard head !== node else { return }
        unlink(node)
        node.next = head
        head?.previous = node
        head = node
        if tail == nil { tail = node }
    }
}

/// A pthread mutex (cheaper than NSLock's Objective-C-compatible wrapper on the cache's hot path).
final class NSLockLike: @unchecked Sendable { // the mutex is only touched through lock/unlock
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    init() { pthread_mutex_init(mutex, nil) }
    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }
    @inline(__always) func lock() { pthread_mutex_lock(mutex) }
    @inline(__always) func unlock() { pthread_mutex_unlock(mutex) }
}

#if canImport(Glibc)
import Glibc
#endif
