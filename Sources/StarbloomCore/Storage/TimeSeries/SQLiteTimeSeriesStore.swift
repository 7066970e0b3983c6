import Foundation

/// Time series in SQLite: a series is a metric plus sorted tags (table `series`); its points are
/// stored as compressed chunks (`PointChunk`), one row per series per committed write group, indexed by
/// (series, start time). Concurrent writers share transactions (group commit, as in the queue): each
/// `write` returns once the transaction holding its points committed with `synchronous=FULL`.
///
/// Rollups: for each configured resolution (default 1 minute and 1 hour) the store keeps, per series
/// and aligned bucket, count, sum, min, max, first and last — updated in the same transaction as the
/// raw chunk, so they never disagree with the raw points. A query whose range and step are multiples
/// of a resolution is answered from the coarsest such rollup (`plan(for:)`).
///
/// `@unchecked Sendable`: `seriesIDs` is touched only inside `database.write` (serialized), the group
/// commit state only under `condition`.
public final class SQLiteTimeSeriesStore: TimeSeriesStore, @unchecked Sendable {
    let database: SQLiteDatabase
    /// Rollup resolutions in nanoseconds, ascending.
    public let rollupResolutions: [Int64]
    /// Results of hot queries, invalidated per metric by writes (see `QueryResultCache`).
    public let queryCache: QueryResultCache
    private var seriesIDs: [SeriesIdentity: Int64] = [:]
    /// The next chunk's `seq` (touched only inside `database.write`).
    private var nextChunkSeq: Int64 = 1
    private let condition = NSCondition()
    private var pending: [SeriesBatch] = []
    private var nextTicket: UInt64 = 0
    private var committedTicket: UInt64 = 0
    private var committing = false
    /// Recent failed commits and the write calls (tickets) they covered.
    private var failures: [(tickets: ClosedRange<UInt64>, error: StoreError)] = []

    public static let maxTagBytes = 256
    public static let maxMetricBytes = 256
    /// Timestamps are Unix nanoseconds within years 1970 to about 2262.
    public static let timestampRange: ClosedRange<Int64> = 0...Int64.max / 2
    public static let defaultRollupResolutions: [Int64] = [60_000_000_000, 3_600_000_000_000]

    static let migrations: [SQLiteDatabase.Migration] = [
        .init(version: 1, sql: """
            CREATE TABLE series (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, metric TEXT NOT NULL, tags TEXT NOT NULL);
            CREATE INDEX series_metric ON series (metric);
            CREATE TABLE chunks (series_id INTEGER NOT NULL, start_ts INTEGER NOT NULL, end_ts INTEGER NOT NULL,
                                 count INTEGER NOT NULL, data BLOB NOT NULL);
            CREATE INDEX chunks_range ON chunks (series_id, start_ts);
            """),
        .init(version: 2, sql: """
            CREATE TABLE rollups (series_id INTEGER NOT NULL, resolution INTEGER NOT NULL, bucket INTEGER NOT NULL,
                                  count INTEGER NOT NULL, sum REAL NOT NULL, min REAL NOT NULL, max REAL NOT NULL,
                                  first_ts INTEGER NOT NULL, first REAL NOT NULL, last_ts INTEGER NOT NULL, last REAL NOT NULL,
                                  PRIMARY KEY (series_id, resolution, bucket)) WITHOUT ROWID;
            CREATE TABLE rollup_resolutions (resolution INTEGER PRIMARY KEY);
            """),
        // Chunks clustered by (series, start): a range query reads one series' chunks from adjacent
        // leaf pages instead of one rowid lookup per chunk. `seq` orders chunks by commit.
        .init(version: 3, sql: """
            CREATE TABLE chunks_by_series (series_id INTEGER NOT NULL, start_ts INTEGER NOT NULL, seq INTEGER NOT NULL,
                                           end_ts INTEGER NOT NULL, count INTEGER NOT NULL, data BLOB NOT NULL,
                                           PRIMARY KEY (series_id, start_ts, seq)) WITHOUT ROWID;
            INSERT INTO chunks_by_series SELECT series_id, start_ts, rowid, end_ts, count, data FROM chunks;
            DROP TABLE chunks;
            ALTER TABLE chunks_by_series RENAME TO chunks;
            """),
        // Idempotent writes (`write(_:mark:)`): the last sequence number each writer applied.
        .init(version: 4, sql: """
            CREATE TABLE write_marks (owner TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;
            """),
    ]

    /// Opens (creating if needed). A resolution not kept before is built from the raw chunks now; one
    /// no longer configured is dropped.
    public init(path: String, rollupResolutions: [Int64] = SQLiteTimeSeriesStore.defaultRollupResolutions,
                queryCacheBytes: Int = 16 << 20) throws(SQLiteError) {
        self.rollupResolutions = Array(Set(rollupResolutions.filter { $0 > 0 })).sorted()
        queryCache = QueryResultCache(capacityBytes: queryCacheBytes)
        database = try SQLiteDatabase(path: path, migrations: Self.migrations)
        do {
            nextChunkSeq = try database.write { connection in
                let last = try connection.statement("SELECT coalesce(max(seq), 0) + 1 FROM chunks")
                return try last.step() ? last.int64(0) : 1
            }
            try syncRollupResolutions()
        } catch let error as SQLiteError {
            throw error
        } catch {
            throw SQLiteError(code: -1, message: "cannot prepare rollups of \(path): \(error)", sql: nil)
        }
    }

    /// The canonical name of a series: `metric{a=1,b=2}` with tags sorted.
    static func seriesKey(_ metric: String, _ tags: [String: String]) -> String {
        metric + "{" + tags.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",") + "}"
    }

    /// Checks a series' metric and tags (once per distinct series in a write).
    static func check(_ identity: SeriesIdentity) throws(StoreError) {
        let metric = identity.metric
        if metric.isEmpty { throw StoreError(code: .invalid, message: "metric name is empty") }
        if metric.utf8.count > maxMetricBytes { throw StoreError(code: .invalid, message: "metric name is longer than \(maxMetricBytes) bytes") }
        if identity.tags.count > StoreLimits.maxTags {
            throw StoreError(code: .invalid, message: "'\(metric)' has \(identity.tags.count) tags (at most \(StoreLimits.maxTags))")
        }
        for (name, value) in identity.tags {
            if name.isEmpty || name.utf8.count > maxTagBytes || value.utf8.count > maxTagBytes {
                throw StoreError(code: .invalid, message: "tag '\(name.prefix(40))' of '\(metric)' must have a 1-\(maxTagBytes) byte name and a value of at most \(maxTagBytes) bytes")
            }
            if name.utf8.contains(where: { $0 == UInt8(ascii: "=") || $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "{") || $0 == UInt8(ascii: "}") }) {
                throw StoreError(code: .invalid, message: "tag name '\(name)' may not contain = , { or }")
            }
        }
    }

    @inline(__always)
    static func check(_ value: Double, _ timestampNs: Int64, of metric: String) throws(StoreError) {
        guard value.isFinite else { throw StoreError(code: .invalid, message: "value \(value) of '\(metric)' is not finite") }
        guard timestampRange.contains(timestampNs) else {
            throw StoreError(code: .invalid, message: "timestamp \(timestampNs) of '\(metric)' is out of range (Unix ns, 1970-2262)")
        }
    }

    public func write(_ point: TimeSeriesPoint) throws(StoreError) {
        try write([point])
    }

    /// Writes points durably; concurrent callers share one transaction (group commit). Throws if the
    /// transaction holding this call's points failed. A batch with one bad point writes nothing.
    public func write(_ points: [TimeSeriesPoint]) throws(StoreError) {
        if points.isEmpty { return }
        let batches = try Self.group(points)
        condition.lock()
        defer { condition.unlock() }
        pending.append(contentsOf: batches)
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

    /// Writes points at most once per (owner, sequence): in the transaction that stores them, the
    /// owner's mark is raised to `sequence`; if it already was at or past it, nothing is written and
    /// this returns false. Pipelines use it to re-apply outputs after a crash without doubling them.
    /// Not group-committed (callers write large batches rarely).
    @discardableResult
    public func write(_ points: [TimeSeriesPoint], owner: String, sequence: UInt64) throws(StoreError) -> Bool {
        let batches = try Self.group(points)
        condition.lock()
        defer { condition.unlock() }
        while committing { condition.wait() }
        committing = true
        condition.unlock()
        let outcome = commit(batches, mark: (owner, sequence))
        condition.lock()
        committing = false
        condition.broadcast()
        switch outcome {
        case .failure(let error): throw error
        case .success(let applied): return applied
        }
    }

    /// Splits a write by series, validating each series once and every point's value and time.
    static func group(_ points: [TimeSeriesPoint]) throws(StoreError) -> [SeriesBatch] {
        var positions: [SeriesIdentity: Int] = [:]
        var batches: [SeriesBatch] = []
        for point in points {
            try check(point.value, point.timestampNs, of: point.metric)
            let identity = SeriesIdentity(metric: point.metric, tags: point.tags)
            if let position = positions[identity] {
                batches[position].append(point.timestampNs, point.value)
            } else {
                try check(identity)
                positions[identity] = batches.count
                var batch = SeriesBatch(identity: identity)
                batch.append(point.timestampNs, point.value)
                batches.append(batch)
            }
        }
        return batches
    }

    /// Inserts one chunk per series and updates its rollups, in one transaction. Returns the error, if any.
    private func commit(_ batches: [SeriesBatch]) -> StoreError? {
        if case .failure(let error) = commit(batches, mark: nil) { return error }
        return nil
    }

    /// Commits `batches`, first checking and raising `mark` if given; `.success(false)` when the
    /// mark shows this write was applied before.
    private func commit(_ batches: [SeriesBatch], mark: (owner: String, sequence: UInt64)?) -> Result<Bool, StoreError> {
        var merged: [SeriesIdentity: Int] = [:]
        var series: [SeriesBatch] = []
        for batch in batches {
            if let position = merged[batch.identity] {
                series[position].append(contentsOf: batch)
            } else {
                merged[batch.identity] = series.count
                series.append(batch)
            }
        }
        do {
            let applied = try database.write { connection -> Bool in
                if let mark {
                    let find = try connection.statement("SELECT seq FROM write_marks WHERE owner = ?1")
                    try find.bind(1, mark.owner)
                    if try find.step(), UInt64(bitPattern: find.int64(0)) >= mark.sequence { return false }
                    let raise = try connection.statement("""
                        INSERT INTO write_marks (owner, seq) VALUES (?1, ?2) ON CONFLICT (owner) DO UPDATE SET seq = excluded.seq
                        """)
                    try raise.bind(1, mark.owner)
                    try raise.bind(2, Int64(bitPattern: mark.sequence))
                    try raise.run()
                }
                for var batch in series {
                    let id = try seriesID(connection, batch.identity)
                    batch.sortByTime()
                    let insert = try connection.statement(slot: 0,
                        "INSERT INTO chunks (series_id, start_ts, seq, end_ts, count, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
                    try insert.bind(1, id)
                    try insert.bind(2, batch.timestamps.first!)
                    try insert.bind(3, nextChunkSeq)
                    try insert.bind(4, batch.timestamps.last!)
                    try insert.bind(5, Int64(batch.timestamps.count))
                    try insert.bind(6, PointChunk.encode(timestamps: batch.timestamps, values: batch.values))
                    try insert.run()
                    nextChunkSeq += 1 // a rolled-back transaction leaves a gap, never a repeat
                    for resolution in rollupResolutions {
                        try addRollups(connection, seriesID: id, resolution: resolution, batch.timestamps, batch.values)
                    }
                }
                return true
            }
            // Committed: cached query results of these metrics are outdated from now on.
            if applied { queryCache.invalidate(metrics: series.map(\.identity.metric)) }
            return .success(applied)
        } catch {
            seriesIDs.removeAll() // ids created in a rolled-back transaction are gone
            return .failure(StoreError(code: .invalid, message: "time-series write failed: \(error)"))
        }
    }

    private func seriesID(_ connection: SQLiteConnection, _ identity: SeriesIdentity) throws -> Int64 {
        if let id = seriesIDs[identity] { return id }
        let key = Self.seriesKey(identity.metric, identity.tags)
        let find = try connection.statement("SELECT id FROM series WHERE key = ?1")
        try find.bind(1, key)
        if try find.step() {
            let id = find.int64(0)
            seriesIDs[identity] = id
            return id
        }
        let insert = try connection.statement("INSERT INTO series (key, metric, tags) VALUES (?1, ?2, ?3)")
        try insert.bind(1, key)
        try insert.bind(2, identity.metric)
        let tagsJSON = String(decoding: try JSONEncoder().encode(identity.tags), as: UTF8.self)
        try insert.bind(3, tagsJSON)
        try insert.run()
        let id = sqlite3_last_insert_id(connection)
        seriesIDs[identity] = id
        return id
    }

    // MARK: Rollups

    /// Folds time-sorted points into the rollup rows of one resolution (one upsert per bucket).
    private func addRollups(_ connection: SQLiteConnection, seriesID: Int64, resolution: Int64,
                            _ timestamps: [Int64], _ values: [Double]) throws {
        var index = 0
        while index < timestamps.count {
            let bucket = timestamps[index] - timestamps[index] % resolution
            var state = BucketState()
            while index < timestamps.count && timestamps[index] - bucket < resolution {
                state.add(timestamps[index], values[index])
                index += 1
            }
            try upsertRollup(connection, seriesID: seriesID, resolution: resolution, bucket: bucket, state)
        }
    }

    private func upsertRollup(_ connection: SQLiteConnection, seriesID: Int64, resolution: Int64, bucket: Int64, _ state: BucketState) throws {
        // In an upsert's SET every right-hand side sees the row as it was, so the order does not matter.
        let upsert = try connection.statement(slot: 1, """
            INSERT INTO rollups (series_id, resolution, bucket, count, sum, min, max, first_ts, first, last_ts, last)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
            ON CONFLICT (series_id, resolution, bucket) DO UPDATE SET
                count = count + excluded.count, sum = sum + excluded.sum,
                min = min(min, excluded.min), max = max(max, excluded.max),
                first = CASE WHEN excluded.first_ts < first_ts THEN excluded.first ELSE first END,
                first_ts = min(first_ts, excluded.first_ts),
                last = CASE WHEN excluded.last_ts >= last_ts THEN excluded.last ELSE last END,
                last_ts = max(last_ts, excluded.last_ts)
            """)
        try upsert.bind(1, seriesID)
        try upsert.bind(2, resolution)
        try upsert.bind(3, bucket)
        try upsert.bind(4, Int64(state.count))
        try upsert.bind(5, state.sum)
        try upsert.bind(6, state.min)
        try upsert.bind(7, state.max)
        try upsert.bind(8, state.firstTime)
        try upsert.bind(9, state.first)
        try upsert.bind(10, state.lastTime)
        try upsert.bind(11, state.last)
        try upsert.run()
    }

    /// Makes the stored rollups match `rollupResolutions`: builds new ones from every raw chunk (in
    /// chunk order, the order writes committed), drops ones no longer configured.
    private func syncRollupResolutions() throws {
        try database.write { connection in
            let list = try connection.statement("SELECT resolution FROM rollup_resolutions")
            var existing = Set<Int64>()
            while try list.step() { existing.insert(list.int64(0)) }
            for gone in existing.subtracting(rollupResolutions) {
                let drop = try connection.statement("DELETE FROM rollups WHERE resolution = ?1")
                try drop.bind(1, gone)
                try drop.run()
                let forget = try connection.statement("DELETE FROM rollup_resolutions WHERE resolution = ?1")
                try forget.bind(1, gone)
                try forget.run()
            }
            let added = rollupResolutions.filter { !existing.contains($0) }
            guard !added.isEmpty else { return }
            let chunks = try connection.statement("SELECT series_id, data FROM chunks ORDER BY seq")
            var decoded: [(Int64, [Int64], [Double])] = []
            while try chunks.step() {
                var timestamps: [Int64] = [], values: [Double] = []
                let ok = chunks.withBlob(1) { PointChunk.decode($0) { timestamps.append($0); values.append($1) } }
                guard ok else { throw StoreError(code: .invalid, message: "a stored chunk is corrupt; cannot build rollups") }
                decoded.append((chunks.int64(0), timestamps, values))
            }
            for resolution in added {
                for (series, timestamps, values) in decoded {
                    try addRollups(connection, seriesID: series, resolution: resolution, timestamps, values)
                }
                let remember = try connection.statement("INSERT INTO rollup_resolutions (resolution) VALUES (?1)")
                try remember.bind(1, resolution)
                try remember.run()
            }
        }
    }

    /// Which data answers `query`: the coarsest rollup whose resolution divides the range's start,
    /// end and step (so every query bucket is a whole number of rollup buckets), else raw points.
    public func plan(for query: SeriesQuery) -> Int64? {
        guard query.allowRollups else { return nil }
        return rollupResolutions.last { query.from % $0 == 0 && query.to % $0 == 0 && query.step % $0 == 0 }
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
    /// straddles the limit is kept whole until all of it is old), and the rollup buckets that end
    /// before the limit. Returns the number of chunks removed.
    @discardableResult
    public func enforceRetention(_ policies: [RetentionPolicy], nowNs: Int64) throws(StoreError) -> Int {
        guard !policies.isEmpty else { return 0 }
        // Whatever happens below, cached results may cover removed points.
        defer { queryCache.invalidateAll() }
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
                    // Rollup buckets go once all of their span is past the limit, like chunks.
                    let rollups = try connection.statement("DELETE FROM rollups WHERE series_id = ?1 AND bucket + resolution <= ?2")
                    try rollups.bind(1, id)
                    try rollups.bind(2, cutoff)
                    try rollups.run()
                }
                return removed
            }
        } catch {
            throw StoreError(code: .invalid, message: "time-series retention failed: \(error)")
        }
    }

    /// Every stored point of a metric (all series), in time order per series. For tests and small exports.
    public func points(metric: String) -> [TimeSeriesPoint] {
        (try? database.read { connection -> [TimeSeriesPoint] in
            let statement = try connection.statement("""
                SELECT s.metric, s.tags, c.data FROM chunks c JOIN series s ON s.id = c.series_id
                WHERE s.metric = ?1 ORDER BY s.key, c.start_ts, c.seq
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
