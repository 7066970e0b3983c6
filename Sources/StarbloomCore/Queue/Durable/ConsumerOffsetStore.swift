import CStarbloomSupport
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Committed positions of consumer groups, in `offsets.log`: an append-only file of CRC-framed
/// entries (group, topic, partition, offset), replayed at start (the last entry for a key wins, a torn
/// tail is ignored). Each commit is fsynced before it returns; when the file grows past 4 MiB it is
/// rewritten with one entry per key (write, fsync, rename).
///
/// `@unchecked Sendable`: all state is guarded by `lock`.
final class ConsumerOffsetStore: @unchecked Sendable {
    struct Key: Hashable {
        let group: String
        let topic: String
        let partition: Int
    }

    private let path: String
    private let lock = NSLock()
    private var fd: Int32
    private var fileSize: Int
    private var offsets: [Key: UInt64] = [:]
    static let compactionThreshold = 4 << 20

    init(directory: String) throws(QueueError) {
        path = "\(directory)/offsets.log"
        fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw QueueError.io("cannot open \(path)", errno) }
        let data = FileManager.default.contents(atPath: path) ?? Data()
        var valid = 0
        var loaded: [Key: UInt64] = [:]
        data.withUnsafeBytes { raw in
            var cursor = 0
            while cursor + 8 <= raw.count {
                let length = Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: cursor, as: UInt32.self)))
                guard length >= 8, cursor + length <= raw.count else { break }
                let crc = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: cursor + 4, as: UInt32.self))
                guard crc == sb_crc32c(0, raw.baseAddress! + cursor + 8, length - 8),
                      let (key, offset) = Self.decode(UnsafeRawBufferPointer(rebasing: raw[(cursor + 8)..<(cursor + length)])) else { break }
                loaded[key] = offset
                cursor += length
                valid = cursor
            }
        }
        if valid < data.count { ftruncate(fd, off_t(valid)) } // a torn last commit was never acknowledged
        fileSize = valid
        offsets = loaded
    }

    deinit { close(fd) }

    func offset(group: String, topic: String, partition: Int) -> UInt64? {
        lock.lock()
        defer { lock.unlock() }
        return offsets[Key(group: group, topic: topic, partition: partition)]
    }

    var all: [(key: Key, offset: UInt64)] {
        lock.lock()
        defer { lock.unlock() }
        return offsets.map { ($0.key, $0.value) }
    }

    var groups: [String] {
        lock.lock()
        defer { lock.unlock() }
        return Array(Set(offsets.keys.map(\.group))).sorted()
    }

    func commit(group: String, topic: String, partition: Int, offset: UInt64) throws(QueueError) {
        let key = Key(group: group, topic: topic, partition: partition)
        let entry = Self.encode(key, offset)
        lock.lock()
        defer { lock.unlock() }
        let written = entry.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == entry.count, fdatasync(fd) == 0 else {
            let code = errno
            ftruncate(fd, off_t(fileSize)) // never leave a torn entry in front of later commits
            throw QueueError.io("cannot persist the offset of group '\(group)'", code)
        }
        offsets[key] = offset
        fileSize += entry.count
        if fileSize > Self.compactionThreshold { compact() }
    }

    private func compact() {
        var bytes: [UInt8] = []
        for (key, offset) in offsets { bytes += Self.encode(key, offset) }
        let temporary = path + ".tmp"
        let out = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard out >= 0 else { return }
        let written = bytes.withUnsafeBytes { write(out, $0.baseAddress, $0.count) }
        guard written == bytes.count, fdatasync(out) == 0, rename(temporary, path) == 0 else {
            close(out)
            unlink(temporary)
            return
        }
        close(out)
        close(fd)
        fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC)
        fileSize = bytes.count
        try? syncDirectory((path as NSString).deletingLastPathComponent)
    }

    private static func encode(_ key: Key, _ offset: UInt64) -> [UInt8] {
        var body: [UInt8] = []
        func put<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { body.append(contentsOf: $0) } }
        put(UInt16(key.group.utf8.count)); body += key.group.utf8
        put(UInt16(key.topic.utf8.count)); body += key.topic.utf8
        put(UInt32(key.partition))
        put(offset)
        var frame: [UInt8] = []
        withUnsafeBytes(of: UInt32(body.count + 8).littleEndian) { frame.append(contentsOf: $0) }
        withUnsafeBytes(of: sb_crc32c(0, body, body.count).littleEndian) { frame.append(contentsOf: $0) }
        return frame + body
    }

    private static func decode(_ raw: UnsafeRawBufferPointer) -> (Key, UInt64)? {
        var cursor = 0
        func take(_ n: Int) -> UnsafeRawBufferPointer? {
            guard cursor + n <= raw.count else { return nil }
            defer { cursor += n }
            return UnsafeRawBufferPointer(rebasing: raw[cursor..<(cursor + n)])
        }
        guard let gl = take(2) else { return nil }
        guard let group = take(Int(gl.loadUnaligned(as: UInt16.self))) else { return nil }
        guard let tl = take(2) else { return nil }
        guard let topic = take(Int(tl.loadUnaligned(as: UInt16.self))) else { return nil }
        guard let partition = take(4), let offset = take(8) else { return nil }
        return (Key(group: String(decoding: group, as: UTF8.self), topic: String(decoding: topic, as: UTF8.self),
                    partition: Int(partition.loadUnaligned(as: UInt32.self))),
                UInt64(littleEndian: offset.loadUnaligned(as: UInt64.self)))
    }
}
