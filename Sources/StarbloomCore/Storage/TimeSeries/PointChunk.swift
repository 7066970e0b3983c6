/// A compressed run of one series' points, as stored in one row: timestamps as zigzag varint deltas
/// (delta-of-delta would save more on regular intervals; deltas keep the decoder trivial), values as
/// the XOR of each double's bits with the previous one's, varint-encoded (repeated or slowly changing
/// values shrink to a byte or two, the idea Gorilla uses).
enum PointChunk {
    static func encode(_ points: [(timestamp: Int64, value: Double)]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(points.count * 6 + 8)
        var previousTime: Int64 = 0
        var previousBits: UInt64 = 0
        putVarint(UInt64(points.count), &out)
        for (index, point) in points.enumerated() {
            let delta = index == 0 ? point.timestamp : point.timestamp &- previousTime
            putVarint(UInt64(bitPattern: (delta << 1) ^ (delta >> 63)), &out)
            let bits = point.value.bitPattern
            putVarint(bits ^ previousBits, &out)
            previousTime = point.timestamp
            previousBits = bits
        }
        return out
    }

    /// Calls `body` for every point, in order. Returns false if the bytes are malformed.
    @discardableResult
    static func decode(_ bytes: [UInt8], _ body: (Int64, Double) -> Void) -> Bool {
        var cursor = 0
        guard let count = getVarint(bytes, &cursor) else { return false }
        var time: Int64 = 0
        var bits: UInt64 = 0
        for index in 0..<count {
            guard let zigzag = getVarint(bytes, &cursor), let xor = getVarint(bytes, &cursor) else { return false }
            let delta = Int64(bitPattern: zigzag >> 1) ^ -Int64(bitPattern: zigzag & 1)
            time = index == 0 ? delta : time &+ delta
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
    static func getVarint(_ bytes: [UInt8], _ cursor: inout Int) -> UInt64? {
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
