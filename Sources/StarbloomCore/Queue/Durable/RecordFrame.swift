import CStarbloomABI
import CStarbloomSupport

/// The on-disk form of one record. Little-endian:
///
///     0  u32 frame length (all bytes of the frame, header included)
///     4  u32 CRC-32C of bytes [8, length)
///     8  u64 offset
///    16  i64 event time (Unix ns)
///    24  u32 key length
///    28  u32 payload length
///    32  u16 header count
///    34  u16 flags (0)
///    36  headers: u16 name length, u32 value length, name, value — then key, then payload
///
/// The CRC covers the offset, so a frame copied to the wrong place is detected as well as torn or
/// flipped bytes. A length of 0 marks the end of data in a preallocated segment.
enum RecordFrame {
    static let headerSize = 36
    /// A frame larger than this is treated as corruption when scanning (records are capped well below).
    static let maxFrameSize = 80 << 20

    /// Bytes the frame of `record` takes.
    @inline(__always)
    static func size(of record: sb_record) -> Int {
        var size = headerSize + record.key.len + record.payload.len
        if let headers = record.headers {
            for i in 0..<record.header_count { size += 6 + headers[i].name.len + headers[i].value.len }
        }
        return size
    }

    /// nil when the record fits the frame format (u16 header count and header name lengths).
    static func problem(with record: sb_record) -> String? {
        guard let headers = record.headers, record.header_count > 0 else { return nil }
        if record.header_count > Int(UInt16.max) { return "a record may carry at most 65535 headers, got \(record.header_count)" }
        for i in 0..<record.header_count where headers[i].name.len > Int(UInt16.max) {
            return "header name of \(headers[i].name.len) bytes exceeds 65535 bytes"
        }
        return nil
    }

    /// Payload-ish size used for the record size limit (what the producer sent).
    @inline(__always)
    static func recordBytes(of record: sb_record) -> Int {
        size(of: record) - headerSize
    }

    /// Encodes `record` at `base` (which must have `size(of:)` bytes).
    @inline(__always)
    static func encode(_ record: sb_record, offset: UInt64, eventTimeNs: Int64, size: Int, into base: UnsafeMutableRawPointer) {
        base.storeBytes(of: UInt32(size).littleEndian, as: UInt32.self)
        base.storeBytes(of: offset.littleEndian, toByteOffset: 8, as: UInt64.self)
        base.storeBytes(of: eventTimeNs.littleEndian, toByteOffset: 16, as: Int64.self)
        base.storeBytes(of: UInt32(record.key.len).littleEndian, toByteOffset: 24, as: UInt32.self)
        base.storeBytes(of: UInt32(record.payload.len).littleEndian, toByteOffset: 28, as: UInt32.self)
        let headerCount = record.headers == nil ? 0 : record.header_count
        base.storeBytes(of: UInt16(headerCount).littleEndian, toByteOffset: 32, as: UInt16.self)
        base.storeBytes(of: UInt16(0), toByteOffset: 34, as: UInt16.self)
        var cursor = base + headerSize
        if let headers = record.headers {
            for i in 0..<headerCount {
                let header = headers[i]
                cursor.storeBytes(of: UInt16(header.name.len).littleEndian, as: UInt16.self)
                cursor.storeBytes(of: UInt32(header.value.len).littleEndian, toByteOffset: 2, as: UInt32.self)
                cursor += 6
                if let p = header.name.ptr, header.name.len > 0 { cursor.copyMemory(from: p, byteCount: header.name.len) }
                cursor += header.name.len
                if let p = header.value.ptr, header.value.len > 0 { cursor.copyMemory(from: p, byteCount: header.value.len) }
                cursor += header.value.len
            }
        }
        if let p = record.key.ptr, record.key.len > 0 { cursor.copyMemory(from: p, byteCount: record.key.len) }
        cursor += record.key.len
        if let p = record.payload.ptr, record.payload.len > 0 { cursor.copyMemory(from: p, byteCount: record.payload.len) }
        let crc = sb_crc32c(0, base + 8, size - 8)
        base.storeBytes(of: crc.littleEndian, toByteOffset: 4, as: UInt32.self)
    }

    enum Check: Equatable {
        case valid(length: Int, offset: UInt64)
        /// Zero length: the end of written data in a preallocated file.
        case end
        /// Not enough bytes in the buffer to tell (the frame continues past it).
        case incomplete(length: Int)
        case corrupt(String)
    }

    /// Checks the frame at `base` with `available` bytes readable.
    static func check(_ base: UnsafeRawPointer, available: Int) -> Check {
        if available < 8 { return available == 0 ? .end : .incomplete(length: headerSize) }
        let length = Int(UInt32(littleEndian: base.loadUnaligned(as: UInt32.self)))
        if length == 0 {
            return base.loadUnaligned(fromByteOffset: 4, as: UInt32.self) == 0 ? .end : .corrupt("zero length with a checksum")
        }
        if length < headerSize || length > maxFrameSize { return .corrupt("frame length \(length) is impossible") }
        if length > available { return .incomplete(length: length) }
        let stored = UInt32(littleEndian: base.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
        let computed = sb_crc32c(0, base + 8, length - 8)
        if stored != computed { return .corrupt("checksum mismatch") }
        let keyLength = Int(UInt32(littleEndian: base.loadUnaligned(fromByteOffset: 24, as: UInt32.self)))
        let payloadLength = Int(UInt32(littleEndian: base.loadUnaligned(fromByteOffset: 28, as: UInt32.self)))
        if headerSize + keyLength + payloadLength > length { return .corrupt("field lengths exceed the frame") }
        return .valid(length: length, offset: UInt64(littleEndian: base.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
    }

    /// Decodes a frame already checked as valid.
    static func decode(_ base: UnsafeRawPointer, topic: String, partition: Int) -> QueueRecord {
        let offset = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        let eventTime = Int64(littleEndian: base.loadUnaligned(fromByteOffset: 16, as: Int64.self))
        let keyLength = Int(UInt32(littleEndian: base.loadUnaligned(fromByteOffset: 24, as: UInt32.self)))
        let payloadLength = Int(UInt32(littleEndian: base.loadUnaligned(fromByteOffset: 28, as: UInt32.self)))
        let headerCount = Int(UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 32, as: UInt16.self)))
        var cursor = base + headerSize
        var headers: [QueueRecord.Header] = []
        headers.reserveCapacity(headerCount)
        for _ in 0..<headerCount {
            let nameLength = Int(UInt16(littleEndian: cursor.loadUnaligned(as: UInt16.self)))
            let valueLength = Int(UInt32(littleEndian: cursor.loadUnaligned(fromByteOffset: 2, as: UInt32.self)))
            cursor += 6
            let name = String(decoding: UnsafeRawBufferPointer(start: cursor, count: nameLength), as: UTF8.self)
            cursor += nameLength
            let value = [UInt8](UnsafeRawBufferPointer(start: cursor, count: valueLength))
            cursor += valueLength
            headers.append(.init(name: name, value: value))
        }
        let key = [UInt8](UnsafeRawBufferPointer(start: cursor, count: keyLength))
        cursor += keyLength
        let payload = [UInt8](UnsafeRawBufferPointer(start: cursor, count: payloadLength))
        return QueueRecord(topic: topic, partition: partition, offset: offset, key: key, payload: payload,
                           headers: headers, eventTimeNs: eventTime)
    }
}
