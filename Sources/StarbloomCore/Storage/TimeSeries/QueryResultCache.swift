import Synchronization

/// Results of recent time-series queries, reused while no write touched their metric.
///
/// Each metric hashes to one of 1,024 generation counters. A write advances its metrics' counters
/// after its transaction committed and before it returns; retention advances all of them. A query
/// notes its metric's generation *before* it reads the database and keeps its result under that
/// generation; a cached result is served only while its generation is still current. So a result
/// read before a write can never be served after that write returned — the promise the key-value
/// cache makes. Two metrics sharing a counter only invalidate each other more often than needed.
///
/// Bounded in bytes like the key-value cache (the same `ShardedClockCache`, CLOCK eviction); a
/// query's key is its metric and every parameter that shapes the answer, so `from`/`to` must match
/// exactly for a hit (a dashboard refreshing the same window, or several clients asking for it).
public final class QueryResultCache: Sendable {
    struct Entry: CacheValue {
        let generation: UInt64
        let results: [SeriesResult]

        /// Estimated heap bytes: per result its tag strings and dictionary, per bucket 16 bytes.
        var cacheByteCount: Int {
            results.reduce(64) { total, result in
                total + 96 + result.buckets.count * 16 + result.tags.reduce(0) { $0 + 48 + $1.key.utf8.count + $1.value.utf8.count }
            }
        }
    }

    private static let generationCount = 1_024
    private let cache: ShardedClockCache<Entry>
    private let generations = Mutex([UInt64](repeating: 0, count: QueryResultCache.generationCount))

    public init(capacityBytes: Int) {
        cache = ShardedClockCache(capacityBytes: capacityBytes)
    }

    public var capacityBytes: Int { cache.capacityBytes }
    public var statistics: CacheStatistics { cache.statistics }

    /// The cached results of `query` if no write touched its metric since they were read; else
    /// `compute()`'s, kept for the next caller.
    func results(for query: SeriesQuery, compute: () throws(StoreError) -> [SeriesResult]) throws(StoreError) -> [SeriesResult] {
        let generation = generations.withLock { $0[Self.slot(query.metric)] }
        let key = Self.key(query)
        let (cached, sequence) = cache.lookup(key)
        if let cached, cached.generation == generation { return cached.results }
        let results = try compute()
        let entry = Entry(generation: generation, results: results)
        if cached == nil {
            cache.insert(key, entry, ifSequence: sequence)
        } else {
            cache.written(key, entry) // replaces a result of an older generation
        }
        return results
    }

    /// After a committed write, before it returns.
    func invalidate(metrics: some Sequence<String>) {
        let slots = Set(metrics.map(Self.slot))
        generations.withLock { generations in
            for slot in slots { generations[slot] &+= 1 }
        }
    }

    /// After retention removed points (of any metric).
    func invalidateAll() {
        generations.withLock { generations in
            for slot in generations.indices { generations[slot] &+= 1 }
        }
    }

    static func slot(_ metric: String) -> Int {
        Int(truncatingIfNeeded: StableHash.hash64(metric) % UInt64(generationCount))
    }

    /// Every parameter that shapes the answer, tags sorted, fields separated by bytes that cannot
    /// occur in them ambiguously (lengths prefix the strings).
    static func key(_ query: SeriesQuery) -> CacheKey {
        var bytes: [UInt8] = []
        func append(_ value: Int64) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
        func append(_ text: String) {
            append(Int64(text.utf8.count))
            bytes.append(contentsOf: text.utf8)
        }
        append(query.from)
        append(query.to)
        append(query.step)
        append(query.aggregate.rawValue)
        bytes.append(query.allowRollups ? 1 : 0)
        append(Int64(query.tags.count))
        for (name, value) in query.tags.sorted(by: { $0.key < $1.key }) {
            append(name)
            append(value)
        }
        if let groupBy = query.groupBy {
            append(Int64(groupBy.count))
            groupBy.forEach { append($0) }
        } else {
            append(-1)
        }
        return CacheKey(namespace: query.metric, key: bytes)
    }
}
