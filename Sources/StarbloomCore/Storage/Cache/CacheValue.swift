/// A value `ShardedClockCache` can hold, and optionally keep inside its entry.
///
/// Keeping a small value's bytes inside the entry (next to its key) makes a hit touch one entry and
/// nothing else; a value kept out of line costs another memory fetch (and an atomic retain of a
/// line no core has) on every hit. Types that are never small (query results) keep the defaults.
public protocol CacheValue {
    /// Bytes the value accounts for in the cache's bound when it is kept out of line.
    var cacheByteCount: Int { get }
    /// Bytes `writeInline` writes, or nil to keep the value out of line.
    var inlineByteCount: Int? { get }
    /// Writes exactly `inlineByteCount` bytes.
    func writeInline(to buffer: UnsafeMutableRawBufferPointer)
    /// Rebuilds a value from what `writeInline` wrote.
    static func readInline(_ bytes: UnsafeRawBufferPointer) -> Self
}

extension CacheValue {
    public var inlineByteCount: Int? { nil }
    public func writeInline(to buffer: UnsafeMutableRawBufferPointer) {}
    public static func readInline(_ bytes: UnsafeRawBufferPointer) -> Self {
        preconditionFailure("\(Self.self) is never stored inline (its inlineByteCount is nil)")
    }
}

extension Array: CacheValue where Element == UInt8 {
    public var cacheByteCount: Int { count }
    public var inlineByteCount: Int? { count }

    public func writeInline(to buffer: UnsafeMutableRawBufferPointer) {
        withUnsafeBytes { buffer.copyMemory(from: $0) }
    }

    public static func readInline(_ bytes: UnsafeRawBufferPointer) -> [UInt8] { Array(bytes) }
}

extension VersionedValue: CacheValue {
    /// The bytes plus the version and the array's length.
    public var cacheByteCount: Int { value.count + 16 }
    public var inlineByteCount: Int? { 8 + value.count }

    public func writeInline(to buffer: UnsafeMutableRawBufferPointer) {
        buffer.storeBytes(of: version.littleEndian, as: UInt64.self)
        value.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: buffer[8...]).copyMemory(from: $0) }
    }

    public static func readInline(_ bytes: UnsafeRawBufferPointer) -> VersionedValue {
        VersionedValue(value: Array(UnsafeRawBufferPointer(rebasing: bytes[8...])),
                       version: UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self)))
    }
}
