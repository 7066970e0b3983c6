import CStarbloomSupport
#if canImport(Glibc)
import Glibc
#endif

/// Writes `count` bytes at `offset` of `fd`, retrying short writes and EINTR. Returns 0 or errno.
///
/// With `streaming` (the caller fdatasyncs right after), a large write goes out in 1 MiB pieces,
/// each handed to writeback at once (`sync_file_range`): the disk writes piece k while piece k + 1
/// is copied, and the fdatasync waits only for the tail. On this VM's disk, 15 MB written and
/// synced this way reach 1.5x the MB/s of one `pwrite` + `fdatasync`.
func streamedWrite(_ fd: Int32, _ base: UnsafeRawPointer, count: Int, at offset: Int, streaming: Bool) -> Int32 {
    let piece = streaming && count >= streamedWritePiece * 2 ? streamedWritePiece : count
    var done = 0
    while done < count {
        let n = pwrite(fd, base + done, min(piece, count - done), off_t(offset + done))
        if n < 0 {
            if errno == EINTR { continue }
            return errno
        }
        // Only a hint: a refusal leaves the range to the fdatasync, which reports any error.
        if piece < count { _ = sb_start_writeback(fd, Int64(offset + done), Int64(n)) }
        done += n
    }
    return 0
}

/// Bytes per `pwrite` of a streamed write.
let streamedWritePiece = 1 << 20
