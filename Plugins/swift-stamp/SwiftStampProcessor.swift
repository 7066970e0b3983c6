import StarbloomPluginSDK

/// A bundled processor written in Swift against the SDK: stamps every record with the instance name
/// and a sequence number kept in the instance's key-value namespace, and forwards it to the output topic.
final class SwiftStampProcessor: StarbloomProcessor {
    static let metadata = PluginMetadata(
        name: "swift-stamp",
        version: "1.0.0",
        description: "Stamps records with the instance name and a persistent sequence number",
        settings: [
            .string("header", default: "stamped-by", doc: "Name of the header that carries the instance name"),
            .string("reject_payload", doc: "Records whose payload equals this text are rejected to the dead-letter topic"),
            .string("fail_payload", doc: "A record whose payload equals this text fails the batch (for testing restarts)"),
            .bool("self_test", default: false, doc: "At start, call every host API function once and log the outcome"),
        ])

    let host: Host
    let header: String
    let rejectPayload: [UInt8]?
    let failPayload: [UInt8]?
    let selfTest: Bool
    let stamped: Host.Metric
    let lastBatch: Host.Metric
    let batchSizes: Host.Metric
    var sequence: UInt64 = 0
    var instanceName: String

    init(host: Host, config: Config) throws(PluginError) {
        self.host = host
        header = config.string("header") ?? "stamped-by"
        rejectPayload = config.string("reject_payload").map { Array($0.utf8) }
        failPayload = config.string("fail_payload").map { Array($0.utf8) }
        selfTest = config.bool("self_test") ?? false
        instanceName = config.instanceName
        stamped = try host.counter("stamped_total", help: "Records stamped")
        lastBatch = try host.gauge("last_batch_size", help: "Size of the last batch")
        batchSizes = try host.histogram("batch_size", help: "Batch sizes")
    }

    func start() throws(PluginError) {
        if let saved = try host.get(Array("sequence".utf8)), let value = UInt64(String(decoding: saved.value, as: UTF8.self)) {
            sequence = value
        }
        if selfTest { try runSelfTest() }
        host.log(.info, "swift-stamp started at sequence \(sequence)")
    }

    func process(_ batch: RecordBatch, emitter: Emitter) throws(PluginError) {
        for (index, record) in batch.enumerated() {
            let payload = Array(record.payload)
            if let failPayload, payload == failPayload {
                throw PluginError("payload '\(String(decoding: payload, as: UTF8.self))' is configured to fail")
            }
            if payload.isEmpty || payload == rejectPayload {
                try emitter.reject(index, reason: payload.isEmpty ? "empty payload" : "payload matches reject_payload")
                continue
            }
            sequence += 1
            var headers = record.headers.map { ($0.name, $0.value) }
            headers.append((header, Array(instanceName.utf8)))
            headers.append(("stamp-seq", Array(String(sequence).utf8)))
            try emitter.emit(key: Array(record.key), payload: payload, headers: headers, eventTimeNs: record.eventTimeNs)
        }
        stamped.add(UInt64(batch.count))
        lastBatch.set(Double(batch.count))
        batchSizes.observe(Double(batch.count))
        try host.put(Array("sequence".utf8), Array(String(sequence).utf8))
        try host.writePoint(metric: "swift_stamp.batch_size", tags: ["kind": "batch"], value: Double(batch.count))
    }

    /// Calls every host API function once; logs "self-test: ok" or the first failure.
    private func runSelfTest() throws(PluginError) {
        func expect(_ condition: Bool, _ what: String) throws(PluginError) {
            if !condition { throw PluginError("self-test failed: \(what)") }
        }
        let key = Array("self-test".utf8)
        let v1 = try host.put(key, Array("one".utf8))
        let read = try host.get(key)
        try expect(read?.value == Array("one".utf8) && read?.version == v1, "kv_get after kv_put")
        let v2 = try host.compareAndSwap(key, expectedVersion: v1, Array("two".utf8))
        try expect(v2 != nil, "kv_compare_and_swap with the current version")
        try expect(try host.compareAndSwap(key, expectedVersion: v1, Array("three".utf8)) == nil, "kv_compare_and_swap conflict")
        try expect(try host.delete(key), "kv_delete existing")
        try expect(!(try host.delete(key)), "kv_delete missing")
        try host.saveCheckpoint(Array("swift-checkpoint".utf8))
        try expect(try host.loadCheckpoint() == Array("swift-checkpoint".utf8), "checkpoint round trip")
        try host.writePoint(metric: "swift_stamp.self_test", tags: ["step": "timeseries"], value: 1)
        let before = host.monotonicNs
        try expect(host.monotonicNs >= before && host.nowUnixNs > 1_600_000_000_000_000_000, "clock")
        try expect(!host.shouldStop, "should_stop before any stop")
        try expect(!host.wait(nanoseconds: 1_000_000), "wait times out without a stop")
        try host.publish(topic: "swift-stamp.self-test", payload: Array("published".utf8))
        let counter = try host.counter("self_test_total", help: "Self-test runs")
        counter.add()
        host.log(.info, "self-test: ok")
    }
}

@_cdecl("starbloom_plugin_entry")
public func starbloomPluginEntry() -> UnsafeRawPointer {
    PluginExport.processor(SwiftStampProcessor.self)
}
