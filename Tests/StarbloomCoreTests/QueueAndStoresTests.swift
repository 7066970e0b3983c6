import Foundation
import Testing
@testable import StarbloomCore

/// Appends owned records to a topic through the same path the host API uses (sb_record views).
private func appendRecords(
    _ appender: any TopicAppender, _ records: [QueueRecord], defaultEventTimeNs: Int64 = 0
) throws(QueueError) -> UInt64 {
    let arena = RecordArena(records)
    defer { arena.release() }
    let last = try appender.append(UnsafeBufferPointer(start: arena.records, count: records.count), defaultEventTimeNs: defaultEventTimeNs)
    return last.offset - UInt64(records.count - 1) // the first record's offset (one partition)
}

private func record(
    _ payload: String, key: String = "", headers: [QueueRecord.Header] = [], eventTimeNs: Int64 = 0
) -> QueueRecord {
    QueueRecord(topic: "", offset: 0, key: utf8(key), payload: utf8(payload), headers: headers, eventTimeNs: eventTimeNs)
}

// MARK: - Topic names

@Suite("Topic names and patterns")
struct TopicNameTests {
    @Test("valid topic names pass; each invalid one is explained")
    func topicNameValidation() {
        for valid in ["a", "eth.mainnet.logs", "A-b_c.9", String(repeating: "x", count: 255), "a.b.c.d.e"] {
            #expect(TopicName.problem(with: valid) == nil, "\(valid)")
        }
        #expect(TopicName.problem(with: "") == "topic name is empty")
        #expect(TopicName.problem(with: String(repeating: "x", count: 256)) == "topic name is 256 bytes (at most 255)")
        for emptySegment in ["a..b", ".a", "a.", "."] {
            #expect(TopicName.problem(with: emptySegment)?.contains("empty segment") == true, "\(emptySegment)")
        }
        #expect(TopicName.problem(with: "a b")?.contains("contains ' '") == true)
        #expect(TopicName.problem(with: "a/b")?.contains("contains '/'") == true)
        #expect(TopicName.problem(with: "a.*") != nil, "wildcards are for patterns only")
        #expect(TopicName.problem(with: "a.>") != nil)
    }

    @Test("patterns accept * for one segment and a final > for the rest")
    func patternValidation() {
        for valid in ["a.b", "a.*.c", "*", ">", "a.>", "*.*.>"] {
            #expect(TopicName.patternProblem(valid) == nil, "\(valid)")
        }
        #expect(TopicName.patternProblem("") == "topic pattern is empty")
        #expect(TopicName.patternProblem("a.>.b")?.contains("'>' must be the last segment") == true)
        #expect(TopicName.patternProblem("a..b") != nil)
        #expect(TopicName.patternProblem("a.b c") != nil)
        #expect(TopicName.patternProblem("a.b*") != nil, "a wildcard is a whole segment")
    }

    @Test("pattern matching: exact, * for exactly one segment, > for one or more trailing segments")
    func patternMatching() {
        let cases: [(pattern: String, topic: String, matches: Bool)] = [
            ("a.b", "a.b", true),
            ("a.b", "a.b.c", false),
            ("a.b", "a", false),
            ("a.b", "a.c", false),
            ("a.*.c", "a.b.c", true),
            ("a.*.c", "a.b.d", false),
            ("a.*.c", "a.b.x.c", false),
            ("a.*", "a.b", true),
            ("a.*", "a.b.c", false),
            ("a.*", "a", false),
            ("*", "anything", true),
            ("*", "a.b", false),
            ("a.>", "a.b", true),
            ("a.>", "a.b.c.d", true),
            ("a.>", "a", false),
            ("a.>", "b.c", false),
            (">", "x", true),
            (">", "x.y.z", true),
            ("*.b.>", "a.b.c", true),
            ("*.b.>", "a.b", false),
            ("*.b.>", "a.c.d", false),
        ]
        for (pattern, topic, expected) in cases {
            #expect(TopicName.matches(pattern: pattern, topic: topic) == expected, "\(pattern) vs \(topic)")
        }
    }
}

// MARK: - In-memory queue

@Suite("In-memory queue")
struct InMemoryQueueTests {
    @Test("append returns offsets, read returns owned copies in order, commit tracks groups")
    func appendReadCommit() throws {
        let queue = InMemoryQueue()
        let appender = try queue.topic(named: "q.t")
        #expect(appender.name == "q.t")
        #expect(try queue.topic(named: "q.t") === appender, "one appender per topic")

        let header = QueueRecord.Header(name: "h", value: [1, 2, 3])
        let first = try appendRecords(appender, [
            record("one", key: "k1", headers: [header], eventTimeNs: 123),
            record("two", eventTimeNs: 0),
            record("", key: "only-key", eventTimeNs: 5),
        ], defaultEventTimeNs: 777)
        #expect(first == 0)
        #expect(try appendRecords(appender, [record("four", eventTimeNs: 9)]) == 3)

        let all = try queue.read(topic: "q.t", from: 0, limit: 10)
        let expected = [
            QueueRecord(topic: "q.t", offset: 0, key: utf8("k1"), payload: utf8("one"), headers: [header], eventTimeNs: 123),
            QueueRecord(topic: "q.t", offset: 1, key: [], payload: utf8("two"), headers: [], eventTimeNs: 777),
            QueueRecord(topic: "q.t", offset: 2, key: utf8("only-key"), payload: [], headers: [], eventTimeNs: 5),
            QueueRecord(topic: "q.t", offset: 3, key: [], payload: utf8("four"), headers: [], eventTimeNs: 9),
        ]
        #expect(all == expected)
        #expect(try queue.read(topic: "q.t", from: 2, limit: 1) == [expected[2]])
        #expect(try queue.read(topic: "q.t", from: 1, limit: 2).map(\.offset) == [1, 2])
        #expect(try queue.read(topic: "q.t", from: 4, limit: 10).isEmpty)
        #expect(try queue.read(topic: "q.t", from: 100, limit: 10).isEmpty)
        #expect(try queue.read(topic: "never.written", from: 0, limit: 10).isEmpty)

        let info = try #require(queue.topics().first { $0.name == "q.t" })
        #expect(info.firstOffset == 0)
        #expect(info.nextOffset == 4)
        #expect(info.bytes > 0)

        #expect(queue.committedOffset(group: "g1", topic: "q.t") == nil)
        try queue.commit(group: "g1", topic: "q.t", offset: 2)
        #expect(queue.committedOffset(group: "g1", topic: "q.t") == 2)
        #expect(queue.committedOffset(group: "g2", topic: "q.t") == nil)
        #expect(queue.committedOffset(group: "g1", topic: "other") == nil)
        try queue.commit(group: "g1", topic: "q.t", offset: 4)
        #expect(queue.committedOffset(group: "g1", topic: "q.t") == 4)
    }

    @Test("invalid topic names are refused; oversized records are refused all-or-nothing")
    func invalidAndTooLarge() throws {
        let queue = InMemoryQueue(maxRecordBytes: 64)
        let badName = try #require(throws: QueueError.self) { _ = try queue.topic(named: "bad topic") }
        #expect(badName.code == .invalidTopic)
        #expect(badName.message.contains("bad topic"))
        let badRead = try #require(throws: QueueError.self) { _ = try queue.read(topic: "a..b", from: 0, limit: 1) }
        #expect(badRead.code == .invalidTopic)

        let appender = try queue.topic(named: "small.t")
        _ = try appendRecords(appender, [record("fits")])
        let big = String(repeating: "x", count: 100)
        let tooLarge = try #require(throws: QueueError.self) {
            _ = try appendRecords(appender, [record("ok"), record(big), record("ok too")])
        }
        #expect(tooLarge.code == .tooLarge)
        #expect(tooLarge.message.contains("exceeds the limit of 64 bytes"), "\(tooLarge)")
        // Nothing of the failed batch was appended.
        #expect(try queue.read(topic: "small.t", from: 0, limit: 10).map(\.payloadText) == ["fits"])
        #expect(queue.topics().first { $0.name == "small.t" }?.nextOffset == 1)
    }

    @Test("a topic over its byte bound drops its oldest chunks, and readers skip ahead to what is retained")
    func byteBound() throws {
        let maxBytes = 8 << 20
        let queue = InMemoryQueue(maxRecordBytes: 1 << 20, maxBytesPerTopic: maxBytes)
        let appender = try queue.topic(named: "big.t")
        let total = 30
        for index in 0..<total {
            let payload = [UInt8](repeating: UInt8(index), count: 512 << 10)
            let offset = try appendRecords(appender, [QueueRecord(topic: "", offset: 0, key: [], payload: payload, headers: [], eventTimeNs: 1)])
            #expect(offset == UInt64(index))
        }

        let info = try #require(queue.topics().first { $0.name == "big.t" })
        #expect(info.nextOffset == UInt64(total))
        #expect(info.firstOffset > 0, "15 MiB in an 8 MiB topic: old chunks must be gone")
        #expect(info.bytes <= maxBytes)

        // A reader at 0 (or at any dropped offset) continues at the oldest retained record.
        let retained = try queue.read(topic: "big.t", from: 0, limit: 100)
        #expect(retained.first?.offset == info.firstOffset)
        #expect(retained.last?.offset == UInt64(total - 1))
        #expect(retained.count == total - Int(info.firstOffset))
        #expect(retained.map(\.offset) == Array(info.firstOffset..<UInt64(total)))
        for stored in retained {
            #expect(stored.payload.count == 512 << 10)
            #expect(stored.payload.first == UInt8(stored.offset) && stored.payload.last == UInt8(stored.offset))
        }
        let fromDropped = try queue.read(topic: "big.t", from: 1, limit: 1)
        #expect(fromDropped.map(\.offset) == [info.firstOffset])
        // Retained offsets are still read exactly.
        #expect(try queue.read(topic: "big.t", from: UInt64(total - 2), limit: 5).map(\.offset) == [UInt64(total - 2), UInt64(total - 1)])
    }
}

// MARK: - Key-value store

@Suite("In-memory key-value store")
struct InMemoryKeyValueStoreTests {
    @Test("compare-and-swap writes only on the expected version; versions never repeat, even after delete")
    func compareAndSwap() throws {
        let store = InMemoryKeyValueStore()
        let key = utf8("counter")

        let v1 = try store.compareAndSwap(namespace: "ns-a", key: key, expectedVersion: 0, value: utf8("1"))
        #expect(v1 > 0)
        let exists = try #require(throws: StoreError.self) {
            _ = try store.compareAndSwap(namespace: "ns-a", key: key, expectedVersion: 0, value: utf8("again"))
        }
        #expect(exists.code == .conflict)

        let v2 = try store.compareAndSwap(namespace: "ns-a", key: key, expectedVersion: v1, value: utf8("2"))
        #expect(v2 > v1)
        let stale = try #require(throws: StoreError.self) {
            _ = try store.compareAndSwap(namespace: "ns-a", key: key, expectedVersion: v1, value: utf8("stale"))
        }
        #expect(stale.code == .conflict)
        #expect(stale.message.contains("expected \(v1)"), "\(stale)")
        #expect(store.get(namespace: "ns-a", key: key) == VersionedValue(value: utf8("2"), version: v2))

        try store.delete(namespace: "ns-a", key: key)
        #expect(store.get(namespace: "ns-a", key: key) == nil)
        let missing = try #require(throws: StoreError.self) { try store.delete(namespace: "ns-a", key: key) }
        #expect(missing.code == .notFound)
        // A CAS against the version from before the delete cannot succeed.
        let afterDelete = try #require(throws: StoreError.self) {
            _ = try store.compareAndSwap(namespace: "ns-a", key: key, expectedVersion: v2, value: utf8("ghost"))
        }
        #expect(afterDelete.code == .conflict)

        // Re-created: the version is new, never one seen before.
        let v3 = try store.compareAndSwap(namespace: "ns-a", key: key, expectedVersion: 0, value: utf8("3"))
        #expect(v3 > v2)
        let v4 = try store.put(namespace: "ns-a", key: key, value: utf8("4"))
        #expect(v4 > v3)
        #expect(Set([v1, v2, v3, v4]).count == 4)
    }

    @Test("namespaces are separate, keys are listed in order, and limits are enforced")
    func namespacesAndLimits() throws {
        let store = InMemoryKeyValueStore()
        let va = try store.put(namespace: "ns-a", key: utf8("k"), value: utf8("a"))
        let vb = try store.put(namespace: "ns-b", key: utf8("k"), value: utf8("b"))
        #expect(va != vb)
        #expect(store.get(namespace: "ns-a", key: utf8("k"))?.value == utf8("a"))
        #expect(store.get(namespace: "ns-b", key: utf8("k"))?.value == utf8("b"))
        try store.delete(namespace: "ns-b", key: utf8("k"))
        #expect(store.get(namespace: "ns-a", key: utf8("k"))?.value == utf8("a"))

        _ = try store.put(namespace: "ns-a", key: utf8("b"), value: [])
        _ = try store.put(namespace: "ns-a", key: utf8("a"), value: [])
        #expect(store.keys(namespace: "ns-a") == [utf8("a"), utf8("b"), utf8("k")])
        #expect(store.keys(namespace: "ns-empty").isEmpty)

        let longKey = [UInt8](repeating: 0x41, count: StoreLimits.maxKeyBytes + 1)
        let keyError = try #require(throws: StoreError.self) { _ = try store.put(namespace: "ns-a", key: longKey, value: []) }
        #expect(keyError.code == .tooLarge)
        let bigValue = [UInt8](repeating: 0, count: StoreLimits.maxValueBytes + 1)
        let valueError = try #require(throws: StoreError.self) { _ = try store.put(namespace: "ns-a", key: utf8("v"), value: bigValue) }
        #expect(valueError.code == .tooLarge)
        #expect(store.get(namespace: "ns-a", key: utf8("v")) == nil)
        _ = try store.put(namespace: "ns-a", key: [UInt8](repeating: 0x41, count: StoreLimits.maxKeyBytes), value: [])
    }

    @Test("checkpoints replace each other per owner; time series keep finite points only")
    func checkpointsAndTimeSeries() throws {
        let checkpoints = InMemoryCheckpointStore()
        #expect(checkpoints.load(owner: "o") == nil)
        try checkpoints.save(owner: "o", state: utf8("1"))
        try checkpoints.save(owner: "o", state: utf8("2"))
        #expect(checkpoints.load(owner: "o") == utf8("2"))
        #expect(checkpoints.load(owner: "other") == nil)

        let series = InMemoryTimeSeriesStore(capacity: 3)
        for value in 1...5 {
            try series.write(TimeSeriesPoint(metric: "m", tags: [:], timestampNs: Int64(value), value: Double(value)))
        }
        #expect(series.points(metric: "m").map(\.value) == [3, 4, 5])
        let notFinite = try #require(throws: StoreError.self) {
            try series.write(TimeSeriesPoint(metric: "m", tags: [:], timestampNs: 0, value: .nan))
        }
        #expect(notFinite.code == .invalid)
        let unnamed = try #require(throws: StoreError.self) {
            try series.write(TimeSeriesPoint(metric: "", tags: [:], timestampNs: 0, value: 1))
        }
        #expect(unnamed.code == .invalid)
    }
}

// MARK: - Metrics

@Suite("Metrics registry")
struct MetricsRegistryTests {
    @Test("counters and gauges render in the Prometheus text format")
    func countersAndGauges() {
        let registry = MetricsRegistry()
        let counter = registry.counter("test_requests_total", help: "Requests served", labels: [("path", "/a")])
        counter.add(3)
        #expect(registry.counter("test_requests_total", help: "ignored", labels: [("path", "/a")]) === counter, "same series, same object")
        registry.counter("test_requests_total", help: "", labels: [("path", "/b")]).add()
        let gauge = registry.gauge("test_temperature", help: "Degrees")
        gauge.set(2.5)

        var text = registry.renderPrometheus()
        #expect(text.contains("""
            # HELP test_requests_total Requests served
            # TYPE test_requests_total counter
            test_requests_total{path="/a"} 3
            test_requests_total{path="/b"} 1

            """), "\(text)")
        #expect(text.contains("# HELP test_temperature Degrees\n# TYPE test_temperature gauge\ntest_temperature 2.5\n"), "\(text)")

        gauge.set(3)
        text = registry.renderPrometheus()
        #expect(text.contains("test_temperature 3\n"), "whole numbers render without a fraction: \(text)")
        gauge.set(-.infinity)
        #expect(registry.renderPrometheus().contains("test_temperature -Inf\n"))
        gauge.set(.nan)
        #expect(registry.renderPrometheus().contains("test_temperature NaN\n"))
    }

    @Test("histogram buckets are cumulative, with +Inf, sum and count")
    func histogram() {
        let registry = MetricsRegistry()
        let histogram = registry.histogram("test_latency_seconds", help: "Latency", labels: [("op", "get")])
        for value in [0.25, 0.5, 7, 20_000] { histogram.observe(value) }
        histogram.observe(.nan) // ignored

        let text = registry.renderPrometheus()
        #expect(text.contains("# TYPE test_latency_seconds histogram\n"))
        func bucket(_ le: String) -> Double? {
            metricValueIn(text, #"test_latency_seconds_bucket{op="get",le="\#(le)"}"#)
        }
        #expect(bucket("0.0001") == 0)
        #expect(bucket("0.1") == 0)
        #expect(bucket("0.25") == 1)
        #expect(bucket("0.5") == 2)
        #expect(bucket("1") == 2)
        #expect(bucket("5") == 2)
        #expect(bucket("10") == 3)
        #expect(bucket("10000") == 3)
        #expect(bucket("+Inf") == 4)
        #expect(metricValueIn(text, #"test_latency_seconds_sum{op="get"}"#) == 20_007.75)
        #expect(metricValueIn(text, #"test_latency_seconds_count{op="get"}"#) == 4)

        // Every bound is rendered, in order, and the counts never decrease.
        let counts = text.split(separator: "\n")
            .filter { $0.hasPrefix("test_latency_seconds_bucket{") }
            .compactMap { line in line.split(separator: " ").last.flatMap { Double($0) } }
        #expect(counts.count == Histogram.bounds.count + 1)
        #expect(zip(counts, counts.dropFirst()).allSatisfy { pair in pair.0 <= pair.1 })
    }

    @Test("label values and help text are escaped")
    func escaping() {
        let registry = MetricsRegistry()
        registry.counter("test_escape_total", help: "line one\nline two \\ done", labels: [("path", "a\"b\\c\nd")]).add()
        let text = registry.renderPrometheus()
        #expect(text.contains(#"# HELP test_escape_total line one\nline two \\ done"#), "\(text)")
        #expect(text.contains(#"test_escape_total{path="a\"b\\c\nd"} 1"#), "\(text)")
        #expect(MetricsRegistry.render([]) == "")
        #expect(MetricsRegistry.render([("a", "1"), ("b", "x\"y")]) == #"{a="1",b="x\"y"}"#)
    }

    @Test("a name registered with another kind is a conflict; collectors are appended")
    func conflictsAndCollectors() throws {
        let registry = MetricsRegistry()
        _ = registry.counter("test_kind", help: "")
        let conflict = try #require(throws: MetricsRegistry.KindConflict.self) {
            _ = try registry.find("test_kind", kind: .gauge, help: "", labels: []) { Gauge() }
        }
        #expect(conflict.existing == .counter)
        #expect(conflict.description == "metric 'test_kind' is already registered as a counter")

        registry.addCollector { "test_collected 7\n" }
        let text = registry.renderPrometheus()
        #expect(text.hasSuffix("test_collected 7\n"))
        #expect(metricValueIn(text, "test_kind") == 0)
    }
}
