/// A key-value cache key: namespace plus key bytes, with its hash computed once.
///
/// The hash is `StableHash` (multiply-and-fold, a few nanoseconds for a short key) keyed with a
/// random seed drawn once per process. The seed keeps casual collisions apart, but this is not a
/// keyed PRF like SipHash: a client that can probe timings could in principle build keys that
/// collide in the linear-probed table. Accepted knowingly: the table is bounded (a collision chain
/// costs probes inside one shard, never memory), every kv key also passes the API's per-key rate
/// limit, and Swift's `Hasher` cost about twice as much on a cached read. If that trade ever
/// changes, only this initialiser changes. The shard choice and the table reuse the one number.
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

    /// A key with a chosen hash: tests use it to make different keys collide.
    init(namespace: String, key: [UInt8], forcedHash: Int) {
        self.namespace = namespace
        self.key = key
        hash = forcedHash
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
