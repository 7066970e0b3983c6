import Foundation
import Synchronization
import Testing
@testable import StarbloomCore

@Suite("Byte-bounded LRU cache")
struct CacheTests {
    @Test("the cache never holds more bytes than its bound, under random inserts and writes")
    func byteBound() {
        let cache = ByteBoundedLRUCache<[UInt8]>(capacityBytes: 10_000) { $0.count }
        var generator = SystemRandomNumberGenerator()
        for i in 0..<5_000 {
            let key = Array("k\(Int.random(in: 0..<300, using: &generator))".utf8)
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
        cache.written(Array("huge".utf8), [UInt8](repeating: 0, count: 20_000))
        #expect(cache.lookup(Array("huge".utf8)).value == nil)
    }

    @Test("least recently used entries are evicted first")
    func lruOrder() {
        let cache = ByteBoundedLRUCache<[UInt8]>(capacityBytes: 3 * (100 + 2 + ByteBoundedLRUCache<[UInt8]>.entryOverhead)) { $0.count }
        for name in ["k1", "k2", "k3"] { cache.written(Array(name.utf8), [UInt8](repeating: 1, count: 100)) }
        _ = cache.lookup(Array("k1".utf8)) // k1 becomes most recent; k2 is now the oldest
        cache.written(Array("k4".utf8), [UInt8](repeating: 1, count: 100))
        #expect(cache.lookup(Array("k2".utf8)).value == nil)
        #expect(cache.lookup(Array("k1".utf8)).value != nil)
        #expect(cache.lookup(Array("k4".utf8)).value != nil)
    }

    @Test("a read that started before a write never puts the old value back in the cache")
    func staleInsertRefused() {
        let cache = ByteBoundedLRUCache<[UInt8]>(capacityBytes: 1 << 20) { $0.count }
        let key = Array("balance".utf8)
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
