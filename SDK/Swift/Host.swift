import CStarbloomABI

/// The host API for one instance. A plain struct of two pointers: copying it costs nothing and calls
/// through it do no reference counting (the hot path stays free of retain/release).
public struct Host: @unchecked Sendable { // the table and context are valid until destroy, on any thread
    let api: UnsafePointer<sb_host_api>
    let context: OpaquePointer?

    init(api: UnsafePointer<sb_host_api>, context: OpaquePointer?) {
        self.api = api
        self.context = context
    }

    public enum LogLevel { case trace, debug, info, warning, error }

    public func log(_ level: LogLevel, _ message: String) {
        let cLevel: sb_log_level = switch level {
        case .trace: SB_LOG_TRACE
        case .debug: SB_LOG_DEBUG
        case .info: SB_LOG_INFO
        case .warning: SB_LOG_WARN
        case .error: SB_LOG_ERROR
        }
        var text = message
        text.withUTF8 { utf8 in
            utf8.withMemoryRebound(to: CChar.self) { api.pointee.log(context, cLevel, sb_str(ptr: $0.baseAddress, len: $0.count)) }
        }
    }

    @inline(__always)
    func check(_ status: sb_status, _ call: String) throws(PluginError) {
        if status != SB_OK { throw PluginError(host: status, api: api, context: context, call: call) }
    }

    // MARK: Publishing

    /// Publishes one record; returns its offset. An empty topic means the instance's output topic.
    @discardableResult
    public func publish(topic: String = "", key: [UInt8] = [], payload: [UInt8], headers: [(String, [UInt8])] = [],
                        eventTimeNs: Int64 = 0) throws(PluginError) -> UInt64 {
        var offset: UInt64 = 0
        let status = RecordBuilder.with(topic: topic, key: key, payload: payload, headers: headers, eventTimeNs: eventTimeNs) { record in
            api.pointee.publish(context, record, &offset)
        }
        try check(status, "publish")
        return offset
    }

    // MARK: Metrics

    public struct Metric: Sendable {
        let id: sb_metric_id
        let host: Host
        public func add(_ delta: UInt64 = 1) { host.api.pointee.counter_add(host.context, id, delta) }
        public func set(_ value: Double) { host.api.pointee.gauge_set(host.context, id, value) }
        public func observe(_ value: Double) { host.api.pointee.histogram_observe(host.context, id, value) }
    }

    public func counter(_ name: String, help: String) throws(PluginError) -> Metric {
        try register(SB_METRIC_COUNTER, name, help)
    }
    public func gauge(_ name: String, help: String) throws(PluginError) -> Metric {
        try register(SB_METRIC_GAUGE, name, help)
    }
    public func histogram(_ name: String, help: String) throws(PluginError) -> Metric {
        try register(SB_METRIC_HISTOGRAM, name, help)
    }

    private func register(_ kind: sb_metric_kind, _ name: String, _ help: String) throws(PluginError) -> Metric {
        var id: sb_metric_id = 0
        let status = withStr(name) { n in withStr(help) { h in api.pointee.metric_register(context, kind, n, h, &id) } }
        try check(status, "metric_register(\(name))")
        return Metric(id: id, host: self)
    }

    // MARK: Key-value (the instance's namespace)

    /// The value and its version, or nil when absent.
    public func get(_ key: [UInt8]) throws(PluginError) -> (value: [UInt8], version: UInt64)? {
        var buffer = sb_buffer()
        var version: UInt64 = 0
        let status = withBytes(key) { api.pointee.kv_get(context, $0, &buffer, &version) }
        if status == SB_ERR_NOT_FOUND { return nil }
        try check(status, "kv_get")
        defer { api.pointee.buffer_free(context, &buffer) }
        return (Array(UnsafeBufferPointer(start: buffer.ptr, count: buffer.len)), version)
    }

    @discardableResult
    public func put(_ key: [UInt8], _ value: [UInt8]) throws(PluginError) -> UInt64 {
        var version: UInt64 = 0
        let status = withBytes(key) { k in withBytes(value) { v in api.pointee.kv_put(context, k, v, &version) } }
        try check(status, "kv_put")
        return version
    }

    /// Returns false when the key did not exist.
    @discardableResult
    public func delete(_ key: [UInt8]) throws(PluginError) -> Bool {
        let status = withBytes(key) { api.pointee.kv_delete(context, $0) }
        if status == SB_ERR_NOT_FOUND { return false }
        try check(status, "kv_delete")
        return true
    }

    /// Writes if the version matches (0: key must be absent). Returns the new version, or nil on conflict.
    public func compareAndSwap(_ key: [UInt8], expectedVersion: UInt64, _ value: [UInt8]) throws(PluginError) -> UInt64? {
        var version: UInt64 = 0
        let status = withBytes(key) { k in withBytes(value) { v in api.pointee.kv_compare_and_swap(context, k, expectedVersion, v, &version) } }
        if status == SB_ERR_CONFLICT { return nil }
        try check(status, "kv_compare_and_swap")
        return version
    }

    // MARK: Checkpoints

    public func saveCheckpoint(_ state: [UInt8]) throws(PluginError) {
        try check(withBytes(state) { api.pointee.checkpoint_save(context, $0) }, "checkpoint_save")
    }

    public func loadCheckpoint() throws(PluginError) -> [UInt8]? {
        var buffer = sb_buffer()
        let status = api.pointee.checkpoint_load(context, &buffer)
        if status == SB_ERR_NOT_FOUND { return nil }
        try check(status, "checkpoint_load")
        defer { api.pointee.buffer_free(context, &buffer) }
        return Array(UnsafeBufferPointer(start: buffer.ptr, count: buffer.len))
    }

    // MARK: Time series

    public func writePoint(metric: String, tags: [String: String] = [:], timestampNs: Int64? = nil, value: Double) throws(PluginError) {
        let time = timestampNs ?? nowUnixNs
        // Tags are laid out in one contiguous UTF-8 buffer so that their sb_str views stay valid.
        let pairs = tags.sorted { $0.key < $1.key }
        var storage: [UInt8] = []
        for (name, tagValue) in pairs { storage += Array(name.utf8) + Array(tagValue.utf8) }
        let status = storage.withUnsafeBufferPointer { bytes -> sb_status in
            var cTags: [sb_tag] = []
            var cursor = 0
            let base = UnsafeRawPointer(bytes.baseAddress)?.assumingMemoryBound(to: CChar.self)
            for (name, tagValue) in pairs {
                let n = name.utf8.count, v = tagValue.utf8.count
                cTags.append(sb_tag(name: sb_str(ptr: base.map { $0 + cursor }, len: n),
                                    value: sb_str(ptr: base.map { $0 + cursor + n }, len: v)))
                cursor += n + v
            }
            return withStr(metric) { m in
                cTags.withUnsafeBufferPointer { api.pointee.timeseries_write(context, m, $0.baseAddress, $0.count, time, value) }
            }
        }
        try check(status, "timeseries_write(\(metric))")
    }

    // MARK: Clock and stop

    public var nowUnixNs: Int64 { api.pointee.now_unix_ns(context) }
    public var monotonicNs: Int64 { api.pointee.monotonic_ns(context) }
    public var shouldStop: Bool { api.pointee.should_stop(context) != 0 }

    /// Sleeps up to `nanoseconds`, returning true early when a stop is requested.
    @discardableResult
    public func wait(nanoseconds: UInt64) -> Bool { api.pointee.wait(context, nanoseconds) != 0 }
}

@inline(__always)
func withStr<R>(_ text: String, _ body: (sb_str) -> R) -> R {
    var copy = text
    return copy.withUTF8 { utf8 in
        utf8.withMemoryRebound(to: CChar.self) { body(sb_str(ptr: $0.baseAddress, len: $0.count)) }
    }
}

@inline(__always)
func withBytes<R>(_ bytes: [UInt8], _ body: (sb_bytes) -> R) -> R {
    bytes.withUnsafeBufferPointer { body(sb_bytes(ptr: $0.baseAddress, len: $0.count)) }
}
