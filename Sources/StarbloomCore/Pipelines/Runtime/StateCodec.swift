/// Binary encoding of pipeline state (checkpoints): little-endian varints, length-prefixed bytes.
/// Decoding never traps: a truncated or damaged checkpoint is an error the runner reports.
struct StateWriter {
    private(set) var bytes: [UInt8] = []

    mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    mutating func int(_ value: Int64) { varint(UInt64(bitPattern: (value << 1) ^ (value >> 63))) }
    mutating func int(_ value: Int) { int(Int64(value)) }
    mutating func bool(_ value: Bool) { bytes.append(value ? 1 : 0) }
    mutating func double(_ value: Double) { varint(value.bitPattern) }

    mutating func bytes(_ value: [UInt8]) {
        varint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    mutating func string(_ value: String) { bytes(Array(value.utf8)) }

    /// Length-prefixed bytes from a borrowed buffer (no intermediate array).
    mutating func bytes(_ pointer: UnsafeRawPointer?, count: Int) {
        varint(UInt64(count))
        if let pointer, count > 0 { bytes.append(contentsOf: UnsafeRawBufferPointer(start: pointer, count: count)) }
    }

    mutating func reserveCapacity(_ count: Int) { bytes.reserveCapacity(count) }

    mutating func uint256(_ value: UInt256) {
        varint(value.w0); varint(value.w1); varint(value.w2); varint(value.w3)
    }
}

struct StateDecodingError: Error, CustomStringConvertible {
    let message: String
    var description: String { "checkpoint is damaged: \(message)" }
}

struct StateReader {
    private let data: [UInt8]
    private var position = 0

    init(_ bytes: [UInt8]) { data = bytes }

    /// True when everything was read (a section added later is absent from older checkpoints).
    var isAtEnd: Bool { position >= data.count }

    mutating func varint() throws(StateDecodingError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < data.count else { throw StateDecodingError(message: "ends inside a number at byte \(position)") }
            let byte = data[position]
            position += 1
            guard shift < 64 else { throw StateDecodingError(message: "number too long at byte \(position)") }
            result |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return result }
            shift += 7
        }
    }

    mutating func int() throws(StateDecodingError) -> Int64 {
        let raw = try varint()
        return Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    mutating func count(limit: Int = 1 << 28) throws(StateDecodingError) -> Int {
        let raw = try varint()
        guard raw <= UInt64(limit) else { throw StateDecodingError(message: "count \(raw) is implausible at byte \(position)") }
        return Int(raw)
    }

    mutating func bool() throws(StateDecodingError) -> Bool {
        guard position < data.count else { throw StateDecodingError(message: "ends at byte \(position)") }
        defer { position += 1 }
        return data[position] != 0
    }

    mutating func double() throws(StateDecodingError) -> Double { Double(bitPattern: try varint()) }

    mutating func bytes() throws(StateDecodingError) -> [UInt8] {
        let length = try count()
        guard length <= data.count - position else { throw StateDecodingError(message: "bytes of length \(length) run past the end") }
        defer { position += length }
        return Array(data[position..<position + length])
    }

    mutating func string() throws(StateDecodingError) -> String { String(decoding: try bytes(), as: UTF8.self) }

    /// A length-prefixed field as a range of the bytes read (for readers that keep views, not copies).
    mutating func range() throws(StateDecodingError) -> Range<Int> {
        let length = try count()
        guard length <= data.count - position else { throw StateDecodingError(message: "bytes of length \(length) run past the end") }
        defer { position += length }
        return position..<position + length
    }

    mutating func uint256() throws(StateDecodingError) -> UInt256 {
        UInt256(w0: try varint(), w1: try varint(), w2: try varint(), w3: try varint())
    }
}
