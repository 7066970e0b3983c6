/// Keccak-256 as Ethereum uses it: Keccak[c=512] with the original multi-rate padding
/// (domain byte 0x01), not FIPS 202 SHA3-256 (domain byte 0x06).
///
/// Streaming: `update` any number of times, then `finalize()`. `finalize` does not modify the
/// hasher, so it can be called again after more `update`s (it digests everything so far).
public struct Keccak256: Sendable {
    /// Bytes absorbed per permutation: (1600 - 2 * 256) / 8.
    public static let rate = 136
    public static let digestSize = 32

    private var state = InlineArray<25, UInt64>(repeating: 0)
    /// The partial block not yet absorbed (always fewer than `rate` bytes are pending).
    private var pending = InlineArray<136, UInt8>(repeating: 0)
    private var pendingCount = 0

    public init() {}

    /// The 32-byte digest of `bytes`.
    public static func hash(_ bytes: [UInt8]) -> [UInt8] {
        var hasher = Keccak256()
        hasher.update(bytes)
        return hasher.finalize()
    }

    /// The 32-byte digest of the UTF-8 encoding of `text`.
    public static func hash(_ text: String) -> [UInt8] {
        hash(Array(text.utf8))
    }

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        var index = 0
        let count = bytes.count
        // Top up a partial block first.
        if pendingCount > 0 {
            while pendingCount < Keccak256.rate && index < count {
                pending[pendingCount] = bytes[index]
                pendingCount += 1
                index += 1
            }
            if pendingCount == Keccak256.rate {
                absorbPending()
            }
        }
        // Whole blocks straight from the input.
        while count - index >= Keccak256.rate {
            for lane in 0..<(Keccak256.rate / 8) {
                state[lane] ^= Keccak256.loadLane(bytes, at: index + lane * 8)
            }
            Keccak256.permute(&state)
            index += Keccak256.rate
        }
        while index < count {
            pending[pendingCount] = bytes[index]
            pendingCount += 1
            index += 1
        }
    }

    /// The digest of everything absorbed so far.
    public func finalize() -> [UInt8] {
        var copy = self
        for i in copy.pendingCount..<Keccak256.rate { copy.pending[i] = 0 }
        copy.pending[copy.pendingCount] ^= 0x01
        copy.pending[Keccak256.rate - 1] ^= 0x80
        copy.pendingCount = Keccak256.rate
        copy.absorbPending()
        var digest = [UInt8](repeating: 0, count: Keccak256.digestSize)
        for lane in 0..<4 {
            let value = copy.state[lane]
            for byte in 0..<8 {
                digest[lane * 8 + byte] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(byte)))
            }
        }
        return digest
    }

    private mutating func absorbPending() {
        for lane in 0..<(Keccak256.rate / 8) {
            var value: UInt64 = 0
            for byte in 0..<8 {
                value |= UInt64(pending[lane * 8 + byte]) << (8 * UInt64(byte))
            }
            state[lane] ^= value
        }
        Keccak256.permute(&state)
        pendingCount = 0
    }

    private static func loadLane(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt64 {
        var value: UInt64 = 0
        for byte in 0..<8 {
            value |= UInt64(bytes[offset + byte]) << (8 * UInt64(byte))
        }
        return value
    }

    // MARK: Keccak-f[1600]

    /// Lanes are indexed x + 5y. Tables derived from the specification (FIPS 202 §3.2) once.
    private struct Tables: Sendable {
        /// For source lane i: where ρ∘π moves it and by how much it is rotated.
        var destination = [Int](repeating: 0, count: 25)
        var rotation = [UInt64](repeating: 0, count: 25)
        var roundConstants = [UInt64](repeating: 0, count: 24)

        init() {
            // ρ offsets (Algorithm 2): walk (x, y) ← (y, 2x + 3y) from (1, 0).
            var x = 1, y = 0
            for t in 0..<24 {
                rotation[x + 5 * y] = UInt64(((t + 1) * (t + 2) / 2) % 64)
                (x, y) = (y, (2 * x + 3 * y) % 5)
            }
            // π (Algorithm 3): A'[x, y] = A[(x + 3y) mod 5, x], i.e. source (x, y) goes to (y, 2x + 3y).
            for sx in 0..<5 {
                for sy in 0..<5 {
                    destination[sx + 5 * sy] = sy + 5 * ((2 * sx + 3 * sy) % 5)
                }
            }
            // ι round constants (Algorithms 5 and 6).
            func rc(_ t: Int) -> UInt64 {
                if t % 255 == 0 { return 1 }
                var r: UInt16 = 1
                for _ in 1...(t % 255) {
                    r <<= 1
                    if r & 0x100 != 0 { r ^= 0x100 | 0x01 | 0x10 | 0x20 | 0x40 }
                }
                return UInt64(r & 1)
            }
            for round in 0..<24 {
                var constant: UInt64 = 0
                for j in 0...6 {
                    constant |= rc(j + 7 * round) << UInt64((1 << j) - 1)
                }
                roundConstants[round] = constant
            }
        }
    }

    private static let tables = Tables()

    @inline(__always)
    private static func rotateLeft(_ value: UInt64, _ amount: UInt64) -> UInt64 {
        amount == 0 ? value : (value << amount) | (value >> (64 - amount))
    }

    private static func permute(_ a: inout InlineArray<25, UInt64>) {
        let tables = Keccak256.tables
        var b = InlineArray<25, UInt64>(repeating: 0)
        var c = InlineArray<5, UInt64>(repeating: 0)
        for round in 0..<24 {
            // θ
            for x in 0..<5 {
                c[x] = a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20]
            }
            for x in 0..<5 {
                let d = c[(x + 4) % 5] ^ rotateLeft(c[(x + 1) % 5], 1)
                for y in 0..<5 { a[x + 5 * y] ^= d }
            }
            // ρ and π
            for i in 0..<25 {
                b[tables.destination[i]] = rotateLeft(a[i], tables.rotation[i])
            }
            // χ
            for y in 0..<5 {
                let row = 5 * y
                for x in 0..<5 {
                    a[row + x] = b[row + x] ^ (~b[row + (x + 1) % 5] & b[row + (x + 2) % 5])
                }
            }
            // ι
            a[0] ^= tables.roundConstants[round]
        }
    }
}
