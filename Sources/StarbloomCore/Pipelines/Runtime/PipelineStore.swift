/// Where pipelines keep what must survive a crash, in `state.db` beside the key-value entries so
/// that one transaction covers a checkpoint (step state and input offsets), the outputs it
/// produced (the outbox) and key-value outputs — which makes them atomic together.
final class PipelineStore: Sendable {
    let state: SQLiteStateStore

    init(_ state: SQLiteStateStore) {
        self.state = state
    }

    // MARK: Definitions made at runtime

    func definitions() throws(StoreError) -> [(name: String, definition: String)] {
        do {
            return try state.database.read { connection in
                let statement = try connection.statement("SELECT name, definition FROM pipeline_definitions ORDER BY name")
                var result: [(String, String)] = []
                while try statement.step() { result.append((statement.text(0), statement.text(1))) }
                return result
            }
        } catch {
            throw StoreError(code: .invalid, message: "cannot read pipeline definitions: \(error)")
        }
    }

    func saveDefinition(name: String, definition: String) throws(StoreError) {
        try state.write { connection, _ in
            let statement = try connection.statement("""
                INSERT INTO pipeline_definitions (name, definition, updated_at) VALUES (?1, ?2, ?3)
                ON CONFLICT (name) DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at
                """)
            try statement.bind(1, name)
            try statement.bind(2, definition)
            try statement.bind(3, SQLiteStateStore.nowMs())
            try statement.run()
        }
    }

    /// Forgets a pipeline: its stored definition, checkpoint and undelivered outputs.
    func delete(name: String) throws(StoreError) {
        try state.write { connection, _ in
            for table in ["pipeline_definitions", "pipeline_checkpoints", "pipeline_outbox"] {
                let statement = try connection.statement("DELETE FROM \(table) WHERE name = ?1")
                try statement.bind(1, name)
                try statement.run()
            }
        }
    }

    // MARK: Checkpoints and outbox

    func checkpoint(name: String) throws(StoreError) -> [UInt8]? {
        do {
            return try state.database.read { connection in
                let statement = try connection.statement("SELECT state FROM pipeline_checkpoints WHERE name = ?1")
                try statement.bind(1, name)
                return try statement.step() ? statement.blob(0) : nil
            }
        } catch {
            throw StoreError(code: .invalid, message: "cannot read the checkpoint of pipeline '\(name)': \(error)")
        }
    }

    func outbox(name: String) throws(StoreError) -> [(sequence: UInt64, entry: [UInt8])] {
        do {
            return try state.database.read { connection in
                let statement = try connection.statement("SELECT seq, entry FROM pipeline_outbox WHERE name = ?1 ORDER BY seq")
                try statement.bind(1, name)
                var result: [(UInt64, [UInt8])] = []
                while try statement.step() { result.append((UInt64(bitPattern: statement.int64(0)), statement.blob(1))) }
                return result
            }
        } catch {
            throw StoreError(code: .invalid, message: "cannot read the outbox of pipeline '\(name)': \(error)")
        }
    }

    struct KeyValueWrite {
        var namespace: String
        var key: [UInt8]
        var value: [UInt8]
    }

    /// One transaction: the new checkpoint, new outbox entries, key-value outputs, and the removal of
    /// outbox entries up to `delivered` (delivered after an earlier checkpoint).
    func commit(name: String, checkpoint: [UInt8], outbox: [(sequence: UInt64, entry: [UInt8])],
                keyValues: [KeyValueWrite], delivered: UInt64?) throws(StoreError) {
        var versions: [UInt64] = []
        try state.write { connection, allocate in
            let save = try connection.statement("""
                INSERT INTO pipeline_checkpoints (name, state, updated_at) VALUES (?1, ?2, ?3)
                ON CONFLICT (name) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at
                """)
            try save.bind(1, name)
            try save.bind(2, checkpoint)
            try save.bind(3, SQLiteStateStore.nowMs())
            try save.run()
            if let delivered {
                let remove = try connection.statement("DELETE FROM pipeline_outbox WHERE name = ?1 AND seq <= ?2")
                try remove.bind(1, name)
                try remove.bind(2, Int64(bitPattern: delivered))
                try remove.run()
            }
            let insert = try connection.statement("INSERT INTO pipeline_outbox (name, seq, entry) VALUES (?1, ?2, ?3)")
            for (sequence, entry) in outbox {
                insert.reset()
                try insert.bind(1, name)
                try insert.bind(2, Int64(bitPattern: sequence))
                try insert.bind(3, entry)
                try insert.run()
            }
            for write in keyValues {
                let version = allocate()
                try state.store(connection, write.namespace, write.key, write.value, version: version, ttlMs: nil)
                versions.append(version)
            }
        }
        for (write, version) in zip(keyValues, versions) {
            state.wrote(write.namespace, write.key, VersionedValue(value: write.value, version: version))
        }
    }

    func deleteOutbox(name: String, through sequence: UInt64) throws(StoreError) {
        try state.write { connection, _ in
            let remove = try connection.statement("DELETE FROM pipeline_outbox WHERE name = ?1 AND seq <= ?2")
            try remove.bind(1, name)
            try remove.bind(2, Int64(bitPattern: sequence))
            try remove.run()
        }
    }
}
