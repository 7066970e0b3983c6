#if canImport(Glibc)
import Glibc
#endif

/// An in-process cache bounded in bytes (keys + values + a fixed per-entry overhead), with
/// hit/miss/eviction counters.
///
/// Eviction is CLOCK (second chance), the LRU approximation database buffer pools use: a hit only
/// sets the entry's reference bit, so reads never relink a list; the eviction hand clears bits and
/// evicts the first entry not referenced since its last pass. Keys are spread over shards, each with
/// its own lock, its own slice of the byte bound and its own hand, so readers on different cores rarely
/// meet. Small caches (under 128 KiB) use fewer shards, down to one.
///
/// Stale reads are impossible by construction: writers update the cache (write-through) *after*
/// their write committed and *before* it returns, and bump the shard's write sequence; a reader that
/// missed may insert what it read only if no write touched the shard since it started reading. So a
/// value read before a write can never land in the cache after that write returned.
public final class ShardedClockCache<Value>: @unchecked Sendable { // each shard guards its own state
    public struct Stats: Sendable, Equatable {
        public var hits: UInt64 = 0
        public var misses: UInt64 = 0
        public var evictions: UInt64 = 0
        public var bytes = 0
        public var entries = 0
    }

    public let capacityBytes: Int
    private let shards: [Shard]
    private let shardMask: Int
    /// Accounted per entry on top of key and value bytes (the slot, the index entry, allocations).
    public static var entryOverhead: Int { 96 }

    public init(capacityBytes: Int, sizeOf: @escaping (Value) -> Int) {
        let capacity = max(capacityBytes, 0)
        var count = 1
        while count < 64 && capacity / (count * 2) >= 64 << 10 { count *= 2 }
        self.capacityBytes = capacity
        shards = (0..<count).map { _ in Shard(capacity: capacity / count, sizeOf: sizeOf) }
        shardMask = count - 1
    }

    @inline(__always)
    private func shard(_ key: CacheKey) -> Shard { shards[(key.hash >> 7) & shardMask] }

    public var statistics: Stats {
        var total = Stats()
        for shard in shards {
            shard.lock()
            total.hits += shard.stats.hits
            total.misses += shard.stats.misses
            total.evictions += shard.stats.evictions
            total.bytes += shard.stats.bytes
            total.entries += shard.count
            shard.unlock()
        }
        return total
    }

    /// The cached value, or the write sequence to hand back to `insert` after reading the source.
    @inline(__always)
    public func lookup(_ key: CacheKey) -> (value: Value?, sequence: UInt64) {
        let shard = shard(key)
        shard.lock()
        defer { shard.unlock() }
        return shard.lookup(key)
    }

    /// Inserts what a reader fetched after a miss, unless a write touched the key's shard meanwhile.
    public func insert(_ key: CacheKey, _ value: Value, ifSequence sequence: UInt64) {
        let shard = shard(key)
        shard.lock()
        defer { shard.unlock() }
        guard shard.sequence == sequence, !shard.contains(key) else { return }
        shard.store(key, value)
    }

    /// Write-through after a committed write: the new value (or nil to drop the key).
    public func written(_ key: CacheKey, _ value: Value?) {
        let shard = shard(key)
        shard.lock()
        defer { shard.unlock() }
        shard.sequence &+= 1
        shard.remove(key)
        if let value { shard.store(key, value) }
    }

    /// Drops everything (bumping every sequence, so in-flight reads do not refill it).
    public func removeAll() {
        for shard in shards {
            shard.lock()
            shard.sequence &+= 1
            shard.removeAll()
            shard.unlock()
        }
    }

    /// One lock, one slice of the bound, one clock over an open-addressing table.
    ///
    /// The table is linear-probed with backward-shift deletion (no tombstones). Each slot holds the
    /// key's hash (0: empty; stored hashes have the low bit set), the key, the value, its accounted
    /// size and the reference bit, 64-byte aligned, so a hit usually costs one cache line of table
    /// plus the value — on a table larger than the CPU caches, misses are what a read costs.
    /// The clock hand walks table positions.
    private final class Shard {
        /// 64 bytes: one cache line per slot (the key is kept as its parts; its size is recomputed).
        struct Slot {
            var hash = 0
            var namespace = ""
            var key: [UInt8] = []
            var value: Value?
            var referenced = false
            /// Pads a slot to 64 bytes (with VersionedValue), so that no slot straddles two cache
            /// lines: at 56 bytes most did, and a hit then cost two memory fetches instead of one.
            var padding: UInt64 = 0

            @inline(__always)
            func matches(_ other: CacheKey) -> Bool { key == other.key && namespace == other.namespace }
        }

        private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        let capacity: Int
        let sizeOf: (Value) -> Int
        private var slots: UnsafeMutablePointer<Slot>
        private var mask: Int
        private(set) var count = 0
        private var hand = 0
        var sequence: UInt64 = 0
        var stats = Stats()

        init(capacity: Int, sizeOf: @escaping (Value) -> Int) {
            self.capacity = capacity
            self.sizeOf = sizeOf
            pthread_mutex_init(mutex, nil)
            mask = 15
            slots = Self.allocate(16)
        }

        deinit {
            slots.deinitialize(count: mask + 1)
            slots.deallocate()
            pthread_mutex_destroy(mutex)
            mutex.deallocate()
        }

        private static func allocate(_ count: Int) -> UnsafeMutablePointer<Slot> {
            let raw = UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<Slot>.stride, alignment: 64)
            let slots = raw.bindMemory(to: Slot.self, capacity: count)
            slots.initialize(repeating: Slot(), count: count)
            return slots
        }

        @inline(__always) func lock() { pthread_mutex_lock(mutex) }
        @inline(__always) func unlock() { pthread_mutex_unlock(mutex) }

        @inline(__always)
        private static func stored(_ hash: Int) -> Int { hash | 1 }

        @inline(__always)
        private func home(_ hash: Int) -> Int { (hash >> 13) & mask }

        /// The position holding `key`, or nil.
        @inline(__always)
        private func find(_ key: CacheKey) -> Int? {
            let wanted = Self.stored(key.hash)
            var position = home(key.hash)
            while true {
                let found = slots[position].hash
                if found == 0 { return nil }
                if found == wanted && slots[position].matches(key) { return position }
                position = (position + 1) & mask
            }
        }

        func contains(_ key: CacheKey) -> Bool { find(key) != nil }

        @inline(__always)
        func lookup(_ key: CacheKey) -> (value: Value?, sequence: UInt64) {
            if let position = find(key) {
                stats.hits &+= 1
                if !slots[position].referenced { slots[position].referenced = true }
                return (slots[position].value, 0)
            }
            stats.misses &+= 1
            return (nil, sequence)
        }

        func remove(_ key: CacheKey) {
            guard let position = find(key) else { return }
            removeAt(position)
        }

        @inline(__always)
        private func size(of position: Int) -> Int {
            slots[position].namespace.utf8.count + slots[position].key.count + sizeOf(slots[position].value!) + ShardedClockCache.entryOverhead
        }

        func store(_ key: CacheKey, _ value: Value) {
            let size = key.byteCount + sizeOf(value) + ShardedClockCache.entryOverhead
            guard size <= capacity else { return } // larger than the shard: never cached
            if (count + 1) * 4 > (mask + 1) * 3 { grow() }
            var position = home(key.hash)
            while slots[position].hash != 0 { position = (position + 1) & mask }
            slots[position] = Slot(hash: Self.stored(key.hash), namespace: key.namespace, key: key.key, value: value, referenced: false)
            count += 1
            stats.bytes += size
            while stats.bytes > capacity { evictOne(sparing: key) }
        }

        func removeAll() {
            for position in 0...mask where slots[position].hash != 0 { slots[position] = Slot() }
            count = 0
            hand = 0
            stats.bytes = 0
        }

        /// Empties `removed` and shifts later entries of the probe run back, so that every entry
        /// stays reachable from its home slot without tombstones.
        private func removeAt(_ removed: Int) {
            stats.bytes -= size(of: removed)
            slots[removed] = Slot()
            count -= 1
            var hole = removed
            var next = (hole + 1) & mask
            while slots[next].hash != 0 {
                let home = home(slots[next].hash)
                // Move the entry into the hole unless its home lies cyclically in (hole, next].
                let stays = hole <= next ? (hole < home && home <= next) : (hole < home || home <= next)
                if !stays {
                    swap(&slots[hole], &slots[next])
                    hole = next
                }
                next = (next + 1) & mask
            }
        }

        private func grow() {
            let old = slots, oldSize = mask + 1
            slots = Self.allocate(oldSize * 2)
            mask = oldSize * 2 - 1
            for index in 0..<oldSize where old[index].hash != 0 {
                var position = home(old[index].hash)
                while slots[position].hash != 0 { position = (position + 1) & mask }
                swap(&slots[position], &old[index])
            }
            old.deinitialize(count: oldSize)
            old.deallocate()
            hand = 0
        }

        /// Advances the hand to the first entry not referenced since its last pass and evicts it.
        /// Terminates: one full turn clears every bit, and the spared new entry is never the only one
        /// left while the bound is exceeded (its size alone fits). A backward shift may move an entry
        /// into the hand's position; the hand then looks at it next.
        private func evictOne(sparing spared: CacheKey) {
            while true {
                if hand > mask { hand = 0 }
                let position = hand
                guard slots[position].hash != 0, !slots[position].matches(spared) else {
                    hand += 1
                    continue
                }
                if slots[position].referenced {
                    slots[position].referenced = false
                    hand += 1
                    continue
                }
                removeAt(position)
                stats.evictions &+= 1
                return
            }
        }
    }
}
