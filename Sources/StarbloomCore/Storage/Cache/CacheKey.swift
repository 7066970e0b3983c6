/// A key-value cache key: namespace plus key bytes, with its hash computed once.
///
/// The hash is `StableHash` (multiply-and-fold, a few nanoseconds for a short key) keyed with a
/// random seed drawn once per process, so that keys chosen from outside do not collide on purpose
/// (the table is linear-probed). Swift's `Hasher` (SipHash) gave the same protection at about twice
/// the cost of this part of a cached read. The shard choice and the table reuse the one number.
public struct CacheKey: Hashable, Sendable {
    public let namespace: String
    public let key: [UInt8]
    public let hash: Int

    /// Drawn from the system's random source once per process; never stored anywhere.
    private static let seed = UInt64.random(in: .min ... .max)

    public init(namespace: String, key: [UInt8]) {
        self.namespace = namespace
        self.key = key
        var name = namespace
        // The namespace's hash seeds the key's: ("ab", "c") and ("a", "bc") hash apart.
        let namespaceHash = name.withUTF8 { StableHash.hash64(UnsafeRawBufferPointer($0), seed: Self.seed) }
        hash = Int(truncatingIfNeeded: key.withUnsafeBytes { StableHash.hash64($0, seed: namespaceHash) })
    }

    @inline(__always)
    public func hash(into hasher: inout Hasher) { hasher.combine(hash) }

    @inline(__always)
    public static func == (a: CacheKey, b: CacheKey) -> Bool {
        a.hash == b.hash && a.key == b.key && a.namespace == b.namespace
    }

    /// Bytes the key accounts for in the cache's bound.
    var byteCount: Int { namespace.utf8.count + key.count }
}
