import Foundation
import StarbloomCore

/// Key-value benchmarks (issue 4): batched durable puts, uncached and cached gets.
enum StorageBench {
    static func run() throws {
        let path = "/var/tmp/starbloom-storage-bench-\(getpid())"
        try? FileManager.default.removeItem(atPath: path)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let keyCount = 100_000
        let keys = (0..<keyCount).map { Array("balance:0x\(String($0, radix: 16))".utf8) }
        let value = [UInt8](repeating: 0x61, count: 64)

        func seconds(_ body: () throws -> Void) rethrows -> Double {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }

        let store = try SQLiteStateStore(path: "\(path)/state.db", cacheBytes: 64 << 20)
        let putSeconds = try seconds {
            for start in stride(from: 0, to: keyCount, by: 1000) {
                _ = try store.batch(namespace: "bench", (start..<(start + 1000)).map { .put(key: keys[$0], value: value) })
            }
        }
        let uncachedStore = try SQLiteStateStore(path: "\(path)/state.db", cacheBytes: 0)
        var generator = SystemRandomNumberGenerator()
        let order = (0..<1_000_000).map { _ in Int.random(in: 0..<keyCount, using: &generator) }
        var found = 0
        let uncachedSeconds = seconds {
            for i in order.prefix(300_000) where uncachedStore.get(namespace: "bench", key: keys[i]) != nil { found += 1 }
        }
        for key in keys { _ = store.get(namespace: "bench", key: key) } // warm the cache
        let cachedSeconds = seconds {
            for i in order where store.get(namespace: "bench", key: keys[i]) != nil { found += 1 }
        }
        // Two threads reading the cache at once (the machine has two cores).
        let group = DispatchGroup()
        let parallelSeconds = seconds {
            for half in 0..<2 {
                group.enter()
                Thread {
                    var local = 0
                    for i in order[(half * 500_000)..<((half + 1) * 500_000)] where store.get(namespace: "bench", key: keys[i]) != nil { local += 1 }
                    group.leave()
                }.start()
            }
            group.wait()
        }
        precondition(found == 1_300_000)
        func k(_ rate: Double) -> String { rate >= 1e6 ? String(format: "%.2fM", rate / 1e6) : String(format: "%.0fk", rate / 1e3) }
        print("## Key-value store (SQLite WAL, synchronous=FULL; 100k keys, 64-byte values)\n")
        print("| measurement | result | target |")
        print("|---|---|---|")
        print("| batched put (1,000 per atomic batch, durable) | \(k(Double(keyCount) / putSeconds)) ops/s | ≥ 200k/s |")
        print("| uncached get (random keys, one thread) | \(k(300_000 / uncachedSeconds)) ops/s | ≥ 300k/s |")
        print("| cached get (random keys, one thread) | \(k(1_000_000 / cachedSeconds)) ops/s | ≥ 5M/s |")
        print("| cached get (random keys, two threads) | \(k(1_000_000 / parallelSeconds)) ops/s | ≥ 5M/s |")
        print("")

        // Time series: 1M points over 100 series, written in batches of 10,000 (one transaction each).
        let series = try SQLiteTimeSeriesStore(path: "\(path)/series.db")
        let start: Int64 = 1_700_000_000_000_000_000
        let batches = (0..<100).map { batch in
            (0..<10_000).map { i -> TimeSeriesPoint in
                let n = batch * 10_000 + i
                return TimeSeriesPoint(metric: "transfer_volume", tags: ["token": "t\(n % 100)"],
                                       timestampNs: start + Int64(n) * 1_000_000, value: Double(n % 977))
            }
        }
        let ingestSeconds = try seconds { for batch in batches { try series.write(batch) } }
        var queryTimes: [Double] = []
        var buckets = 0
        for _ in 0..<5 {
            queryTimes.append(try seconds {
                let result = try series.query(SeriesQuery(metric: "transfer_volume", from: start, to: start + 1_000_000 * 1_000_000,
                                                          step: 1_000_000_000, aggregate: .sum, groupBy: []))
                buckets = result.first?.buckets.count ?? 0
            })
        }
        print("## Time series (SQLite, compressed chunks; 1M points over 100 series)\n")
        print("| measurement | result | target |")
        print("|---|---|---|")
        print("| ingest, batches of 10,000 points (durable) | \(k(1_000_000 / ingestSeconds)) points/s | ≥ 1M/s and ≥ 4× the one-row-per-point anchor |")
        print("| aggregate 1M points into \(buckets) buckets (sum, all series) | \(String(format: "%.0f", queryTimes.sorted()[2] * 1000)) ms (median of 5) | ≤ 50 ms |")
        print("")
    }
}
