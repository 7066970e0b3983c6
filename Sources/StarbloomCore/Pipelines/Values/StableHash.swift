/// A fast 64-bit hash whose values are the same in every process, on every machine, forever.
///
/// PERSISTED: these values are written into checkpoints (HyperLogLog registers, partitioning,
/// de-duplication keys). Changing any constant or step below silently corrupts every stored
/// checkpoint, so the algorithm must never change; `UInt256Tests` pins known values to catch it.
/// A different algorithm needs a new function name and a checkpoint format version.
///
/// Swift's `Hasher` is seeded randomly per process and must not be used for anything stored.
/// This hash is not cryptographic and not meant to resist chosen-input flooding.
///
/// The algorithm: the state starts from the seed and the length; each 16-byte block (two
/// little-endian words) is folded in with two 64x64->128-bit multiplies by fixed odd constants,
/// the halves of each product xored together; the last 1...16 bytes are read as two (possibly
/// overlapping) words; a splitmix64-style finalizer spreads every input bit over the output.
public enum StableHash {
    // Odd constants with well-spread bits: the golden ratio, the fractional parts of sqrt(2) and
    // sqrt(3), and the two splitmix64 finalizer multipliers.
    private static var golden: UInt64 { 0x9E37_79B9_7F4A_7C15 }
    private static var root2: UInt64 { 0x6A09_E667_F3BC_C909 }
    private static var root3: UInt64 { 0xBB67_AE85_84CA_A73B }
    private static var finish1: UInt64 { 0xBF58_476D_1CE4_E5B9 }
    private static var finish2: UInt64 { 0x94D0_49BB_1331_11EB }

    /// Hashes `bytes`; a different `seed` gives an unrelated function.
    public static func hash64(_ bytes: UnsafeRawBufferPointer, seed: UInt64 = 0) -> UInt64 {
        let count = bytes.count
        var state = (seed ^ golden) &+ UInt64(truncatingIfNeeded: count) &* root3
        guard let base = bytes.baseAddress, count > 0 else { return finalize(absorb(state, 0, 0)) }
        var offset = 0
        while count - offset > 16 {
            state = absorb(state, word(base, offset), word(base, offset + 8))
            offset += 16
        }
        // 1...16 bytes remain, read as overlapping or zero-padded words. For a given length this
        // encoding is one-to-one, and the length is already in the state.
        let remaining = count - offset
        let tail = base + offset
        let a: UInt64
        let b: UInt64
        if remaining > 8 {
            a = word(tail, 0)
            b = word(tail, remaining - 8)
        } else if remaining >= 4 {
            a = UInt64(half(tail, 0)) | UInt64(half(tail, remaining - 4)) << 32
            b = 0
        } else {
            let first = UInt64(tail.load(as: UInt8.self))
            let middle = UInt64(tail.load(fromByteOffset: remaining >> 1, as: UInt8.self))
            let last = UInt64(tail.load(fromByteOffset: remaining - 1, as: UInt8.self))
            a = first | middle << 8 | last << 16
            b = 0
        }
        return finalize(absorb(state, a, b))
    }

    public static func hash64(_ bytes: [UInt8], seed: UInt64 = 0) -> UInt64 {
        bytes.withUnsafeBytes { hash64($0, seed: seed) }
    }

    /// Hashes the UTF-8 bytes of `text` (so equal to `hash64(Array(text.utf8))`).
    public static func hash64(_ text: String, seed: UInt64 = 0) -> UInt64 {
        var text = text
        return text.withUTF8 { hash64(UnsafeRawBufferPointer($0), seed: seed) }
    }

    @inline(__always)
    private static func word(_ base: UnsafeRawPointer, _ offset: Int) -> UInt64 {
        UInt64(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    @inline(__always)
    private static func half(_ base: UnsafeRawPointer, _ offset: Int) -> UInt32 {
        UInt32(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    /// Full-width multiply, high and low halves xored.
    @inline(__always)
    private static func fold(_ x: UInt64, _ y: UInt64) -> UInt64 {
        let (high, low) = x.multipliedFullWidth(by: y)
        return high ^ low
    }

    /// One 16-byte step. Both multipliers are non-zero constants, so no data word can cancel the
    /// state; the two products are independent and run in parallel.
    @inline(__always)
    private static func absorb(_ state: UInt64, _ a: UInt64, _ b: UInt64) -> UInt64 {
        let left = fold(state ^ a, root2)
        let right = fold(((state << 32) | (state >> 32)) ^ b, golden)
        return (left &+ right) ^ (right >> 29)
    }

    @inline(__always)
    private static func finalize(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* finish1
        z = (z ^ (z >> 27)) &* finish2
        return z ^ (z >> 31)
    }
}
