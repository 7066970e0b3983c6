#if canImport(Glibc)
import Glibc
#endif

/// Counters of a `ShardedClockCache`.
public struct CacheStatistics: Sendable, Equatable {
    public var hits: UInt64 = 0
    public var misses: UInt64 = 0
    public var evictions: UInt64 = 0
    public var bytes = 0
    public var entries = 0
}

/// An in-process cache bounded in bytes, with hit/miss/eviction counters.
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
public final class ShardedClockCache<Value: CacheValue>: @unchecked Sendable { // each shard guards its own state
    public typealias Stats = CacheStatistics

    public let capacityBytes: Int
    private let shards: [Shard]
    private let shardMask: Int
    /// What every entry accounts for: its 128-byte slot plus its share of the index (4-byte slots,
    /// between 7/16 and 7/8 full: at most 10 bytes), rounded up.
    public static var entryOverhead: Int { 144 }
    /// Added for an entry whose key and value do not fit in its slot: the object holding them and
    /// their two arrays' headers.
    public static var outOfLineOverhead: Int { 96 }
    /// Namespace, key and value bytes that fit in a slot.
    public static var inlineCapacity: Int { 96 }

    public init(capacityBytes: Int) {
        precondition(MemoryLayout<Shard.Entry>.stride == 128, "a cache entry must fill exactly two cache lines")
        let capacity = max(capacityBytes, 0)
        var count = 1
        while count < 64 && capacity / (count * 2) >= 64 << 10 { count *= 2 }
        // An index slot holds a 16-bit entry position: very large caches get more shards instead.
        while capacity / count / Self.entryOverhead >= 65_535 { count *= 2 }
        self.capacityBytes = capacity
        shards = (0..<count).map { _ in Shard(capacity: capacity / count) }
        shardMask = count - 1
        unretainedShards = .allocate(capacity: count)
        unretainedShards.initialize(from: shards.map { Unmanaged.passUnretained($0) }, count: count)
    }

    deinit {
        unretainedShards.deallocate()
    }

    /// Bytes an entry for `key` holding `value` accounts for in the bound.
    public static func cost(of key: CacheKey, _ value: Value) -> Int {
        inlineLength(key, value) != nil ? entryOverhead : entryOverhead + outOfLineOverhead + key.byteCount + value.cacheByteCount
    }

    /// The value's length when namespace, key and value fit in the slot together.
    @inline(__always)
    static func inlineLength(_ key: CacheKey, _ value: Value) -> Int? {
        guard let valueLength = value.inlineByteCount else { return nil }
        return key.byteCount + valueLength <= inlineCapacity ? valueLength : nil
    }

    /// The shards, unretained: a get then costs no reference-count traffic (each retain and release
    /// is a locked instruction). `shards` keeps them alive.
    private let unretainedShards: UnsafeMutablePointer<Unmanaged<Shard>>

    @inline(__always)
    private func withShard<T>(_ key: CacheKey, _ body: (Shard) -> T) -> T {
        unretainedShards[(key.hash >> 7) & shardMask]._withUnsafeGuaranteedRef(body)
    }

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
        withShard(key) { shard in
            shard.lock()
            defer { shard.unlock() }
            return shard.lookup(key)
        }
    }

    /// Inserts what a reader fetched after a miss, unless a write touched the key's shard meanwhile.
    public func insert(_ key: CacheKey, _ value: Value, ifSequence sequence: UInt64) {
        withShard(key) { shard in
            shard.lock()
            defer { shard.unlock() }
            guard shard.sequence == sequence, shard.find(key) == nil else { return }
            shard.store(key, value)
        }
    }

    /// Write-through after a committed write: the new value (or nil to drop the key).
    public func written(_ key: CacheKey, _ value: Value?) {
        withShard(key) { shard in
            shard.lock()
            defer { shard.unlock() }
            shard.sequence &+= 1
            if let found = shard.find(key) { shard.remove(found) }
            if let value { shard.store(key, value) }
        }
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

    /// One lock, one slice of the bound, one clock, over a compact index and a dense entry array.
    ///
    /// The index is a linear-probed table of 4-byte slots (16 bits of the key's hash as a tag, then
    /// a 16-bit entry position; 0 is empty) with backward-shift deletion, up to 7/8 full: about
    /// 5 bytes an entry, small enough to stay in the CPU caches (with 8-byte slots at most 3/4 full,
    /// the index of the 100k-key benchmark was 2 MiB and missed them on most gets). Entries are 128-byte slots, 64-byte aligned, packed at the front of
    /// their array (a removal moves the last entry into the hole). A small entry keeps its
    /// namespace, key and value bytes inside its slot, so a hit reads one entry and nothing else:
    /// on a table larger than the CPU caches, memory fetches are what a read costs. The clock hand
    /// walks entry positions.
    final class Shard {
        final class OutOfLine {
            let key: CacheKey
            let value: Value
            init(key: CacheKey, value: Value) {
                self.key = key
                self.value = value
            }
        }

        struct Entry {
            var hash: Int
            var outOfLine: OutOfLine?
            var cost: Int
            var namespaceLength: UInt8
            var keyLength: UInt8
            var valueLength: UInt8
            var referenced: Bool
            var inline: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)
                = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        }

        private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        let capacity: Int
        private let inlineOffset = MemoryLayout<Entry>.offset(of: \Entry.inline)!
        private var index: UnsafeMutablePointer<UInt32>
        private var indexMask: Int
        private var entries: UnsafeMutablePointer<Entry>
        private var entryCapacity: Int
        private(set) var count = 0
        private var hand = 0
        var sequence: UInt64 = 0
        var stats = Stats()

        init(capacity: Int) {
            self.capacity = capacity
            pthread_mutex_init(mutex, nil)
            indexMask = 15
            index = .allocate(capacity: 16)
            index.initialize(repeating: 0, count: 16)
            entryCapacity = 8
            entries = Self.allocateEntries(8)
        }

        deinit {
            entries.deinitialize(count: count)
            entries.deallocate()
            index.deallocate()
            pthread_mutex_destroy(mutex)
            mutex.deallocate()
        }

        private static func allocateEntries(_ count: Int) -> UnsafeMutablePointer<Entry> {
            UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<Entry>.stride, alignment: 64)
                .bindMemory(to: Entry.self, capacity: count)
        }

        @inline(__always) func lock() { pthread_mutex_lock(mutex) }
        @inline(__always) func unlock() { pthread_mutex_unlock(mutex) }

        /// An index slot: the tag (the hash's top 16 bits, low bit set so that no slot is 0) above
        /// the entry's position.
        @inline(__always)
        private static func slotValue(_ hash: Int, _ position: Int) -> UInt32 {
            (UInt32(truncatingIfNeeded: hash >> 48) | 1) << 16 | UInt32(truncatingIfNeeded: position)
        }

        @inline(__always)
        private static func position(_ slotValue: UInt32) -> Int { Int(slotValue & 0xFFFF) }

        /// Where probing for `hash` starts: bits 20-47, which the shard choice (bits 7-19, up to
        /// 8,192 shards) and the tag (48-63) do not use.
        @inline(__always)
        private func home(_ hash: Int) -> Int { (hash >> 20) & indexMask }

        @inline(__always)
        private func inlineBytes(_ position: Int) -> UnsafeMutableRawPointer {
            UnsafeMutableRawPointer(entries + position) + inlineOffset
        }

        @inline(__always)
        private func matches(_ position: Int, _ key: CacheKey) -> Bool {
            if let outOfLine = entries[position].outOfLine { return outOfLine.key.key == key.key && outOfLine.key.namespace == key.namespace }
            let namespaceLength = Int(entries[position].namespaceLength)
            guard Int(entries[position].keyLength) == key.key.count else { return false }
            let bytes = inlineBytes(position)
            var name = key.namespace
            let nameMatches = name.withUTF8 { name in
                name.count == namespaceLength && Self.equal(UnsafeRawPointer(bytes), UnsafeRawPointer(name.baseAddress), name.count)
            }
            guard nameMatches else { return false }
            return key.key.withUnsafeBytes { keyBytes in
                Self.equal(UnsafeRawPointer(bytes + namespaceLength), keyBytes.baseAddress, keyBytes.count)
            }
        }

        /// Byte equality, eight at a time: keys are short, and `memcmp` through the PLT cost more
        /// than the comparison (an eighth of a cached get).
        @inline(__always)
        private static func equal(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer?, _ count: Int) -> Bool {
            guard count > 0, let b else { return true }
            var offset = 0
            while offset + 8 <= count {
                if a.loadUnaligned(fromByteOffset: offset, as: UInt64.self) != b.loadUnaligned(fromByteOffset: offset, as: UInt64.self) { return false }
                offset += 8
            }
            while offset < count {
                if a.load(fromByteOffset: offset, as: UInt8.self) != b.load(fromByteOffset: offset, as: UInt8.self) { return false }
                offset += 1
            }
            return true
        }

        /// The index slot and the entry position holding `key`, or nil.
        @inline(__always)
        func find(_ key: CacheKey) -> (slot: Int, entry: Int)? {
            let tag = Self.slotValue(key.hash, 0) >> 16
            var slot = home(key.hash)
            while true {
                let found = index[slot]
                if found == 0 { return nil }
                if found >> 16 == tag {
                    let position = Self.position(found)
                    if entries[position].hash == key.hash && matches(position, key) { return (slot, position) }
                }
                slot = (slot + 1) & indexMask
            }
        }

        @inline(__always)
        func lookup(_ key: CacheKey) -> (value: Value?, sequence: UInt64) {
            guard let (_, position) = find(key) else {
                stats.misses &+= 1
                return (nil, sequence)
            }
            stats.hits &+= 1
            if !entries[position].referenced { entries[position].referenced = true }
            if let outOfLine = entries[position].outOfLine { return (outOfLine.value, 0) }
            let start = inlineBytes(position) + Int(entries[position].namespaceLength) + Int(entries[position].keyLength)
            return (Value.readInline(UnsafeRawBufferPointer(start: start, count: Int(entries[position].valueLength))), 0)
        }

        func store(_ key: CacheKey, _ value: Value) {
            let cost = ShardedClockCache.cost(of: key, value)
            guard cost <= capacity else { return } // larger than the shard: never cached
            if count == entryCapacity { growEntries() }
            if (count + 1) * 8 > (indexMask + 1) * 7 { growIndex() }
            let position = count
            var entry = Entry(hash: key.hash, outOfLine: nil, cost: cost,
                              namespaceLength: 0, keyLength: 0, valueLength: 0, referenced: false)
            if let valueLength = ShardedClockCache.inlineLength(key, value) {
                entry.namespaceLength = UInt8(key.namespace.utf8.count)
                entry.keyLength = UInt8(key.key.count)
                entry.valueLength = UInt8(valueLength)
                (entries + position).initialize(to: entry)
                let bytes = inlineBytes(position)
                var name = key.namespace
                name.withUTF8 { UnsafeMutableRawBufferPointer(start: bytes, count: $0.count).copyMemory(from: UnsafeRawBufferPointer($0)) }
                key.key.withUnsafeBytes { UnsafeMutableRawBufferPointer(start: bytes + Int(entry.namespaceLength), count: $0.count).copyMemory(from: $0) }
                value.writeInline(to: UnsafeMutableRawBufferPointer(start: bytes + Int(entry.namespaceLength) + Int(entry.keyLength), count: valueLength))
            } else {
                entry.outOfLine = OutOfLine(key: key, value: value)
                (entries + position).initialize(to: entry)
            }
            count += 1
            var slot = home(key.hash)
            while index[slot] != 0 { slot = (slot + 1) & indexMask }
            index[slot] = Self.slotValue(key.hash, position)
            stats.bytes += cost
            while stats.bytes > capacity { evictOne(sparing: key) }
        }

        func removeAll() {
            entries.deinitialize(count: count)
            index.update(repeating: 0, count: indexMask + 1)
            count = 0
            hand = 0
            stats.bytes = 0
        }

        /// Removes the entry at `found`: empties its index slot (shifting later slots of the probe
        /// run back, so every entry stays reachable from its home without tombstones) and moves the
        /// last entry into its position.
        func remove(_ found: (slot: Int, entry: Int)) {
            stats.bytes -= entries[found.entry].cost
            var hole = found.slot
            index[hole] = 0
            var next = (hole + 1) & indexMask
            while index[next] != 0 {
                let home = home(entries[Self.position(index[next])].hash)
                // Move the slot into the hole unless its home lies cyclically in (hole, next].
                let stays = hole <= next ? (hole < home && home <= next) : (hole < home || home <= next)
                if !stays {
                    index[hole] = index[next]
                    index[next] = 0
                    hole = next
                }
                next = (next + 1) & indexMask
            }
            (entries + found.entry).deinitialize(count: 1)
            count -= 1
            guard found.entry != count else { return }
            (entries + found.entry).moveInitialize(from: entries + count, count: 1)
            // Repoint the moved entry's index slot.
            let hash = entries[found.entry].hash
            var slot = home(hash)
            while index[slot] != Self.slotValue(hash, count) { slot = (slot + 1) & indexMask }
            index[slot] = Self.slotValue(hash, found.entry)
        }

        private func growEntries() {
            let grown = Self.allocateEntries(entryCapacity * 2)
            grown.moveInitialize(from: entries, count: count)
            entries.deallocate()
            entries = grown
            entryCapacity *= 2
        }

        private func growIndex() {
            let size = (indexMask + 1) * 2
            index.deallocate()
            index = .allocate(capacity: size)
            index.initialize(repeating: 0, count: size)
            indexMask = size - 1
            for position in 0..<count {
                let hash = entries[position].hash
                var slot = home(hash)
                while index[slot] != 0 { slot = (slot + 1) & indexMask }
                index[slot] = Self.slotValue(hash, position)
            }
        }

        /// Advances the hand to the first entry not referenced since its last pass and evicts it.
        /// Terminates: one full turn clears every bit, and the spared new entry is never the only one
        /// left while the bound is exceeded (its cost alone fits). A removal moves the last entry
        /// into the hand's position; the hand then looks at it next.
        private func evictOne(sparing spared: CacheKey) {
            while true {
                if hand >= count { hand = 0 }
                let position = hand
                if entries[position].hash == spared.hash && matches(position, spared) {
                    hand += 1
                    continue
                }
                if entries[position].referenced {
                    entries[position].referenced = false
                    hand += 1
                    continue
                }
                let hash = entries[position].hash
                var slot = home(hash)
                while index[slot] != Self.slotValue(hash, position) { slot = (slot + 1) & indexMask }
                remove((slot, position))
                stats.evictions &+= 1
                return
            }
        }
    }
}
