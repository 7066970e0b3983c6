import Foundation
import Synchronization
import Testing
@testable import StarbloomCore

@Suite("Byte-bounded CLOCK cache")
struct CacheTests {
    func key(_ name: String) -> CacheKey { CacheKey(namespace: "test", key: Array(name.utf8)) }

    @Test("the cache never holds more bytes than its bound, under random inserts and writes")
    func byteBound() {
        let cache = ShardedClockCache<[UInt8]>(capacityBytes: 10_000)
        var generator = SystemRandomNumberGenerator()
        for i in 0..<5_000 {
            let key = self.key("k\(Int.random(in: 0..<300, using: &generator))")
            let value = [UInt8](repeating: UInt8(i & 0xFF), count: Int.random(in: 0..<800, using: &generator))
            if i % 3 == 0 {
                cache.written(key, value)
            } else {
                let (hit, sequence) = cache.lookup(key)
                if hit == nil { cache.insert(key, value, ifSequence: sequence) }
            }
            #expect(cache.statistics.bytes <= 10_000)
        }
        let stats = cache.statistics
        #expect(stats.evictions > 0 && stats.hits > 0 && stats.misses > 0)
        // A value larger than the whole cache is never cached.
        cache.written(key("huge"), [UInt8](repeating: 0, count: 20_000))
        #expect(cache.lookup(key("huge")).value == nil)
    }

    @Test("a sharded cache stays within its bound while two threads insert, write and read")
    func shardedBound() {
        let capacity = 4 << 20
        let cache = ShardedClockCache<[UInt8]>(capacityBytes: capacity)
        DispatchQueue.concurrentPerform(iterations: 2) { seed in
            var generator = SplitMix64(state: UInt64(seed + 1))
            for i in 0..<40_000 {
                let key = CacheKey(namespace: "n\(seed)", key: Array("k\(generator.next() % 20_000)".utf8))
                let value = [UInt8](repeating: UInt8(i & 0xFF), count: Int(generator.next() % 1_000))
                if i % 4 == 0 {
                    cache.written(key, value)
                } else if cache.lookup(key).value == nil {
                    cache.insert(key, value, ifSequence: cache.lookup(key).sequence)
                }
            }
        }
        let stats = cache.statistics
        #expect(stats.bytes <= capacity)
        #expect(stats.evictions > 0 && stats.hits > 0)
        #expect(stats.entries > 1_000)
    }

    @Test("entries read since the clock hand last passed survive; unread ones are evicted first")
    func secondChance() {
        let entryCost = ShardedClockCache<[UInt8]>.cost(of: key("k1"), [UInt8](repeating: 1, count: 100))
        let cache = ShardedClockCache<[UInt8]>(capacityBytes: 3 * entryCost)
        for name in ["k1", "k2", "k3"] { cache.written(key(name), [UInt8](repeating: 1, count: 100)) }
        _ = cache.lookup(key("k1")) // k1 is referenced; k2 and k3 are not
        cache.written(key("k4"), [UInt8](repeating: 1, count: 100))
        #expect(cache.lookup(key("k1")).value != nil, "a referenced entry gets a second chance")
        #expect(cache.lookup(key("k4")).value != nil, "the new entry is never its own victim")
        let unreadLeft = ["k2", "k3"].filter { cache.lookup(key($0)).value != nil }
        #expect(unreadLeft.count == 1, "exactly one unread entry was evicted (the hand walks table order)")
        #expect(cache.statistics.evictions == 1)
    }

    @Test("random writes, removals and reads agree with a dictionary, inline and out-of-line entries mixed, colliding hashes included")
    func agreesWithModel() {
        let cache = ShardedClockCache<[UInt8]>(capacityBytes: 64 << 20)
        var model: [CacheKey: [UInt8]] = [:]
        var generator = SplitMix64(state: 7)
        // Keys of three namespaces, some splitting the same bytes differently between namespace and
        // key, and a quarter forced onto a handful of hashes so that tags and homes collide.
        func randomKey() -> CacheKey {
            let n = Int(generator.next() % 3), k = Int(generator.next() % 3_000)
            let namespace = ["a", "ab", ""][n]
            let key = Array((n == 1 ? "c\(k)" : "bc\(k)").utf8)
            if k % 4 == 0 { return CacheKey(namespace: namespace, key: key, forcedHash: (k % 5) << 32 | 1 << 7) }
            return CacheKey(namespace: namespace, key: key)
        }
        for i in 0..<60_000 {
            let key = randomKey()
            switch generator.next() % 4 {
            case 0:
                // Sizes on both sides of the inline limit.
                let value = [UInt8](repeating: UInt8(i & 0xFF), count: Int(generator.next() % 120))
                cache.written(key, value)
                model[key] = value
            case 1:
                cache.written(key, nil)
                model[key] = nil
            default:
                #expect(cache.lookup(key).value == model[key], "key \(key.namespace)/\(String(decoding: key.key, as: UTF8.self))")
            }
        }
        let stats = cache.statistics
        #expect(stats.entries == model.count)
        #expect(stats.bytes == model.reduce(0) { $0 + ShardedClockCache<[UInt8]>.cost(of: $1.key, $1.value) })
        for (key, value) in model { #expect(cache.lookup(key).value == value) }
        cache.removeAll()
        #expect(cache.statistics.entries == 0 && cache.statistics.bytes == 0)
        #expect(model.keys.allSatisfy { cache.lookup($0).value == nil })
    }

    @Test("under eviction every read returns nil or the last value written, and the bound holds")
    func evictionNeverServesWrongValue() {
        let cache = ShardedClockCache<VersionedValue>(capacityBytes: 40_000)
        var model: [CacheKey: VersionedValue] = [:]
        var generator = SplitMix64(state: 11)
        for i in 0..<50_000 {
            let k = Int(generator.next() % 2_000)
            let key = k % 7 == 0 ? CacheKey(namespace: "n", key: Array("k\(k)".utf8), forcedHash: (k % 3) << 32)
                                 : CacheKey(namespace: "n", key: Array("k\(k)".utf8))
            if generator.next() % 3 == 0 {
                let value = VersionedValue(value: [UInt8](repeating: UInt8(i & 0xFF), count: Int(generator.next() % 200)), version: UInt64(i))
                cache.written(key, value)
                model[key] = value
            } else if let hit = cache.lookup(key).value {
                #expect(hit == model[key])
            }
            #expect(cache.statistics.bytes <= 40_000)
        }
        #expect(cache.statistics.evictions > 0)
    }

    @Test("a read that started before a write never puts the old value back in the cache")
    func staleInsertRefused() {
        let cache = ShardedClockCache<[UInt8]>(capacityBytes: 1 << 20)
        let key = self.key("balance")
        let (_, sequence) = cache.lookup(key)   // reader misses and goes to the database...
        cache.written(key, Array("new".utf8))    // ...a write commits and updates the cache...
        cache.insert(key, Array("old".utf8), ifSequence: sequence) // ...the reader's old value is refused
        #expect(cache.lookup(key).value == Array("new".utf8))
    }

    @Test("through the state store, no read returns a value older than the last acknowledged write")
    func neverStaleUnderConcurrency() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("starbloom-cache-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SQLiteStateStore(path: "\(directory)/state.db", cacheBytes: 1 << 20)
        let key = Array("counter".utf8)
        _ = try store.put(namespace: "c", key: key, value: Array("0".utf8))
        let acknowledged = Atomic<Int>(0)
        let stale = Atomic<Int>(0)
        let done = Atomic<Bool>(false)
        let readers = (0..<2).map { _ in
            Thread {
                while !done.load(ordering: .acquiring) {
                    let floor = acknowledged.load(ordering: .acquiring)
                    let value = store.get(namespace: "c", key: key).flatMap { Int(String(decoding: $0.value, as: UTF8.self)) } ?? -1
                    if value < floor { stale.add(1, ordering: .relaxed) }
                }
            }
        }
        readers.forEach { $0.start() }
        for i in 1...300 {
            _ = try store.put(namespace: "c", key: key, value: Array(String(i).utf8))
            acknowledged.store(i, ordering: .releasing)
        }
        done.store(true, ordering: .releasing)
        Thread.sleep(forTimeInterval: 0.05)
        #expect(stale.load(ordering: .relaxed) == 0)
        #expect(store.cache.statistics.hits > 0, "the readers should have been served from the cache")
    }
}
