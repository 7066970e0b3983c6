import CSQLite
import Foundation

/// Moves WAL checkpoints off the commit path.
///
/// SQLite's default runs a checkpoint inside the commit that pushes the WAL past 1,000 pages, so
/// one writer in a few pays for copying every page back to the database file and its fsync; under
/// a steady stream of batches that halves throughput. Here the writer's automatic checkpoint is off
/// and its WAL hook only counts pages: past `softLimitPages` it wakes this thread, which runs PASSIVE
/// checkpoints on its own connection while writers go on. If checkpoints cannot keep up (or readers
/// pin old snapshots) and the WAL passes `hardLimitPages`, the committing writer checkpoints
/// inline, as SQLite would, so the WAL stays bounded.
final class WALCheckpointer: @unchecked Sendable { // state under `condition`; the connection only on the thread
    let softLimitPages: Int32
    let hardLimitPages: Int32
    private let connection: SQLiteConnection
    private let condition = NSCondition()
    private var requested = false
    private var stopping = false
    private var stopped = false
    private(set) var checkpoints = 0

    init(path: String, softLimitPages: Int32 = 1_000, hardLimitPages: Int32 = 64_000) throws(SQLiteError) {
        self.softLimitPages = softLimitPages
        self.hardLimitPages = hardLimitPages
        connection = try SQLiteConnection(path: path, readOnly: false)
        let thread = Thread { [self] in loop() }
        thread.name = "sqlite-checkpoint"
        thread.start()
    }

    /// Installs the hook on the writer connection. The hook runs on the writer's thread after each
    /// commit, with the WAL's size in pages.
    func attach(to writer: SQLiteConnection) {
        sqlite3_wal_autocheckpoint(writer.handle, 0)
        sqlite3_wal_hook(writer.handle, { context, db, _, pages in
            let checkpointer = Unmanaged<WALCheckpointer>.fromOpaque(context!).takeUnretainedValue()
            if pages >= checkpointer.hardLimitPages {
                _ = sqlite3_wal_checkpoint_v2(db, nil, SQLITE_CHECKPOINT_PASSIVE, nil, nil) // BUSY: try again next commit
                return SQLITE_OK
            }
            if pages >= checkpointer.softLimitPages { checkpointer.request() }
            return SQLITE_OK
        }, Unmanaged.passUnretained(self).toOpaque())
    }

    func request() {
        condition.lock()
        requested = true
        condition.signal()
        condition.unlock()
    }

    private func loop() {
        condition.lock()
        while !stopping {
            if !requested {
                condition.wait()
                continue
            }
            requested = false
            condition.unlock()
            // BUSY (another checkpoint or a reader in the way) is harmless: the next commit asks again.
            _ = sqlite3_wal_checkpoint_v2(connection.handle, nil, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
            condition.lock()
            checkpoints += 1
        }
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    /// Stops the thread (after a checkpoint in progress). The writer must be detached first.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while !stopped { condition.wait() }
        condition.unlock()
    }
}
