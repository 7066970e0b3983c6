import CStarbloomABI
import CStarbloomSupport
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One partition of a topic: an append-only sequence of segment files with group commit.
///
/// Publishers encode frames into `pending` under the lock. Whoever finds no flush in progress becomes
/// the flusher: it swaps `pending` with the empty `spare`, writes it with one `pwrite` (rolling
/// segments as needed) and, for `always`, one `fdatasync` — outside the lock, so other publishers keep
/// encoding into the fresh buffer and are all acknowledged by the next flush. Memory is bounded by the
/// two buffers: a publisher that finds both full waits (or gets `.full` when non-blocking).
///
/// Readers see offsets below `visibleOffset`: written to the file, and for `always` also fsynced,
/// so a consumer never sees a record that a crash could take back.
///
/// `@unchecked Sendable`: every mutable property is guarded by `condition` (its lock), except the
/// in-flight buffer and the active segment's file contents, which only the flusher (`flushing`) touches.
final class PartitionLog: @unchecked Sendable {
    let topic: String
    let partition: Int
    let directory: String
    private(set) var settings: TopicSettings
    private let condition = NSCondition()
    private var segments: [LogSegment] = []
    private var nextOffset: UInt64 = 0
    private var visibleOffset: UInt64 = 0
    private var durableOffset: UInt64 = 0
    private var pending: WriteBuffer
    private var spare: WriteBuffer
    private var flushing = false
    /// Fault injection for tests: when set, a flush waits on it after taking the buffer, as if the
    /// disk stalled. Never set outside tests.
    var stallFlushesForTesting: DispatchSemaphore?
    /// Signalled when a flush reaches the stall point (tests wait for it).
    var stallReachedForTesting: DispatchSemaphore?
    /// Async publishers waiting for the fsync that covers their last offset, oldest first.
    private var asyncWaiters: [(offset: UInt64, continuation: CheckedContinuation<Result<UInt64, QueueError>, Never>)] = []
    private var flusherStarted = false
    /// Flushes and fsyncs done, for metrics and for judging how well group commit batches.
    private(set) var flushes: UInt64 = 0
    private(set) var syncs: UInt64 = 0
    /// Publishers inside `append` (encoding or waiting for their fsync).
    private var publishersInside = 0
    /// A flusher is briefly waiting for more publishers to add records before it takes the buffer.
    private var gathering = false
    /// How long a flusher waits to gather more records when several publishers are active: one
    /// fsync then acknowledges all of them instead of a few (the commit_delay idea from PostgreSQL).
    static let gatherWindow = 0.000_2
    private var unsyncedWrites = false
    private var failure: String?
    /// What recovery found and did (torn tails truncated, corrupt segments), for operators.
    private(set) var recoveryReport: [String] = []

    static let bufferCapacity = 4 << 20
    /// `none`/`interval`: a publisher flushes inline once this much is pending (the flusher thread
    /// handles smaller amounts every few milliseconds).
    static let inlineFlushThreshold = 1 << 20

    init(topic: String, partition: Int, directory: String, settings: TopicSettings) throws(QueueError) {
        self.topic = topic
        self.partition = partition
        self.directory = directory
        self.settings = settings
        pending = WriteBuffer(capacity: Self.bufferCapacity)
        spare = WriteBuffer(capacity: Self.bufferCapacity)
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw QueueError(code: .io, message: "cannot create \(directory): \(error)")
        }
        try recover()
    }

    deinit {
        pending.free()
        spare.free()
    }

    // MARK: Append

    /// Appends records (the ones at `indices`, or all) in order. Returns the offset of the last one.
    func append(_ records: UnsafeBufferPointer<sb_record>, indices: [Int]?, defaultEventTimeNs: Int64,
                nonBlocking: Bool = false) throws(QueueError) -> UInt64 {
        var total = 0
        let count = indices?.count ?? records.count
        if count == 0 { throw QueueError(code: .invalidOffset, message: "an empty batch has nothing to append") }
        for i in 0..<count {
            let record = records[indices?[i] ?? i]
            if let problem = RecordFrame.problem(with: record) { throw QueueError(code: .tooLarge, message: problem) }
            let bytes = RecordFrame.recordBytes(of: record)
            if bytes > settings.maxRecordBytes {
                throw QueueError(code: .tooLarge,
                                 message: "record of \(bytes) bytes exceeds the limit of \(settings.maxRecordBytes) bytes on topic '\(topic)'")
            }
            total += bytes + RecordFrame.headerSize
        }
        condition.lock()
        publishersInside += 1
        defer {
            publishersInside -= 1
            condition.unlock()
        }
        if let failure { throw QueueError(code: .io, message: failure) }
        // Backpressure: wait while the pending buffer cannot take this batch and a flush is running.
        while pending.used > 0 && pending.used + total > pending.capacity {
            if !flushing {
                try flushLocked(sync: settings.durability == .always)
                continue
            }
            if nonBlocking {
                throw QueueError(code: .full, message: "topic '\(topic)' partition \(partition): write buffers are full")
            }
            condition.wait()
            if let failure { throw QueueError(code: .io, message: failure) }
        }
        let last = encodeLocked(records, indices: indices, defaultEventTimeNs: defaultEventTimeNs)
        switch settings.durability {
        case .always:
            while durableOffset <= last {
                if let failure { throw QueueError(code: .io, message: failure) }
                if !flushing {
                    if pending.count > 0 { try flushLocked(sync: true) } else { try syncWrittenLocked() }
                } else {
                    condition.wait()
                }
            }
        case .none, .interval:
            if pending.used >= Self.inlineFlushThreshold && !flushing {
                try flushLocked(sync: false)
            }
        }
        return last
    }

    /// Appends without blocking a thread: the caller is suspended until its records are durable (per
    /// the topic's durability) and resumed by this partition's flusher thread. Many async publishers
    /// thus share one fsync without one OS thread each.
    func appendAsync(_ records: UnsafeBufferPointer<sb_record>, indices: [Int]?, defaultEventTimeNs: Int64) async throws(QueueError) -> UInt64 {
        if records.isEmpty { throw QueueError(code: .invalidOffset, message: "an empty batch has nothing to append") }
        for record in records {
            if let problem = RecordFrame.problem(with: record) { throw QueueError(code: .tooLarge, message: problem) }
        }
        for record in records where RecordFrame.recordBytes(of: record) > settings.maxRecordBytes {
            throw QueueError(code: .tooLarge,
                             message: "record of \(RecordFrame.recordBytes(of: record)) bytes exceeds the limit of \(settings.maxRecordBytes) bytes on topic '\(topic)'")
        }
        let transfer = UnsafeTransfer(records) // used synchronously inside the closure below
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<UInt64, QueueError>, Never>) in
            condition.lock()
            if let failure {
                condition.unlock()
                return continuation.resume(returning: .failure(QueueError(code: .io, message: failure)))
            }
            if closed {
                condition.unlock()
                return continuation.resume(returning: .failure(QueueError(code: .io, message: "topic '\(topic)' is closed")))
            }
            if pending.used > 4 * pending.normalCapacity {
                condition.unlock()
                return continuation.resume(returning: .failure(QueueError(
                    code: .full, message: "topic '\(topic)' partition \(partition): publishers are outrunning the disk (write buffer full)")))
            }
            let last = encodeLocked(transfer.value, indices: indices, defaultEventTimeNs: defaultEventTimeNs)
            guard settings.durability == .always else {
                condition.unlock()
                return continuation.resume(returning: .success(last))
            }
            asyncWaiters.append((last, continuation))
            if !flusherStarted {
                flusherStarted = true
                let thread = Thread { [weak self] in self?.flushLoop() }
                thread.name = "sb-flush-\(topic)-\(partition)"
                thread.start()
            }
            // Wake the flusher only when it waits for this: an idle flusher, or a gathering one whose
            // target is reached. A wake per append would cost the flusher a context switch each.
            if flusherIdle || (gatherTarget > 0 && asyncWaiters.count >= gatherTarget) { condition.broadcast() }
            condition.unlock()
        }
        return try result.get()
    }

    /// The flusher thread of async publishers: writes and fsyncs whatever is pending, then resumes the
    /// publishers it covered. Runs while the partition lives.
    private func flushLoop() {
        condition.lock()
        // Publishers resumed by the last fsync, plus those already waiting: how many are expected
        // back before the next fsync.
        var expected = 0
        var lastSyncSeconds = 0.000_2
        while true {
            while asyncWaiters.isEmpty || flushing || pending.count == 0 {
                if asyncWaiters.isEmpty && closed { condition.unlock(); return }
                if !asyncWaiters.isEmpty && !flushing && pending.count == 0 { break } // covered by a sync flush
                flusherIdle = true
                condition.wait()
                flusherIdle = false
                // Publishers went quiet long enough for the flusher to sleep: the last cycle's
                // count no longer predicts who comes back.
                expected = 0
            }
            // Gather: the publishers just acknowledged are appending again. Waiting until they all
            // have (or half an fsync's time passed) lets one fsync acknowledge all of them, instead
            // of the first few taking the next fsync alone and the rest waiting a whole cycle more.
            // Not when nothing is pending: those waiters are already covered by a sync flush.
            if expected > 1 && pending.count > 0 && asyncWaiters.count < expected {
                gatherTarget = expected
                let window = UInt64(min(max(lastSyncSeconds / 2, 0.000_05), 0.001) * 1e9)
                let deadline = DispatchTime.now().uptimeNanoseconds + window
                while asyncWaiters.count < expected && !closed && waitLocked(untilUptime: deadline) {}
                gatherTarget = 0
            }
            let started = DispatchTime.now().uptimeNanoseconds
            if pending.count > 0 && !flushing { try? flushLocked(sync: true) } else if !flushing { try? syncWrittenLocked() }
            lastSyncSeconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
            let durable = durableOffset
            var ready: [CheckedContinuation<Result<UInt64, QueueError>, Never>] = []
            var results: [Result<UInt64, QueueError>] = []
            // Waiters below the durable offset are acknowledged even when a later write failed:
            // their records were synced before the failure.
            var covered = 0
            while covered < asyncWaiters.count && asyncWaiters[covered].offset < durable {
                ready.append(asyncWaiters[covered].continuation)
                results.append(.success(asyncWaiters[covered].offset))
                covered += 1
            }
            asyncWaiters.removeFirst(covered)
            if let failure {
                for waiter in asyncWaiters { ready.append(waiter.continuation); results.append(.failure(QueueError(code: .io, message: failure))) }
                asyncWaiters.removeAll()
            }
            expected = ready.count + asyncWaiters.count
            condition.unlock()
            for (continuation, result) in zip(ready, results) { continuation.resume(returning: result) }
            condition.lock()
        }
    }
    /// The flusher thread waits for appends (async publishers wake it only then).
    private var flusherIdle = false
    /// While gathering, the flusher waits for this many async waiters (0: not gathering).
    private var gatherTarget = 0

    /// Waits on the condition (lock held) until signalled or the monotonic `deadline` (uptime
    /// nanoseconds) passes; false once it has passed. `NSCondition` only takes a wall-clock `Date`,
    /// so each wait is at most 1 ms of it: a clock step can then skew a gather by 1 ms at most.
    private func waitLocked(untilUptime deadline: UInt64) -> Bool {
        let now = DispatchTime.now().uptimeNanoseconds
        guard now < deadline else { return false }
        let slice = Double(min(deadline - now, 1_000_000)) / 1e9
        _ = condition.wait(until: Date(timeIntervalSinceNow: slice))
        return true
    }

    /// Set when the queue closes, so the flusher thread can end once nobody waits.
    private var closed = false

    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }

    /// The topic is being deleted: every later append fails, and so do async publishers still
    /// waiting for their fsync (their records go with the topic).
    func markDeleted() {
        condition.lock()
        closed = true
        if failure == nil { failure = "topic '\(topic)' was deleted" }
        condition.broadcast()
        condition.unlock()
    }

    /// Encodes records into `pending`, assigning offsets. Under the lock. Returns the last offset.
    private func encodeLocked(_ records: UnsafeBufferPointer<sb_record>, indices: [Int]?, defaultEventTimeNs: Int64) -> UInt64 {
        let count = indices?.count ?? records.count
        var total = 0
        for i in 0..<count { total += RecordFrame.size(of: records[indices?[i] ?? i]) }
        pending.reserve(total)
        if pending.count == 0 { pending.firstOffset = nextOffset }
        for i in 0..<count {
            let record = records[indices?[i] ?? i]
            let size = RecordFrame.size(of: record)
            RecordFrame.encode(record, offset: nextOffset, eventTimeNs: record.event_time_ns == 0 ? defaultEventTimeNs : record.event_time_ns,
                               size: size, into: pending.base + pending.used)
            pending.used += size
            pending.count += 1
            nextOffset += 1
        }
        return nextOffset - 1
    }

    /// Writes whatever is pending (called by the background flusher for `none` and `interval`).
    /// Returns whether records became readable.
    @discardableResult
    func flushPending() -> Bool {
        condition.lock()
        defer { condition.unlock() }
        // An `always` topic's records are never written without their fsync (else readers could see,
        // and publishers wait on, data that is written but not durable).
        guard !flushing && pending.count > 0 else { return false }
        let before = visibleOffset
        try? flushLocked(sync: settings.durability == .always)
        return visibleOffset > before
    }

    /// With the lock held and nothing pending or flushing: makes what is already written durable.
    private func syncWrittenLocked() throws(QueueError) {
        guard !flushing, durableOffset < visibleOffset, let active = segments.last else { return }
        if let failure { throw QueueError(code: .io, message: failure) }
        flushing = true
        let target = visibleOffset
        condition.unlock()
        let ok = fdatasync(active.fd) == 0
        let code = errno
        condition.lock()
        flushing = false
        if ok {
            durableOffset = max(durableOffset, target)
        } else {
            failure = "partition \(partition) of topic '\(topic)' stopped accepting writes: fdatasync failed: \(String(cString: strerror(code)))"
        }
        condition.broadcast()
        if let failure { throw QueueError(code: .io, message: failure) }
    }

    /// fdatasync if anything was written since the last sync (`interval` durability).
    func syncIfNeeded() {
        condition.lock()
        guard unsyncedWrites, !flushing, let active = segments.last else {
            condition.unlock()
            return
        }
        let target = visibleOffset
        unsyncedWrites = false
        flushing = true
        condition.unlock()
        let ok = fdatasync(active.fd) == 0
        condition.lock()
        flushing = false
        if ok { durableOffset = max(durableOffset, target) } else { unsyncedWrites = true }
        condition.broadcast()
        condition.unlock()
    }

    /// With the lock held and no flush running: writes `pending` (and syncs), unlocking meanwhile.
    private func flushLocked(sync: Bool) throws(QueueError) {
        // After a failed write the file's end is unknown: writing more would leave a silent gap.
        if let failure { throw QueueError(code: .io, message: failure) }
        guard pending.count > 0 else { return }
        flushing = true
        if sync && publishersInside > 1 && pending.count < publishersInside {
            gathering = true
            let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(Self.gatherWindow * 1e9)
            // No one signals this wait (a signal per append would wake every waiting publisher):
            // the flusher simply lets the window pass while others append.
            while pending.count < publishersInside && waitLocked(untilUptime: deadline) {}
            gathering = false
        }
        swap(&pending, &spare)
        pending.firstOffset = nextOffset
        let batch = spare
        var active = segments.last!
        var notes: [(segment: LogSegment, offset: UInt64, position: Int)] = []
        var segmentEnds: [(segment: LogSegment, size: Int, next: UInt64)] = []
        var writeStart = 0
        var position = active.size
        var cursor = 0
        var offset = batch.firstOffset
        var error: String?
        let stall = stallFlushesForTesting
        let reached = stallReachedForTesting
        condition.unlock()
        reached?.signal()
        stall?.wait()
        stall?.signal()

        let segmentLimit = settings.segmentBytes
        func writeRange(_ from: Int, _ to: Int, at filePosition: Int, _ segment: LogSegment) -> Bool {
            // Zero-fill ahead first (it must not land after the data: zeros would overwrite it).
            let end = filePosition + (to - from)
            if to - from >= 64 << 10 {
                // A large write costs more than its sync: zero-filling would only double the bytes.
                segment.zeroedUntil = max(segment.zeroedUntil, end)
            } else if segment.zeroedUntil < end && !segment.ensureZeroed(upTo: end, limit: segmentLimit) {
                error = "zero-fill of \(segment.logPath) failed: \(String(cString: strerror(errno)))"
                return false
            }
            let failed = streamedWrite(segment.fd, batch.base + from, count: to - from, at: filePosition, streaming: sync)
            if failed != 0 {
                error = "write to \(segment.logPath) failed: \(String(cString: strerror(failed)))"
                return false
            }
            return true
        }

        var segmentStartPosition = active.size
        while cursor < batch.used && error == nil {
            let length = Int(UInt32(littleEndian: (batch.base + cursor).loadUnaligned(as: UInt32.self)))
            if position > 0 && position + length > settings.segmentBytes {
                // Roll: write what belongs to the old segment, seal it, continue in a new one.
                if writeRange(writeStart, cursor, at: segmentStartPosition, active) {
                    segmentEnds.append((active, position, offset))
                    if fdatasync(active.fd) != 0 { error = "fdatasync of \(active.logPath) failed" }
                    condition.lock()
                    let created: LogSegment?
                    do {
                        created = try LogSegment.create(baseOffset: offset, directory: directory, capacity: settings.segmentBytes)
                    } catch let failure {
                        error = failure.message
                        created = nil
                    }
                    if let created {
                        seal(active, size: position, next: offset)
                        segments.append(created)
                        active = created
                    }
                    condition.unlock()
                }
                writeStart = cursor
                position = 0
                segmentStartPosition = 0
                if error != nil { break }
            }
            notes.append((active, offset, position))
            position += length
            cursor += length
            offset += 1
        }
        if error == nil, writeRange(writeStart, batch.used, at: segmentStartPosition, active) {
            segmentEnds.append((active, position, offset))
            if sync && fdatasync(active.fd) != 0 {
                error = "fdatasync of \(active.logPath) failed: \(String(cString: strerror(errno)))"
            }
        }

        condition.lock()
        flushing = false
        spare.reset()
        if let error {
            // The bytes may or may not be on disk; nothing after this point can be acknowledged.
            failure = "partition \(partition) of topic '\(topic)' stopped accepting writes: \(error)"
            condition.broadcast()
            throw QueueError(code: .io, message: failure!)
        }
        let now = Date()
        for note in notes { note.segment.noteFrame(offset: note.offset, position: note.position) }
        for end in segmentEnds {
            end.segment.size = end.size
            end.segment.nextOffset = end.next
            end.segment.lastAppend = now
        }
        visibleOffset = offset
        flushes += 1
        if sync { durableOffset = offset; syncs += 1 } else { unsyncedWrites = true }
        condition.broadcast()
    }

    /// Marks a full segment read-only: trims preallocation and writes its index file. Under the lock.
    private func seal(_ segment: LogSegment, size: Int, next: UInt64) {
        segment.size = size
        segment.nextOffset = next
        segment.sealed = true
        ftruncate(segment.fd, off_t(size))
        segment.writeIndexFile()
    }

    // MARK: Read

    func read(from requested: UInt64, limit: Int, maxBytes: Int = .max) throws(QueueError) -> [QueueRecord] {
        condition.lock()
        if requested > nextOffset {
            let next = nextOffset
            condition.unlock()
            throw QueueError(code: .invalidOffset,
                             message: "offset \(requested) is beyond the end of topic '\(topic)' partition \(partition) (next offset \(next))")
        }
        let visible = visibleOffset
        let snapshot = segments.map { (segment: $0, size: $0.size, next: $0.nextOffset) }
        let first = snapshot.first?.segment.baseOffset ?? 0
        var start = max(requested, first)
        var index = snapshot.lastIndex { $0.segment.baseOffset <= start } ?? 0
        var position = snapshot.isEmpty ? 0 : snapshot[index].segment.position(for: start)
        condition.unlock()

        var result: [QueueRecord] = []
        guard limit > 0, start < visible, !snapshot.isEmpty else { return result }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var bytes = 0
        while result.count < limit && bytes < maxBytes && start < visible && index < snapshot.count {
            let (segment, size, next) = snapshot[index]
            if start >= next || position >= size {
                index += 1
                position = 0
                if index < snapshot.count { start = max(start, snapshot[index].segment.baseOffset) }
                continue
            }
            let want = min(buffer.count, size - position)
            let got = buffer.withUnsafeMutableBytes { pread(segment.fd, $0.baseAddress, want, off_t(position)) }
            if got <= 0 {
                throw QueueError(code: .io, message: "read of \(segment.logPath) at \(position) failed")
            }
            var cursor = 0
            var grew = false
            var corruption: QueueError?
            buffer.withUnsafeBytes { raw in
                while cursor < got && result.count < limit && bytes < maxBytes {
                    switch RecordFrame.check(raw.baseAddress! + cursor, available: got - cursor) {
                    case .valid(let length, let offset):
                        if offset >= visible { start = visible; return }
                        if offset >= start {
                            let record = RecordFrame.decode(raw.baseAddress! + cursor, topic: topic, partition: partition)
                            bytes += length // the whole frame: headers count too
                            result.append(record)
                            start = offset + 1
                        }
                        cursor += length
                    case .incomplete(let length):
                        if position + cursor + length > size {
                            corruption = QueueError(code: .corrupt, message: "\(segment.logPath): a frame of \(length) bytes at \(position + cursor) runs past the end of the data")
                            return
                        }
                        if cursor == 0 { grew = true; buffer = [UInt8](repeating: 0, count: max(length, buffer.count * 2)) }
                        return
                    case .end:
                        cursor = got
                        position = size
                        return
                    case .corrupt(let why):
                        corruption = QueueError(code: .corrupt, message: "\(segment.logPath) is corrupt at position \(position + cursor): \(why)")
                        return
                    }
                }
            }
            if let corruption { throw corruption }
            if !grew { position += cursor }
        }
        return result
    }

    // MARK: Info and retention

    /// The offset below which records are readable.
    var visibleEnd: UInt64 {
        condition.lock()
        defer { condition.unlock() }
        return visibleOffset
    }

    /// Why this partition stopped accepting writes (after an I/O error), if it did.
    var failureMessage: String? {
        condition.lock()
        defer { condition.unlock() }
        return failure
    }

    /// The oldest retained and the next readable offset, under one lock.
    var range: PartitionRange {
        condition.lock()
        defer { condition.unlock() }
        return PartitionRange(partition: partition, firstOffset: segments.first?.baseOffset ?? visibleOffset, nextOffset: visibleOffset)
    }

    var info: PartitionInfo {
        condition.lock()
        defer { condition.unlock() }
        return PartitionInfo(partition: partition, firstOffset: segments.first?.baseOffset ?? nextOffset, nextOffset: nextOffset,
                             bytes: segments.reduce(0) { $0 + $1.size }, segments: segments.count, flushes: flushes, syncs: syncs)
    }

    /// Drops whole old segments (never the active one) past the size or age limit.
    func enforceRetention(now: Date = Date()) {
        condition.lock()
        var dropped: [LogSegment] = []
        while segments.count > 1 {
            let total = segments.reduce(0) { $0 + $1.size }
            let oldest = segments[0]
            let tooBig = settings.retentionBytes.map { total > $0 } ?? false
            let tooOld = settings.retentionSeconds.map { now.timeIntervalSince(oldest.lastAppend) > $0 } ?? false
            guard tooBig || tooOld else { break }
            dropped.append(segments.removeFirst())
        }
        condition.unlock()
        for segment in dropped { segment.removeFiles() }
    }

    // MARK: Compaction

    /// Rewrites sealed segments keeping only the newest record of each key (records without a key
    /// stay). Offsets do not change; readers skip the gaps. A segment is replaced by writing
    /// `<base>.log.compacting`, fsyncing it and renaming it over the original, so a crash leaves
    /// either the old or the new file. Returns how many records were removed.
    @discardableResult
    func compact() throws(QueueError) -> Int {
        condition.lock()
        let sealed = segments.filter(\.sealed).map { (segment: $0, size: $0.size) }
        let activeSnapshot = segments.last.map { (segment: $0, size: $0.size) }
        // A newer value that is written but not yet fsynced must not cause a durable older one to be
        // dropped: a crash could lose the newer one and leave the key with nothing.
        let durable: UInt64 = switch settings.durability {
        case .always, .interval: durableOffset
        case .none: visibleOffset // nothing is promised beyond the OS for `none`
        }
        condition.unlock()
        guard !sealed.isEmpty else { return 0 }
        // Newest offset per key across every segment (the active one included: a newer value there
        // supersedes older ones in sealed segments).
        var newest: [[UInt8]: UInt64] = [:]
        for (segment, size) in sealed + (activeSnapshot.map { [$0] } ?? []) {
            try forEachFrame(segment, size: size) { base, offset in
                let keyLength = Int(UInt32(littleEndian: base.loadUnaligned(fromByteOffset: 24, as: UInt32.self)))
                guard keyLength > 0, offset < durable else { return }
                newest[Self.key(of: base, length: keyLength)] = offset
            }
        }
        var removed = 0
        for (segment, size) in sealed {
            var kept: [UInt8] = []
            var keptOffsets: [(UInt64, Int)] = []
            var dropped = 0
            try forEachFrame(segment, size: size) { base, offset in
                let length = Int(UInt32(littleEndian: base.loadUnaligned(as: UInt32.self)))
                let keyLength = Int(UInt32(littleEndian: base.loadUnaligned(fromByteOffset: 24, as: UInt32.self)))
                if keyLength > 0 && newest[Self.key(of: base, length: keyLength)] != offset {
                    dropped += 1
                    return
                }
                keptOffsets.append((offset, kept.count))
                kept.append(contentsOf: UnsafeRawBufferPointer(start: base, count: length))
            }
            guard dropped > 0 else { continue }
            let temporary = segment.logPath + ".compacting"
            let fd = open(temporary, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw QueueError.io("cannot create \(temporary)", errno) }
            let written = kept.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
            guard written == kept.count, fdatasync(fd) == 0 else {
                Glibc.close(fd)
                unlink(temporary)
                throw QueueError.io("cannot write \(temporary)", errno)
            }
            let replacement = LogSegment(baseOffset: segment.baseOffset, directory: directory, fd: fd, size: kept.count,
                                         lastAppend: segment.lastAppend)
            replacement.nextOffset = segment.nextOffset
            replacement.sealed = true
            replacement.zeroedUntil = kept.count
            for (offset, position) in keptOffsets { replacement.noteFrame(offset: offset, position: position) }
            condition.lock()
            guard segments.contains(where: { $0 === segment }) else {
                // Retention (or another compaction) removed it meanwhile: do not resurrect it.
                condition.unlock()
                unlink(temporary)
                continue // `replacement` closes its fd when released
            }
            if rename(temporary, segment.logPath) != 0 {
                let code = errno
                condition.unlock()
                unlink(temporary)
                throw QueueError.io("cannot replace \(segment.logPath)", code)
            }
            try? syncDirectory(directory) // the rename must be durable before the new index is written
            // Readers holding the old segment keep reading its (now unlinked) file through their fd.
            if let index = segments.firstIndex(where: { $0 === segment }) { segments[index] = replacement }
            replacement.writeIndexFile()
            condition.unlock()
            try? syncDirectory(directory)
            removed += dropped
        }
        return removed
    }

    private static func key(of frame: UnsafeRawPointer, length: Int) -> [UInt8] {
        let headerCount = Int(UInt16(littleEndian: frame.loadUnaligned(fromByteOffset: 32, as: UInt16.self)))
        var cursor = frame + RecordFrame.headerSize
        for _ in 0..<headerCount {
            let nameLength = Int(UInt16(littleEndian: cursor.loadUnaligned(as: UInt16.self)))
            let valueLength = Int(UInt32(littleEndian: cursor.loadUnaligned(fromByteOffset: 2, as: UInt32.self)))
            cursor += 6 + nameLength + valueLength
        }
        return [UInt8](UnsafeRawBufferPointer(start: cursor, count: length))
    }

    /// Calls `body` with every valid frame of a segment up to `size`.
    private func forEachFrame(_ segment: LogSegment, size: Int, _ body: (UnsafeRawPointer, UInt64) -> Void) throws(QueueError) {
        var buffer = [UInt8](repeating: 0, count: max(1 << 20, 0))
        var position = 0
        while position < size {
            let want = min(buffer.count, size - position)
            let got = buffer.withUnsafeMutableBytes { pread(segment.fd, $0.baseAddress, want, off_t(position)) }
            if got <= 0 { throw QueueError(code: .io, message: "read of \(segment.logPath) failed") }
            var cursor = 0
            var grow = 0
            var corrupt: String?
            buffer.withUnsafeBytes { raw in
                while cursor < got {
                    switch RecordFrame.check(raw.baseAddress! + cursor, available: got - cursor) {
                    case .valid(let length, let offset):
                        body(raw.baseAddress! + cursor, offset)
                        cursor += length
                    case .incomplete(let length):
                        if position + cursor + length > size { corrupt = "a frame of \(length) bytes runs past the end of the data"; return }
                        if cursor == 0 { grow = length }
                        return
                    case .end:
                        cursor = got
                        return
                    case .corrupt(let why):
                        corrupt = why
                        return
                    }
                }
            }
            if let corrupt { throw QueueError(code: .corrupt, message: "\(segment.logPath) at \(position + cursor): \(corrupt)") }
            if grow > 0 { buffer = [UInt8](repeating: 0, count: max(grow, buffer.count * 2)); continue }
            position += cursor
        }
    }

    // MARK: Recovery

    /// Opens existing segments: trusts a sealed segment's intact index file, otherwise scans it frame by
    /// frame. A torn or corrupt tail of the last segment is truncated; a corrupt middle segment is
    /// served up to the damage. Everything found is written to `recoveryReport`.
    private func recover() throws(QueueError) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        // Leftovers of a crash during compaction or an index write: the originals are intact.
        for name in names where name.hasSuffix(".compacting") || name.hasSuffix(".tmp") {
            unlink("\(directory)/\(name)")
        }
        let bases = names.compactMap { name -> UInt64? in
            guard name.hasSuffix(".log"), name.count == 24 else { return nil }
            return UInt64(name.prefix(20))
        }.sorted()
        for (position, base) in bases.enumerated() {
            let isLast = position == bases.count - 1
            let path = "\(directory)/\(LogSegment.fileName(baseOffset: base))"
            let fd = open(path, O_RDWR | O_CLOEXEC)
            guard fd >= 0 else { throw QueueError.io("cannot open segment \(path)", errno) }
            var status = stat()
            fstat(fd, &status)
            let fileLength = Int(status.st_size)
            let modified = Date(timeIntervalSince1970: Double(status.st_mtim.tv_sec))
            let segment = LogSegment(baseOffset: base, directory: directory, fd: fd, size: 0, lastAppend: modified)
            if !isLast && segment.loadIndexFile(fileLength: fileLength) {
                segment.sealed = true
            } else {
                if !isLast && FileManager.default.fileExists(atPath: segment.indexPath) == false {
                    recoveryReport.append("rebuilt the missing index of \(segment.logPath)")
                } else if !isLast {
                    recoveryReport.append("rebuilt the damaged index of \(segment.logPath)")
                }
                try scan(segment, fileLength: fileLength, isLast: isLast)
                if !isLast {
                    segment.sealed = true
                    segment.writeIndexFile()
                }
            }
            segment.zeroedUntil = segment.size // never zero-fill over recovered data
            if let previous = segments.last, segment.baseOffset < previous.nextOffset {
                recoveryReport.append("\(segment.logPath) overlaps the previous segment; ignored")
                continue
            }
            segments.append(segment)
        }
        if segments.isEmpty {
            segments.append(try LogSegment.create(baseOffset: 0, directory: directory, capacity: settings.segmentBytes))
        } else if let last = segments.last, last.sealed || last.size >= settings.segmentBytes {
            segments.append(try LogSegment.create(baseOffset: last.nextOffset, directory: directory, capacity: settings.segmentBytes))
        }
        nextOffset = segments.last!.nextOffset
        visibleOffset = nextOffset
        durableOffset = nextOffset
    }

    /// Reads every frame of a segment, building its index and finding where valid data ends.
    private func scan(_ segment: LogSegment, fileLength: Int, isLast: Bool) throws(QueueError) {
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var position = 0
        var expected = segment.baseOffset
        var problem: String?
        scanning: while position < fileLength {
            let want = min(buffer.count, fileLength - position)
            let got = buffer.withUnsafeMutableBytes { pread(segment.fd, $0.baseAddress, want, off_t(position)) }
            if got <= 0 {
                // An I/O error is not a torn tail: truncating here could destroy acknowledged records.
                throw QueueError.io("cannot read \(segment.logPath) at \(position)", errno)
            }
            var cursor = 0
            var stop = false
            buffer.withUnsafeBytes { raw in
                while cursor < got {
                    switch RecordFrame.check(raw.baseAddress! + cursor, available: got - cursor) {
                    case .valid(let length, let offset):
                        // Offsets only grow; gaps are normal in compacted (sealed) segments only.
                        if offset < expected || (isLast && offset != expected) {
                            problem = "offset \(offset) where \(expected) or later was expected"
                            stop = true
                            return
                        }
                        expected = offset
                        segment.noteFrame(offset: offset, position: position + cursor)
                        expected += 1
                        cursor += length
                    case .incomplete(let length):
                        if position + cursor + length > fileLength {
                            problem = "a frame of \(length) bytes runs past the end of the file"
                            stop = true
                        } else if cursor == 0 {
                            buffer = [UInt8](repeating: 0, count: max(length, buffer.count * 2))
                        }
                        return
                    case .end:
                        stop = true
                        return
                    case .corrupt(let why):
                        problem = why
                        stop = true
                        return
                    }
                }
            }
            position += cursor
            if stop { break scanning }
        }
        segment.size = position
        segment.nextOffset = expected
        guard let problem else {
            if isLast && position < fileLength {
                // Zeros after the data. Clear everything past it anyway: if the crash lost a page in the
                // middle of a flush, later pages may hold stale frames that a future scan would accept.
                ftruncate(segment.fd, off_t(position))
                _ = sb_preallocate_safe(segment.fd, capacity: settings.segmentBytes)
            }
            return
        }
        let lost = fileLength - position
        if isLast {
            // Usually a write cut short by a crash; but a damaged byte followed by good records looks
            // the same from here, so the file is copied aside first: nothing is destroyed unseen.
            let preserved = "\(segment.logPath).damaged-\(Int(Date().timeIntervalSince1970))"
            let kept = (try? FileManager.default.copyItem(atPath: segment.logPath, toPath: preserved)) != nil
            ftruncate(segment.fd, off_t(position))
            fdatasync(segment.fd)
            _ = sb_preallocate_safe(segment.fd, capacity: settings.segmentBytes)
            recoveryReport.append("truncated a torn tail of \(segment.logPath) at position \(position) (\(problem); \(lost) bytes dropped, next offset \(expected))"
                                  + (kept ? "; the file before truncation is kept as \(preserved)" : ""))
        } else {
            recoveryReport.append("\(segment.logPath) is corrupt at position \(position) (\(problem)); serving offsets \(segment.baseOffset)..<\(expected), skipping \(lost) bytes")
        }
    }
}

@inline(__always)
func sb_preallocate_safe(_ fd: Int32, capacity: Int) -> Int32 {
    sb_preallocate(fd, 0, Int64(capacity))
}
