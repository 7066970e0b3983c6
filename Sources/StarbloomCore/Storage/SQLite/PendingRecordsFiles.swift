import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The records of each owner's pending publish transactions, two slots (files) per owner beside
/// the state database (`<state.db>-pending/<hex of owner>.<slot>`), for `SQLiteStateStore`.
///
/// Why not a column: a range of 20,000 logs is ~14 MB; through SQLite it is written twice (WAL, then
/// the database) and halved the connector's throughput. Here it is one sequential write and one
/// fdatasync, made durable before the SQLite commit that refers to it (by first sequence and size),
/// so a committed transaction always finds its records. A slot is overwritten in place only when
/// the transaction that used it is fully appended (`PublishTransaction` alternates slots); a torn
/// overwrite therefore never hides records that are still needed, and recovery checks the size and
/// first sequence against the commit before trusting a file.
struct PendingRecordsFiles {
    let directory: String

    private func path(_ owner: String, _ slot: Int) -> String {
        "\(directory)/" + owner.utf8.map { String(format: "%02x", $0) }.joined() + ".\(slot)"
    }

    func write(owner: String, slot: Int, _ bytes: [UInt8]) throws(StoreError) {
        var created = false
        if access(directory, F_OK) != 0 {
            if mkdir(directory, 0o755) != 0 && errno != EEXIST { throw failure("cannot create \(directory)") }
            created = true
        }
        let file = path(owner, slot)
        var descriptor = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if descriptor >= 0 { created = true } else { descriptor = open(file, O_WRONLY | O_CLOEXEC) }
        guard descriptor >= 0 else { throw failure("cannot open \(file)") }
        defer { close(descriptor) }
        let failed = bytes.withUnsafeBytes { streamedWrite(descriptor, $0.baseAddress!, count: $0.count, at: 0, streaming: true) }
        if failed != 0 {
            errno = failed
            throw failure("cannot write \(file)")
        }
        guard ftruncate(descriptor, off_t(bytes.count)) == 0, fdatasync(descriptor) == 0 else { throw failure("cannot sync \(file)") }
        if created { // the new name must survive a power loss too
            let directoryDescriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            if directoryDescriptor >= 0 {
                fsync(directoryDescriptor)
                close(directoryDescriptor)
            }
        }
    }

    /// The owner's slot if it holds exactly `size` bytes.
    func read(owner: String, slot: Int, size: Int) throws(StoreError) -> [UInt8] {
        let file = path(owner, slot)
        guard let data = FileManager.default.contents(atPath: file) else { throw failure("the pending records file \(file) is missing") }
        guard data.count == size else {
            throw StoreError(code: .invalid, message: "the pending records file \(file) holds \(data.count) bytes, the commit says \(size)")
        }
        return [UInt8](data)
    }

    private func failure(_ what: String) -> StoreError {
        StoreError(code: .invalid, message: "\(what): \(String(cString: strerror(errno)))")
    }
}
