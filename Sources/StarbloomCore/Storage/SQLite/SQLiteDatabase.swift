import CSQLite
import Foundation

/// A SQLite database in WAL mode: one writer connection used under a lock (the single writer
/// executor), and a small pool of read-only connections so reads run concurrently with the writer
/// and each other. Schema changes are numbered migrations recorded in `PRAGMA user_version`.
///
/// `@unchecked Sendable`: the writer is used only under `writerLock`; each reader is used by one
/// thread at a time, handed out under `readersLock`.
public final class SQLiteDatabase: @unchecked Sendable {
    public let path: String
    private let writer: SQLiteConnection
    private let writerLock = NSLock()
    private var readers: [SQLiteConnection] = []
    private let readersLock = NSCondition()
    private var readersCreated = 0
    private let maxReaders: Int
    private let checkpointer: WALCheckpointer

    /// One schema step: applied once, in order, inside a transaction.
    public struct Migration: Sendable {
        public let version: Int32
        public let sql: String
        public init(version: Int32, sql: String) {
            self.version = version
            self.sql = sql
        }
    }

    /// Opens (creating if needed) and migrates. `synchronous` FULL makes every commit durable
    /// against power loss; NORMAL against process crashes only.
    public init(path: String, migrations: [Migration], synchronousFull: Bool = true, maxReaders: Int = 4) throws(SQLiteError) {
        self.path = path
        self.maxReaders = maxReaders
        writer = try SQLiteConnection(path: path, readOnly: false)
        do throws(SQLiteError) {
            // The first statement that reads the file tells whether it is a database at all.
            try writer.execute("PRAGMA journal_mode=WAL")
            try writer.execute("PRAGMA synchronous=\(synchronousFull ? "FULL" : "NORMAL"); PRAGMA foreign_keys=ON")
            let current = try writer.userVersion
            writer.releaseStatements() // a pending statement would make DROP TABLE fail with "table is locked"
            for migration in migrations.sorted(by: { $0.version < $1.version }) where migration.version > current {
                try writer.execute("BEGIN IMMEDIATE")
                do {
                    try writer.execute(migration.sql)
                    try writer.execute("PRAGMA user_version = \(migration.version)")
                    try writer.execute("COMMIT")
                } catch {
                    try? writer.execute("ROLLBACK")
                    throw error
                }
            }
        } catch {
            throw SQLiteError(code: error.code, message: "cannot open \(path): \(error.message)", sql: error.sql)
        }
        checkpointer = try WALCheckpointer(path: path)
        checkpointer.attach(to: writer)
    }

    deinit {
        sqlite3_wal_hook(writer.handle, nil, nil)
        checkpointer.stop()
    }

    /// Runs `body` with the writer connection inside one transaction.
    func write<T>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        writerLock.lock()
        defer {
            writer.releaseStatements()
            writerLock.unlock()
        }
        return try writer.transaction { try body(writer) }
    }

    /// Runs `body` with a reader connection (a consistent snapshot for the statements it runs).
    func read<T>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        let connection = try checkOutReader()
        defer {
            connection.releaseStatements() // an idle connection must not pin a snapshot (it would stall checkpoints)
            checkIn(connection)
        }
        return try body(connection)
    }

    private func checkOutReader() throws(SQLiteError) -> SQLiteConnection {
        readersLock.lock()
        defer { readersLock.unlock() }
        while true {
            if let connection = readers.popLast() { return connection }
            if readersCreated < maxReaders {
                readersCreated += 1
                do {
                    return try SQLiteConnection(path: path, readOnly: true)
                } catch {
                    readersCreated -= 1
                    throw error
                }
            }
            readersLock.wait()
        }
    }

    private func checkIn(_ connection: SQLiteConnection) {
        readersLock.lock()
        readers.append(connection)
        readersLock.signal()
        readersLock.unlock()
    }
}
