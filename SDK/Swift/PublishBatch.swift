import CStarbloomABI

/// Records gathered for one `publish_batch` call (`Host.publish(_:)`). Their bytes are packed into
/// one growing buffer, so a batch of thousands of records costs a few allocations, not several per
/// record. Reuse one batch with `removeAll()` to keep its capacity.
public struct PublishBatch {
    struct Entry {
        var topic: Range<Int>
        var key: Range<Int>
        var payload: Range<Int>
        var headers: Range<Int>      // into `headerEntries`
        var eventTimeNs: Int64
    }

    var bytes: [UInt8] = []
    var entries: [Entry] = []
    var headerEntries: [(name: Range<Int>, value: Range<Int>)] = []

    /// At most this many records per call (the ABI's limit for `publish_batch`).
    public static let maxCount = 65_536

    public init() {}

    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }
    /// Bytes of topics, keys, payloads and headers held.
    public var byteCount: Int { bytes.count }

    /// Adds one record. An empty topic means the instance's output topic; `eventTimeNs` 0 means now.
    public mutating func append<Key: Collection<UInt8>, Payload: Collection<UInt8>>(
        topic: String = "", key: Key, payload: Payload, headers: [(String, [UInt8])] = [], eventTimeNs: Int64 = 0
    ) {
        let topicRange = add(topic.utf8)
        let keyRange = add(key)
        let payloadRange = add(payload)
        let firstHeader = headerEntries.count
        for (name, value) in headers { headerEntries.append((add(name.utf8), add(value))) }
        entries.append(Entry(topic: topicRange, key: keyRange, payload: payloadRange,
                             headers: firstHeader..<headerEntries.count, eventTimeNs: eventTimeNs))
    }

    /// Adds one record whose payload `write` assembles from parts straight into the batch's buffer:
    /// no array per payload (for a source publishing hundreds of thousands of records a second, the
    /// allocation and copy of each payload is a large share of its work). Same topic and event-time
    /// rules as `append(topic:key:payload:)`; no headers.
    public mutating func append(topic: String = "", key: UnsafeRawBufferPointer, eventTimeNs: Int64 = 0,
                                payload write: (inout PayloadWriter) throws -> Void) rethrows {
        let topicRange = add(topic.utf8)
        let keyRange = add(key)
        var writer = PayloadWriter()
        swap(&writer.bytes, &bytes) // moved, not copied: the writer appends to this batch's buffer
        let payloadStart = writer.bytes.count
        do {
            try write(&writer)
        } catch {
            swap(&writer.bytes, &bytes)
            bytes.removeSubrange(topicRange.lowerBound...) // nothing of a record that failed stays
            throw error
        }
        swap(&writer.bytes, &bytes)
        entries.append(Entry(topic: topicRange, key: keyRange, payload: payloadStart..<bytes.count,
                             headers: headerEntries.count..<headerEntries.count, eventTimeNs: eventTimeNs))
    }

    /// Appends the parts of one payload (see `append(topic:key:eventTimeNs:payload:)`); it can only append.
    public struct PayloadWriter {
        fileprivate var bytes: [UInt8] = []

        public mutating func append(_ part: UnsafeRawBufferPointer) { bytes.append(contentsOf: part) }
        public mutating func append(_ part: [UInt8]) { bytes.append(contentsOf: part) }
        public mutating func append(_ byte: UInt8) { bytes.append(byte) }
    }

    public mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
        entries.removeAll(keepingCapacity: true)
        headerEntries.removeAll(keepingCapacity: true)
    }

    private mutating func add<C: Collection<UInt8>>(_ part: C) -> Range<Int> {
        let start = bytes.count
        bytes.append(contentsOf: part)
        return start..<bytes.count
    }

    /// Calls `body` with `sb_record`s pointing into this batch's buffer (valid only during the call).
    func withRecords<R>(_ body: (UnsafeBufferPointer<sb_record>) -> R) -> R {
        bytes.withUnsafeBufferPointer { buffer in
            let base = buffer.baseAddress
            func pointer(_ range: Range<Int>) -> UnsafePointer<UInt8>? { range.isEmpty ? nil : base.map { $0 + range.lowerBound } }
            let cHeaders = headerEntries.map { header in
                sb_header(name: sb_str(ptr: UnsafeRawPointer(pointer(header.name))?.assumingMemoryBound(to: CChar.self), len: header.name.count),
                          value: sb_bytes(ptr: pointer(header.value), len: header.value.count))
            }
            return cHeaders.withUnsafeBufferPointer { headers in
                let records = entries.map { entry in
                    sb_record(topic: sb_str(ptr: UnsafeRawPointer(pointer(entry.topic))?.assumingMemoryBound(to: CChar.self), len: entry.topic.count),
                              key: sb_bytes(ptr: pointer(entry.key), len: entry.key.count),
                              payload: sb_bytes(ptr: pointer(entry.payload), len: entry.payload.count),
                              headers: entry.headers.isEmpty ? nil : headers.baseAddress.map { $0 + entry.headers.lowerBound },
                              header_count: entry.headers.count,
                              event_time_ns: entry.eventTimeNs, offset: 0, partition: 0, reserved: 0)
                }
                return records.withUnsafeBufferPointer(body)
            }
        }
    }
}

extension Host {
    /// Publishes every record of `batch` in order with one `publish_batch` call: all or nothing, and on
    /// an `always` topic one fsync covers them all. More than `PublishBatch.maxCount` records is refused
    /// (split the batch yourself: atomicity is per call).
    public func publish(_ batch: PublishBatch) throws(PluginError) {
        if batch.isEmpty { return }
        guard batch.count <= PublishBatch.maxCount else {
            throw PluginError("publish_batch: \(batch.count) records in one batch (at most \(PublishBatch.maxCount)); split it",
                              status: SB_ERR_INVALID_ARGUMENT)
        }
        let status = batch.withRecords { records in
            api.pointee.publish_batch(context, records.baseAddress, records.count, nil)
        }
        try check(status, "publish_batch")
    }
}

extension Host {
    /// Publishes every record of `batch` and saves `checkpoint` as one transaction
    /// (`publish_batch_checkpoint`, ABI 1.1): after any crash either both happened or neither, so a
    /// source resuming from its checkpoint publishes each record exactly once. On an older host
    /// (1.0) it falls back to `publish` then `saveCheckpoint` (a crash between them repeats the batch).
    /// After an error, return from `run`: the host finishes a committed transaction before the next start.
    public func publish(_ batch: PublishBatch, checkpoint: [UInt8]) throws(PluginError) {
        guard hasTransactions else {
            try publish(batch)
            try saveCheckpoint(checkpoint)
            return
        }
        guard batch.count <= PublishBatch.maxCount else {
            throw PluginError("publish_batch_checkpoint: \(batch.count) records in one batch (at most \(PublishBatch.maxCount)); split it",
                              status: SB_ERR_INVALID_ARGUMENT)
        }
        let status = batch.withRecords { records in
            withBytes(checkpoint) { state in
                api.pointee.publish_batch_checkpoint(context, records.baseAddress, records.count, state)
            }
        }
        try check(status, "publish_batch_checkpoint")
    }

    /// Whether the host offers `publish_batch_checkpoint` (ABI 1.1 or later).
    public var hasTransactions: Bool {
        let end = MemoryLayout<sb_host_api>.offset(of: \.publish_batch_checkpoint)! + MemoryLayout<UnsafeRawPointer>.size
        return Int(api.pointee.struct_size) >= end && api.pointee.publish_batch_checkpoint != nil
    }
}
