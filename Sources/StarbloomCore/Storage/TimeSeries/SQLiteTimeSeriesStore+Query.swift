import Foundation

extension SQLiteTimeSeriesStore {
    /// Every metric with the number of series (tag combinations) it has, by name.
    public func metrics() throws(StoreError) -> [(metric: String, series: Int)] {
        do {
            return try database.read { connection in
                let statement = try connection.statement("SELECT metric, count(*) FROM series GROUP BY metric ORDER BY metric")
                var result: [(metric: String, series: Int)] = []
                while try statement.step() { result.append((statement.text(0), Int(statement.int64(1)))) }
                return result
            }
        } catch {
            throw StoreError(code: .invalid, message: "listing metrics failed: \(error)")
        }
    }

    /// Answers a range query from the query cache, or else from raw chunks or, when `plan(for:)`
    /// finds one, from a rollup.
    public func query(_ query: SeriesQuery) throws(StoreError) -> [SeriesResult] {
        if let problem = query.problem { throw StoreError(code: .invalid, message: problem) }
        return try queryCache.results(for: query) { () throws(StoreError) in try uncachedQuery(query) }
    }

    /// The query, read from the database.
    public func uncachedQuery(_ query: SeriesQuery) throws(StoreError) -> [SeriesResult] {
        if let problem = query.problem { throw StoreError(code: .invalid, message: problem) }
        let resolution = plan(for: query)
        do {
            return try database.read { connection in
                let findSeries = try connection.statement("SELECT id, tags FROM series WHERE metric = ?1 ORDER BY key")
                try findSeries.bind(1, query.metric)
                var matching: [(id: Int64, tags: [String: String])] = []
                while try findSeries.step() {
                    let tags = (try? JSONDecoder().decode([String: String].self, from: Data(findSeries.text(1).utf8))) ?? [:]
                    if query.tags.allSatisfy({ tags[$0.key] == $0.value }) { matching.append((findSeries.int64(0), tags)) }
                }
                let bucketCount = Int((query.to - query.from - 1) / query.step) + 1
                var groups: [String: Int] = [:]
                var results: [(tags: [String: String], buckets: BucketTable)] = []
                for series in matching {
                    let groupTags = query.groupBy.map { keys in series.tags.filter { keys.contains($0.key) } } ?? series.tags
                    let groupKey = query.groupBy == nil ? "#\(series.id)" : Self.seriesKey("", groupTags)
                    let position: Int
                    if let found = groups[groupKey] {
                        position = found
                    } else {
                        position = results.count
                        groups[groupKey] = position
                        results.append((groupTags, BucketTable(count: bucketCount)))
                    }
                    if let resolution {
                        try addRollups(connection, series.id, resolution, query, &results[position].buckets)
                    } else {
                        try addChunks(connection, series.id, query, &results[position].buckets)
                    }
                }
                return results.map { group in
                    SeriesResult(tags: group.tags, buckets: group.buckets.nonEmpty().map { index, state in
                        SeriesResult.Bucket(start: query.from + Int64(index) * query.step, value: state.value(query.aggregate))
                    })
                }.filter { !$0.buckets.isEmpty }
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(code: .invalid, message: "time-series query failed: \(error)")
        }
    }

    /// Decodes the series' chunks overlapping the range straight from SQLite's buffer into buckets.
    private func addChunks(_ connection: SQLiteConnection, _ series: Int64, _ query: SeriesQuery, _ buckets: inout BucketTable) throws {
        let chunks = try connection.statement(slot: 10,
            "SELECT data FROM chunks WHERE series_id = ?1 AND start_ts < ?3 AND end_ts >= ?2 ORDER BY start_ts, seq")
        try chunks.bind(1, series)
        try chunks.bind(2, query.from)
        try chunks.bind(3, query.to)
        let from = query.from, to = query.to, step = query.step
        while try chunks.step() {
            let ok = chunks.withBlob(0) { bytes in
                PointChunk.decode(bytes) { time, value in
                    if time >= from && time < to { buckets.add(Int((time - from) / step), time, value) }
                }
            }
            if !ok { throw StoreError(code: .invalid, message: "a stored chunk of '\(query.metric)' is corrupt") }
        }
    }

    /// Merges the series' rollup buckets of `resolution` inside the range into the query's buckets.
    private func addRollups(_ connection: SQLiteConnection, _ series: Int64, _ resolution: Int64, _ query: SeriesQuery,
                            _ buckets: inout BucketTable) throws {
        let rows = try connection.statement(slot: 11, """
            SELECT bucket, count, sum, min, max, first_ts, first, last_ts, last FROM rollups
            WHERE series_id = ?1 AND resolution = ?2 AND bucket >= ?3 AND bucket < ?4
            """)
        try rows.bind(1, series)
        try rows.bind(2, resolution)
        try rows.bind(3, query.from)
        try rows.bind(4, query.to)
        while try rows.step() {
            let state = BucketState(count: Int(rows.int64(1)), sum: rows.double(2), min: rows.double(3), max: rows.double(4),
                                    firstTime: rows.int64(5), first: rows.double(6), lastTime: rows.int64(7), last: rows.double(8))
            buckets.merge(Int((rows.int64(0) - query.from) / query.step), state)
        }
    }
}

/// A query's buckets: a dense array when there are few enough, a dictionary otherwise (a query may
/// ask for up to a million buckets per group, most of them empty).
struct BucketTable {
    private var dense: [BucketState]
    private var sparse: [Int: BucketState] = [:]
    private let isDense: Bool

    init(count: Int) {
        isDense = count <= 65_536
        dense = isDense ? [BucketState](repeating: BucketState(), count: count) : []
    }

    @inline(__always)
    mutating func add(_ index: Int, _ time: Int64, _ value: Double) {
        if isDense { dense[index].add(time, value) } else { sparse[index, default: BucketState()].add(time, value) }
    }

    mutating func merge(_ index: Int, _ state: BucketState) {
        if isDense { dense[index].merge(state) } else { sparse[index, default: BucketState()].merge(state) }
    }

    /// Buckets holding at least one point, in time order.
    func nonEmpty() -> [(Int, BucketState)] {
        if isDense { return dense.indices.filter { dense[$0].count > 0 }.map { ($0, dense[$0]) } }
        return sparse.keys.sorted().map { ($0, sparse[$0]!) }
    }
}
