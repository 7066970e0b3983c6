import Foundation
import Testing
import Synchronization
@testable import StarbloomCore

private final class SeriesDirectory {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("starbloom-ts-\(UUID().uuidString)").path
    init() { try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}


/// Brute force: the same query answered by scanning every point, aggregating each bucket's list of
/// points directly (independent of the store's running aggregates).
private func oracle(_ points: [TimeSeriesPoint], _ query: SeriesQuery) -> [String: [SeriesResult.Bucket]] {
    var groups: [String: [Int64: [(time: Int64, value: Double)]]] = [:]
    for point in points where point.metric == query.metric && point.timestampNs >= query.from && point.timestampNs < query.to {
        guard query.tags.allSatisfy({ point.tags[$0.key] == $0.value }) else { continue }
        let groupTags = query.groupBy.map { keys in point.tags.filter { keys.contains($0.key) } } ?? point.tags
        let key = SQLiteTimeSeriesStore.seriesKey("", groupTags)
        let bucket = query.from + (point.timestampNs - query.from) / query.step * query.step
        groups[key, default: [:]][bucket, default: []].append((point.timestampNs, point.value))
    }
    return groups.mapValues { buckets in
        buckets.keys.sorted().map { start in
            let members = buckets[start]!.sorted { $0.time < $1.time }
            let values = members.map(\.value)
            let value: Double = switch query.aggregate {
            case .min: values.min()!
            case .max: values.max()!
            case .sum: values.reduce(0, +)
            case .count: Double(values.count)
            case .avg: values.reduce(0, +) / Double(values.count)
            case .first: members.first!.value
            case .last: members.last!.value
            }
            return SeriesResult.Bucket(start: start, value: value)
        }
    }
}

private func close(_ a: Double, _ b: Double) -> Bool {
    a == b || abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1)
}

@Suite("Time series")
struct TimeSeriesTests {
    @Test("chunks round-trip timestamps and values exactly", arguments: [1, 2, 3, 4, 5])
    func chunkRoundTrip(seed: UInt64) {
        var random = SplitMix64(state: seed)
        var time = Int64.random(in: 0...1_000_000_000_000_000, using: &random)
        let points: [(timestamp: Int64, value: Double)] = (0..<Int.random(in: 1...2000, using: &random)).map { _ in
            time += Int64.random(in: 0...5_000_000_000, using: &random)
            let value: Double = Bool.random(using: &random) ? Double(Int.random(in: -5...5, using: &random)) : Double.random(in: -1e12...1e12, using: &random)
            return (time, value)
        }
        var decoded: [(Int64, Double)] = []
        #expect(PointChunk.decode(PointChunk.encode(points)) { decoded.append(($0, $1)) })
        #expect(decoded.map(\.0) == points.map(\.timestamp))
        #expect(decoded.map { $0.1.bitPattern } == points.map { $0.value.bitPattern })
        #expect(!PointChunk.decode([0xFF, 0xFF]) { _, _ in })
    }

    @Test("aggregates equal a brute-force oracle on random data, ranges, steps, filters and groupings", arguments: Array(UInt64(1)...12))
    func oracleProperty(seed: UInt64) throws {
        let directory = SeriesDirectory()
        let store = try SQLiteTimeSeriesStore(path: "\(directory.path)/ts.db")
        var random = SplitMix64(state: seed)
        let tokens = ["usdc", "weth", "dai"]
        let chains = ["mainnet", "base"]
        var points: [TimeSeriesPoint] = []
        var usedTimes = Set<Int64>()
        for _ in 0..<Int.random(in: 200...1500, using: &random) {
            var time: Int64
            repeat { time = Int64.random(in: 1_000_000...2_000_000_000, using: &random) } while !usedTimes.insert(time).inserted
            points.append(TimeSeriesPoint(
                metric: "volume",
                tags: ["token": tokens.randomElement(using: &random)!, "chain": chains.randomElement(using: &random)!],
                timestampNs: time, value: Double(Int.random(in: -1000...1000, using: &random)) / 8))
        }
        // Written in random batch sizes, so series have many chunks.
        var index = 0
        while index < points.count {
            let size = Int.random(in: 1...200, using: &random)
            try store.write(Array(points[index..<min(index + size, points.count)]))
            index += size
        }
        for _ in 0..<25 {
            let from = Int64.random(in: 0...1_500_000_000, using: &random)
            let to = from + Int64.random(in: 1...800_000_000, using: &random)
            let step = Int64.random(in: 1...300_000_000, using: &random)
            let aggregate = Aggregate.allCases.randomElement(using: &random)!
            let tags: [String: String] = Bool.random(using: &random) ? ["chain": chains.randomElement(using: &random)!] : [:]
            let groupBy: [String]? = [nil, [], ["token"], ["chain"]].randomElement(using: &random)!
            let query = SeriesQuery(metric: "volume", tags: tags, from: from, to: to, step: step, aggregate: aggregate, groupBy: groupBy)
            let results = try store.query(query)
            let expected = oracle(points, query)
            #expect(results.count == expected.count, "seed \(seed): \(query)")
            for result in results {
                let key = SQLiteTimeSeriesStore.seriesKey("", result.tags)
                let want = try #require(expected[key], "seed \(seed): unexpected group \(key)")
                #expect(result.buckets.map(\.start) == want.map(\.start), "seed \(seed): bucket starts for \(key)")
                #expect(zip(result.buckets, want).allSatisfy { close($0.value, $1.value) }, "seed \(seed): \(aggregate) values for \(key)")
            }
        }
    }

    @Test("first-format chunks (plain time deltas and value XORs) still decode")
    func firstFormatChunk() {
        // count 2; zigzag(1000) = 2000, xor = bits(1.5); zigzag(+7) = 14, xor = bits(1.5) ^ bits(-2.0)
        var bytes: [UInt8] = []
        for number in [2, 2000, (1.5).bitPattern, 14, (1.5).bitPattern ^ (-2.0).bitPattern] as [UInt64] { PointChunk.putVarint(number, &bytes) }
        var decoded: [(Int64, Double)] = []
        #expect(PointChunk.decode(bytes) { decoded.append(($0, $1)) })
        #expect(decoded.map(\.0) == [1000, 1007])
        #expect(decoded.map(\.1) == [1.5, -2.0])
    }

    @Test("rollups answer aligned queries with exactly the raw aggregates, from the coarsest fitting resolution", arguments: Array(UInt64(1)...8))
    func rollupsEqualRaw(seed: UInt64) throws {
        let directory = SeriesDirectory()
        let resolutions: [Int64] = [1_000, 10_000, 100_000]
        let store = try SQLiteTimeSeriesStore(path: "\(directory.path)/ts.db", rollupResolutions: resolutions)
        var random = SplitMix64(state: seed)
        var points: [TimeSeriesPoint] = []
        var usedTimes = Set<Int64>()
        for _ in 0..<Int.random(in: 300...1500, using: &random) {
            var time: Int64
            repeat { time = Int64.random(in: 0..<2_000_000, using: &random) } while !usedTimes.insert(time).inserted
            points.append(TimeSeriesPoint(metric: "volume", tags: ["token": ["usdc", "weth", "dai"].randomElement(using: &random)!],
                                          timestampNs: time, value: Double(Int.random(in: -1000...1000, using: &random)) / 4))
        }
        // Random batches, in random order: buckets get points from several commits, late and early.
        var index = 0
        while index < points.count {
            let size = Int.random(in: 1...150, using: &random)
            try store.write(Array(points[index..<min(index + size, points.count)]))
            index += size
        }
        for _ in 0..<30 {
            let resolution = resolutions.randomElement(using: &random)!
            let from = Int64.random(in: 0...25, using: &random) * 100_000 / resolution * resolution
            let to = from + Int64.random(in: 1...40, using: &random) * resolution * Int64.random(in: 1...5, using: &random)
            let step = resolution * Int64.random(in: 1...10, using: &random)
            let aggregate = Aggregate.allCases.randomElement(using: &random)!
            let groupBy: [String]? = [nil, [], ["token"]].randomElement(using: &random)!
            let query = SeriesQuery(metric: "volume", from: from, to: to, step: step, aggregate: aggregate, groupBy: groupBy)
            let coarsest = resolutions.last { from % $0 == 0 && to % $0 == 0 && step % $0 == 0 }
            #expect(store.plan(for: query) == coarsest)
            #expect(coarsest != nil)
            var raw = query
            raw.allowRollups = false
            #expect(store.plan(for: raw) == nil)
            let fromRollups = try store.query(query)
            let fromRaw = try store.query(raw)
            let expected = oracle(points, query)
            #expect(fromRollups.map(\.tags) == fromRaw.map(\.tags), "seed \(seed): \(query)")
            for (rolled, exact) in zip(fromRollups, fromRaw) {
                #expect(rolled.buckets.map(\.start) == exact.buckets.map(\.start), "seed \(seed): \(query)")
                #expect(zip(rolled.buckets, exact.buckets).allSatisfy { close($0.value, $1.value) }, "seed \(seed): \(aggregate) \(query)")
                let want = try #require(expected[SQLiteTimeSeriesStore.seriesKey("", rolled.tags)])
                #expect(zip(rolled.buckets, want).allSatisfy { close($0.value, $1.value) }, "seed \(seed): oracle \(aggregate)")
            }
        }
    }

    @Test("a newly configured rollup resolution is built from the stored points; a dropped one is removed")
    func rollupResolutionChanges() throws {
        let directory = SeriesDirectory()
        let points = (0..<500).map { TimeSeriesPoint(metric: "gas", timestampNs: Int64($0) * 37, value: Double($0 % 13)) }
        do {
            let store = try SQLiteTimeSeriesStore(path: "\(directory.path)/ts.db", rollupResolutions: [1_000])
            try store.write(points)
        }
        let reopened = try SQLiteTimeSeriesStore(path: "\(directory.path)/ts.db", rollupResolutions: [7_000])
        let query = SeriesQuery(metric: "gas", from: 0, to: 21_000, step: 7_000, aggregate: .sum)
        #expect(reopened.plan(for: query) == 7_000)
        #expect(reopened.plan(for: SeriesQuery(metric: "gas", from: 0, to: 2_000, step: 1_000, aggregate: .sum)) == nil)
        var raw = query
        raw.allowRollups = false
        #expect(try reopened.query(query) == reopened.query(raw))
        #expect(try reopened.query(query).first?.buckets.map(\.value) == oracle(points, query).values.first?.map(\.value))
    }

    @Test("a writer killed with SIGKILL loses no acknowledged point, and the rollups agree with the raw points")
    func killNine() throws {
        try #require(FileManager.default.isExecutableFile(atPath: TestPaths.queueTool))
        let directory = SeriesDirectory()
        let path = "\(directory.path)/series.db"
        let (acknowledged, _) = try runAndKill(arguments: ["series-write", path, "1000000"], killAfter: 20_000)
        #expect(acknowledged >= 20_000)
        let store = try SQLiteTimeSeriesStore(path: path, rollupResolutions: [1_000])
        let stored = store.points(metric: "crash")
        let byTime = Dictionary(stored.map { ($0.timestampNs, $0) }, uniquingKeysWith: { first, _ in first })
        #expect(byTime.count == stored.count, "no point is stored twice")
        for i in 0..<acknowledged {
            let point = try #require(byTime[Int64(i)], "point \(i) lost")
            #expect(point.value == Double(i) * 0.5 && point.tags == ["series": "s\(i % 4)"])
        }
        // Whatever committed (acknowledged or not) committed with its rollups.
        let end = (Int64(stored.count) + 999) / 1_000 * 1_000
        let query = SeriesQuery(metric: "crash", from: 0, to: end, step: 1_000, aggregate: .sum, groupBy: [])
        var raw = query
        raw.allowRollups = false
        #expect(store.plan(for: query) == 1_000)
        #expect(try store.query(query) == store.query(raw))
    }

    @Test("bad input gets a clear error: NaN and infinity, timestamps out of range, too many or too long tags, bad queries")
    func badInput() throws {
        let directory = SeriesDirectory()
        let store = try SQLiteTimeSeriesStore(path: "\(directory.path)/ts.db")
        let good = TimeSeriesPoint(metric: "m", tags: [:], timestampNs: 1_000, value: 1)
        var cases: [(TimeSeriesPoint, String)] = []
        var p = good; p.value = .nan; cases.append((p, "not finite"))
        p = good; p.value = .infinity; cases.append((p, "not finite"))
        p = good; p.timestampNs = -5; cases.append((p, "out of range"))
        p = good; p.tags = Dictionary(uniqueKeysWithValues: (0..<33).map { ("t\($0)", "v") }); cases.append((p, "33 tags"))
        p = good; p.tags = ["t": String(repeating: "x", count: 300)]; cases.append((p, "at most 256 bytes"))
        p = good; p.metric = ""; cases.append((p, "metric name is empty"))
        for (point, fragment) in cases {
            do {
                try store.write([good, point])
                Issue.record("expected an error containing '\(fragment)'")
            } catch {
                #expect(error.message.contains(fragment), "\(error.message)")
            }
        }
        #expect(store.points(metric: "m").isEmpty, "a batch with one bad point writes nothing")
        #expect(throws: StoreError.self) { try store.query(SeriesQuery(metric: "m", from: 10, to: 5, step: 1, aggregate: .sum)) }
        #expect(throws: StoreError.self) { try store.query(SeriesQuery(metric: "m", from: 0, to: 10, step: 0, aggregate: .sum)) }
        #expect(throws: StoreError.self) { try store.query(SeriesQuery(metric: "m", from: 0, to: 10_000_000, step: 1, aggregate: .sum)) }
    }

    @Test("concurrent writers share commits and every acknowledged point is stored, across a reopen")
    func concurrentWritersDurable() async throws {
        let directory = SeriesDirectory()
        do {
            let store = try SQLiteTimeSeriesStore(path: "\(directory.path)/ts.db")
            await withTaskGroup(of: Void.self) { group in
                for writer in 0..<8 {
                    group.addTask {
                        for i in 0..<50 {
                            try? store.write(TimeSeriesPoint(metric: "gas", tags: ["writer": "\(writer)"], timestampNs: Int64(i * 1000 + writer), value: Double(i)))
                        }
                    }
                }
            }
        }
        let reopened = try SQLiteTimeSeriesStore(path: "\(directory.path)/ts.db")
        #expect(reopened.points(metric: "gas").count == 400)
        let total = try reopened.query(SeriesQuery(metric: "gas", from: 0, to: 1_000_000, step: 1_000_000, aggregate: .count, groupBy: []))
        #expect(total.first?.buckets.first?.value == 400)
    }

    @Test("retention policies drop chunks older than their metric's limit and keep the rest; patterns match with *")
    func retention() throws {
        let directory = SeriesDirectory()
        let store = try SQLiteTimeSeriesStore(path: "\(directory.path)/ts.db")
        let now: Int64 = 1_800_000_000_000_000_000
        let hour: Int64 = 3_600_000_000_000
        for metric in ["gas.price", "gas.used", "volume"] {
            try store.write((0..<10).map { TimeSeriesPoint(metric: metric, timestampNs: now - Int64($0) * hour, value: Double($0)) }.map { [$0] }.flatMap { $0 })
            for age in 0..<10 { try store.write(TimeSeriesPoint(metric: metric, tags: ["single": "1"], timestampNs: now - Int64(age) * hour, value: 1)) }
        }
        let policies = [
            SQLiteTimeSeriesStore.RetentionPolicy(metricPattern: "gas.*", maxAgeNs: 3 * hour),
            SQLiteTimeSeriesStore.RetentionPolicy(metricPattern: "*", maxAgeNs: 100 * hour),
        ]
        #expect(SQLiteTimeSeriesStore.RetentionPolicy(metricPattern: "gas.*", maxAgeNs: 1).matches("gas.price"))
        #expect(!SQLiteTimeSeriesStore.RetentionPolicy(metricPattern: "gas.*", maxAgeNs: 1).matches("volume"))
        #expect(SQLiteTimeSeriesStore.RetentionPolicy(metricPattern: "a*c*e", maxAgeNs: 1).matches("abcde"))
        #expect(!SQLiteTimeSeriesStore.RetentionPolicy(metricPattern: "a*c*e", maxAgeNs: 1).matches("abde"))
        let removed = try store.enforceRetention(policies, nowNs: now)
        #expect(removed > 0)
        for metric in ["gas.price", "gas.used"] {
            let single = store.points(metric: metric).filter { $0.tags["single"] == "1" }
            #expect(single.count == 4, "\(metric): points 0-3 hours old remain")
            #expect(single.allSatisfy { now - $0.timestampNs <= 3 * hour })
        }
        #expect(store.points(metric: "volume").count == 20, "the catch-all policy keeps 100 hours")
        // The hourly rollup follows the same limit: an aligned query sees only the kept hours.
        let hourly = SeriesQuery(metric: "gas.price", tags: ["single": "1"], from: now - 10 * hour, to: now + hour, step: hour, aggregate: .count)
        #expect(store.plan(for: hourly) == hour)
        #expect(try store.query(hourly).first?.buckets.map(\.start) == [now - 3 * hour, now - 2 * hour, now - hour, now])
    }

    @Test("hot queries are answered from the query cache until a write to their metric, and never stale after it")
    func queryCache() throws {
        let directory = SeriesDirectory()
        let store = try SQLiteTimeSeriesStore(path: "\(directory.path)/ts.db", rollupResolutions: [])
        let second: Int64 = 1_000_000_000
        try store.write((0..<100).map { TimeSeriesPoint(metric: "volume", tags: ["token": $0 % 2 == 0 ? "usdc" : "weth"], timestampNs: Int64($0) * second, value: 1) })
        try store.write(TimeSeriesPoint(metric: "gas", timestampNs: 0, value: 1))
        let query = SeriesQuery(metric: "volume", from: 0, to: 100 * second, step: 10 * second, aggregate: .count, groupBy: [])
        let first = try store.query(query)
        #expect(first == (try store.uncachedQuery(query)))
        #expect(first.first?.buckets.map(\.value) == Array(repeating: 10, count: 10))
        let hitsBefore = store.queryCache.statistics.hits
        #expect(try store.query(query) == first)
        #expect(store.queryCache.statistics.hits == hitsBefore + 1, "the repeated query is a hit")
        // Parameters that change the answer are part of the key.
        var filtered = query
        filtered.tags = ["token": "usdc"]
        #expect(try store.query(filtered).first?.buckets.map(\.value) == Array(repeating: 5, count: 10))
        // A write to another metric leaves the entry valid (unless both metrics share a counter).
        if QueryResultCache.slot("gas") != QueryResultCache.slot("volume") {
            try store.write(TimeSeriesPoint(metric: "gas", timestampNs: 1, value: 1))
            let hits = store.queryCache.statistics.hits
            #expect(try store.query(query) == first)
            #expect(store.queryCache.statistics.hits == hits + 1)
        }
        // A write to the metric: the next query sees it.
        try store.write(TimeSeriesPoint(metric: "volume", tags: ["token": "dai"], timestampNs: 5 * second, value: 1))
        #expect(try store.query(query).first?.buckets.first?.value == 11)
        #expect(try store.query(filtered).first?.buckets.first?.value == 5)
        // Retention: the next query sees the points it removed gone.
        #expect(try store.query(query).first?.buckets.count == 10)
        try store.enforceRetention([.init(metricPattern: "volume", maxAgeNs: 50 * second)], nowNs: 200 * second)
        #expect(try store.query(query) == (try store.uncachedQuery(query)))
    }

    @Test("while a writer adds points, no query returns fewer than were acknowledged before it started")
    func queryCacheNeverStale() throws {
        let directory = SeriesDirectory()
        let store = try SQLiteTimeSeriesStore(path: "\(directory.path)/ts.db", rollupResolutions: [])
        let query = SeriesQuery(metric: "ticks", from: 0, to: 1_000_000, step: 1_000_000, aggregate: .count)
        let acknowledged = Atomic<Int>(0)
        let stale = Atomic<Int>(0)
        let done = Atomic<Bool>(false)
        let readers = (0..<2).map { _ in
            Thread {
                while !done.load(ordering: .acquiring) {
                    let floor = acknowledged.load(ordering: .acquiring)
                    let count = (try? store.query(query))?.first?.buckets.first.map { Int($0.value) } ?? 0
                    if count < floor { stale.add(1, ordering: .relaxed) }
                }
            }
        }
        readers.forEach { $0.start() }
        for i in 1...200 {
            try store.write(TimeSeriesPoint(metric: "ticks", timestampNs: Int64(i), value: 1))
            acknowledged.store(i, ordering: .releasing)
        }
        done.store(true, ordering: .releasing)
        Thread.sleep(forTimeInterval: 0.05)
        #expect(stale.load(ordering: .relaxed) == 0)
        #expect(store.queryCache.statistics.hits > 0, "readers between writes should have hit the cache")
    }

    @Test("the query cache stays within its byte bound over many distinct queries")
    func queryCacheBound() throws {
        let directory = SeriesDirectory()
        let store = try SQLiteTimeSeriesStore(path: "\(directory.path)/ts.db", rollupResolutions: [], queryCacheBytes: 64 << 10)
        try store.write((0..<1_000).map { TimeSeriesPoint(metric: "m", timestampNs: Int64($0), value: Double($0)) })
        for from in 0..<500 {
            _ = try store.query(SeriesQuery(metric: "m", from: Int64(from), to: 1_000, step: 7, aggregate: .sum))
            #expect(store.queryCache.statistics.bytes <= 64 << 10)
        }
        #expect(store.queryCache.statistics.evictions > 0)
    }

    @Test("[[series_retention]] in starbloom.toml is read, and bad entries name what to fix")
    func retentionConfiguration() throws {
        let configuration = try HostConfiguration.parse("[[series_retention]]\nmetric = \"gas.*\"\nmax_age_seconds = 3600\n")
        #expect(configuration.seriesRetention == [.init(metricPattern: "gas.*", maxAgeNs: 3_600_000_000_000)])
        #expect(throws: ConfigFileError.self) { try HostConfiguration.parse("[[series_retention]]\nmax_age_seconds = 5\n") }
        #expect(throws: ConfigFileError.self) { try HostConfiguration.parse("[[series_retention]]\nmetric = \"m\"\nmax_age_seconds = -1\n") }
        #expect(throws: ConfigFileError.self) { try HostConfiguration.parse("[[series_retention]]\nmetric = \"m\"\nmax_age_seconds = 5\nkeep = 1\n") }
    }

    @Test("storage and publish settings reject bad values with the key named")
    func storageAndPublishConfiguration() throws {
        for (text, fragment) in [
            ("[storage]\ncache_bytes = -1\n", "storage.cache_bytes must not be negative"),
            ("[storage]\ncache_bytes = 1099511627776000\n", "storage.cache_bytes is 1099511627776000, more than this machine's memory"),
            ("[storage]\nquery_cache_bytes = -5\n", "storage.query_cache_bytes must not be negative"),
            ("[storage]\ncache = 5\n", "storage: unknown key 'cache'"),
            ("[storage]\nrollup_seconds = [60, 0]\n", "storage.rollup_seconds must list resolutions"),
            ("[storage]\nrollup_seconds = \"1m\"\n", "storage.rollup_seconds must be a list of integers"),
            ("[admin]\nauth = \"maybe\"\n", "admin.auth must be \"keys\" or \"none\""),
            ("[admin]\nmax_connections = 0\n", "admin.max_connections must be 1-100000"),
            ("[admin]\nmax_header_bytes = 10\n", "admin.max_header_bytes must be 1024-1048576"),
            ("[[instances]]\nname = \"a\"\nplugin = \"p\"\npublish = \"sometimes\"\n", "publish must be block or fail-when-full"),
        ] {
            do {
                _ = try HostConfiguration.parse(text)
                Issue.record("expected an error for \(text)")
            } catch {
                #expect(error.description.contains(fragment), "\(error.description)")
            }
        }
        let configuration = try HostConfiguration.parse("[storage]\ncache_bytes = 0\n[[instances]]\nname = \"a\"\nplugin = \"p\"\npublish = \"fail-when-full\"\n")
        #expect(configuration.cacheBytes == 0)
        #expect(configuration.instances.first?.nonBlockingPublish == true)
    }
}
