import CStarbloomABI
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The `sb_host_api` table handed to every plugin instance, and the C-callable functions in it.
///
/// One table serves all instances: `ctx` is an unretained `InstanceContext`, kept alive by its
/// supervisor from create until destroy returns. The hot paths (publish, counters, should_stop) use
/// `_withUnsafeGuaranteedRef` so that no retain/release happens per call (see SWIFT-NOTES).
enum HostAPITable {
    nonisolated(unsafe) static let shared: UnsafeMutablePointer<sb_host_api> = {
        let table = UnsafeMutablePointer<sb_host_api>.allocate(capacity: 1)
        table.initialize(to: make())
        return table
    }()

    @inline(__always)
    static func with<R>(_ ctx: OpaquePointer?, _ body: (InstanceContext) -> R) -> R {
        Unmanaged<InstanceContext>.fromOpaque(UnsafeRawPointer(ctx!))._withUnsafeGuaranteedRef(body)
    }

    /// Records the message for `last_error` and returns the status.
    static func fail(_ status: sb_status, _ message: String) -> sb_status {
        ThreadLocalMessage.set(message)
        return status
    }

    static func status(for error: QueueError) -> sb_status {
        switch error.code {
        case .invalidTopic, .unknownTopic, .invalidOffset, .invalidSettings: SB_ERR_INVALID_ARGUMENT
        case .io: SB_ERR_UNAVAILABLE
        case .corrupt: SB_ERR_INTERNAL
        case .tooLarge: SB_ERR_TOO_LARGE
        case .full: SB_ERR_FULL
        }
    }

    static func status(for error: StoreError) -> sb_status {
        switch error.code {
        case .notFound: SB_ERR_NOT_FOUND
        case .conflict: SB_ERR_CONFLICT
        case .tooLarge: SB_ERR_TOO_LARGE
        case .invalid: SB_ERR_INVALID_ARGUMENT
        }
    }

    /// Publishes records, grouping runs that share a topic into one append. On success `lastOffset`
    /// is the offset of the last record.
    static func publish(
        _ context: InstanceContext, _ records: UnsafeBufferPointer<sb_record>, lastOffset: inout UInt64
    ) -> sb_status {
        let now = Int64(Date().timeIntervalSince1970 * 1e9)
        do {
            // Resolve every topic first so that a bad name anywhere publishes nothing.
            for run in try topicRuns(context, records) {
                lastOffset = try run.appender.append(UnsafeBufferPointer(rebasing: records[run.range]), defaultEventTimeNs: now,
                                                     nonBlocking: context.nonBlockingPublish).offset
            }
        } catch {
            context.publishErrors.add()
            return fail(status(for: error), error.message)
        }
        context.recordsOut.add(UInt64(records.count))
        return SB_OK
    }

    /// Consecutive records with the same topic field, each run with its resolved appender.
    static func topicRuns(_ context: InstanceContext, _ records: UnsafeBufferPointer<sb_record>) throws(QueueError)
        -> [(range: Range<Int>, appender: any TopicAppender)] {
        var runs: [(range: Range<Int>, appender: any TopicAppender)] = []
        var start = 0
        while start < records.count {
            let topic = records[start].topic
            var end = start + 1
            while end < records.count, sameTopic(records[end].topic, topic) { end += 1 }
            runs.append((start..<end, try context.appender(for: topic)))
            start = end
        }
        return runs
    }

    @inline(__always)
    static func sameTopic(_ a: sb_str, _ b: sb_str) -> Bool {
        a.len == b.len && (a.len == 0 || a.ptr == b.ptr || memcmp(a.ptr!, b.ptr!, a.len) == 0)
    }

    private static func make() -> sb_host_api {
        var api = sb_host_api()
        api.struct_size = UInt32(MemoryLayout<sb_host_api>.size)
        api.abi_major = ABIVersion.major
        api.abi_minor = ABIVersion.minor

        api.last_error = { _ in ThreadLocalMessage.current() }

        api.log = { ctx, level, message in
            guard ctx != nil else { return }
            HostAPITable.with(ctx) { $0.log(level, CStrings.string(message)) }
        }

        api.publish = { ctx, record, outOffset in
            guard ctx != nil else { return SB_ERR_INVALID_ARGUMENT }
            guard let record else { return HostAPITable.fail(SB_ERR_INVALID_ARGUMENT, "publish: record is NULL") }
            return HostAPITable.with(ctx) { context in
                var offset: UInt64 = 0
                let status = HostAPITable.publish(context, UnsafeBufferPointer(start: record, count: 1), lastOffset: &offset)
                if status == SB_OK { outOffset?.pointee = offset }
                return status
            }
        }

        api.publish_batch = { ctx, records, count, outPublished in
            outPublished?.pointee = 0
            guard ctx != nil else { return SB_ERR_INVALID_ARGUMENT }
            if count == 0 { return SB_OK }
            guard let records else { return HostAPITable.fail(SB_ERR_INVALID_ARGUMENT, "publish_batch: records is NULL") }
            if count > 65_536 {
                return HostAPITable.fail(SB_ERR_INVALID_ARGUMENT, "publish_batch: \(count) records in one call (at most 65536)")
            }
            return HostAPITable.with(ctx) { context in
                var offset: UInt64 = 0
                let status = HostAPITable.publish(context, UnsafeBufferPointer(start: records, count: count), lastOffset: &offset)
                if status == SB_OK { outPublished?.pointee = count }
                return status
            }
        }

        api.metric_register = { ctx, kind, name, help, outID in
            guard ctx != nil else { return SB_ERR_INVALID_ARGUMENT }
            guard let outID else { return HostAPITable.fail(SB_ERR_INVALID_ARGUMENT, "metric_register: out_id is NULL") }
            let metricName = CStrings.string(name)
            guard Naming.isValidMetricName(metricName) else {
                return HostAPITable.fail(SB_ERR_INVALID_ARGUMENT, "metric name '\(metricName)' must match [a-z_][a-z0-9_]* and be at most 128 bytes")
            }
            let metricKind: MetricKind
            switch kind {
            case SB_METRIC_COUNTER: metricKind = .counter
            case SB_METRIC_GAUGE: metricKind = .gauge
            case SB_METRIC_HISTOGRAM: metricKind = .histogram
            default: return HostAPITable.fail(SB_ERR_INVALID_ARGUMENT, "metric kind \(kind.rawValue) is unknown")
            }
            return HostAPITable.with(ctx) { context in
                let family = "starbloom_plugin_\(context.pluginName.replacingOccurrences(of: "-", with: "_"))_\(metricName)"
                let labels = [("instance", context.instanceName), ("plugin", context.pluginName)]
                let helpText = CStrings.string(help)
                do {
                    outID.pointee = try context.metricTable.register(name: metricName, kind: metricKind) {
                        try context.services.metrics.find(family, kind: metricKind, help: helpText, labels: labels) {
                            switch metricKind {
                            case .counter: Counter()
                            case .gauge: Gauge()
                            case .histogram: Histogram()
                            }
                        }
                    }
                    return SB_OK
                } catch PluginMetricTable.RegisterError.full {
                    return HostAPITable.fail(SB_ERR_FULL, "instance already registered \(PluginMetricTable.capacity) metrics")
                } catch PluginMetricTable.RegisterError.conflict(let existing) {
                    return HostAPITable.fail(SB_ERR_CONFLICT, "metric '\(metricName)' is already registered as a \(existing.rawValue)")
                } catch {
                    return HostAPITable.fail(SB_ERR_CONFLICT, "\(error)")
                }
            }
        }

        api.counter_add = { ctx, id, delta in
            guard ctx != nil else { return }
            HostAPITable.with(ctx) { context in
                guard let slot = context.metricTable.slot(id, kind: .counter) else { return }
                Unmanaged<Counter>.fromOpaque(slot)._withUnsafeGuaranteedRef { $0.add(delta) }
            }
        }
        api.gauge_set = { ctx, id, value in
            guard ctx != nil else { return }
            HostAPITable.with(ctx) { context in
                guard let slot = context.metricTable.slot(id, kind: .gauge) else { return }
                Unmanaged<Gauge>.fromOpaque(slot)._withUnsafeGuaranteedRef { $0.set(value) }
            }
        }
        api.histogram_observe = { ctx, id, value in
            guard ctx != nil else { return }
            HostAPITable.with(ctx) { context in
                guard let slot = context.metricTable.slot(id, kind: .histogram) else { return }
                Unmanaged<Histogram>.fromOpaque(slot)._withUnsafeGuaranteedRef { $0.observe(value) }
            }
        }

        api.kv_get = { ctx, key, outValue, outVersion in
            guard ctx != nil else { return SB_ERR_INVALID_ARGUMENT }
            guard let outValue else { return HostAPITable.fail(SB_ERR_INVALID_ARGUMENT, "kv_get: out_value is NULL") }
            outValue.pointee = sb_buffer(ptr: nil, len: 0)
            return HostAPITable.with(ctx) { context in
                guard let found = context.services.keyValue.get(namespace: context.namespace, key: CStrings.bytes(key)) else {
                    return HostAPITable.fail(SB_ERR_NOT_FOUND, "key not found")
                }
                outValue.pointee = HostAPITable.makeBuffer(found.value)
                outVersion?.pointee = found.version
                return SB_OK
            }
        }
        api.kv_put = { ctx, key, value, outVersion in
            guard ctx != nil else { return SB_ERR_INVALID_ARGUMENT }
            return HostAPITable.with(ctx) { context in
                do throws(StoreError) {
                    let version = try context.services.keyValue.put(
                        namespace: context.namespace, key: CStrings.bytes(key), value: CStrings.bytes(value))
                    outVersion?.pointee = version
                    return SB_OK
                } catch {
                    return HostAPITable.fail(HostAPITable.status(for: error), error.message)
                }
            }
        }
        api.kv_delete = { ctx, key in
            guard ctx != nil else { return SB_ERR_INVALID_ARGUMENT }
            return HostAPITable.with(ctx) { context in
                do throws(StoreError) {
                    try context.services.keyValue.delete(namespace: context.namespace, key: CStrings.bytes(key))
                    return SB_OK
                } catch {
                    return HostAPITable.fail(HostAPITable.status(for: error), error.message)
                }
            }
        }
        api.kv_compare_and_swap = { ctx, key, expected, value, outVersion in
            guard ctx != nil else { return SB_ERR_INVALID_ARGUMENT }
            return HostAPITable.with(ctx) { context in
                do throws(StoreError) {
                    let version = try context.services.keyValue.compareAndSwap(
                        namespace: context.namespace, key: CStrings.bytes(key), expectedVersion: expected,
                        value: CStrings.bytes(value))
                    outVersion?.pointee = version
                    return SB_OK
                } catch {
                    return HostAPITable.fail(HostAPITable.status(for: error), error.message)
                }
            }
        }

        api.checkpoint_save = { ctx, state in
            guard ctx != nil else { return SB_ERR_INVALID_ARGUMENT }
            return HostAPITable.with(ctx) { context in
                do throws(StoreError) {
                    try context.services.checkpoints.save(owner: context.namespace, state: CStrings.bytes(state))
                    return SB_OK
                } catch {
                    return HostAPITable.fail(HostAPITable.status(for: error), error.message)
                }
            }
        }
        api.checkpoint_load = { ctx, outState in
            guard ctx != nil else { return SB_ERR_INVALID_ARGUMENT }
            guard let outState else { return HostAPITable.fail(SB_ERR_INVALID_ARGUMENT, "checkpoint_load: out_state is NULL") }
            outState.pointee = sb_buffer(ptr: nil, len: 0)
            return HostAPITable.with(ctx) { context in
                guard let state = context.services.checkpoints.load(owner: context.namespace) else {
                    return HostAPITable.fail(SB_ERR_NOT_FOUND, "no checkpoint saved for instance '\(context.instanceName)'")
                }
                outState.pointee = HostAPITable.makeBuffer(state)
                return SB_OK
            }
        }

        api.timeseries_write = { ctx, metric, tags, tagCount, timestamp, value in
            guard ctx != nil else { return SB_ERR_INVALID_ARGUMENT }
            if tagCount > StoreLimits.maxTags {
                return HostAPITable.fail(SB_ERR_INVALID_ARGUMENT, "\(tagCount) tags (at most \(StoreLimits.maxTags))")
            }
            if tagCount > 0 && tags == nil { return HostAPITable.fail(SB_ERR_INVALID_ARGUMENT, "timeseries_write: tags is NULL") }
            return HostAPITable.with(ctx) { context in
                var tagMap: [String: String] = [:]
                for i in 0..<tagCount { tagMap[CStrings.string(tags![i].name)] = CStrings.string(tags![i].value) }
                tagMap["instance"] = context.instanceName
                do throws(StoreError) {
                    try context.services.timeSeries.write(TimeSeriesPoint(
                        metric: CStrings.string(metric), tags: tagMap, timestampNs: timestamp, value: value))
                    return SB_OK
                } catch {
                    return HostAPITable.fail(HostAPITable.status(for: error), error.message)
                }
            }
        }

        api.now_unix_ns = { _ in
            var spec = timespec()
            clock_gettime(CLOCK_REALTIME, &spec)
            return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
        }
        api.monotonic_ns = { _ in
            var spec = timespec()
            clock_gettime(CLOCK_MONOTONIC, &spec)
            return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
        }

        api.should_stop = { ctx in
            guard ctx != nil else { return 1 }
            return HostAPITable.with(ctx) { $0.isStopRequested ? 1 : 0 }
        }
        api.wait = { ctx, timeout in
            guard ctx != nil else { return 1 }
            return HostAPITable.with(ctx) { $0.wait(nanoseconds: timeout) ? 1 : 0 }
        }

        api.publish_batch_checkpoint = { ctx, records, count, state in
            guard ctx != nil else { return SB_ERR_INVALID_ARGUMENT }
            if count > 0 && records == nil { return HostAPITable.fail(SB_ERR_INVALID_ARGUMENT, "publish_batch_checkpoint: records is NULL") }
            if count > 65_536 {
                return HostAPITable.fail(SB_ERR_INVALID_ARGUMENT, "publish_batch_checkpoint: \(count) records in one call (at most 65536)")
            }
            if state.len > 0 && state.ptr == nil { return HostAPITable.fail(SB_ERR_INVALID_ARGUMENT, "publish_batch_checkpoint: state.ptr is NULL") }
            return HostAPITable.with(ctx) { context in
                PublishTransaction.publish(context, UnsafeBufferPointer(start: records, count: count), state: CStrings.bytes(state))
            }
        }

        api.buffer_free = { _, buffer in
            guard let buffer else { return }
            free(buffer.pointee.ptr)
            buffer.pointee = sb_buffer(ptr: nil, len: 0)
        }
        return api
    }

    static func makeBuffer(_ bytes: [UInt8]) -> sb_buffer {
        let memory = malloc(max(bytes.count, 1))!.assumingMemoryBound(to: UInt8.self)
        bytes.withUnsafeBufferPointer { source in
            if let base = source.baseAddress { memory.update(from: base, count: bytes.count) }
        }
        return sb_buffer(ptr: memory, len: bytes.count)
    }
}
