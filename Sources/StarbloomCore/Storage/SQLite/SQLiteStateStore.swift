import Foundation

/// Key-value entries and checkpoints in one SQLite database (`<data>/state.db`).
///
/// Every write gets a version from one counter kept in the `meta` table and advanced inside the same
/// transaction, so versions never repeat for a key — not even after delete and re-create — and a
/// compare-and-swap cannot be fooled. Entries may carry an expiry (TTL); an expired entry reads as
/// absent and is purged lazily. Writes commit with `synchronous=FULL` before they return.
///
/// `@unchecked Sendable`: `nextVersion` is touched only inside `database.write`, which serializes
/// writers; the database is Sendable.
public final class SQLiteStateStore: KeyValueStore, CheckpointStore, @unchecked Sendable {
    let database: SQLiteDatabase
    private var nextVersion: UInt64 = 1
    /// Reads of entries without a TTL are served from here; every write updates it after commit.
    public let cache: ShardedClockCache<VersionedValue>

    static let migrations: [SQLiteDatabase.Migration] = [
        .init(version: 1, sql: """
            CREATE TABLE kv (
                namespace TEXT NOT NULL,
                key BLOB NOT NULL,
                value BLOB NOT NULL,
                version INTEGER NOT NULL,
                expires_at INTEGER,
                PRIMARY KEY (namespace, key)
            ) WITHOUT ROWID;
            CREATE INDEX kv_expiry ON kv (expires_at) WHERE expires_at IS NOT NULL;
            CREATE TABLE meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
            INSERT INTO meta VALUES ('next_version', 1);
            CREATE TABLE checkpoints (owner TEXT PRIMARY KEY, state BLOB NOT NULL, updated_at INTEGER NOT NULL) WITHOUT ROWID;
            """),
        // API keys (`APIKeyStore`): the secret's SHA-256 only.
        .init(version: 2, sql: """
            CREATE TABLE api_keys (id TEXT PRIMARY KEY, name TEXT NOT NULL, secret_sha256 BLOB NOT NULL, role TEXT NOT NULL,
                                   topics TEXT NOT NULL, rate_per_s REAL NOT NULL, burst INTEGER NOT NULL,
                                   created_at INTEGER NOT NULL, revoked_at INTEGER) WITHOUT ROWID;
            """),
        // Pipelines (`PipelineStore`): definitions made over the API, checkpoints (state and input
        // offsets), and the outbox of outputs committed with them but not yet delivered.
        .init(version: 3, sql: """
            CREATE TABLE pipeline_definitions (name TEXT PRIMARY KEY, definition TEXT NOT NULL, updated_at INTEGER NOT NULL) WITHOUT ROWID;
            CREATE TABLE pipeline_checkpoints (name TEXT PRIMARY KEY, state BLOB NOT NULL, updated_at INTEGER NOT NULL) WITHOUT ROWID;
            CREATE TABLE pipeline_outbox (name TEXT NOT NULL, seq INTEGER NOT NULL, entry BLOB NOT NULL, PRIMARY KEY (name, seq)) WITHOUT ROWID;
            """),
        // Sources' transactional publishing (`PublishTransaction`): the next record sequence number
        // and the transactions whose records may not all be appended yet: "slot:first:size" entries
        // separated by ";", oldest first, each naming the owner's file in `PendingRecordsFiles`.
        .init(version: 4, sql: """
            CREATE TABLE publish_transactions (owner TEXT PRIMARY KEY, next_sequence INTEGER NOT NULL, pending TEXT NOT NULL) WITHOUT ROWID;
            """),
    ]

    private let pendingFiles: PendingRecordsFiles

    public init(path: String, cacheBytes: Int = 64 << 20) throws(SQLiteError) {
        database = try SQLiteDatabase(path: path, migrations: Self.migrations)
        pendingFiles = PendingRecordsFiles(directory: path + "-pending")
        cache = ShardedClockCache(capacityBytes: cacheBytes)
        do {
            nextVersion = try database.write { connection in
                let statement = try connection.statement("SELECT value FROM meta WHERE name = 'next_version'")
                return try statement.step() ? UInt64(statement.int64(0)) : 1
            }
        } catch let error as SQLiteError {
            throw error
        } catch {
            throw SQLiteError(code: -1, message: "\(error)", sql: nil)
        }
    }

    static func nowMs() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    private func checkSizes(_ key: [UInt8], _ value: [UInt8]?) throws(StoreError) {
        if key.count > StoreLimits.maxKeyBytes {
            throw StoreError(code: .tooLarge, message: "key of \(key.count) bytes exceeds \(StoreLimits.maxKeyBytes) bytes")
        }
        if let value, value.count > StoreLimits.maxValueBytes {
            throw StoreError(code: .tooLarge, message: "value of \(value.count) bytes exceeds \(StoreLimits.maxValueBytes) bytes")
        }
    }

    /// Runs a write transaction, mapping SQLite failures to `StoreError`. `body` gets a version
    /// allocator; versions it takes are kept only if the transaction commits.
    func write<T>(_ body: (SQLiteConnection, () -> UInt64) throws -> T) throws(StoreError) -> T {
        do {
            return try database.write { connection in
                var next = nextVersion
                let result = try body(connection) {
                    defer { next += 1 }
                    return next
                }
                if next != nextVersion {
                    let statement = try connection.statement("UPDATE meta SET value = ?1 WHERE name = 'next_version'")
                    try statement.bind(1, Int64(next))
                    try statement.run()
                }
                nextVersion = next // runs before COMMIT; a failed COMMIT leaves a gap in versions, never a repeat
                return result
            }
        } catch let error as StoreError {
            throw error
        } catch let abort as BatchAbort {
            throw abort.error
        } catch {
            throw StoreError(code: .invalid, message: "storage failure: \(error)")
        }
    }

    /// Thrown inside a batch to roll the whole transaction back with this error.
    private struct BatchAbort: Error { let error: StoreError }

    /// The live entry of a key inside a write transaction (expired entries count as absent).
    private func current(_ connection: SQLiteConnection, _ namespace: String, _ key: [UInt8]) throws -> VersionedValue? {
        let statement = try connection.statement(
            "SELECT value, version FROM kv WHERE namespace = ?1 AND key = ?2 AND (expires_at IS NULL OR expires_at > ?3)")
        try statement.bind(1, namespace)
        try statement.bind(2, key)
        try statement.bind(3, Self.nowMs())
        guard try statement.step() else { return nil }
        return VersionedValue(value: statement.blob(0), version: UInt64(statement.int64(1)))
    }

    func store(_ connection: SQLiteConnection, _ namespace: String, _ key: [UInt8], _ value: [UInt8],
                       version: UInt64, ttlMs: Int64?) throws {
        let statement = try connection.statement(slot: 0, """
            INSERT INTO kv (namespace, key, value, version, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)
            ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, version = excluded.version, expires_at = excluded.expires_at
            """)
        try statement.bind(1, namespace)
        try statement.bind(2, key)
        try statement.bind(3, value)
        try statement.bind(4, Int64(version))
        if let ttlMs { try statement.bind(5, Self.nowMs() + ttlMs) } else { try statement.bindNull(5) }
        try statement.run()
    }

    // MARK: KeyValueStore

    /// For readiness: nil when a reader connection answers a query on the key-value table, else
    /// what failed (SQLite's message).
    public func probe() -> String? {
        do {
            _ = try database.read { connection -> Bool in
                try connection.statement("SELECT 1 FROM kv LIMIT 1").step()
            }
            return nil
        } catch {
            return "\(error)"
        }
    }

    public func get(namespace: String, key: [UInt8]) -> VersionedValue? {
        let cacheKey = CacheKey(namespace: namespace, key: key)
        let (cached, sequence) = cache.lookup(cacheKey)
        if let cached { return cached }
        var name = namespace
        let found = try? database.read { connection -> (VersionedValue, Bool)? in
            let statement = try connection.statement(slot: 1,
                "SELECT value, version, expires_at IS NOT NULL FROM kv WHERE namespace = ?1 AND key = ?2 AND (expires_at IS NULL OR expires_at > ?3)")
            try statement.bind(3, Self.nowMs())
            // Namespace and key are bound without copies: both outlive the step.
            return try name.withUTF8 { nameBytes in
                try key.withUnsafeBytes { keyBytes in
                    try statement.bindBorrowedText(1, nameBytes)
                    try statement.bindBorrowedBlob(2, keyBytes)
                    guard try statement.step() else { return nil }
                    return (VersionedValue(value: statement.blob(0), version: UInt64(statement.int64(1))), statement.int64(2) != 0)
                }
            }
        }
        guard let (value, expires) = found ?? nil else { return nil }
        if !expires { cache.insert(cacheKey, value, ifSequence: sequence) }
        return value
    }

    /// After a committed write: the key's new entry (nil when deleted or when it has a TTL).
    func wrote(_ namespace: String, _ key: [UInt8], _ value: VersionedValue?) {
        cache.written(CacheKey(namespace: namespace, key: key), value)
    }

    public func put(namespace: String, key: [UInt8], value: [UInt8]) throws(StoreError) -> UInt64 {
        try put(namespace: namespace, key: key, value: value, ttlMs: nil)
    }

    /// Writes unconditionally, optionally expiring after `ttlMs` milliseconds.
    public func put(namespace: String, key: [UInt8], value: [UInt8], ttlMs: Int64?) throws(StoreError) -> UInt64 {
        try checkSizes(key, value)
        if let ttlMs, ttlMs <= 0 { throw StoreError(code: .invalid, message: "ttl must be positive, got \(ttlMs) ms") }
        let version = try write { connection, allocate in
            let version = allocate()
            try store(connection, namespace, key, value, version: version, ttlMs: ttlMs)
            return version
        }
        wrote(namespace, key, ttlMs == nil ? VersionedValue(value: value, version: version) : nil)
        return version
    }

    public func delete(namespace: String, key: [UInt8]) throws(StoreError) {
        try checkSizes(key, nil)
        let existed: Bool = try write { connection, _ in
            let live = try current(connection, namespace, key) != nil
            let statement = try connection.statement("DELETE FROM kv WHERE namespace = ?1 AND key = ?2")
            try statement.bind(1, namespace)
            try statement.bind(2, key)
            try statement.run()
            return live
        }
        wrote(namespace, key, nil)
        if !existed { throw StoreError(code: .notFound, message: "key not found") }
    }

    public func compareAndSwap(namespace: String, key: [UInt8], expectedVersion: UInt64, value: [UInt8]) throws(StoreError) -> UInt64 {
        try checkSizes(key, value)
        let outcome: Result<UInt64, StoreError> = try write { connection, allocate in
            let version = try current(connection, namespace, key)?.version ?? 0
            guard version == expectedVersion else {
                return .failure(StoreError(code: .conflict, message: "version is \(version), expected \(expectedVersion)"))
            }
            let next = allocate()
            try store(connection, namespace, key, value, version: next, ttlMs: nil)
            return .success(next)
        }
        let version = try outcome.get()
        wrote(namespace, key, VersionedValue(value: value, version: version))
        return version
    }

    /// Writes only if the key is absent (or expired). Returns the new version, or nil if it existed.
    public func putIfAbsent(namespace: String, key: [UInt8], value: [UInt8], ttlMs: Int64? = nil) throws(StoreError) -> UInt64? {
        try checkSizes(key, value)
        let version: UInt64? = try write { connection, allocate in
            if try current(connection, namespace, key) != nil { return nil }
            let version = allocate()
            try store(connection, namespace, key, value, version: version, ttlMs: ttlMs)
            return version
        }
        if let version { wrote(namespace, key, ttlMs == nil ? VersionedValue(value: value, version: version) : nil) }
        return version
    }

    /// Adds `delta` to a value holding a decimal integer (absent counts as 0). Returns the new value.
    public func increment(namespace: String, key: [UInt8], by delta: Int64) throws(StoreError) -> (value: Int64, version: UInt64) {
        try checkSizes(key, nil)
        let outcome: Result<(Int64, UInt64), StoreError> = try write { connection, allocate in
            let existing = try current(connection, namespace, key)
            var number: Int64 = 0
            if let existing {
                guard let parsed = Int64(String(decoding: existing.value, as: UTF8.self)) else {
                    return .failure(StoreError(code: .invalid, message: "value is not a decimal integer; cannot increment"))
                }
                number = parsed
            }
            let (sum, overflow) = number.addingReportingOverflow(delta)
            if overflow { return .failure(StoreError(code: .invalid, message: "increment overflows 64 bits")) }
            let version = allocate()
            try store(connection, namespace, key, Array(String(sum).utf8), version: version, ttlMs: nil)
            return .success((sum, version))
        }
        let (sum, version) = try outcome.get()
        wrote(namespace, key, VersionedValue(value: Array(String(sum).utf8), version: version))
        return (sum, version)
    }

    /// One operation of an atomic batch.
    public enum BatchOperation: Sendable {
        case put(key: [UInt8], value: [UInt8])
        case delete(key: [UInt8])
        case compareAndSwap(key: [UInt8], expectedVersion: UInt64, value: [UInt8])
    }

    /// Applies every operation or none: a failed compare-and-swap (or size check) rolls back all.
    public func batch(namespace: String, _ operations: [BatchOperation]) throws(StoreError) -> [UInt64] {
        for operation in operations {
            switch operation {
            case .put(let key, let value), .compareAndSwap(let key, _, let value): try checkSizes(key, value)
            case .delete(let key): try checkSizes(key, nil)
            }
        }
        do {
            let versions = try write { connection, allocate in
                var versions: [UInt64] = []
                for (index, operation) in operations.enumerated() {
                    switch operation {
                    case .put(let key, let value):
                        let version = allocate()
                        try store(connection, namespace, key, value, version: version, ttlMs: nil)
                        versions.append(version)
                    case .delete(let key):
                        let statement = try connection.statement("DELETE FROM kv WHERE namespace = ?1 AND key = ?2")
                        try statement.bind(1, namespace)
                        try statement.bind(2, key)
                        try statement.run()
                        versions.append(0)
                    case .compareAndSwap(let key, let expected, let value):
                        let version = try current(connection, namespace, key)?.version ?? 0
                        guard version == expected else {
                            throw BatchAbort(error: StoreError(code: .conflict, message: "operation \(index): version is \(version), expected \(expected); nothing was applied"))
                        }
                        let next = allocate()
                        try store(connection, namespace, key, value, version: next, ttlMs: nil)
                        versions.append(next)
                    }
                }
                return versions
            }
            for (operation, version) in zip(operations, versions) {
                switch operation {
                case .put(let key, let value), .compareAndSwap(let key, _, let value):
                    wrote(namespace, key, VersionedValue(value: value, version: version))
                case .delete(let key):
                    wrote(namespace, key, nil)
                }
            }
            return versions
        } catch {
            throw error
        }
    }

    public func keys(namespace: String) -> [[UInt8]] {
        (try? list(namespace: namespace, prefix: [], after: nil, limit: Int.max).map(\.key)) ?? []
    }

    /// Live entries whose key starts with `prefix`, in key order, after the cursor `after` (the last
    /// key of the previous page), at most `limit`.
    public func list(namespace: String, prefix: [UInt8], after: [UInt8]?, limit: Int) throws(StoreError) -> [(key: [UInt8], value: VersionedValue)] {
        do {
            return try database.read { connection in
                let statement = try connection.statement("""
                    SELECT key, value, version FROM kv
                    WHERE namespace = ?1 AND key >= ?2 AND (?3 IS NULL OR key > ?3) AND (expires_at IS NULL OR expires_at > ?4)
                    ORDER BY key LIMIT ?5
                    """)
                try statement.bind(1, namespace)
                try statement.bind(2, prefix)
                if let after { try statement.bind(3, after) } else { try statement.bindNull(3) }
                try statement.bind(4, Self.nowMs())
                try statement.bind(5, Int64(min(limit, Int(Int32.max))))
                var result: [(key: [UInt8], value: VersionedValue)] = []
                while try statement.step() {
                    let key = statement.blob(0)
                    guard key.starts(with: prefix) else { break } // past the prefix range
                    result.append((key, VersionedValue(value: statement.blob(1), version: UInt64(statement.int64(2)))))
                }
                return result
            }
        } catch {
            throw StoreError(code: .invalid, message: "storage failure: \(error)")
        }
    }

    /// Deletes expired entries (run periodically; reads already ignore them).
    @discardableResult
    public func purgeExpired() throws(StoreError) -> Int {
        try write { connection, _ in
            let statement = try connection.statement("DELETE FROM kv WHERE expires_at IS NOT NULL AND expires_at <= ?1")
            try statement.bind(1, Self.nowMs())
            try statement.run()
            return Int(sqlite3_changes_count(connection))
        }
    }

    // MARK: CheckpointStore

    public func save(owner: String, state: [UInt8]) throws(StoreError) {
        if state.count > StoreLimits.maxValueBytes {
            throw StoreError(code: .tooLarge, message: "checkpoint of \(state.count) bytes exceeds \(StoreLimits.maxValueBytes) bytes")
        }
        try write { connection, _ in try upsertCheckpoint(connection, owner: owner, state: state) }
    }

    private func upsertCheckpoint(_ connection: SQLiteConnection, owner: String, state: [UInt8]) throws {
        let statement = try connection.statement("""
            INSERT INTO checkpoints (owner, state, updated_at) VALUES (?1, ?2, ?3)
            ON CONFLICT (owner) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at
            """)
        try statement.bind(1, owner)
        try statement.bind(2, state)
        try statement.bind(3, Self.nowMs())
        try statement.run()
    }

    public func load(owner: String) -> [UInt8]? {
        try? database.read { connection in
            let statement = try connection.statement("SELECT state FROM checkpoints WHERE owner = ?1")
            try statement.bind(1, owner)
            return try statement.step() ? statement.blob(0) : nil
        }
    }

    public func save(owner: String, state: [UInt8], nextSequence: UInt64, write: PendingRecords?, pending: [PendingRecords]) throws(StoreError) {
        if state.count > StoreLimits.maxValueBytes {
            throw StoreError(code: .tooLarge, message: "checkpoint of \(state.count) bytes exceeds \(StoreLimits.maxValueBytes) bytes")
        }
        // The records first, durable before the commit that points at them.
        if let write { try pendingFiles.write(owner: owner, slot: write.slot, write.bytes) }
        try self.write { connection, _ in
            try upsertCheckpoint(connection, owner: owner, state: state)
            let record = try connection.statement("""
                INSERT INTO publish_transactions (owner, next_sequence, pending) VALUES (?1, ?2, ?3)
                ON CONFLICT (owner) DO UPDATE SET next_sequence = excluded.next_sequence, pending = excluded.pending
                """)
            try record.bind(1, owner)
            try record.bind(2, Int64(bitPattern: nextSequence))
            try record.bind(3, pending.map { "\($0.slot):\($0.firstSequence):\($0.size)" }.joined(separator: ";"))
            try record.run()
        }
    }

    public func transaction(owner: String) throws(StoreError) -> (nextSequence: UInt64, pending: [PendingRecords])? {
        let row: (next: UInt64, pending: String)?
        do {
            row = try database.read { connection in
                let statement = try connection.statement("SELECT next_sequence, pending FROM publish_transactions WHERE owner = ?1")
                try statement.bind(1, owner)
                guard try statement.step() else { return nil }
                return (UInt64(bitPattern: statement.int64(0)), statement.text(1))
            }
        } catch {
            throw StoreError(code: .invalid, message: "cannot read the publish transaction of '\(owner)': \(error)")
        }
        guard let row else { return nil }
        var pending: [PendingRecords] = []
        for entry in row.pending.split(separator: ";") {
            let parts = entry.split(separator: ":")
            guard parts.count == 3, let slot = Int(parts[0]), let first = UInt64(parts[1]), let size = Int(parts[2]) else {
                throw StoreError(code: .invalid, message: "the publish transaction of '\(owner)' is damaged: '\(row.pending)'")
            }
            // Unreadable or overwritten: empty (`PublishTransaction.recover` decides what that means).
            let bytes = (try? pendingFiles.read(owner: owner, slot: slot, size: size)) ?? []
            pending.append(PendingRecords(slot: slot, firstSequence: first, size: size, bytes: bytes))
        }
        return (row.next, pending)
    }

    public func clearPending(owner: String) throws(StoreError) {
        try write { connection, _ in
            let statement = try connection.statement("UPDATE publish_transactions SET pending = '' WHERE owner = ?1")
            try statement.bind(1, owner)
            try statement.run()
        }
    }
}

import CSQLite

@inline(__always)
func sqlite3_changes_count(_ connection: SQLiteConnection) -> Int32 { sqlite3_changes(connection.handle) }
