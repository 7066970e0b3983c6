import CStarbloomABI

/// A record handed to `process`: views into host memory, valid only during that call.
public struct Record {
    let raw: UnsafePointer<sb_record>

    public var topic: String { string(raw.pointee.topic) }
    public var offset: UInt64 { raw.pointee.offset }
    public var eventTimeNs: Int64 { raw.pointee.event_time_ns }
    /// Borrowed bytes: copy (`Array(record.payload)`) to keep them past the call.
    public var key: UnsafeRawBufferPointer { bytes(raw.pointee.key) }
    public var payload: UnsafeRawBufferPointer { bytes(raw.pointee.payload) }

    public var headers: [(name: String, value: [UInt8])] {
        guard let headers = raw.pointee.headers else { return [] }
        return (0..<raw.pointee.header_count).map { (string(headers[$0].name), Array(bytes(headers[$0].value))) }
    }

    public func header(_ name: String) -> [UInt8]? {
        headers.first { $0.name == name }?.value
    }

    /// The headers except those named `name`, compared in place: nothing is allocated for the
    /// headers left out (a processor dropping the host's `starbloom-txn` tag pays nothing for it).
    public func headers(excluding name: String) -> [(String, [UInt8])] {
        guard let headers = raw.pointee.headers, raw.pointee.header_count > 0 else { return [] }
        var kept: [(String, [UInt8])] = []
        let target = name.utf8
        for index in 0..<raw.pointee.header_count {
            let header = headers[index]
            if header.name.len == target.count,
               header.name.len == 0 || UnsafeRawBufferPointer(start: header.name.ptr, count: header.name.len).elementsEqual(target) {
                continue
            }
            kept.append((string(header.name), Array(bytes(header.value))))
        }
        return kept
    }
}

/// The batch given to `process`.
public struct RecordBatch: RandomAccessCollection {
    let records: UnsafeBufferPointer<sb_record>
    public var startIndex: Int { 0 }
    public var endIndex: Int { records.count }
    public subscript(position: Int) -> Record { Record(raw: records.baseAddress! + position) }
}

/// How a processor emits results and rejects inputs. Valid only during `process`.
public struct Emitter {
    let raw: UnsafePointer<sb_emitter>
    let api: UnsafePointer<sb_host_api>
    let context: OpaquePointer?

    /// Emits one record. An empty topic means the instance's output topic.
    public func emit(topic: String = "", key: [UInt8] = [], payload: [UInt8], headers: [(String, [UInt8])] = [],
                     eventTimeNs: Int64 = 0) throws(PluginError) {
        let status = RecordBuilder.with(topic: topic, key: key, payload: payload, headers: headers, eventTimeNs: eventTimeNs) {
            raw.pointee.emit(raw.pointee.ctx, $0)
        }
        if status != SB_OK { throw PluginError(host: status, api: api, context: context, call: "emit") }
    }

    /// The same with the key borrowed (for example an input record's `key`): no array per record.
    public func emit(topic: String = "", key: UnsafeRawBufferPointer, payload: [UInt8], headers: [(String, [UInt8])] = [],
                     eventTimeNs: Int64 = 0) throws(PluginError) {
        let cKey = sb_bytes(ptr: key.baseAddress?.assumingMemoryBound(to: UInt8.self), len: key.count)
        let status = RecordBuilder.with(topic: topic, key: cKey, payload: payload, headers: headers, eventTimeNs: eventTimeNs) {
            raw.pointee.emit(raw.pointee.ctx, $0)
        }
        if status != SB_OK { throw PluginError(host: status, api: api, context: context, call: "emit") }
    }

    /// Rejects input record `index`: the host retries it, then sends it to the dead-letter topic.
    public func reject(_ index: Int, reason: String) throws(PluginError) {
        let status = withStr(reason) { raw.pointee.reject(raw.pointee.ctx, index, $0) }
        if status != SB_OK { throw PluginError(host: status, api: api, context: context, call: "reject") }
    }
}

/// Builds a borrowed `sb_record` over Swift values for the duration of one call.
enum RecordBuilder {
    static func with(topic: String, key: [UInt8], payload: [UInt8], headers: [(String, [UInt8])], eventTimeNs: Int64,
                     _ body: (UnsafePointer<sb_record>) -> sb_status) -> sb_status {
        withBytes(key) { cKey in with(topic: topic, key: cKey, payload: payload, headers: headers, eventTimeNs: eventTimeNs, body) }
    }

    static func with(topic: String, key cKey: sb_bytes, payload: [UInt8], headers: [(String, [UInt8])], eventTimeNs: Int64,
                     _ body: (UnsafePointer<sb_record>) -> sb_status) -> sb_status {
        withStr(topic) { cTopic in
            withBytes(payload) { cPayload in
                withHeaders(headers) { cHeaders in
                    var record = sb_record(topic: cTopic, key: cKey, payload: cPayload,
                                           headers: cHeaders.baseAddress, header_count: cHeaders.count,
                                           event_time_ns: eventTimeNs, offset: 0, partition: 0, reserved: 0)
                    return body(&record)
                }
            }
        }
    }

    static func withHeaders<R>(_ headers: [(String, [UInt8])], _ body: (UnsafeBufferPointer<sb_header>) -> R) -> R {
        if headers.isEmpty { return body(UnsafeBufferPointer(start: nil, count: 0)) }
        var storage: [UInt8] = []
        for (name, value) in headers { storage += Array(name.utf8) + value }
        return storage.withUnsafeBufferPointer { bytes in
            var cHeaders: [sb_header] = []
            cHeaders.reserveCapacity(headers.count)
            var cursor = 0
            for (name, value) in headers {
                let n = name.utf8.count
                let base = bytes.baseAddress.map { $0 + cursor }
                cHeaders.append(sb_header(
                    name: sb_str(ptr: UnsafeRawPointer(base)?.assumingMemoryBound(to: CChar.self), len: n),
                    value: sb_bytes(ptr: base.map { $0 + n }, len: value.count)))
                cursor += n + value.count
            }
            return cHeaders.withUnsafeBufferPointer(body)
        }
    }
}

@inline(__always)
func string(_ value: sb_str) -> String {
    guard let base = value.ptr, value.len > 0 else { return "" }
    return String(decoding: UnsafeRawBufferPointer(start: base, count: value.len), as: UTF8.self)
}

@inline(__always)
func bytes(_ value: sb_bytes) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(start: value.ptr, count: value.ptr == nil ? 0 : value.len)
}
