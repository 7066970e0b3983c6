import CStarbloomABI

/// Records copied out of borrowed `sb_record`s into one growing buffer, to be appended later (what a
/// processor emits during one `process` call). One buffer instead of three or four arrays per
/// record: emitting stays cheap at hundreds of thousands of records a second.
struct RecordBuffer {
    private struct Entry {
        var topic: Range<Int>
        var key: Range<Int>
        var payload: Range<Int>
        var headers: Range<Int> // into `headerEntries`
        var eventTimeNs: Int64
    }

    private var bytes: [UInt8] = []
    private var entries: [Entry] = []
    private var headerEntries: [(name: Range<Int>, value: Range<Int>)] = []

    var count: Int { entries.count }
    /// Bytes of topics, keys, payloads and headers held.
    var byteCount: Int { bytes.count }

    mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
        entries.removeAll(keepingCapacity: true)
        headerEntries.removeAll(keepingCapacity: true)
    }

    /// Copies `record` (its buffers are only borrowed by the caller). NULL headers count as none.
    mutating func append(_ record: sb_record) {
        let topic = add(record.topic.ptr.map(UnsafeRawPointer.init), record.topic.len)
        let key = add(record.key.ptr.map(UnsafeRawPointer.init), record.key.len)
        let payload = add(record.payload.ptr.map(UnsafeRawPointer.init), record.payload.len)
        let first = headerEntries.count
        if let headers = record.headers {
            for i in 0..<record.header_count {
                headerEntries.append((add(headers[i].name.ptr.map(UnsafeRawPointer.init), headers[i].name.len),
                                      add(headers[i].value.ptr.map(UnsafeRawPointer.init), headers[i].value.len)))
            }
        }
        entries.append(Entry(topic: topic, key: key, payload: payload, headers: first..<headerEntries.count, eventTimeNs: record.event_time_ns))
    }

    private mutating func add(_ pointer: UnsafeRawPointer?, _ count: Int) -> Range<Int> {
        let start = bytes.count
        if let pointer, count > 0 { bytes.append(contentsOf: UnsafeRawBufferPointer(start: pointer, count: count)) }
        return start..<bytes.count
    }

    /// Calls `body` with records `range` as `sb_record`s pointing into the buffer (valid during the call).
    func withRecords<R>(_ range: Range<Int>, _ body: (UnsafeBufferPointer<sb_record>) -> R) -> R {
        bytes.withUnsafeBufferPointer { buffer in
            let base = buffer.baseAddress
            func pointer(_ part: Range<Int>) -> UnsafePointer<UInt8>? { part.isEmpty ? nil : base.map { $0 + part.lowerBound } }
            func string(_ part: Range<Int>) -> sb_str {
                sb_str(ptr: UnsafeRawPointer(pointer(part))?.assumingMemoryBound(to: CChar.self), len: part.count)
            }
            let headers = headerEntries.map { sb_header(name: string($0.name), value: sb_bytes(ptr: pointer($0.value), len: $0.value.count)) }
            return headers.withUnsafeBufferPointer { cHeaders in
                let records = entries[range].map { entry in
                    sb_record(topic: string(entry.topic), key: sb_bytes(ptr: pointer(entry.key), len: entry.key.count),
                              payload: sb_bytes(ptr: pointer(entry.payload), len: entry.payload.count),
                              headers: entry.headers.isEmpty ? nil : cHeaders.baseAddress.map { $0 + entry.headers.lowerBound },
                              header_count: entry.headers.count, event_time_ns: entry.eventTimeNs, offset: 0, partition: 0, reserved: 0)
                }
                return records.withUnsafeBufferPointer(body)
            }
        }
    }
}
