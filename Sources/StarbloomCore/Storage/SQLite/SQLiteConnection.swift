import CSQLite
import Foundation

/// One SQLite connection with its prepared-statement cache. Not thread-safe: each connection is used
/// by one thread at a time (the `SQLiteDatabase` pool hands them out).
final class SQLiteConnection {
    let handle: OpaquePointer
    let path: String
    private var statements: [String: SQLiteStatement] = [:]

    /// "unix-excl": the process takes an exclusive lock on the database file once and keeps it, and
    /// the WAL index lives in heap memory. Connections in this process share the database as usual,
    /// but a read no longer costs fcntl lock and unlock calls (a third of an uncached get). Only one
    /// host process uses a data directory anyway (the queue's LOCK file); other processes, such as the
    /// sqlite3 shell, can open these files only while the host is stopped.
    static let vfs = "unix-excl"

    init(path: String, readOnly: Bool) throws(SQLiteError) {
        var db: OpaquePointer?
        let flags = (readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)) | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, Self.vfs)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close_v2(db)
            throw SQLiteError(code: rc, message: "\(message) (\(path))", sql: nil)
        }
        handle = db
        self.path = path
        sqlite3_busy_timeout(db, 5_000)
        // Reads through a memory map instead of read() calls, and a 16 MiB page cache per connection
        // (the default 2 MiB thrashes once the key-value table outgrows it).
        sqlite3_exec(db, "PRAGMA mmap_size=268435456; PRAGMA cache_size=-16384", nil, nil, nil)
    }

    deinit {
        statementsBySlot.removeAll()
        statements.removeAll()
        sqlite3_close_v2(handle)
    }

    var lastMessage: String { String(cString: sqlite3_errmsg(handle)) }

    /// Runs SQL without results (several statements allowed).
    func execute(_ sql: String) throws(SQLiteError) {
        var error: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &error)
        if rc != SQLITE_OK {
            let message = error.map { String(cString: $0) } ?? lastMessage
            sqlite3_free(error)
            throw SQLiteError(code: rc, message: message, sql: sql)
        }
    }

    private var statementsBySlot: [SQLiteStatement?] = []
    /// Statements handed out since the last `releaseStatements()`.
    private var inUse: [SQLiteStatement] = []

    /// Resets every statement handed out, ending the read snapshot an unfinished SELECT holds.
    func releaseStatements() {
        for statement in inUse { sqlite3_reset(statement.raw) }
        inUse.removeAll(keepingCapacity: true)
    }

    /// A prepared statement cached by a small integer chosen by the caller (hot paths: no hashing of
    /// the SQL text per call). `sql` must always be the same for a slot.
    func statement(slot: Int, _ sql: String) throws(SQLiteError) -> SQLiteStatement {
        if slot < statementsBySlot.count, let cached = statementsBySlot[slot] {
            cached.reset()
            inUse.append(cached)
            return cached
        }
        let statement = try statement(sql)
        if slot >= statementsBySlot.count { statementsBySlot += [SQLiteStatement?](repeating: nil, count: slot - statementsBySlot.count + 1) }
        statementsBySlot[slot] = statement
        return statement
    }

    /// A cached prepared statement, reset (bind every parameter: earlier bindings stay).
    func statement(_ sql: String) throws(SQLiteError) -> SQLiteStatement {
        if let cached = statements[sql] {
            cached.reset()
            inUse.append(cached)
            return cached
        }
        var raw: OpaquePointer?
        let rc = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &raw, nil)
        guard rc == SQLITE_OK, let raw else { throw SQLiteError(code: rc, message: lastMessage, sql: sql) }
        let statement = SQLiteStatement(raw, sql: sql, connection: self)
        statements[sql] = statement
        inUse.append(statement)
        return statement
    }

    /// Runs `body` in a transaction (BEGIN IMMEDIATE: writers serialize up front, no upgrade deadlock).
    func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    var userVersion: Int32 {
        get throws(SQLiteError) {
            let statement = try statement("PRAGMA user_version")
            guard try statement.step() else { return 0 }
            return Int32(statement.int64(0))
        }
    }
}

/// A prepared statement. Finalized when released (by its connection's cache).
final class SQLiteStatement {
    let raw: OpaquePointer
    let sql: String
    unowned let connection: SQLiteConnection

    init(_ raw: OpaquePointer, sql: String, connection: SQLiteConnection) {
        self.raw = raw
        self.sql = sql
        self.connection = connection
    }

    deinit { sqlite3_finalize(raw) }

    /// Ready for new bindings. Bindings are not cleared: every caller binds every parameter.
    func reset() {
        sqlite3_reset(raw)
    }

    private func check(_ rc: Int32) throws(SQLiteError) {
        if rc != SQLITE_OK { throw SQLiteError(code: rc, message: connection.lastMessage, sql: sql) }
    }

    func bind(_ index: Int32, _ value: Int64) throws(SQLiteError) { try check(sqlite3_bind_int64(raw, index, value)) }
    func bind(_ index: Int32, _ value: Double) throws(SQLiteError) { try check(sqlite3_bind_double(raw, index, value)) }
    func bind(_ index: Int32, _ value: String) throws(SQLiteError) {
        try check(sqlite3_bind_text(raw, index, value, -1, sb_sqlite_transient()))
    }
    func bind(_ index: Int32, _ bytes: [UInt8]) throws(SQLiteError) {
        try check(bytes.withUnsafeBytes { sqlite3_bind_blob(raw, index, $0.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32($0.count), sb_sqlite_transient()) })
    }
    func bindNull(_ index: Int32) throws(SQLiteError) { try check(sqlite3_bind_null(raw, index)) }

    /// Binds without copying (SQLITE_STATIC): `bytes` must stay valid until the statement has been
    /// stepped for the last time with this binding. For hot reads whose key lives across the call.
    func bindBorrowedText(_ index: Int32, _ bytes: UnsafeBufferPointer<UInt8>) throws(SQLiteError) {
        // An empty string still needs a non-null pointer (NULL would bind SQL NULL).
        let base = UnsafeRawPointer(bytes.baseAddress ?? UnsafePointer(bitPattern: 1)!).assumingMemoryBound(to: CChar.self)
        try check(sqlite3_bind_text(raw, index, base, Int32(bytes.count), nil))
    }

    func bindBorrowedBlob(_ index: Int32, _ bytes: UnsafeRawBufferPointer) throws(SQLiteError) {
        try check(sqlite3_bind_blob(raw, index, bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(bytes.count), nil))
    }

    /// Steps once: true when a row is available, false when done.
    func step() throws(SQLiteError) -> Bool {
        let rc = sqlite3_step(raw)
        if rc == SQLITE_ROW { return true }
        if rc == SQLITE_DONE { return false }
        throw SQLiteError(code: rc, message: connection.lastMessage, sql: sql)
    }

    /// Steps to completion (statements without rows).
    func run() throws(SQLiteError) {
        while try step() {}
    }

    func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(raw, column) }
    func double(_ column: Int32) -> Double { sqlite3_column_double(raw, column) }
    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(raw, column) == SQLITE_NULL }
    func text(_ column: Int32) -> String {
        guard let pointer = sqlite3_column_text(raw, column) else { return "" }
        return String(cString: pointer)
    }
    /// Lends a column's bytes without copying them; valid only inside `body`.
    @inline(__always)
    func withBlob<T>(_ column: Int32, _ body: (UnsafeRawBufferPointer) -> T) -> T {
        let count = Int(sqlite3_column_bytes(raw, column))
        guard count > 0, let pointer = sqlite3_column_blob(raw, column) else { return body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        return body(UnsafeRawBufferPointer(start: pointer, count: count))
    }

    func blob(_ column: Int32) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(raw, column))
        guard count > 0, let pointer = sqlite3_column_blob(raw, column) else { return [] }
        return [UInt8](UnsafeRawBufferPointer(start: pointer, count: count))
    }
}
