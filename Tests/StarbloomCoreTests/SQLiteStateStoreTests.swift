import Foundation
import Testing
@testable import StarbloomCore

private final class StateDirectory {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("starbloom-state-\(UUID().uuidString)").path
    init() { try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    var database: String { "\(path)/state.db" }
}

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

@Suite("SQLite key-value and checkpoint store")
struct SQLiteStateStoreTests {
    @Test("put, get, delete; versions grow and never repeat, even after delete and across a reopen")
    func basics() throws {
        let directory = StateDirectory()
        var seen: Set<UInt64> = []
        do {
            let store = try SQLiteStateStore(path: directory.database)
            let v1 = try store.put(namespace: "a", key: bytes("k"), value: bytes("one"))
            #expect(store.get(namespace: "a", key: bytes("k")) == VersionedValue(value: bytes("one"), version: v1))
            #expect(store.get(namespace: "b", key: bytes("k")) == nil, "namespaces are separate")
            try store.delete(namespace: "a", key: bytes("k"))
            #expect(throws: StoreError.self) { try store.delete(namespace: "a", key: bytes("k")) }
            let v2 = try store.put(namespace: "a", key: bytes("k"), value: bytes("two"))
            #expect(v2 > v1)
            seen = [v1, v2]
            try store.save(owner: "instance/x", state: bytes("cp"))
        }
        let store = try SQLiteStateStore(path: directory.database)
        #expect(store.get(namespace: "a", key: bytes("k"))?.value == bytes("two"))
        #expect(store.load(owner: "instance/x") == bytes("cp"))
        #expect(store.load(owner: "instance/y") == nil)
        let v3 = try store.put(namespace: "a", key: bytes("k"), value: bytes("three"))
        #expect(!seen.contains(v3) && v3 > seen.max()!)
    }

    @Test("many concurrent tasks racing a compare-and-swap: exactly one wins each round")
    func compareAndSwapRace() async throws {
        let directory = StateDirectory()
        let store = try SQLiteStateStore(path: directory.database)
        _ = try store.put(namespace: "race", key: bytes("counter"), value: bytes("0"))
        for round in 0..<30 {
            let expected = try #require(store.get(namespace: "race", key: bytes("counter"))).version
            let wins = await withTaskGroup(of: Bool.self) { group -> Int in
                for contender in 0..<8 {
                    group.addTask {
                        (try? store.compareAndSwap(namespace: "race", key: bytes("counter"), expectedVersion: expected,
                                                   value: bytes("\(round)-\(contender)"))) != nil
                    }
                }
                var wins = 0
                for await won in group where won { wins += 1 }
                return wins
            }
            #expect(wins == 1, "round \(round): \(wins) winners")
        }
        // Expected version 0 means "must not exist".
        #expect(throws: StoreError.self) { try store.compareAndSwap(namespace: "race", key: bytes("counter"), expectedVersion: 0, value: []) }
        #expect(try store.compareAndSwap(namespace: "race", key: bytes("fresh"), expectedVersion: 0, value: bytes("x")) > 0)
    }

    @Test("entries with a TTL expire: reads, lists and put-if-absent treat them as absent; purge removes them")
    func ttl() throws {
        let directory = StateDirectory()
        let store = try SQLiteStateStore(path: directory.database)
        _ = try store.put(namespace: "t", key: bytes("short"), value: bytes("v"), ttlMs: 150)
        _ = try store.put(namespace: "t", key: bytes("long"), value: bytes("v"))
        #expect(store.get(namespace: "t", key: bytes("short")) != nil)
        #expect(try store.putIfAbsent(namespace: "t", key: bytes("short"), value: bytes("w")) == nil)
        Thread.sleep(forTimeInterval: 0.3)
        #expect(store.get(namespace: "t", key: bytes("short")) == nil)
        #expect(try store.list(namespace: "t", prefix: [], after: nil, limit: 10).map(\.key) == [bytes("long")])
        #expect(try store.purgeExpired() == 1)
        #expect(try store.putIfAbsent(namespace: "t", key: bytes("short"), value: bytes("w")) != nil)
        #expect(throws: StoreError.self) { try store.put(namespace: "t", key: bytes("k"), value: [], ttlMs: 0) }
    }

    @Test("increment, list by prefix with cursor pagination, and atomic batches")
    func operations() throws {
        let directory = StateDirectory()
        let store = try SQLiteStateStore(path: directory.database)
        #expect(try store.increment(namespace: "n", key: bytes("hits"), by: 5).value == 5)
        #expect(try store.increment(namespace: "n", key: bytes("hits"), by: -2).value == 3)
        _ = try store.put(namespace: "n", key: bytes("text"), value: bytes("abc"))
        #expect(throws: StoreError.self) { try store.increment(namespace: "n", key: bytes("text"), by: 1) }
        _ = try store.put(namespace: "n", key: bytes("max"), value: bytes(String(Int64.max)))
        #expect(throws: StoreError.self) { try store.increment(namespace: "n", key: bytes("max"), by: 1) }

        for i in 0..<25 { _ = try store.put(namespace: "p", key: bytes(String(format: "token:%02d", i)), value: bytes("\(i)")) }
        _ = try store.put(namespace: "p", key: bytes("other"), value: [])
        var pages: [[String]] = []
        var cursor: [UInt8]?
        repeat {
            let page = try store.list(namespace: "p", prefix: bytes("token:"), after: cursor, limit: 10)
            pages.append(page.map { String(decoding: $0.key, as: UTF8.self) })
            cursor = page.last?.key
        } while pages.last!.count == 10
        #expect(pages.map(\.count) == [10, 10, 5])
        #expect(pages.flatMap { $0 } == (0..<25).map { String(format: "token:%02d", $0) })

        let a = try store.put(namespace: "b", key: bytes("a"), value: bytes("1"))
        do {
            _ = try store.batch(namespace: "b", [
                .put(key: bytes("x"), value: bytes("new")),
                .compareAndSwap(key: bytes("a"), expectedVersion: a + 1000, value: bytes("2")),
            ])
            Issue.record("a batch with a failing compare-and-swap must fail")
        } catch {
            #expect(error.code == .conflict)
        }
        #expect(store.get(namespace: "b", key: bytes("x")) == nil, "nothing of a failed batch is applied")
        let versions = try store.batch(namespace: "b", [
            .put(key: bytes("x"), value: bytes("new")),
            .compareAndSwap(key: bytes("a"), expectedVersion: a, value: bytes("2")),
            .delete(key: bytes("x")),
        ])
        #expect(versions.count == 3)
        #expect(store.get(namespace: "b", key: bytes("a"))?.value == bytes("2"))
        #expect(store.get(namespace: "b", key: bytes("x")) == nil)
    }

    @Test("bad input: oversized keys and values are refused; a file that is not a database is a clear error")
    func badInput() throws {
        let directory = StateDirectory()
        let store = try SQLiteStateStore(path: directory.database)
        #expect(throws: StoreError.self) { try store.put(namespace: "x", key: [UInt8](repeating: 1, count: 2000), value: []) }
        #expect(throws: StoreError.self) { try store.put(namespace: "x", key: bytes("k"), value: [UInt8](repeating: 1, count: (1 << 20) + 1)) }
        #expect(throws: StoreError.self) { try store.save(owner: "o", state: [UInt8](repeating: 1, count: (1 << 20) + 1)) }

        let garbage = "\(directory.path)/garbage.db"
        try Data(repeating: 0x42, count: 8192).write(to: URL(fileURLWithPath: garbage))
        do {
            _ = try SQLiteStateStore(path: garbage)
            Issue.record("opening a non-database must fail")
        } catch {
            #expect(error.description.contains("not a database"), "\(error.description)")
            #expect(error.description.contains(garbage))
        }
        #expect(throws: SQLiteError.self) { try SQLiteStateStore(path: "\(directory.path)/missing-dir/state.db") }
    }

    @Test("a writer killed with SIGKILL loses no acknowledged key-value write")
    func killNine() throws {
        try #require(FileManager.default.isExecutableFile(atPath: TestPaths.queueTool))
        let directory = StateDirectory()
        let (acknowledged, _) = try runAndKill(arguments: ["kv-put", directory.database, "1000000"], killAfter: 300)
        #expect(acknowledged >= 300)
        let store = try SQLiteStateStore(path: directory.database)
        for i in 0..<acknowledged {
            #expect(store.get(namespace: "crash", key: bytes("key-\(i)"))?.value == QueuePattern.payload(sequence: i, bytes: 100), "key-\(i) lost")
        }
    }
}
