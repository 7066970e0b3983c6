import CStarbloomABI
import Foundation

/// The worker loop of a processor or sink instance: reads every partition of the topics matching its
/// input patterns (topics created later are picked up) as the consumer group `instance/<name>`, hands
/// batches to `process`, and commits a batch's offsets only after `process` returned OK and what it
/// emitted was published — so a batch that failed is delivered again after the restart policy acts
/// (at-least-once). Publishes and commits run in order on a `FeedPublisher` thread while the worker
/// processes the next batch.
///
/// A record the plugin rejects (`emitter->reject`) is retried on its own up to `maxDeliveries` times
/// in all; then it goes to the dead-letter topic `dlq.<instance>` with the reason in the
/// `starbloom-error` header and the delivery count in `starbloom-deliveries`.
struct ProcessorFeed {
    let instance: PluginInstance
    let run: PluginInstance.LiveRun
    let inputs: [String]
    /// A batch is at most `batchSize` records and stops once it holds `batchBytes` of record data
    /// (one record may exceed it): large batches amortize the two fsyncs per batch —
    /// output and consumer offset — and the byte bound keeps memory bounded whatever the sizes.
    var batchSize = 16_384
    var batchBytes = 16 << 20
    var ownOutput: String? { run.context.outputTopic }
    var maxDeliveries = 3

    /// Publishes and commits behind the worker (see `FeedPublisher`).
    let publisher: FeedPublisher

    init(instance: PluginInstance, run: PluginInstance.LiveRun, inputs: [String]) {
        self.instance = instance
        self.run = run
        self.inputs = inputs
        publisher = FeedPublisher(name: "sb-publish-\(instance.name)")
    }

    /// Runs until a stop is requested (returns OK) or `process` or a publish fails (returns its
    /// error). Returns only after every publish and commit of the batches handed on has finished.
    func loop() -> (sb_status, String) {
        let outcome = feed()
        let publishing = publisher.finish()
        if outcome.0 != SB_OK { return outcome }
        return publishing ?? outcome
    }

    private func feed() -> (sb_status, String) {
        let context = run.context
        let queue = instance.services.queue
        let group = "instance/\(instance.name)"
        var idleWait: UInt64 = 1_000_000
        // Where the next read of each partition starts: the committed offset at first, then just
        // after the last batch handed on (its commit may still be running on the publisher thread).
        var next: [PartitionKey: UInt64] = [:]
        while !context.isStopRequested {
            if let failure = publisher.failure { return failure }
            var delivered = false
            // Never its own output or dead-letter topic: a pattern such as `chain.*` with output
            // `chain.stamped` would otherwise feed the instance its own records forever.
            let topics = queue.topics().filter { topic in
                topic.name != ownOutput && topic.name != "dlq.\(instance.name)"
                    && inputs.contains { TopicName.matches(pattern: $0, topic: topic.name) }
            }
            for topic in topics {
                for partition in topic.partitions where !context.isStopRequested {
                    let key = PartitionKey(topic: topic.name, partition: partition.partition)
                    let from = next[key] ?? queue.committedOffset(group: group, topic: topic.name, partition: partition.partition) ?? 0
                    let records: [QueueRecord]
                    do {
                        records = try queue.read(topic: topic.name, partition: partition.partition, from: from, limit: batchSize, maxBytes: batchBytes)
                    } catch {
                        // A damaged record stops this partition for this consumer: fail loudly (the
                        // restart policy and the instance's last error show it) rather than spin silently.
                        return (SB_ERR_UNAVAILABLE, "cannot read '\(topic.name)' partition \(partition.partition) at offset \(from): \(error.message)")
                    }
                    if records.isEmpty { continue }
                    delivered = true
                    let outcome = deliver(records)
                    if outcome.0 != SB_OK { return outcome }
                    let end = records[records.count - 1].offset + 1
                    next[key] = end
                    let failure = publisher.submit {
                        do throws(QueueError) {
                            try queue.commit(group: group, topic: key.topic, partition: key.partition, offset: end)
                        } catch {
                            return (SB_ERR_UNAVAILABLE, "cannot commit the consumer offset: \(error.message)")
                        }
                        return nil
                    }
                    if let failure { return failure }
                    instance.recordsIn.add(UInt64(records.count))
                }
            }
            if delivered {
                idleWait = 1_000_000
            } else {
                _ = context.wait(nanoseconds: idleWait)
                idleWait = min(idleWait * 2, 20_000_000)
            }
        }
        return (SB_OK, "")
    }

    private struct PartitionKey: Hashable {
        let topic: String
        let partition: Int
    }

    /// Processes a batch, then retries each rejected record alone until it passes or runs out of deliveries.
    private func deliver(_ records: [QueueRecord]) -> (sb_status, String) {
        let (status, message, rejected) = process(records)
        if status != SB_OK { return (status, message) }
        for (index, firstReason) in rejected {
            var reason = firstReason
            var deliveries = 1
            while deliveries < maxDeliveries {
                deliveries += 1
                let retry = process([records[index]])
                if retry.0 != SB_OK { return (retry.0, retry.1) }
                guard let again = retry.2.first else { reason = ""; break }
                reason = again.reason
            }
            if !reason.isEmpty { // still rejected after its last delivery
                if let failure = deadLetter(records[index], reason: reason, deliveries: deliveries) { return failure }
            }
        }
        return (SB_OK, "")
    }

    /// Lays the batch out as `sb_record`s over one arena and calls `process`.
    private func process(_ records: [QueueRecord]) -> (sb_status, String, [(index: Int, reason: String)]) {
        let arena = RecordArena(records)
        defer { arena.release() }
        let emitContext = EmitContext(feed: self, batch: records)
        return withExtendedLifetime(emitContext) {
            var emitter = sb_emitter(
                ctx: Unmanaged.passUnretained(emitContext).toOpaque(),
                emit: { ctx, record in
                    guard let ctx, let record else { return SB_ERR_INVALID_ARGUMENT }
                    return Unmanaged<EmitContext>.fromOpaque(ctx)._withUnsafeGuaranteedRef { $0.emit(record) }
                },
                reject: { ctx, index, reason in
                    guard let ctx else { return SB_ERR_INVALID_ARGUMENT }
                    return Unmanaged<EmitContext>.fromOpaque(ctx)._withUnsafeGuaranteedRef { $0.reject(index, reason) }
                })
            var message = sb_message()
            let status = run.plugin.process!(run.pointer, arena.records, records.count, &emitter, &message)
            let text = CStrings.read(message: &message)
            if status != SB_OK { return (status, text, emitContext.rejected) } // nothing of a failed call is published
            if let failure = handOn(emitContext.emitted) { return (failure.0, failure.1, emitContext.rejected) }
            return (status, text, emitContext.rejected)
        }
    }

    /// Queues the publish of what a `process` call emitted on the publisher thread (nothing to do
    /// for nothing emitted). Returns the publisher's failure if it already stopped.
    fileprivate func handOn(_ emitted: RecordBuffer) -> (sb_status, String)? {
        if emitted.count == 0 { return publisher.failure }
        return publisher.submit { publish(emitted) }
    }

    /// Publishes what one `process` call emitted, in order, with one append per run of records for
    /// the same topic (on an `always` topic: one fsync for the call, not one per record).
    private func publish(_ emitted: RecordBuffer) -> (sb_status, String)? {
        var start = 0
        while start < emitted.count {
            let end = min(emitted.count, start + 65_536)
            var offset: UInt64 = 0
            let status = emitted.withRecords(start..<end) { HostAPITable.publish(run.context, $0, lastOffset: &offset) }
            if status != SB_OK {
                return (status, "publishing the records emitted by process failed: \(String(cString: ThreadLocalMessage.current()))")
            }
            start = end
        }
        return nil
    }

    /// Sends a record that kept failing to `dlq.<instance>`. Returns a failure to stop the worker if
    /// even that is impossible (the batch is then delivered again).
    private func deadLetter(_ original: QueueRecord, reason: String, deliveries: Int) -> (sb_status, String)? {
        var headers = original.headers
        headers.append(.init(name: "starbloom-error", value: Array(reason.utf8)))
        headers.append(.init(name: "starbloom-deliveries", value: Array(String(deliveries).utf8)))
        headers.append(.init(name: "starbloom-source-topic", value: Array(original.topic.utf8)))
        headers.append(.init(name: "starbloom-source-partition", value: Array(String(original.partition).utf8)))
        headers.append(.init(name: "starbloom-source-offset", value: Array(String(original.offset).utf8)))
        let dead = QueueRecord(topic: "dlq.\(instance.name)", offset: 0, key: original.key, payload: original.payload,
                               headers: headers, eventTimeNs: original.eventTimeNs)
        return publisher.submit {
            let arena = RecordArena([dead])
            defer { arena.release() }
            do throws(QueueError) {
                let appender = try instance.services.queue.topic(named: dead.topic)
                _ = try appender.append(UnsafeBufferPointer(start: arena.records, count: 1), defaultEventTimeNs: dead.eventTimeNs)
            } catch {
                return (SB_ERR_UNAVAILABLE, "dead-letter publish to '\(dead.topic)' failed: \(error.message)")
            }
            instance.errors.add()
            instance.deadLettered.add()
            return nil
        }
    }

    /// The `ctx` of the emitter handed to one `process` call. Emitted records are copied and kept
    /// until the call returns: published together if it returned OK, dropped if it failed (the
    /// batch is delivered again). A call that emits more than 64 MiB (or 65,536 records) has the
    /// excess published as it goes, so memory stays bounded.
    final class EmitContext {
        let feed: ProcessorFeed
        let batch: [QueueRecord]
        var rejected: [(index: Int, reason: String)] = []
        var emitted = RecordBuffer()
        static let heldBytes = 64 << 20

        init(feed: ProcessorFeed, batch: [QueueRecord]) {
            self.feed = feed
            self.batch = batch
        }

        func emit(_ record: UnsafePointer<sb_record>) -> sb_status {
            if feed.run.plugin.kind == .sink {
                return HostAPITable.fail(SB_ERR_UNSUPPORTED, "a sink cannot emit records")
            }
            let r = record.pointee
            // Checked now, as publish would: the plugin learns of a bad record from this emit.
            do throws(QueueError) {
                let appender = try feed.run.context.appender(for: r.topic)
                if let problem = appender.problem(with: r) { throw problem }
            } catch {
                feed.run.context.publishErrors.add()
                return HostAPITable.fail(HostAPITable.status(for: error), error.message)
            }
            emitted.append(r)
            // Memory stays bounded however much one call emits: past 64 MiB, publish as it goes.
            if emitted.byteCount >= Self.heldBytes || emitted.count >= 65_536 {
                if let failure = feed.handOn(emitted) { return HostAPITable.fail(failure.0, failure.1) }
                emitted = RecordBuffer() // the publisher holds the full one
            }
            return SB_OK
        }

        func reject(_ index: Int, _ reason: sb_str) -> sb_status {
            guard index < batch.count else {
                return HostAPITable.fail(SB_ERR_INVALID_ARGUMENT, "reject: index \(index) is outside the batch of \(batch.count)")
            }
            let text = CStrings.string(reason)
            rejected.append((index, text.isEmpty ? "rejected by the plugin" : text))
            return SB_OK
        }
    }
}

/// Owned `QueueRecord`s copied into one allocation and described as `sb_record`s (for plugin calls).
struct RecordArena {
    let records: UnsafeMutablePointer<sb_record>
    private let headers: UnsafeMutablePointer<sb_header>
    private let bytes: UnsafeMutableRawPointer

    init(_ batch: [QueueRecord]) {
        var byteCount = 0
        var headerCount = 0
        for record in batch {
            byteCount += record.topic.utf8.count + record.key.count + record.payload.count
            for header in record.headers { byteCount += header.name.utf8.count + header.value.count }
            headerCount += record.headers.count
        }
        records = .allocate(capacity: max(batch.count, 1))
        headers = .allocate(capacity: max(headerCount, 1))
        bytes = .allocate(byteCount: max(byteCount, 1), alignment: 8)
        var cursor = bytes
        func place(_ source: UnsafeRawBufferPointer) -> UnsafeRawPointer {
            let start = cursor
            if let base = source.baseAddress { cursor.copyMemory(from: base, byteCount: source.count) }
            cursor += source.count
            return UnsafeRawPointer(start)
        }
        func place(_ source: [UInt8]) -> UnsafeRawPointer { source.withUnsafeBytes { place($0) } }
        // Names and topics are copied from the String's own storage: no array per record.
        func place(_ text: String) -> UnsafeRawPointer {
            var text = text
            return text.withUTF8 { place(UnsafeRawBufferPointer($0)) }
        }
        var headerIndex = 0
        for (index, record) in batch.enumerated() {
            let topic = place(record.topic)
            let key = place(record.key)
            let payload = place(record.payload)
            let firstHeader = headerIndex
            for header in record.headers {
                let name = place(header.name)
                let value = place(header.value)
                headers[headerIndex] = sb_header(
                    name: sb_str(ptr: name.assumingMemoryBound(to: CChar.self), len: header.name.utf8.count),
                    value: sb_bytes(ptr: value.assumingMemoryBound(to: UInt8.self), len: header.value.count))
                headerIndex += 1
            }
            records[index] = sb_record(
                topic: sb_str(ptr: topic.assumingMemoryBound(to: CChar.self), len: record.topic.utf8.count),
                key: sb_bytes(ptr: key.assumingMemoryBound(to: UInt8.self), len: record.key.count),
                payload: sb_bytes(ptr: payload.assumingMemoryBound(to: UInt8.self), len: record.payload.count),
                headers: record.headers.isEmpty ? nil : UnsafePointer(headers + firstHeader),
                header_count: record.headers.count,
                event_time_ns: record.eventTimeNs, offset: record.offset, partition: UInt32(record.partition), reserved: 0)
        }
    }

    func release() {
        records.deallocate()
        headers.deallocate()
        bytes.deallocate()
    }
}
