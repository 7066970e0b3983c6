import Foundation
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The embedded durable queue: one directory per topic under `<data>/queue/topics`, one per partition
/// below it, segment files inside (see `PartitionLog`). Topic settings live in `topic.json`; consumer
/// group offsets in `offsets.log` (see `ConsumerOffsetStore`).
///
/// A background thread writes pending data of `none`/`interval` topics every 2 ms, fsyncs `interval`
/// topics on their schedule, and applies retention every second.
///
/// `@unchecked Sendable`: `topicsByName` is guarded by `lock`; the maintenance thread stops via
/// `stopping` (its own lock).
public final class DurableQueue: MessageQueue, @unchecked Sendable {
    public let directory: String
    public let defaults: TopicSettings
    private let topicsDirectory: String
    private let offsetStore: ConsumerOffsetStore
    private let logger: Logger
    private let lock = NSLock()
    private var topicsByName: [String: DurableTopic] = [:]
    public let appendSignal = AppendSignal()
    private let stopping = NSCondition()
    private var stopped = false
    private var lastSync: [String: Date] = [:]
    private let compacting = Mutex(false)
    private let lockFD: Int32
    private var closed = false
    /// What recovery found when the queue opened (truncated tails, corrupt segments, rebuilt indexes).
    public private(set) var recoveryReport: [String] = []

    public var maxRecordBytes: Int { defaults.maxRecordBytes }

    public init(directory: String, defaults: TopicSettings = TopicSettings(), logger: Logger = Logger(label: "starbloom.queue")) throws(QueueError) {
        if let problem = defaults.problem { throw QueueError(code: .invalidSettings, message: "queue defaults: \(problem)") }
        self.directory = directory
        self.defaults = defaults
        self.logger = logger
        topicsDirectory = "\(directory)/topics"
        do {
            try FileManager.default.createDirectory(atPath: topicsDirectory, withIntermediateDirectories: true)
        } catch {
            throw QueueError(code: .io, message: "cannot create \(topicsDirectory): \(error)")
        }
        // One process per data directory: two writers appending at the same positions would destroy
        // each other's records. The lock goes away with the process, even on SIGKILL.
        lockFD = open("\(directory)/LOCK", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard lockFD >= 0 else { throw QueueError.io("cannot open \(directory)/LOCK", errno) }
        if flock(lockFD, LOCK_EX | LOCK_NB) != 0 {
            Glibc.close(lockFD)
            throw QueueError(code: .io, message: "the queue in \(directory) is in use by another process (another starbloom serve on the same data directory?)")
        }
        offsetStore = try ConsumerOffsetStore(directory: directory)
        for name in ((try? FileManager.default.contentsOfDirectory(atPath: topicsDirectory)) ?? []).sorted() {
            if name.hasPrefix(".deleted.") { // a deletion a crash interrupted: finish it
                try? FileManager.default.removeItem(atPath: "\(topicsDirectory)/\(name)")
                continue
            }
            guard TopicName.problem(with: name) == nil else { continue }
            let settings = Self.loadSettings("\(topicsDirectory)/\(name)") ?? defaults
            let topic = try DurableTopic(name: name, directory: "\(topicsDirectory)/\(name)", settings: settings, signal: appendSignal)
            topicsByName[name] = topic
            for partition in topic.partitions { recoveryReport += partition.recoveryReport }
        }
        // A commit can be ahead of the log after an OS crash (the commit was fsynced, the records it
        // covered were not) or after a torn tail was truncated: pull it back so the records published
        // from now on are not skipped.
        for (key, offset) in offsetStore.all {
            guard let topic = topicsByName[key.topic], topic.partitions.indices.contains(key.partition) else { continue }
            let next = topic.partitions[key.partition].info.nextOffset
            if offset > next {
                try offsetStore.commit(group: key.group, topic: key.topic, partition: key.partition, offset: next)
                recoveryReport.append("group '\(key.group)' had committed offset \(offset) of '\(key.topic)' partition \(key.partition), beyond its end \(next); reset to \(next)")
            }
        }
        for line in recoveryReport { logger.warning("queue recovery", metadata: ["detail": "\(line)"]) }
        let thread = Thread { [weak self] in self?.maintain() }
        thread.name = "sb-queue-maintenance"
        thread.start()
    }

    /// Stops the maintenance thread after a final flush of pending data, and releases the directory.
    public func close() {
        stopping.lock()
        stopped = true
        let alreadyClosed = closed
        closed = true
        stopping.broadcast()
        stopping.unlock()
        if alreadyClosed { return }
        for topic in allTopics {
            for partition in topic.partitions {
                partition.flushPending()
                partition.syncIfNeeded()
                partition.close()
            }
        }
        Glibc.close(lockFD) // releases the flock
    }

    deinit { close() }

    private var allTopics: [DurableTopic] {
        lock.lock()
        defer { lock.unlock() }
        return Array(topicsByName.values)
    }

    public func topic(named name: String) throws(QueueError) -> any TopicAppender {
        try durableTopic(named: name, settings: nil)
    }

    public func createTopic(_ name: String, settings: TopicSettings) throws(QueueError) {
        if let problem = settings.problem { throw QueueError(code: .invalidSettings, message: "topic '\(name)': \(problem)") }
        let topic = try durableTopic(named: name, settings: settings)
        if topic.settings != settings {
            throw QueueError(code: .invalidSettings, message: "topic '\(name)' already exists with other settings")
        }
    }

    public func deleteTopic(_ name: String) throws(QueueError) {
        lock.lock()
        guard let topic = topicsByName[name] else {
            lock.unlock()
            throw .missingTopic(name)
        }
        // Renamed first (one atomic step, made durable), then removed: a crash in between leaves a
        // `.deleted.` directory that the next start removes, never half a topic. The new name
        // leaves the topic's out: a 255-byte topic name plus a prefix would pass NAME_MAX.
        let path = "\(topicsDirectory)/\(name)"
        let doomed = "\(topicsDirectory)/.deleted.\(DispatchTime.now().uptimeNanoseconds).\(UInt32.random(in: 0 ... .max))"
        guard rename(path, doomed) == 0 else {
            let code = errno
            lock.unlock()
            throw QueueError.io("cannot delete topic '\(name)' (rename of its directory)", code)
        }
        topicsByName.removeValue(forKey: name)
        lock.unlock()
        for partition in topic.partitions { partition.markDeleted() }
        try? syncDirectory(topicsDirectory)
        try? FileManager.default.removeItem(atPath: doomed)
        for (key, offset) in offsetStore.all where key.topic == name && offset != 0 {
            try offsetStore.commit(group: key.group, topic: name, partition: key.partition, offset: 0)
        }
    }

    private func durableTopic(named name: String, settings: TopicSettings?) throws(QueueError) -> DurableTopic {
        lock.lock()
        defer { lock.unlock() }
        if let existing = topicsByName[name] { return existing }
        if let problem = TopicName.problem(with: name) { throw QueueError(code: .invalidTopic, message: problem) }
        let chosen = settings ?? defaults
        let path = "\(topicsDirectory)/\(name)"
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            let data = try JSONEncoder().encode(chosen)
            try data.write(to: URL(fileURLWithPath: "\(path)/topic.json"), options: .atomic)
            try syncDirectory(path)
            try syncDirectory(topicsDirectory)
        } catch let error as QueueError {
            throw error
        } catch {
            throw QueueError(code: .io, message: "cannot create topic '\(name)': \(error)")
        }
        let topic = try DurableTopic(name: name, directory: path, settings: chosen, signal: appendSignal)
        topicsByName[name] = topic
        return topic
    }

    private static func loadSettings(_ path: String) -> TopicSettings? {
        guard let data = FileManager.default.contents(atPath: "\(path)/topic.json") else { return nil }
        return try? JSONDecoder().decode(TopicSettings.self, from: data)
    }

    private func existing(_ name: String) throws(QueueError) -> DurableTopic {
        lock.lock()
        let found = topicsByName[name]
        lock.unlock()
        guard let found else {
            throw .missingTopic(name)
        }
        return found
    }

    public func read(topic name: String, partition: Int, from offset: UInt64, limit: Int, maxBytes: Int) throws(QueueError) -> [QueueRecord] {
        let topic: DurableTopic
        do {
            topic = try existing(name)
        } catch where error.code == .unknownTopic {
            return [] // a subscriber may ask before the first publish
        }
        guard topic.partitions.indices.contains(partition) else {
            throw QueueError(code: .invalidOffset, message: "topic '\(name)' has \(topic.partitions.count) partition(s); partition \(partition) does not exist")
        }
        return try topic.partitions[partition].read(from: offset, limit: limit, maxBytes: maxBytes)
    }

    public func topics() -> [TopicInfo] {
        allTopics.map(\.info).sorted { $0.name < $1.name }
    }

    /// For readiness: the partitions that stopped accepting writes after an I/O error, with why.
    public var failedPartitions: [String] {
        allTopics.flatMap { topic in topic.partitions.compactMap(\.failureMessage) }.sorted()
    }

    public func partitionRanges(topic: String) -> [PartitionRange]? {
        (try? existing(topic))?.ranges
    }

    public func committedOffset(group: String, topic: String, partition: Int) -> UInt64? {
        offsetStore.offset(group: group, topic: topic, partition: partition)
    }

    public func commit(group: String, topic name: String, partition: Int, offset: UInt64) throws(QueueError) {
        if group.isEmpty || group.utf8.count > 255 {
            throw QueueError(code: .invalidSettings, message: "consumer group name must be 1-255 bytes")
        }
        let topic = try existing(name)
        guard topic.partitions.indices.contains(partition) else {
            throw QueueError(code: .invalidOffset, message: "topic '\(name)' has no partition \(partition)")
        }
        let next = topic.partitions[partition].visibleEnd
        if offset > next {
            throw QueueError(code: .invalidOffset, message: "cannot commit offset \(offset) for topic '\(name)' partition \(partition): its next offset is \(next)")
        }
        try offsetStore.commit(group: group, topic: name, partition: partition, offset: offset)
    }

    /// Consumer groups that ever committed.
    public var groups: [String] { offsetStore.groups }

    // MARK: Maintenance

    private func maintain() {
        var lastRetention = Date()
        var lastCompaction = Date()
        while true {
            stopping.lock()
            if !stopped { _ = stopping.wait(until: Date(timeIntervalSinceNow: 0.002)) }
            let done = stopped
            stopping.unlock()
            if done { return }
            let now = Date()
            for topic in allTopics {
                switch topic.settings.durability {
                case .always:
                    continue
                case .none:
                    topic.flushPending()
                case .interval(let ms):
                    topic.flushPending()
                    if now.timeIntervalSince(lastSync[topic.name] ?? .distantPast) * 1000 >= Double(ms) {
                        lastSync[topic.name] = now
                        for partition in topic.partitions { partition.syncIfNeeded() }
                    }
                }
            }
            if now.timeIntervalSince(lastCompaction) >= 30 && !compacting.withLock({ $0 }) {
                lastCompaction = now
                // On its own thread: a long compaction must not hold up the 2 ms flushes and the
                // interval fsyncs this loop does.
                compacting.withLock { $0 = true }
                let thread = Thread { [self] in
                    do throws(QueueError) {
                        try compactNow()
                    } catch {
                        logger.error("queue compaction failed", metadata: ["error": "\(error.message)"])
                    }
                    compacting.withLock { $0 = false }
                }
                thread.name = "sb-queue-compaction"
                thread.start()
            }
            if now.timeIntervalSince(lastRetention) >= 1 {
                lastRetention = now
                for topic in allTopics where topic.settings.retentionBytes != nil || topic.settings.retentionSeconds != nil {
                    for partition in topic.partitions { partition.enforceRetention(now: now) }
                }
            }
        }
    }

    /// Compacts every topic that has `compact` set (also done by the maintenance thread every 30 s).
    /// Returns how many records were removed.
    @discardableResult
    public func compactNow() throws(QueueError) -> Int {
        var removed = 0
        for topic in allTopics where topic.settings.compact {
            for partition in topic.partitions { removed += try partition.compact() }
        }
        return removed
    }

    /// Applies retention now (tests, admin).
    public func enforceRetention() {
        for topic in allTopics { for partition in topic.partitions { partition.enforceRetention() } }
    }
}
