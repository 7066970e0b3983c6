import Foundation
import Synchronization
import StarbloomJSON

/// Reads a pipeline's inputs on a second thread, one or two batches ahead of the steps: decoding
/// records out of the queue and indexing their JSON happen here while the pipeline's thread runs
/// the previous batch through the steps (a pipeline otherwise uses one core of two).
///
/// The reader keeps its own cursor, started from the checkpoint's offsets; the pipeline's thread
/// advances the checkpoint only as it processes records, so a batch read but not processed is
/// simply read again after a restart. A read error ends the reader; the pipeline's thread gets it
/// from `next` and restarts from its checkpoint with a new reader.
final class PipelineReader: @unchecked Sendable {
    struct Batch {
        var records: [QueueRecord] = []
        /// Each record as an event, its payload already indexed when it is a JSON object.
        var events: [PipelineEvent] = []
        /// Partitions seen for the first time and where reading them starts (recorded in the checkpoint).
        var started: [(position: PipelineCheckpoint.Position, offset: UInt64)] = []
        /// The offset after the batch's last record, per partition it read.
        var ends: [(position: PipelineCheckpoint.Position, offset: UInt64)] = []
    }

    private let queue: any MessageQueue
    private let definition: PipelineDefinition
    private let ownTopics: Set<String>
    private var offsets: [PipelineCheckpoint.Position: UInt64]
    private let condition = NSCondition()
    private var ready: [Result<Batch, QueueError>] = []
    /// Batches the pipeline's thread is done with, freed here: the reader allocated their buffers,
    /// so releasing them here keeps the reference counts' cache lines (and malloc's arena) on this core.
    private var processed: [Batch] = []
    private var stopped = false
    private let finished = DispatchSemaphore(value: 0)
    private static let depth = 2
    private static let batchBytes = 8 << 20

    init(queue: any MessageQueue, definition: PipelineDefinition, ownTopics: Set<String>, offsets: [PipelineCheckpoint.Position: UInt64]) {
        self.queue = queue
        self.definition = definition
        self.ownTopics = ownTopics
        self.offsets = offsets
    }

    func start() {
        let thread = Thread { [self] in
            run()
            finished.signal()
        }
        thread.name = "pipeline \(definition.name) reader"
        thread.start()
    }

    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
        finished.wait()
    }

    /// The next batch, waiting at most `timeout`; nil when nothing came. Throws the read error.
    func next(timeout: TimeInterval) throws(QueueError) -> Batch? {
        condition.lock()
        defer { condition.unlock() }
        if ready.isEmpty { _ = condition.wait(until: Date().addingTimeInterval(timeout)) }
        guard !ready.isEmpty else { return nil }
        condition.broadcast()
        return try ready.removeFirst().get()
    }

    /// Hands a processed batch back to be freed on the reader's thread.
    func recycle(_ batch: consuming Batch) {
        condition.lock()
        processed.append(batch)
        condition.broadcast()
        condition.unlock()
    }

    private var isStopped: Bool {
        condition.lock()
        defer { condition.unlock() }
        return stopped
    }

    private func run() {
        var idleWait = 1
        var fields: [JSONField] = []
        while true {
            condition.lock()
            while ready.count >= Self.depth && !stopped && processed.isEmpty { condition.wait() }
            let stop = stopped
            var done: [Batch] = []
            swap(&done, &processed)
            let full = ready.count >= Self.depth
            condition.unlock()
            done.removeAll() // frees the processed batches here, outside the lock
            if stop { return }
            if full { continue }
            let seen = queue.appendSignal.version
            let outcome: Result<Batch, QueueError>
            do throws(QueueError) {
                var batch = try read()
                batch.events.reserveCapacity(batch.records.count)
                for record in batch.records {
                    var event = PipelineEvent(record)
                    let indexed = record.payload.withUnsafeBytes { bytes in (try? JSONScanner.indexObject(bytes, into: &fields)) != nil }
                    if indexed { event.indexedFields = fields }
                    batch.events.append(event)
                }
                outcome = .success(batch)
            } catch {
                outcome = .failure(error)
            }
            if case .success(let batch) = outcome, batch.records.isEmpty, batch.started.isEmpty {
                // Idle: sleep until something is appended (polled; at most 50 ms late).
                var slept = 0
                while queue.appendSignal.version == seen && slept < idleWait && !isStopped {
                    Thread.sleep(forTimeInterval: 0.001)
                    slept += 1
                }
                idleWait = min(idleWait * 2, 50)
                continue
            }
            idleWait = 1
            let failed: Bool
            if case .failure = outcome { failed = true } else { failed = false }
            condition.lock()
            // Moved, not copied: the pipeline's thread then owns the batch's arrays alone and
            // can hand events to the steps in place without copy-on-write.
            ready.append(consume outcome)
            condition.broadcast()
            condition.unlock()
            if failed { return }
        }
    }

    /// Up to `batch_size` records, in a fixed order (topics by name, partitions in order).
    private func read() throws(QueueError) -> Batch {
        var batch = Batch()
        var bytes = 0
        let topics = queue.topics()
            .filter { topic in !ownTopics.contains(topic.name) && definition.inputs.contains { TopicName.matches(pattern: $0, topic: topic.name) } }
            .sorted { $0.name < $1.name }
        for topic in topics {
            for partition in topic.partitions {
                let position = PipelineCheckpoint.Position(topic: topic.name, partition: partition.partition)
                var offset: UInt64
                if let known = offsets[position] {
                    offset = known
                } else {
                    offset = definition.startAtLatest ? partition.nextOffset : 0
                    offsets[position] = offset
                    batch.started.append((position, offset))
                }
                offset = max(offset, partition.firstOffset)
                // Pages of at most 256 records until the batch is full by count or by bytes, so two
                // batches ahead stay within a few tens of MiB even with 1 MiB records.
                var end: UInt64?
                while offset < partition.nextOffset, batch.records.count < definition.batchSize, bytes < Self.batchBytes {
                    let page = try queue.read(topic: topic.name, partition: partition.partition, from: offset,
                                              limit: min(256, definition.batchSize - batch.records.count))
                    guard let last = page.last else { break }
                    for record in page { bytes += record.payload.count + record.key.count + 64 }
                    offset = last.offset + 1
                    end = offset
                    batch.records.append(contentsOf: page)
                }
                if let end {
                    offsets[position] = end
                    batch.ends.append((position, end))
                }
            }
        }
        return batch
    }
}
