import Foundation
import Synchronization

/// Runs one pipeline on its own thread: reads its inputs, passes each record through the steps,
/// and checkpoints.
///
/// Exactly-once outputs: every `checkpoint_interval_ms` (or sooner when idle or when 10,000 outputs
/// wait) one SQLite transaction stores the steps' state, the input offsets reached and every output
/// produced since the last checkpoint (the outbox); key-value outputs are written in that same
/// transaction. Only then are the outbox's records published (each carrying the pipeline's name and
/// its sequence number in headers) and its time-series points written (under a write mark). After a
/// crash the runner loads the checkpoint, publishes the outbox records not found in their topics, and
/// re-applies the points (the mark makes that a no-op if they were written) — so nothing is lost and
/// nothing is counted twice, and with one input partition the outputs are exactly those of an
/// uninterrupted run.
public final class PipelineRunner: @unchecked Sendable {
    public let definition: PipelineDefinition
    private let queue: any MessageQueue
    private let store: PipelineStore
    private let series: SQLiteTimeSeriesStore?
    private let keyValues: any KeyValueStore
    private let instances: PipelineInstances
    private let logger: @Sendable (String) -> Void

    private let stopRequested = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private let statusLock = Mutex(PipelineStatus())

    // Touched only by the pipeline's thread.
    private var steps: [any PipelineStep] = []
    /// How many steps at the front only keep or drop events (see `PipelinePredicateStep`), and those steps.
    private var leadingPredicates: [any PipelinePredicateStep] = []
    private var checkpoint = PipelineCheckpoint()
    private var outbox: [(sequence: UInt64, entry: OutboxEntry)] = []
    private var pendingPoints: [TimeSeriesPoint] = []
    private var pendingKeyValues: [PipelineStore.KeyValueWrite] = []
    private var delivered: UInt64?
    private var dirty = false
    /// Shared by the steps and the outputs (see `PayloadIndex`).
    private var outputIndex = PayloadIndex()
    private let ownTopics: Set<String>

    init(definition: PipelineDefinition, queue: any MessageQueue, store: PipelineStore, series: SQLiteTimeSeriesStore?,
         keyValues: any KeyValueStore, instances: PipelineInstances = .none, logger: @escaping @Sendable (String) -> Void) {
        self.instances = instances
        self.definition = definition
        self.queue = queue
        self.store = store
        self.series = series
        self.keyValues = keyValues
        self.logger = logger
        var own: Set<String> = [definition.deadLetterTopic]
        for output in definition.outputs { if case .topic(let name) = output { own.insert(name) } }
        for step in definition.steps { if case .window(let window) = step { own.insert(window.lateTopic) } }
        ownTopics = own
        let hash = PipelineDefinition.canonicalJSON(definition.source["steps"] ?? .array([])).withUnsafeBytes { StableHash.hash64($0) }
        stepsFingerprint = hash == 0 ? 1 : hash
    }

    public var status: PipelineStatus { statusLock.withLock { $0 } }

    /// Identifies the steps' definition (key order aside): state saved under other steps is not loaded.
    private let stepsFingerprint: UInt64

    public func start() {
        statusLock.withLock { $0.state = "starting" }
        let thread = Thread { [self] in
            run()
            finished.signal()
        }
        thread.name = "pipeline \(definition.name)"
        thread.start()
    }

    /// Asks the thread to stop after the record in hand and waits for it (it checkpoints first).
    public func stop() {
        stopRequested.store(true, ordering: .releasing)
        finished.wait()
    }

    private var stopping: Bool { stopRequested.load(ordering: .acquiring) }

    // MARK: Loop

    private func run() {
        var backoff = 0.5
        while !stopping {
            let processedBefore = counters.processed
            do {
                try recover()
                statusLock.withLock { $0.state = "running" }
                try loop()
                try commitCheckpoint() // stopping: keep what was processed
            } catch {
                // A failure right after recovery (a processor instance still missing) keeps backing
                // off; one after real progress starts again from the shortest wait.
                if counters.processed > processedBefore { backoff = 0.5 }
                clearErrorOnProgress = true
                let message = "\(error)"
                logger("pipeline '\(definition.name)': \(message); restarting from its last checkpoint in \(backoff) s")
                statusLock.withLock { $0.state = "failed"; $0.lastError = message; $0.restarts += 1 }
                var waited = 0.0
                while waited < backoff && !stopping {
                    Thread.sleep(forTimeInterval: 0.05)
                    waited += 0.05
                }
                backoff = min(backoff * 2, 30)
            }
        }
        statusLock.withLock { $0.state = "stopped" }
    }

    private func loop() throws {
        var lastCheckpoint = ContinuousClock.now
        let interval = Duration.milliseconds(definition.checkpointIntervalMs)
        let reader = PipelineReader(queue: queue, definition: definition, ownTopics: ownTopics, offsets: checkpoint.offsets)
        reader.start()
        defer { reader.stop() }
        while !stopping {
            var processed = 0
            if var batch = try reader.next(timeout: 0.01) {
                for (position, offset) in batch.started where checkpoint.offsets[position] == nil {
                    checkpoint.offsets[position] = offset
                    dirty = true
                }
                // Each event is handed to the steps in place (inout), never copied: a copy retains
                // and releases buffers the reader thread allocated, each moving a cache line between
                // cores. The record itself is read only when something is sent aside.
                try batch.records.withUnsafeBufferPointer { records in
                    try batch.events.withUnsafeMutableBufferPointer { events in
                        var index = 0
                        while index < events.count {
                            try handle(&events[index], origin: RecordOrigin(records: records, index: index))
                            index += 1
                        }
                    }
                }
                for (position, offset) in batch.ends { checkpoint.offsets[position] = offset }
                if !batch.ends.isEmpty { dirty = true }
                processed = batch.records.count
                reader.recycle(batch)
            }
            let now = ContinuousClock.now
            // Idle with outputs waiting: checkpoint now, so results are not held back. Otherwise
            // (only offsets and state moved) the interval is soon enough.
            let outputsWaiting = !outbox.isEmpty || !pendingPoints.isEmpty || !pendingKeyValues.isEmpty
            if dirty && ((processed == 0 && outputsWaiting) || now - lastCheckpoint >= interval || outbox.count + pendingPoints.count >= 10_000) {
                try commitCheckpoint()
                lastCheckpoint = now
            }
        }
    }

    // MARK: Processing

    /// Counters kept on the pipeline's thread and copied into `status` every 1,024 records and at
    /// each checkpoint (a lock per record would cost more than some steps).
    private var counters = (processed: UInt64(0), emitted: UInt64(0), deadLettered: UInt64(0), late: UInt64(0))
    private var stageEvents: [PipelineEvent] = []
    /// Set after a failure: the first record processed afterwards clears `last_error`.
    private var clearErrorOnProgress = false
    private var stepOutput = StepOutput()

    private func publishCounters() {
        let counters = self.counters
        statusLock.withLock {
            $0.processed = counters.processed
            $0.emitted = counters.emitted
            $0.deadLettered = counters.deadLettered
            $0.late = counters.late
        }
    }

    /// Where the record being handled came from: read only when a record is sent aside.
    private struct RecordOrigin {
        let records: UnsafeBufferPointer<QueueRecord>
        let index: Int
        var text: String { "\(records[index].topic)/\(records[index].partition)/\(records[index].offset)" }
    }

    private func handle(_ event: inout PipelineEvent, origin: RecordOrigin) throws {
        try runSteps(&event, origin: origin)
        finishRecord()
    }

    private func runSteps(_ event: inout PipelineEvent, origin: RecordOrigin) throws {
        // Leading keep-or-drop steps, then the first step that transforms, look at the event in
        // place; only what a transforming step outputs goes on through `stageEvents`.
        var first = 0
        while first < leadingPredicates.count {
            let kept: Bool
            do throws(StepFailure) {
                kept = try leadingPredicates[first].keeps(event)
            } catch where error.isTransient {
                throw error
            } catch {
                sendAside(SideRecord(topic: definition.deadLetterTopic, event: event, reason: failureReason(first, error)), origin: origin)
                counters.deadLettered += 1
                return
            }
            guard kept else { return }
            first += 1
        }
        if first == steps.count { return try emit(event) }
        stepOutput.events.removeAll(keepingCapacity: true)
        stepOutput.side.removeAll(keepingCapacity: true)
        do throws(StepFailure) {
            try steps[first].process(event, into: &stepOutput)
        } catch where error.isTransient {
            throw error // the whole pipeline waits and restarts from its checkpoint
        } catch {
            stepOutput.side.append(SideRecord(topic: definition.deadLetterTopic, event: event, reason: failureReason(first, error)))
            counters.deadLettered += 1
        }
        for side in stepOutput.side { sendAside(side, origin: origin) }
        swap(&stageEvents, &stepOutput.events)
        var index = first + 1
        while index < steps.count && !stageEvents.isEmpty {
            let step = steps[index]
            stepOutput.events.removeAll(keepingCapacity: true)
            stepOutput.side.removeAll(keepingCapacity: true)
            for event in stageEvents {
                do throws(StepFailure) {
                    try step.process(event, into: &stepOutput)
                } catch where error.isTransient {
                    throw error
                } catch {
                    stepOutput.side.append(SideRecord(topic: definition.deadLetterTopic, event: event, reason: failureReason(index, error)))
                    counters.deadLettered += 1
                }
            }
            for side in stepOutput.side { sendAside(side, origin: origin) }
            swap(&stageEvents, &stepOutput.events)
            index += 1
        }
        for event in stageEvents { try emit(event) }
        stageEvents.removeAll(keepingCapacity: true)
    }

    private func failureReason(_ step: Int, _ error: StepFailure) -> String {
        "step \(step) (\(definition.steps[step].kind)): \(error.message)"
    }

    /// A record sent to the dead-letter or late topic, with the reason and where it came from.
    private func sendAside(_ side: SideRecord, origin: RecordOrigin) {
        var headers = side.event.headers
        headers.append(QueueRecord.Header(name: PipelineHeaders.error, value: Array(side.reason.utf8)))
        headers.append(QueueRecord.Header(name: "starbloom-source", value: Array(origin.text.utf8)))
        if side.topic != definition.deadLetterTopic { counters.late += 1 }
        append(.record(topic: side.topic, key: side.event.key, payload: side.event.payload, headers: headers, eventTimeNs: side.event.eventTimeNs))
    }

    private func finishRecord() {
        counters.processed += 1
        if clearErrorOnProgress {
            clearErrorOnProgress = false
            statusLock.withLock { $0.lastError = nil }
        }
        if counters.processed % 1_024 == 0 { publishCounters() }
    }

    private func append(_ entry: OutboxEntry) {
        outbox.append((checkpoint.nextSequence, entry))
        checkpoint.nextSequence += 1
        dirty = true
    }

    /// Sends one result to every output.
    private func emit(_ event: PipelineEvent) throws {
        counters.emitted += 1
        for output in definition.outputs {
            switch output {
            case .topic(let name):
                var headers = event.headers
                if event.isRevert, !headers.contains(where: { $0.name == PipelineHeaders.revert }) {
                    headers.append(QueueRecord.Header(name: PipelineHeaders.revert, value: [0x31]))
                }
                append(.record(topic: name, key: event.key, payload: event.payload, headers: headers, eventTimeNs: event.eventTimeNs))
            case .series(let metric, let values, let tags, let time):
                do throws(StepFailure) {
                    try outputIndex.load(event)
                    var timestamp = event.eventTimeNs
                    if let time {
                        guard case .integer(false, let units) = try outputIndex.value(time.field, of: event), units.w1 == 0, units.w2 == 0, units.w3 == 0,
                              units.w0 <= UInt64(Int64.max) / UInt64(time.unitNs) else {
                            throw StepFailure("time \(time.field.text) is not a non-negative integer in range")
                        }
                        timestamp = Int64(units.w0) * time.unitNs
                    }
                    var tagValues: [String: String] = [:]
                    for tag in tags {
                        let value = try outputIndex.value(try path(tag), of: event)
                        if case .string(let text) = value { tagValues[tag] = text.hasPrefix("0x") ? text.lowercased() : text }
                        else if value != .missing { tagValues[tag] = String(decoding: value.json, as: UTF8.self) }
                    }
                    let previous = event.header(PipelineHeaders.previousResult)
                    for field in values {
                        guard var number = try Self.number(try outputIndex.value(try path(field), of: event)) else { continue }
                        if let previous, let before = try Self.number(value(field, in: previous)) { number -= before }
                        if event.isRevert { number = -number }
                        pendingPoints.append(TimeSeriesPoint(metric: "\(metric).\(field)", tags: tagValues, timestampNs: timestamp, value: number))
                    }
                    dirty = true
                } catch {
                    append(.record(topic: definition.deadLetterTopic, key: event.key, payload: event.payload,
                                   headers: event.headers + [QueueRecord.Header(name: PipelineHeaders.error, value: Array("series output \(metric): \(error.message)".utf8))],
                                   eventTimeNs: event.eventTimeNs))
                }
            case .keyValue(let namespace, let key):
                guard !event.isRevert else { continue } // a key-value output holds the latest result; reverts arrive as corrections
                do throws(StepFailure) {
                    try outputIndex.load(event)
                    let keyBytes = try outputIndex.value(key, of: event).keyBytes
                    guard !keyBytes.isEmpty, keyBytes.count <= StoreLimits.maxKeyBytes else {
                        throw StepFailure("key \(key.text) is empty or longer than \(StoreLimits.maxKeyBytes) bytes")
                    }
                    pendingKeyValues.append(.init(namespace: namespace, key: keyBytes, value: event.payload))
                    dirty = true
                } catch {
                    append(.record(topic: definition.deadLetterTopic, key: event.key, payload: event.payload,
                                   headers: event.headers + [QueueRecord.Header(name: PipelineHeaders.error, value: Array("kv output \(namespace): \(error.message)".utf8))],
                                   eventTimeNs: event.eventTimeNs))
                }
            }
        }
    }

    /// Series output fields compiled once (not per event); a name that is not a path fails each
    /// result with the same message.
    private var compiledPaths: [String: Result<Expression, StepFailure>] = [:]

    private func path(_ field: String) throws(StepFailure) -> Expression {
        if let known = compiledPaths[field] { return try known.get() }
        let compiled: Result<Expression, StepFailure>
        do throws(ExpressionError) { compiled = .success(try Expression.parse(field)) } catch { compiled = .failure(StepFailure("field \(field): \(error)")) }
        compiledPaths[field] = compiled
        return try compiled.get()
    }

    private func value(_ field: String, in payload: [UInt8]) throws(StepFailure) -> ExpressionValue {
        let index = PayloadIndex()
        let event = PipelineEvent(key: [], payload: payload, headers: [], eventTimeNs: 0, isRevert: false)
        try index.load(event)
        return try index.value(try path(field), of: event)
    }

    /// A field as a Double for the time-series store (digit strings included; exact sums are rounded here).
    private static func number(_ value: ExpressionValue) throws(StepFailure) -> Double? {
        guard let number = try AggregateNumber.from(value, aggregate: "series value") else { return nil }
        return number.doubleValue
    }

    // MARK: Checkpoints

    private func commitCheckpoint() throws {
        guard dirty else { return }
        if !pendingPoints.isEmpty {
            append(.series(pendingPoints))
            pendingPoints = []
        }
        // Where each output topic ends now: after a crash, outputs of this checkpoint are looked for from here.
        var scanStarts: [PipelineCheckpoint.Position: UInt64] = [:]
        let targets = Set(outbox.compactMap { entry -> String? in if case .record(let topic, _, _, _, _) = entry.entry { return topic } else { return nil } })
        for topic in queue.topics() where targets.contains(topic.name) {
            for partition in topic.partitions {
                scanStarts[.init(topic: topic.name, partition: partition.partition)] = partition.nextOffset
            }
        }
        checkpoint.scanStarts = scanStarts
        checkpoint.stepStates = steps.map { step in
            var writer = StateWriter()
            step.saveState(into: &writer)
            return writer.bytes
        }
        try store.commit(name: definition.name, checkpoint: checkpoint.encoded(), outbox: outbox.map { ($0.sequence, $0.entry.encoded()) },
                         keyValues: pendingKeyValues, delivered: delivered)
        pendingKeyValues = []
        dirty = false
        let entries = outbox
        outbox = []
        try deliver(entries, alreadyPublished: [])
        if let last = entries.last?.sequence { delivered = last }
        publishCounters()
        statusLock.withLock {
            $0.checkpoints += 1
            $0.lastCheckpointMs = SQLiteStateStore.nowMs()
            $0.offsets = checkpoint.offsets.map { .init(topic: $0.key.topic, partition: $0.key.partition, nextOffset: $0.value) }.sorted { ($0.topic, $0.partition) < ($1.topic, $1.partition) }
        }
    }

    /// Publishes records (in order, consecutive ones to the same topic as one append) and applies
    /// series points. `alreadyPublished` holds sequence numbers found in the topics after a crash.
    private func deliver(_ entries: [(sequence: UInt64, entry: OutboxEntry)], alreadyPublished: Set<UInt64>) throws {
        var run: [QueueRecord] = []
        var runTopic = ""
        func flush() throws {
            guard !run.isEmpty else { return }
            let appender = try queue.topic(named: runTopic)
            let arena = RecordArena(run)
            defer { arena.release() }
            _ = try appender.append(UnsafeBufferPointer(start: arena.records, count: run.count), defaultEventTimeNs: 0)
            run = []
        }
        for (sequence, entry) in entries {
            switch entry {
            case .record(let topic, let key, let payload, let headers, let eventTimeNs):
                if alreadyPublished.contains(sequence) { continue }
                if topic != runTopic || run.count >= 1_024 { try flush(); runTopic = topic }
                var stamped = headers
                stamped.append(QueueRecord.Header(name: PipelineHeaders.pipeline, value: Array(definition.name.utf8)))
                stamped.append(QueueRecord.Header(name: PipelineHeaders.sequence, value: Array(String(sequence).utf8)))
                run.append(QueueRecord(topic: topic, offset: 0, key: key, payload: payload, headers: stamped, eventTimeNs: eventTimeNs))
            case .series(let points):
                try flush()
                guard let series else { continue }
                try series.write(points, owner: "pipeline/\(definition.name)", sequence: sequence)
            }
        }
        try flush()
    }

    // MARK: Recovery

    /// Rebuilds the steps, loads the last checkpoint and delivers what its outbox still holds.
    private func recover() throws {
        let index = PayloadIndex()
        outputIndex = index
        steps = definition.makeSteps(index: index, keyValues: keyValues, instances: instances)
        leadingPredicates = []
        for step in steps {
            guard let predicate = step as? any PipelinePredicateStep else { break }
            leadingPredicates.append(predicate)
        }
        outbox = []
        pendingPoints = []
        pendingKeyValues = []
        dirty = false
        guard let bytes = try store.checkpoint(name: definition.name) else {
            checkpoint = PipelineCheckpoint()
            checkpoint.stepsFingerprint = stepsFingerprint
            return
        }
        checkpoint = try PipelineCheckpoint.decode(bytes)
        if checkpoint.stepsFingerprint != stepsFingerprint || checkpoint.stepStates.count != steps.count {
            // The steps changed (over the API, or in starbloom.toml between two runs): their state
            // starts empty; input offsets and undelivered outputs carry over.
            if checkpoint.stepsFingerprint != 0 || !checkpoint.stepStates.isEmpty {
                logger("pipeline '\(definition.name)': its steps changed since the last checkpoint; windows and dedupe keys start empty, inputs continue where they were")
            }
            checkpoint.stepStates = Array(repeating: [], count: steps.count)
            checkpoint.stepsFingerprint = stepsFingerprint
        }
        for (step, state) in zip(steps, checkpoint.stepStates) where !state.isEmpty {
            var reader = StateReader(state)
            try step.loadState(from: &reader)
        }
        var pending: [(sequence: UInt64, entry: OutboxEntry)] = []
        for stored in try store.outbox(name: definition.name) { pending.append((stored.sequence, try OutboxEntry.decode(stored.entry))) }
        guard let last = pending.last?.sequence else { return }
        let targets = Set(pending.compactMap { entry -> String? in if case .record(let topic, _, _, _, _) = entry.entry { return topic } else { return nil } })
        try deliver(pending, alreadyPublished: try publishedSequences(in: targets, from: checkpoint.scanStarts, from: pending.first!.sequence))
        try store.deleteOutbox(name: definition.name, through: last)
        delivered = nil
        logger("pipeline '\(definition.name)': delivered \(pending.count) output(s) left undelivered by the last run")
    }

    /// Sequence numbers (at least `minimum`) of this pipeline's records published after `starts`.
    /// A topic with no recorded start did not exist at the checkpoint: it is read from its beginning.
    private func publishedSequences(in topics: Set<String>, from starts: [PipelineCheckpoint.Position: UInt64], from minimum: UInt64) throws(QueueError) -> Set<UInt64> {
        var found = Set<UInt64>()
        let name = Array(definition.name.utf8)
        for topic in queue.topics() where topics.contains(topic.name) {
            for partition in topic.partitions {
                var offset = max(starts[.init(topic: topic.name, partition: partition.partition)] ?? 0, partition.firstOffset)
                while offset < partition.nextOffset {
                    let page = try queue.read(topic: topic.name, partition: partition.partition, from: offset, limit: 1_000)
                    guard let last = page.last else { break }
                    for record in page where record.headers.contains(where: { $0.name == PipelineHeaders.pipeline && $0.value == name }) {
                        if let text = record.headers.last(where: { $0.name == PipelineHeaders.sequence })?.value,
                           let sequence = UInt64(String(decoding: text, as: UTF8.self)), sequence >= minimum {
                            found.insert(sequence)
                        }
                    }
                    offset = last.offset + 1
                }
            }
        }
        return found
    }
}

/// What `GET /v1/pipelines` shows about a running pipeline.
public struct PipelineStatus: Sendable, Codable, Equatable {
    public struct Offset: Sendable, Codable, Equatable {
        public var topic: String
        public var partition: Int
        public var nextOffset: UInt64
        enum CodingKeys: String, CodingKey { case topic, partition, nextOffset = "next_offset" }
    }
    public var state = "stopped"
    public var lastError: String?
    public var processed: UInt64 = 0
    public var emitted: UInt64 = 0
    public var deadLettered: UInt64 = 0
    public var late: UInt64 = 0
    public var checkpoints: UInt64 = 0
    public var restarts: UInt64 = 0
    public var lastCheckpointMs: Int64?
    public var offsets: [Offset] = []

    enum CodingKeys: String, CodingKey {
        case state, processed, emitted, late, checkpoints, restarts, offsets
        case lastError = "last_error", deadLettered = "dead_lettered", lastCheckpointMs = "last_checkpoint_ms"
    }
}
