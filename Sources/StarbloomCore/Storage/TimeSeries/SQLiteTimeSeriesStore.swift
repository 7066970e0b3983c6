import Foundation

/// Time series in SQLite: a series is a metric plus sorted tags (table `series`); its points are
/// stored as compressed chunks (`PointChunk`), one row per series per committed write group, indexed by
/// (series, start time). Concurrent writers share transactions (group commit, as in the queue): each
/// `write` returns once the transaction holding its points committed with `synchronous=FULL`.
///
/// Not yet: rollups, retention policies, merging small chunks (see docs/ARCHITECTURE.md).
///
/// `@unchecked Sendable`: `seriesIDs` is touched only inside `database.write` (serialized), the group
/// commit state only under `condition`.
public final class SQLiteTimeSeriesStore: TimeSeriesStore, @unchecked Sendable {
    let database: SQLiteDatabase
    private var seriesIDs: [String: Int64] = [:]
    private let condition = NSCondition()
    private var pending: [TimeSeriesPoint] = []
    private var nextTicket: UInt64 = 0
    private var committedTicket: UInt64 = 0
    private var committing = false
    /// Recent failed commits and the write calls (tickets) they covered.
    private var failures: [(tickets: ClosedRange<UInt64>, error: StoreError)] = []

    public static let maxTagBytes = 256
    public static let maxMetricBytes = 256
    /// Timestamps are Unix nanoseconds within years 1970 to about 2262.
    public static let timestampRange: ClosedRange<Int64> = 0...Int64.max / 2

    static let migrations: [SQLiteDatabase.Migration] = [
        .init(version: 1, sql: """
            CREATE TABLE series (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, metric TEXT NOT NULL, tags TEXT NOT NULL);
            CREATE INDEX series_metric ON series (metric);
            CREATE TABLE chunks (series_id INTEGER NOT NULL, start_ts INTEGER NOT NULL, end_ts INTEGER NOT NULL,
                                 count INTEGER NOT NULL, data BLOB NOT NULL);
            CREATE INDEX chunks_range ON chunks (series_id, start_ts);
            """),
    ]

    public init(path: String) throws(SQLiteError) {
        database = try SQLiteDatabase(path: path, migrations: Self.migrations)
    }

    /// The canonical name of a series: `metric{a=1,b=2}` with tags sorted.
    static func seriesKey(_ metric: String, _ tags: [String: String]) -> String {
        metric + "{" + tags.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",") + "}"
    }

    static func check(_ point: TimeSeriesPoint) throws(StoreError) {
        if point.metric.isEmpty { throw StoreError(code: .invalid, message: "metric name is empty") }
        if point.metric.utf8.count > maxMetricBytes { throw StoreError(code: .invalid, message: "metric name is longer than \(maxMetricBytes) bytes") }
        guard point.value.isFinite else { throw StoreError(code: .invalid, message: "value \(point.value) of '\(point.metric)' is not finite") }
        guard timestampRange.contains(point.timestampNs) else {
            throw StoreError(code: .invalid, message: "timestamp \(point.timestampNs) of '\(point.metric)' is out of range (Unix ns, 1970-2262)")
        }
        if point.tags.count > StoreLimits.maxTags {
            throw StoreError(code: .invalid, message: "'\(point.metric)' has \(point.tags.count) tags (at most \(StoreLimits.maxTags))")
        }
        for (name, value) in point.tags {
            if name.isEmpty || name.utf8.count > maxTagBytes || value.utf8.count > maxTagBytes {
                throw StoreError(code: .invalid, message: "tag '\(name.prefix(40))' of '\(point.metric)' must have a 1-\(maxTagBytes) byte name and a value of at most \(maxTagBytes) bytes")
            }
            if name.contains("=") || name.contains(",") || name.contains("{") || name.contains("}") {
                throw StoreError(code: .invalid, message: "tag name '\(name)' may not contain = , { or }")
            }
        }
    }

    public func write(_ point: TimeSeriesPoint) throws(StoreError) {
        try write([point])
    }

    /// Writes points durably; concurrent callers share one transaction (group commit). Throws if the
    /// transaction holding this call's points failed.
    public func write(_ points: [TimeSeriesPoint]) throws(StoreError) {
        for point in points { try Self.check(point) }
        if points.isEmpty { return }
        condition.lock()
        defer { condition.unlock() }
        pending.append(contentsOf: points)
        nextTicket += 1
        let ticket = nextTicket
        while committedTicket < ticket {
            if committing {
                condition.wait()
                continue
            }
            committing = true
            let batch = pending
            pending = []
            let first = committedTicket + 1
            let through = nextTicket
            condition.unlock()
            let error = commit(batch)
            condition.lock()
            committing = false
            committedTicket = through
            if let error {
                failures.append((first...through, error))
                if failures.count > 64 { failures.removeFirst() }
            }
            condition.broadcast()
        }
        if let failed = failures.last(where: { $0.tickets.contains(ticket) }) { throw failed.error }
    }

    /// Inserts the points as one chunk per series, in one transaction. Returns the error, if any.
    private func commit(_ points: [TimeSeriesPoint]) -> StoreError? {
        var bySeries: [String: (metric: String, tags: [String: String], points: [(timestamp: Int64, value: Double)])] = [:]
        for point in points {
            let key = Self.seriesKey(point.metric, point.tags)
            bySeries[key, default: (point.metric, point.tags, [])].points.append((point.timestampNs, point.value))
        }
        do {
            try database.write { connection in
                for (key, entry) in bySeries {
                    let id = try seriesID(connection, key: key, metric: entry.metric, tags: entry.tags)
                    let sorted = entry.points.sorted { $0.timestamp < $1.timestamp }
                    let statement = try connection.statement("INSERT INTO chunks (series_id, start_ts, end_ts, count, data) VALUES (?1, ?2, ?3, ?4, ?5)")
                    try statement.bind(1, id)
                    try statement.bind(2, sorted.first!.timestamp)
                    try statement.bind(3, sorted.last!.timestamp)
                    try statement.bind(4, Int64(sorted.count))
                    try statement.bind(5, PointChunk.encode(sorted))
                    try statement.run()
                }
            }
            return nil
        } catch {
            seriesIDs.removeAll() // ids created in a rolled-back transaction are gone
            return StoreError(code: .invalid, message: "time-series write failed: \(error)")
        }
    }

    private func seriesID(_ connection: SQLiteConnection, key: String, metric: String, tags: [String: String]) throws -> Int64 {
        if let id = seriesIDs[key] { return id }
        let find = try connection.statement("SELECT id FROM series WHERE key = ?1")
        try find.bind(1, key)
        if try find.step() {
            let id = find.int64(0)
            seriesIDs[key] = id
            return id
        }
        let insert = try connection.statement("INSERT INTO series (key, metric, tags) VALUES (?1, ?2, ?3)")
        try insert.bind(1, key)
        try insert.bind(2, metric)
        let tagsJSON = String(decoding: try JSONEncoder().encode(tags), as: UTF8.self)
        try insert.bind(3, tagsJSON)
        try insert.run()
        let id = sqlite3_last_insert_id(connection)
        seriesIDs[key] = id
        return id
    }

    // MARK: Retention

    /// How long points of the metrics matching `metricPattern` are kept. The pattern is a metric name
    /// where `*` matches any run of characters (`swift_stamp.*`, `*`). The first matching policy wins.
    public struct RetentionPolicy: Sendable, Equatable {
        public var metricPattern: String
        public var maxAgeNs: Int64
        public init(metricPattern: String, maxAgeNs: Int64) {
            self.metricPattern = metricPattern
            self.maxAgeNs = maxAgeNs
        }

        func matches(_ metric: String) -> Bool {
            let parts = metricPattern.split(separator: "*", omittingEmptySubsequences: false).map(String.init)
            if parts.count == 1 { return metric == metricPattern }
            guard metric.hasPrefix(parts[0]), metric.hasSuffix(parts[parts.count - 1]),
                  metric.count >= parts[0].count + parts[parts.count - 1].count else { return false }
            var rest = Substring(metric.dropFirst(parts[0].count))
            for middle in parts.dropFirst().dropLast() where !middle.isEmpty {
                guard let range = rest.range(of: middle) else { return false }
                rest = rest[range.upperBound...]
            }
            return rest.count >= parts[parts.count - 1].count
        }
    }

    /// Deletes every chunk whose newest point is older than its metric's policy allows (a chunk that
    /// straddles the limit is kept whole until all of it is old). Returns the number of chunks removed.
    @discardableResult
    public func enforceRetention(_ policies: [RetentionPolicy], nowNs: Int64) throws(StoreError) -> Int {
        guard !policies.isEmpty else { return 0 }
        do {
            return try database.write { connection in
                let list = try connection.statement("SELECT id, metric FROM series")
                var limits: [(Int64, Int64)] = []
                while try list.step() {
                    let metric = list.text(1)
                    if let policy = policies.first(where: { $0.matches(metric) }) {
                        limits.append((list.int64(0), nowNs - policy.maxAgeNs))
                    }
                }
                var removed = 0
                for (id, cutoff) in limits {
                    let delete = try connection.statement("DELETE FROM chunks WHERE series_id = ?1 AND end_ts < ?2")
                    try delete.bind(1, id)
                    try delete.bind(2, cutoff)
                    try delete.run()
                    removed += Int(sqlite3_changes_count(connection))
                }
                return removed
            }
        } catch {
            throw StoreError(code: .invalid, message: "time-series retention failed: \(error)")
        }
    }

    // MARK: Queries

    public func query(_ query: SeriesQuery) throws(StoreError) -> [SeriesResult] {
        if let problem = query.problem { throw StoreError(code: .invalid, message: problem) }
        do {
            return try database.read { connection in
                let findSeries = try connection.statement("SELECT id, tags FROM series WHERE metric = ?1 ORDER BY key")
                try findSeries.bind(1, query.metric)
                var matching: [(id: Int64, tags: [String: String])] = []
                while try findSeries.step() {
                    let tags = (try? JSONDecoder().decode([String: String].self, from: Data(findSeries.text(1).utf8))) ?? [:]
                    if query.tags.allSatisfy({ tags[$0.key] == $0.value }) { matching.append((findSeries.int64(0), tags)) }
                }
                var groups: [String: (tags: [String: String], buckets: [Int: BucketState])] = [:]
                var order: [String] = []
                for series in matching {
                    let groupTags: [String: String]
                    if let groupBy = query.groupBy {
                        groupTags = series.tags.filter { groupBy.contains($0.key) }
                    } else {
                        groupTags = series.tags
                    }
                    let groupKey = query.groupBy == nil ? "#\(series.id)" : Self.seriesKey("", groupTags)
                    if groups[groupKey] == nil {
                        groups[groupKey] = (groupTags, [:])
                        order.append(groupKey)
                    }
                    let chunks = try connection.statement(
                        "SELECT data FROM chunks WHERE series_id = ?1 AND start_ts < ?3 AND end_ts >= ?2 ORDER BY start_ts")
                    try chunks.bind(1, series.id)
                    try chunks.bind(2, query.from)
                    try chunks.bind(3, query.to)
                    var buckets = groups[groupKey]!.buckets
                    while try chunks.step() {
                        let ok = PointChunk.decode(chunks.blob(0)) { time, value in
                            guard time >= query.from && time < query.to else { return }
                            buckets[Int((time - query.from) / query.step), default: BucketState()].add(time, value)
                        }
                        if !ok { throw StoreError(code: .invalid, message: "a stored chunk of '\(query.metric)' is corrupt") }
                    }
                    groups[groupKey]!.buckets = buckets
                }
                return order.map { key in
                    let group = groups[key]!
                    let buckets = group.buckets.keys.sorted().map { index in
                        SeriesResult.Bucket(start: query.from + Int64(index) * query.step, value: group.buckets[index]!.value(query.aggregate))
                    }
                    return SeriesResult(tags: group.tags, buckets: buckets)
                }.filter { !$0.buckets.isEmpty }
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(code: .invalid, message: "time-series query failed: \(error)")
        }
    }

    /// Every stored point of a metric (all series), in time order per series. For tests and small exports.
    public func points(metric: String) -> [TimeSeriesPoint] {
        (try? database.read { connection -> [TimeSeriesPoint] in
            let statement = try connection.statement("""
                SELECT s.metric, s.tags, c.data FROM chunks c JOIN series s ON s.id = c.series_id
                WHERE s.metric = ?1 ORDER BY s.key, c.start_ts
                """)
            try statement.bind(1, metric)
            var result: [TimeSeriesPoint] = []
            while try statement.step() {
                let tags = (try? JSONDecoder().decode([String: String].self, from: Data(statement.text(1).utf8))) ?? [:]
                PointChunk.decode(statement.blob(2)) { time, value in
                    result.append(TimeSeriesPoint(metric: metric, tags: tags, timestampNs: time, value: value))
                }
            }
            return result
        }) ?? []
    }
}

import CSQLite

@inline(__always)
func sqlite3_last_insert_id(_ connection: SQLiteConnection) -> Int64 { sqlite3_last_insert_rowid(connection.handle) }
