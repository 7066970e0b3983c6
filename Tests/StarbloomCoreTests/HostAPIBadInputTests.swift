import CStarbloomABI
import Foundation
import Testing
@testable import StarbloomCore

/// The host API table met with bad arguments: a status code and a `last_error` that names the problem,
/// nothing published.
@Suite("Host API bad input")
struct HostAPIBadInputTests {
    @Test("publish and publish_batch refuse NULL records, too many records, bad topic names and oversized records")
    func publishBadInput() {
        let services = HostServices(queue: InMemoryQueue(maxRecordBytes: 1024))
        let context = InstanceContext(instanceName: "bad-input", pluginName: "test", services: services, outputTopic: nil,
                                      metricTable: PluginMetricTable(), logBuffer: LogBuffer())
        let ctx = OpaquePointer(Unmanaged.passUnretained(context).toOpaque())
        let api = HostAPITable.shared.pointee
        func lastError() -> String { api.last_error(ctx).map { String(cString: $0) } ?? "" }

        var published = 99
        #expect(api.publish_batch(ctx, nil, 3, &published) == SB_ERR_INVALID_ARGUMENT)
        #expect(published == 0)
        #expect(lastError().contains("records is NULL"))

        var record = sb_record()
        #expect(api.publish_batch(ctx, &record, 65_537, &published) == SB_ERR_INVALID_ARGUMENT)
        #expect(lastError().contains("at most 65536"))

        #expect(api.publish(ctx, nil, nil) == SB_ERR_INVALID_ARGUMENT)
        // Empty topic and no output topic configured for the instance.
        #expect(api.publish(ctx, &record, nil) == SB_ERR_INVALID_ARGUMENT)
        #expect(lastError().contains("no output topic"))

        let badTopic = "bad topic!"
        let payload = [UInt8](repeating: 7, count: 2000)
        badTopic.withCString { topic in
            payload.withUnsafeBufferPointer { bytes in
                record.topic = sb_str(ptr: topic, len: badTopic.utf8.count)
                #expect(api.publish(ctx, &record, nil) == SB_ERR_INVALID_ARGUMENT)
                #expect(lastError().contains("contains ' '"))
                "ok.topic".withCString { good in
                    record.topic = sb_str(ptr: good, len: 8)
                    record.payload = sb_bytes(ptr: bytes.baseAddress, len: bytes.count)
                    #expect(api.publish(ctx, &record, nil) == SB_ERR_TOO_LARGE)
                    #expect(lastError().contains("exceeds the limit of 1024 bytes"))
                }
            }
        }
        #expect(services.queue.topics().allSatisfy { $0.published == 0 }, "nothing may be published by a refused call")
        withExtendedLifetime(context) {}
    }

    @Test("publish_batch_checkpoint: bad input saves and publishes nothing; a committed transaction's missing records are appended before the next start, each once")
    func transactionalPublish() async throws {
        let services = HostServices(queue: InMemoryQueue(maxRecordBytes: 1024))
        let context = InstanceContext(instanceName: "src", pluginName: "test", services: services, outputTopic: "out",
                                      metricTable: PluginMetricTable(), logBuffer: LogBuffer())
        let ctx = OpaquePointer(Unmanaged.passUnretained(context).toOpaque())
        let api = HostAPITable.shared.pointee
        func lastError() -> String { api.last_error(ctx).map { String(cString: $0) } ?? "" }
        let owner = InstanceContext.namespace(of: "src")
        let state: [UInt8] = Array("cursor-1".utf8)

        try state.withUnsafeBufferPointer { stateBytes in
            let checkpoint = sb_bytes(ptr: stateBytes.baseAddress, len: stateBytes.count)
            #expect(api.publish_batch_checkpoint(ctx, nil, 2, checkpoint) == SB_ERR_INVALID_ARGUMENT)
            #expect(lastError().contains("records is NULL"))
            var record = sb_record()
            #expect(api.publish_batch_checkpoint(ctx, &record, 65_537, checkpoint) == SB_ERR_INVALID_ARGUMENT)
            let big = [UInt8](repeating: 1, count: (1 << 20) + 1)
            big.withUnsafeBufferPointer { bytes in
                #expect(api.publish_batch_checkpoint(ctx, nil, 0, sb_bytes(ptr: bytes.baseAddress, len: bytes.count)) == SB_ERR_TOO_LARGE)
            }
            let payloads = ["a", "b", String(repeating: "x", count: 2000)].map { Array($0.utf8) }
            try "bad topic!".withCString { badTopic in
                try payloads[0].withUnsafeBufferPointer { a in
                    try payloads[1].withUnsafeBufferPointer { b in
                        try payloads[2].withUnsafeBufferPointer { x in
                            var records = [sb_record(), sb_record()]
                            records[0].payload = sb_bytes(ptr: a.baseAddress, len: a.count)
                            records[1].payload = sb_bytes(ptr: x.baseAddress, len: x.count)
                            #expect(api.publish_batch_checkpoint(ctx, records, 2, checkpoint) == SB_ERR_TOO_LARGE)
                            #expect(lastError().contains("nothing was published or saved"))
                            // Fits the 1024-byte limit alone, not with the tag the host adds.
                            records[1].payload = sb_bytes(ptr: x.baseAddress, len: 1000)
                            #expect(api.publish_batch_checkpoint(ctx, records, 2, checkpoint) == SB_ERR_TOO_LARGE)
                            #expect(lastError().contains("counting the starbloom-txn header"), "\(lastError())")
                            records[1].payload = sb_bytes(ptr: b.baseAddress, len: b.count)
                            records[1].header_count = 1 // headers NULL
                            #expect(api.publish_batch_checkpoint(ctx, records, 2, checkpoint) == SB_ERR_INVALID_ARGUMENT)
                            #expect(lastError().contains("headers pointer is NULL"), "\(lastError())")
                            records[1].header_count = 0
                            records[1].topic = sb_str(ptr: badTopic, len: 10)
                            #expect(api.publish_batch_checkpoint(ctx, records, 2, checkpoint) == SB_ERR_INVALID_ARGUMENT)
                            #expect(services.checkpoints.load(owner: owner) == nil, "a refused call saves no checkpoint")
                            #expect(services.queue.topics().allSatisfy { $0.published == 0 })

                            records[1].topic = sb_str()
                            #expect(api.publish_batch_checkpoint(ctx, records, 2, checkpoint) == SB_OK)
                            #expect(api.publish_batch_checkpoint(ctx, records, 1, checkpoint) == SB_OK)
                        }
                    }
                }
            }
        }
        context.transactionAppender.drain() // appends run in the background
        let published = try services.queue.read(topic: "out", from: 0, limit: 10)
        #expect(published.map(\.payloadText) == ["a", "b", "a"])
        #expect(published.map { $0.header("starbloom-txn") } == ["src:1", "src:2", "src:3"])
        #expect(services.checkpoints.load(owner: owner) == state)
        let stored = try #require(try services.checkpoints.transaction(owner: owner))
        #expect(stored.nextSequence == 4)
        let pending = try #require(stored.pending.last, "the last transaction's records stay until a clean stop")
        #expect(stored.pending.count == 1 || stored.pending.count == 2)

        // Everything arrived: recovery appends nothing and drops the pending records.
        #expect(try PublishTransaction.recover(instance: "src", owner: owner, services: services) == nil)
        #expect(try services.checkpoints.transaction(owner: owner)?.pending == [])
        #expect(try services.queue.read(topic: "out", from: 0, limit: 10).count == 3)

        // A host that committed the last transaction (record 3) and died before appending it:
        // recovery appends exactly what is missing.
        let crashed = HostServices(queue: InMemoryQueue(maxRecordBytes: 1024))
        try crashed.checkpoints.save(owner: owner, state: state, nextSequence: 4, write: pending, pending: [pending])
        _ = try await crashed.queue.publish(topic: "out", records: [published[0], published[1]].map {
            QueueRecord(topic: "out", offset: 0, key: $0.key, payload: $0.payload, headers: $0.headers, eventTimeNs: $0.eventTimeNs)
        })
        let done = try PublishTransaction.recover(instance: "src", owner: owner, services: crashed)
        #expect(done?.contains("appended 1 of their 1 records") == true, "\(done ?? "nil")")
        let recovered = try crashed.queue.read(topic: "out", from: 0, limit: 10)
        #expect(recovered.map(\.payloadText) == ["a", "b", "a"])
        #expect(recovered.map { $0.header("starbloom-txn") } == ["src:1", "src:2", "src:3"])
        #expect(recovered[2].eventTimeNs == published[2].eventTimeNs, "the event time is fixed at commit")
        #expect(try PublishTransaction.recover(instance: "src", owner: owner, services: crashed) == nil, "a second recovery does nothing")
        withExtendedLifetime(context) {}
    }

    @Test("recovery with two pending transactions: an older one whose slot was reused is complete; the newest is appended where missing")
    func recoveryWithReusedSlot() async throws {
        // Three committed transactions of one record each, captured from a real publishing context.
        let source = HostServices(queue: InMemoryQueue())
        let context = InstanceContext(instanceName: "src", pluginName: "test", services: source, outputTopic: "out",
                                      metricTable: PluginMetricTable(), logBuffer: LogBuffer())
        let ctx = OpaquePointer(Unmanaged.passUnretained(context).toOpaque())
        let owner = InstanceContext.namespace(of: "src")
        var blobs: [PendingRecords] = []
        for text in ["one", "two", "three"] {
            let payload = Array(text.utf8)
            try payload.withUnsafeBufferPointer { bytes in
                var record = sb_record()
                record.payload = sb_bytes(ptr: bytes.baseAddress, len: bytes.count)
                #expect(HostAPITable.shared.pointee.publish_batch_checkpoint(ctx, &record, 1, sb_bytes(ptr: bytes.baseAddress, len: bytes.count)) == SB_OK)
                context.transactionAppender.drain()
                blobs.append(try #require(try source.checkpoints.transaction(owner: owner)?.pending.last))
            }
        }
        withExtendedLifetime(context) {}
        #expect(blobs.map(\.firstSequence) == [1, 2, 3])
        #expect(blobs.map(\.slot) == [0, 1, 0], "slots alternate: the newest committed transaction keeps its slot")

        // The crashed host: "one" and "two" arrived; the last commit listed "two" (slot 1, still
        // appending) and "three" (slot 0); then a fourth call rewrote slot 1 before its commit.
        let crashed = HostServices(queue: InMemoryQueue())
        let published = try source.queue.read(topic: "out", from: 0, limit: 10)
        _ = try await crashed.queue.publish(topic: "out", records: Array(published.prefix(2)))
        var two = blobs[1], three = blobs[2]
        two.slot = 1
        three.slot = 0
        try crashed.checkpoints.save(owner: owner, state: Array("three".utf8), nextSequence: 4, write: three, pending: [two, three])
        var fourth = blobs[0] // other bytes in slot 1
        fourth.slot = 1
        try crashed.checkpoints.save(owner: owner, state: Array("three".utf8), nextSequence: 4, write: fourth, pending: [two, three])
        let done = try PublishTransaction.recover(instance: "src", owner: owner, services: crashed)
        #expect(done?.contains("appended 1 of their 1 records") == true, "\(done ?? "nil")")
        let recovered = try crashed.queue.read(topic: "out", from: 0, limit: 10)
        #expect(recovered.map(\.payloadText) == ["one", "two", "three"])
        #expect(recovered.map { $0.header("starbloom-txn") } == ["src:1", "src:2", "src:3"])

        // The newest entry's slot damaged: that is an error naming the instance, not a silent skip.
        let damaged = HostServices(queue: InMemoryQueue())
        var broken = blobs[2]
        broken.slot = 0
        try damaged.checkpoints.save(owner: owner, state: [], nextSequence: 4, write: broken, pending: [broken])
        var other = blobs[0]
        other.slot = 0
        try damaged.checkpoints.save(owner: owner, state: [], nextSequence: 4, write: other, pending: [broken])
        #expect(throws: StoreError.self) { try PublishTransaction.recover(instance: "src", owner: owner, services: damaged) }
    }

    @Test("metric_register and timeseries_write refuse bad names, NaN and too many tags")
    func metricsAndSeriesBadInput() {
        let services = HostServices()
        let context = InstanceContext(instanceName: "bad-input", pluginName: "test", services: services, outputTopic: nil,
                                      metricTable: PluginMetricTable(), logBuffer: LogBuffer())
        let ctx = OpaquePointer(Unmanaged.passUnretained(context).toOpaque())
        let api = HostAPITable.shared.pointee
        var id: sb_metric_id = 0
        "Bad-Name".withCString { name in
            #expect(api.metric_register(ctx, SB_METRIC_COUNTER, sb_str(ptr: name, len: 8), sb_str(), &id) == SB_ERR_INVALID_ARGUMENT)
        }
        "good_name".withCString { name in
            #expect(api.metric_register(ctx, SB_METRIC_COUNTER, sb_str(ptr: name, len: 9), sb_str(), &id) == SB_OK)
            #expect(api.metric_register(ctx, SB_METRIC_GAUGE, sb_str(ptr: name, len: 9), sb_str(), &id) == SB_ERR_CONFLICT)
        }
        "m".withCString { metric in
            #expect(api.timeseries_write(ctx, sb_str(ptr: metric, len: 1), nil, 0, 1, .nan) == SB_ERR_INVALID_ARGUMENT)
            #expect(api.timeseries_write(ctx, sb_str(ptr: metric, len: 1), nil, 33, 1, 1) == SB_ERR_INVALID_ARGUMENT)
            #expect(api.timeseries_write(ctx, sb_str(ptr: metric, len: 1), nil, 2, 1, 1) == SB_ERR_INVALID_ARGUMENT)
        }
        #expect(services.timeSeries.points(metric: "m").isEmpty)
        withExtendedLifetime(context) {}
    }
}
