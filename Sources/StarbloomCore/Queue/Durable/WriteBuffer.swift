/// Encoded frames waiting to be written: contiguous bytes plus the offsets they carry.
/// Owned by a `PartitionLog` and touched under its lock (or by the one flushing thread that took it).
struct WriteBuffer {
    private(set) var base: UnsafeMutableRawPointer
    private(set) var capacity: Int
    let normalCapacity: Int
    var used = 0
    var count = 0
    var firstOffset: UInt64 = 0

    init(capacity: Int) {
        normalCapacity = capacity
        self.capacity = capacity
        base = .allocate(byteCount: capacity, alignment: 16)
    }

    /// Makes room for `bytes` more; grows (temporarily) only for a batch larger than the buffer.
    mutating func reserve(_ bytes: Int) {
        guard used + bytes > capacity else { return }
        let newCapacity = max(capacity * 2, used + bytes)
        let grown = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        grown.copyMemory(from: base, byteCount: used)
        base.deallocate()
        base = grown
        capacity = newCapacity
    }

    /// Empties the buffer, returning to the normal size if a large batch grew it.
    mutating func reset() {
        used = 0
        count = 0
        if capacity > normalCapacity {
            base.deallocate()
            base = .allocate(byteCount: normalCapacity, alignment: 16)
            capacity = normalCapacity
        }
    }

    func free() { base.deallocate() }
}
