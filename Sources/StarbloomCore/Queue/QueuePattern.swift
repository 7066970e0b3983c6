/// Deterministic payloads for crash tests and benchmarks: the bytes for a sequence number can be
/// recomputed by whoever checks them, so "byte-identical after a crash" is checkable.
public enum QueuePattern {
    public static func payload(sequence: Int, bytes: Int) -> [UInt8] {
        var result = Array("seq=\(sequence);".utf8)
        var state = UInt64(truncatingIfNeeded: sequence) &* 0x9E37_79B9_7F4A_7C15 | 1
        while result.count < bytes {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            result.append(UInt8(97 + state % 26))
        }
        return Array(result.prefix(bytes))
    }
}
