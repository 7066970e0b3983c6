/// A key-value cache key: namespace plus key bytes, with its hash computed once.
///
/// Swift hashes a `[UInt8]` element by element; hashing the bytes in bulk with the process-seeded
/// `Hasher` once, and letting the shard choice and the dictionary reuse that number, is what keeps a
/// cached read in the low hundreds of nanoseconds (and the seed keeps chosen keys from colliding).
public struct CacheKey: Hashable, Sendable {
    public let namespace: String
    public let key: [UInt8]
    public let hash: Int

    public init(namespace: String, key: [UInt8]) {
        self.namespace = namespace
        self.key = key
        var hasher = Hasher()
        var name = namespace
        name.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        hasher.combine(UInt8(0xFF)) // never a UTF-8 byte: "ab"+"c" and "a"+"bc" hash apart
        key.withUnsafeBytes { hasher.combine(bytes: $0) }
        hash = hasher.finalize()
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
