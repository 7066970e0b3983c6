/// A compressed run of one series' points, as stored in one row (see `encode` for the layout).
enum PointChunk {
    static func encode(_ points: [(timestamp: Int64, value: Double)]) -> [UInt8] {
        encode(timestamps: points.map(\.timestamp), values: points.map(\.value))
    }

    /// Marks the second format; a first-format chunk starts with its count, a varint that is never 0.
    static let formatTwo: UInt8 = 0

    /// Encodes in the second format: a 0 byte, the count, then per point the zigzag varint of the
    /// timestamp's delta-of-delta (regular intervals: one byte) and the XOR of the value's bits with
    /// the previous one's, shifted right past its trailing zeros and stored as varint((xor >> tz) << 6 | tz)
    /// (round and repeated values: one to three bytes) — the ideas of Gorilla, byte-aligned.
    static func encode(timestamps: [Int64], values: [Double]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(timestamps.count * 5 + 8)
        out.append(formatTwo)
        putVarint(UInt64(timestamps.count), &out)
        var previousTime: Int64 = 0
        var previousDelta: Int64 = 0
        var previousBits: UInt64 = 0
        for index in timestamps.indices {
            let timestamp = timestamps[index]
            let delta = timestamp &- previousTime
            let change = delta &- previousDelta
            putVarint(UInt64(bitPattern: (change << 1) ^ (change >> 63)), &out)
            let bits = values[index].bitPattern
            let xor = bits ^ previousBits
            if xor == 0 {
                out.append(0)
            } else {
                let zeros = UInt64(xor.trailingZeroBitCount) // 0...63
                let significant = xor >> zeros
                if significant >> 58 == 0 {
                    putVarint(significant << 6 | zeros, &out)
                } else { // too wide to shift left by 6: mark 63 (impossible for a real shift with a set bit above 58), then raw
                    putVarint(63, &out)
                    putVarint(xor, &out)
                }
            }
            previousTime = timestamp
            previousDelta = delta
            previousBits = bits
        }
        return out
    }

    /// Calls `body` for every point, in order. Returns false if the bytes are malformed.
    @discardableResult
    static func decode(_ bytes: [UInt8], _ body: (Int64, Double) -> Void) -> Bool {
        bytes.withUnsafeBytes { decode($0, body) }
    }

    /// The same, reading straight from a buffer (SQLite's, during a query: no copy). Reads both formats.
    @inline(__always)
    static func decode(_ bytes: UnsafeRawBufferPointer, _ body: (Int64, Double) -> Void) -> Bool {
        guard !bytes.isEmpty else { return false }
        return bytes[0] == formatTwo ? decodeTwo(bytes, body) : decodeOne(bytes, body)
    }

    @inline(__always)
    private static func decodeTwo(_ bytes: UnsafeRawBufferPointer, _ body: (Int64, Double) -> Void) -> Bool {
        var cursor = 1
        guard let count = getVarint(bytes, &cursor), count <= UInt64(bytes.count) else { return false }
        var time: Int64 = 0
        var delta: Int64 = 0
        var bits: UInt64 = 0
        for _ in 0..<count {
            guard let zigzag = getVarint(bytes, &cursor), let packed = getVarint(bytes, &cursor) else { return false }
            delta = delta &+ (Int64(bitPattern: zigzag >> 1) ^ -Int64(bitPattern: zigzag & 1))
            time = time &+ delta
            if packed != 0 {
                if packed == 63 {
                    guard let xor = getVarint(bytes, &cursor) else { return false }
                    bits ^= xor
                } else {
                    bits ^= (packed >> 6) << (packed & 63)
                }
            }
            body(time, Double(bitPattern: bits))
        }
        return cursor == bytes.count
    }

    /// The first format: count, then zigzag varint time deltas and varint XORs of the value bits.
    @inline(__always)
    private static func decodeOne(_ bytes: UnsafeRawBufferPointer, _ body: (Int64, Double) -> Void) -> Bool {
        var cursor = 0
        guard let count = getVarint(bytes, &cursor), count <= UInt64(bytes.count) else { return false }
        var time: Int64 = 0
        var bits: UInt64 = 0
        for _ in 0..<count {
            guard let zigzag = getVarint(bytes, &cursor), let xor = getVarint(bytes, &cursor) else { return false }
            time = time &+ (Int64(bitPattern: zigzag >> 1) ^ -Int64(bitPattern: zigzag & 1))
            bits ^= xor
            body(time, Double(bitPattern: bits))
        }
        return cursor == bytes.count
    }

    @inline(__always)
    static func putVarint(_ value: UInt64, _ out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    @inline(__always)
    static func getVarint(_ bytes: UnsafeRawBufferPointer, _ cursor: inout Int) -> UInt64? {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while cursor < bytes.count && shift < 64 {
            let byte = bytes[cursor]
            cursor += 1
            result |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return result }
            shift += 7
        }
        return nil
    }
}
