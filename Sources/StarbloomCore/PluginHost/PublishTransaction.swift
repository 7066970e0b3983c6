import CStarbloomABI
import Foundation
import Synchronization

/// `publish_batch_checkpoint` (ABI 1.1): a source's records and its checkpoint as one transaction,
/// so that a source resuming from its checkpoint publishes every record exactly once, even across
/// `kill -9`.
///
/// The queue and the checkpoint live in different files, so the host does not try to make them
/// commit together. Instead (as pipelines do with their outbox):
///  1. the records, each numbered with the instance's next sequence numbers, are made durable in
///     the instance's pending-records file, then the checkpoint is committed with a reference to
///     them (`CheckpointStore.save(owner:state:transaction:)`, `PendingRecordsFiles`);
///  2. the records are appended, each carrying the header `starbloom-txn: <instance>:<sequence>`;
///  3. if step 2 did not finish (crash, I/O error), then before the instance next starts
///     `recover` reads the topics from where they ended at step 1, finds which sequence numbers
///     arrived, and appends the others.
/// So after any crash the checkpoint and the records agree: a record of a committed checkpoint is in
/// its topic exactly once, and nothing of an uncommitted call is.
///
/// One call at a time per instance (`InstanceContext.transactionLock`). Step 2 runs in the
/// background (`TransactionAppender`), so the next call's step 1 overlaps it; records of one
/// transaction are all appended before any of the next.
enum PublishTransaction {
    static let header = "starbloom-txn"
    /// Topics, keys, payloads and headers of one call, at most.
    static let maxBytes = 64 << 20

    /// Crash tests only: STARBLOOM_FAULT_KILL_IN_TRANSACTION=N kills this process with SIGKILL in
    /// its Nth transaction, after the commit and the first topic's append (the rest is not appended).
    private static let faultKillAt = ProcessInfo.processInfo.environment["STARBLOOM_FAULT_KILL_IN_TRANSACTION"].flatMap { Int($0) }
    private static let transactionsInProcess = Atomic<Int>(0)

    // MARK: Publishing

    static func publish(_ context: InstanceContext, _ records: UnsafeBufferPointer<sb_record>, state: [UInt8]) -> sb_status {
        context.transactionLock.lock()
        defer { context.transactionLock.unlock() }
        let appender = context.transactionAppender
        if context.isFenced {
            return HostAPITable.fail(SB_ERR_STOPPING, "publish_batch_checkpoint: this run of instance '\(context.instanceName)' was abandoned; nothing was published or saved")
        }
        if let problem = appender.snapshot().failure {
            return conflict(problem)
        }
        if state.count > StoreLimits.maxValueBytes {
            return HostAPITable.fail(SB_ERR_TOO_LARGE, "publish_batch_checkpoint: checkpoint of \(state.count) bytes exceeds \(StoreLimits.maxValueBytes) bytes")
        }
        // Everything that can be refused is checked before anything is written.
        var runs: [(range: Range<Int>, appender: any TopicAppender)] = []
        var total = 0
        do throws(QueueError) {
            runs = try HostAPITable.topicRuns(context, records)
            for run in runs {
                for index in run.range {
                    let record = records[index]
                    if let problem = malformed(record) { throw QueueError(code: .invalidTopic, message: problem) }
                    // Checked with room for the tag the host adds, so that the append cannot refuse it later.
                    var tagged = record
                    tagged.payload.len += tagBytes(instance: context.instanceName)
                    if let problem = run.appender.problem(with: tagged) {
                        throw QueueError(code: problem.code, message: "\(problem.message) (counting the \(header) header the host adds)")
                    }
                    total += size(of: record)
                }
            }
        } catch {
            context.publishErrors.add()
            return HostAPITable.fail(HostAPITable.status(for: error), "publish_batch_checkpoint: \(error.message); nothing was published or saved")
        }
        if total > maxBytes {
            return HostAPITable.fail(SB_ERR_TOO_LARGE, "publish_batch_checkpoint: \(total) bytes of records in one call (at most \(maxBytes)); nothing was published or saved")
        }

        // 1. The records (in the slot the transaction being appended does not use), then the commit.
        let store = context.services.checkpoints
        let firstSequence: UInt64
        do throws(StoreError) {
            if let known = context.nextPublishSequence { firstSequence = known }
            else { firstSequence = try store.transaction(owner: context.namespace)?.nextSequence ?? 1 }
        } catch {
            return HostAPITable.fail(SB_ERR_UNAVAILABLE, "publish_batch_checkpoint: \(error.message)")
        }
        let now = Int64(Date().timeIntervalSince1970 * 1e9)
        let targets = Set(runs.map(\.appender.name))
        var starts: [String: [UInt64]] = [:]
        for topic in context.services.queue.topics() where targets.contains(topic.name) {
            starts[topic.name] = topic.partitions.map(\.nextOffset)
        }
        var written: PendingRecords?
        if !records.isEmpty {
            let bytes = encode(records, runs: runs, firstSequence: firstSequence, defaultEventTimeNs: now, scanStarts: starts, capacity: total)
            // Slots alternate strictly: the newest committed transaction (perhaps still appending, or
            // appended but still listed) keeps its slot; the one before it is fully appended.
            let slot = context.lastPendingSlot == 0 ? 1 : 0
            written = PendingRecords(slot: slot, firstSequence: firstSequence, size: bytes.count, bytes: bytes)
        }
        let nextSequence = firstSequence + UInt64(records.count)
        // Taken last, just before the commit: a failed append is never dropped from the list.
        let (appending, failure) = appender.snapshot()
        if let failure { return conflict(failure) }
        if context.isFenced {
            return HostAPITable.fail(SB_ERR_STOPPING, "publish_batch_checkpoint: this run of instance '\(context.instanceName)' was abandoned; nothing was published or saved")
        }
        do throws(StoreError) {
            try store.save(owner: context.namespace, state: state, nextSequence: nextSequence, write: written,
                           pending: [appending, written.map { PendingRecords(slot: $0.slot, firstSequence: $0.firstSequence, size: $0.size) }].compactMap { $0 })
        } catch {
            context.publishErrors.add()
            // Storage failing (I/O, a damaged file) is UNAVAILABLE, whatever code the store used.
            return HostAPITable.fail(error.code == .tooLarge ? SB_ERR_TOO_LARGE : SB_ERR_UNAVAILABLE,
                                     "publish_batch_checkpoint: the checkpoint was not saved: \(error.message); nothing was published")
        }
        context.nextPublishSequence = nextSequence
        if let written { context.lastPendingSlot = written.slot }
        context.transactionNeedsClearing = true

        // 2. Appended in the background, after the previous transaction's records: the next commit
        // overlaps this append. The pending bytes are the copy the append reads.
        guard let written else { return SB_OK }
        let instance = context.instanceName
        let count = records.count
        let recordsOut = context.recordsOut
        let publishErrors = context.publishErrors
        let topicRuns = runs.map { ($0.range, $0.appender) }
        appender.start(PendingRecords(slot: written.slot, firstSequence: firstSequence, size: written.size)) {
            do throws(QueueError) {
                try withViews(of: written.bytes, count: count, instance: instance) { views throws(QueueError) in
                    for (index, run) in topicRuns.enumerated() {
                        _ = try run.1.append(UnsafeBufferPointer(rebasing: views[run.0]), defaultEventTimeNs: now, nonBlocking: false)
                        if index == 0, let killAt = faultKillAt, transactionsInProcess.add(1, ordering: .relaxed).newValue == killAt {
                            kill(getpid(), SIGKILL)
                        }
                    }
                }
            } catch {
                publishErrors.add()
                return "appending the records of a committed transaction failed: \(error.message)"
            }
            recordsOut.add(UInt64(count))
            return nil
        }
        return SB_OK
    }

    private static func conflict(_ problem: String) -> sb_status {
        HostAPITable.fail(SB_ERR_CONFLICT, "publish_batch_checkpoint: an earlier transaction of this instance could not be appended (\(problem)); nothing of this call was published or saved; return from run: the host completes it before the instance starts again")
    }

    /// NULL pointers with a length, or too many headers to add the tag: refused before anything is written.
    private static func malformed(_ record: sb_record) -> String? {
        if record.topic.len > 0 && record.topic.ptr == nil { return "a record's topic pointer is NULL with a length" }
        if record.key.len > 0 && record.key.ptr == nil { return "a record's key pointer is NULL with a length" }
        if record.payload.len > 0 && record.payload.ptr == nil { return "a record's payload pointer is NULL with a length" }
        if record.header_count > 0 && record.headers == nil { return "a record's headers pointer is NULL with a count" }
        if record.header_count >= Int(UInt16.max) { return "a record carries \(record.header_count) headers; with the host's tag at most 65535" }
        for index in 0..<record.header_count {
            let h = record.headers[index]
            if (h.name.len > 0 && h.name.ptr == nil) || (h.value.len > 0 && h.value.ptr == nil) { return "a header pointer is NULL with a length" }
        }
        return nil
    }

    /// What the tag adds to a record: its name, the longest value, and framing.
    private static func tagBytes(instance: String) -> Int { header.utf8.count + instance.utf8.count + 1 + 20 + 8 }

    private static func size(of record: sb_record) -> Int {
        var bytes = record.topic.len + record.key.len + record.payload.len
        for index in 0..<record.header_count { bytes += record.headers[index].name.len + record.headers[index].value.len }
        return bytes
    }

    /// Calls `body` with `count` records read in place from encoded pending records (`encode`),
    /// each with one more header, `starbloom-txn: <instance>:<sequence>`. Plain allocations rather
    /// than nested closures: the body's typed error passes straight through.
    private static func withViews<R>(of pending: [UInt8], count: Int, instance: String,
                                     _ body: (UnsafeBufferPointer<sb_record>) throws(QueueError) -> R) throws(QueueError) -> R {
        let views = UnsafeMutablePointer<sb_record>.allocate(capacity: max(count, 1))
        var headerSlots: [(first: Int, count: Int)] = []
        headerSlots.reserveCapacity(count)
        var fields: [(name: Range<Int>, value: Range<Int>)] = []
        fields.reserveCapacity(count)
        var tags: [UInt8] = []
        tags.reserveCapacity(count * (instance.utf8.count + 12))
        var tagRanges: [Range<Int>] = []
        tagRanges.reserveCapacity(count)
        let prefix = Array("\(instance):".utf8)
        let name = UnsafeMutablePointer<CChar>.allocate(capacity: header.utf8.count)
        for (index, byte) in header.utf8.enumerated() { name[index] = CChar(bitPattern: byte) }
        defer {
            views.deallocate()
            name.deallocate()
        }
        return try pending.withUnsafeBufferPointer { bytes throws(QueueError) -> R in
            var reader = StateReader(pending)
            var parsed: [(topic: Range<Int>, key: Range<Int>, payload: Range<Int>, time: Int64)] = []
            parsed.reserveCapacity(count)
            do throws(StateDecodingError) {
                let first = try readHeader(&reader).firstSequence
                for index in 0..<count {
                    let topic = try reader.range(), key = try reader.range(), payload = try reader.range(), time = try reader.int()
                    let headerCount = try reader.count(limit: 4096)
                    let firstField = fields.count
                    for _ in 0..<headerCount { fields.append((try reader.range(), try reader.range())) }
                    headerSlots.append((firstField, headerCount))
                    parsed.append((topic, key, payload, time))
                    let tagStart = tags.count
                    tags += prefix
                    appendDecimal(first + UInt64(index), to: &tags)
                    tagRanges.append(tagStart..<tags.count)
                }
            } catch {
                throw QueueError(code: .corrupt, message: "pending records are damaged: \(error.message)")
            }
            let headers = UnsafeMutablePointer<sb_header>.allocate(capacity: max(fields.count + count, 1))
            defer { headers.deallocate() }
            return try tags.withUnsafeBufferPointer { tagBytes throws(QueueError) -> R in
                let base = bytes.baseAddress!
                func str(_ range: Range<Int>) -> sb_str { sb_str(ptr: UnsafeRawPointer(base + range.lowerBound).assumingMemoryBound(to: CChar.self), len: range.count) }
                func raw(_ range: Range<Int>) -> sb_bytes { sb_bytes(ptr: base + range.lowerBound, len: range.count) }
                var next = 0
                for index in 0..<count {
                    let firstHeader = next
                    let slot = headerSlots[index]
                    for field in fields[slot.first..<(slot.first + slot.count)] {
                        headers[next] = sb_header(name: str(field.name), value: raw(field.value))
                        next += 1
                    }
                    headers[next] = sb_header(name: sb_str(ptr: name, len: header.utf8.count),
                                              value: sb_bytes(ptr: tagBytes.baseAddress! + tagRanges[index].lowerBound, len: tagRanges[index].count))
                    next += 1
                    let record = parsed[index]
                    views[index] = sb_record(topic: str(record.topic), key: raw(record.key), payload: raw(record.payload),
                                             headers: UnsafePointer(headers + firstHeader), header_count: slot.count + 1,
                                             event_time_ns: record.time, offset: 0, partition: 0, reserved: 0)
                }
                return try body(UnsafeBufferPointer(start: views, count: count))
            }
        }
    }

    /// `value` in decimal ASCII, without making a String (one per record adds up).
    private static func appendDecimal(_ value: UInt64, to bytes: inout [UInt8]) {
        var digits = 1
        var rest = value
        while rest >= 10 { rest /= 10; digits += 1 }
        let end = bytes.count + digits
        bytes.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: digits))
        rest = value
        for position in stride(from: end - 1, through: end - digits, by: -1) {
            bytes[position] = UInt8(ascii: "0") + UInt8(rest % 10)
            rest /= 10
        }
    }

    // MARK: The pending records

    private static func encode(_ records: UnsafeBufferPointer<sb_record>, runs: [(range: Range<Int>, appender: any TopicAppender)],
                               firstSequence: UInt64, defaultEventTimeNs: Int64, scanStarts: [String: [UInt64]], capacity: Int) -> [UInt8] {
        var writer = StateWriter()
        writer.reserveCapacity(capacity + records.count * 16 + 64)
        writer.varint(1) // format
        writer.varint(firstSequence)
        writer.varint(UInt64(scanStarts.count))
        for (topic, offsets) in scanStarts.sorted(by: { $0.key < $1.key }) {
            writer.string(topic)
            writer.varint(UInt64(offsets.count))
            for offset in offsets { writer.varint(offset) }
        }
        writer.varint(UInt64(records.count))
        for run in runs {
            let topic = Array(run.appender.name.utf8) // resolved: an empty topic field means the output topic
            for index in run.range {
                let record = records[index]
                writer.bytes(topic) // once per run as an array, not once per record
                writer.bytes(record.key.ptr, count: record.key.len)
                writer.bytes(record.payload.ptr, count: record.payload.len)
                writer.int(record.event_time_ns == 0 ? defaultEventTimeNs : record.event_time_ns)
                writer.varint(UInt64(record.header_count))
                for h in 0..<record.header_count {
                    writer.bytes(record.headers[h].name.ptr, count: record.headers[h].name.len)
                    writer.bytes(record.headers[h].value.ptr, count: record.headers[h].value.len)
                }
            }
        }
        return writer.bytes
    }

    /// The first sequence number recorded in encoded pending records (nil if they are damaged).
    static func firstSequence(of pending: [UInt8]) -> UInt64? {
        var reader = StateReader(Array(pending.prefix(24)))
        guard (try? reader.varint()) == 1 else { return nil }
        return try? reader.varint()
    }

    struct Pending {
        var firstSequence: UInt64
        var scanStarts: [String: [UInt64]]
        var records: [QueueRecord]
    }

    /// The format, first sequence, scan starts and record count that open encoded pending records.
    private static func readHeader(_ reader: inout StateReader) throws(StateDecodingError) -> (firstSequence: UInt64, scanStarts: [String: [UInt64]], count: Int) {
        guard try reader.varint() == 1 else { throw StateDecodingError(message: "unknown format of the pending records") }
        let firstSequence = try reader.varint()
        var starts: [String: [UInt64]] = [:]
        for _ in 0..<(try reader.count(limit: 1 << 16)) {
            let topic = try reader.string()
            var offsets: [UInt64] = []
            for _ in 0..<(try reader.count(limit: 1 << 16)) { offsets.append(try reader.varint()) }
            starts[topic] = offsets
        }
        return (firstSequence, starts, try reader.count(limit: 1 << 17))
    }

    static func decode(_ bytes: [UInt8]) throws(StateDecodingError) -> Pending {
        var reader = StateReader(bytes)
        let (firstSequence, starts, count) = try readHeader(&reader)
        var records: [QueueRecord] = []
        for _ in 0..<count {
            let topic = try reader.string(), key = try reader.bytes(), payload = try reader.bytes(), time = try reader.int()
            var headers: [QueueRecord.Header] = []
            for _ in 0..<(try reader.count(limit: 4096)) { headers.append(QueueRecord.Header(name: try reader.string(), value: try reader.bytes())) }
            records.append(QueueRecord(topic: topic, offset: 0, key: key, payload: payload, headers: headers, eventTimeNs: time))
        }
        return Pending(firstSequence: firstSequence, scanStarts: starts, records: records)
    }

    // MARK: Recovery

    /// Before an instance starts: appends whatever its committed transactions (at most two: one
    /// appending, the next committed) did not get to append, oldest first. Returns what it did
    /// (for the log), or nil when there was nothing to do.
    static func recover(instance: String, owner: String, services: HostServices) throws -> String? {
        guard let state = try services.checkpoints.transaction(owner: owner), !state.pending.isEmpty else { return nil }
        var missing = 0, total = 0
        for (index, entry) in state.pending.enumerated() {
            // A slot holding other bytes than its entry says: for the older of two entries, the slot
            // was reused by a later call, which starts only once that transaction is fully appended.
            let intact = entry.bytes.count == entry.size && firstSequence(of: entry.bytes) == entry.firstSequence
            if !intact && index < state.pending.count - 1 { continue }
            let pending: Pending
            do {
                guard intact else { throw StateDecodingError(message: "slot \(entry.slot) does not hold the transaction from \(entry.firstSequence) (\(entry.size) bytes)") }
                pending = try decode(entry.bytes)
            } catch {
                throw StoreError(code: .invalid, message: "the pending records of instance '\(instance)' are unreadable: \(error)")
            }
            total += pending.records.count
            let targets = Set(pending.records.map(\.topic))
            let lastSequence = pending.firstSequence + UInt64(pending.records.count)
            let found = try arrivedSequences(instance: instance, in: targets, from: pending.scanStarts, range: pending.firstSequence..<lastSequence, queue: services.queue)
            var run: [QueueRecord] = []
            func flush() throws {
                guard let topic = run.first?.topic else { return }
                let arena = RecordArena(run)
                defer { arena.release() }
                _ = try services.queue.topic(named: topic).append(UnsafeBufferPointer(start: arena.records, count: run.count), defaultEventTimeNs: 0)
                run = []
            }
            for (index, record) in pending.records.enumerated() {
                let sequence = pending.firstSequence + UInt64(index)
                if found.contains(sequence) { continue }
                if let topic = run.first?.topic, topic != record.topic || run.count >= 1_024 { try flush() }
                var tagged = record
                tagged.headers.append(QueueRecord.Header(name: header, value: Array("\(instance):\(sequence)".utf8)))
                run.append(tagged)
                missing += 1
            }
            try flush()
        }
        try services.checkpoints.clearPending(owner: owner)
        return missing == 0 ? nil : "completed the transactions interrupted in the last run: appended \(missing) of their \(total) records"
    }

    /// Sequence numbers in `range` of this instance's records published after `starts` (a topic or
    /// partition with no recorded start did not exist then: read from its beginning).
    private static func arrivedSequences(instance: String, in topics: Set<String>, from starts: [String: [UInt64]],
                                         range: Range<UInt64>, queue: any MessageQueue) throws(QueueError) -> Set<UInt64> {
        var found = Set<UInt64>()
        let prefix = Array("\(instance):".utf8)
        for topic in queue.topics() where topics.contains(topic.name) {
            for partition in topic.partitions {
                let recorded = starts[topic.name].flatMap { partition.partition < $0.count ? $0[partition.partition] : nil } ?? 0
                var offset = max(recorded, partition.firstOffset)
                while offset < partition.nextOffset {
                    let page = try queue.read(topic: topic.name, partition: partition.partition, from: offset, limit: 1_000)
                    guard let last = page.last else { break }
                    for record in page {
                        guard let value = record.headers.last(where: { $0.name == header })?.value,
                              value.count > prefix.count, value.starts(with: prefix),
                              let sequence = UInt64(String(decoding: value[prefix.count...], as: UTF8.self)), range.contains(sequence) else { continue }
                        found.insert(sequence)
                    }
                    offset = last.offset + 1
                }
            }
        }
        return found
    }
}
