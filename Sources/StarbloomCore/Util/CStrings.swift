import CStarbloomABI
#if canImport(Glibc)
import Glibc
#endif

/// Reading and writing the ABI's string types.
enum CStrings {
    /// Reads a NUL-terminated string from plugin memory, refusing one longer than `limit` bytes
    /// (a descriptor with a garbage pointer must not make the host read without bound).
    static func read(_ pointer: UnsafePointer<CChar>?, limit: Int = 4096) -> String?? {
        guard let pointer else { return .some(nil) }
        let length = strnlen(pointer, limit + 1)
        if length > limit { return nil }
        let bytes = UnsafeRawBufferPointer(start: pointer, count: length)
        return .some(String(decoding: bytes, as: UTF8.self))
    }

    static func string(_ value: sb_str) -> String {
        guard let base = value.ptr, value.len > 0 else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: base, count: value.len), as: UTF8.self)
    }

    static func bytes(_ value: sb_bytes) -> [UInt8] {
        guard let base = value.ptr, value.len > 0 else { return [] }
        return Array(UnsafeBufferPointer(start: base, count: value.len))
    }

    /// Writes `text` into an sb_message, truncated and NUL-terminated.
    static func write(_ text: String, into message: UnsafeMutablePointer<sb_message>) {
        withUnsafeMutableBytes(of: &message.pointee.text) { raw in
            let utf8 = Array(text.utf8.prefix(raw.count - 1))
            raw.copyBytes(from: utf8)
            raw[utf8.count] = 0
        }
    }

    /// Reads the text of an sb_message (bounded by its capacity).
    static func read(message: UnsafePointer<sb_message>) -> String {
        withUnsafeBytes(of: message.pointee.text) { raw in
            let end = raw.firstIndex(of: 0) ?? raw.count
            return String(decoding: UnsafeRawBufferPointer(rebasing: raw[..<end]), as: UTF8.self)
        }
    }
}
