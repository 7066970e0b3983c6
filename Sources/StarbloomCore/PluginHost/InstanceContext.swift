import CStarbloomABI
import Foundation
import Logging
import Synchronization

/// What `sb_host_ctx *` points to: one running incarnation of an instance, with everything the host
/// API needs to act on its behalf (its namespace, metrics, output topic, stop signal).
///
/// A new context is made for every start, so a stop signal never leaks into the next run; metrics and
/// stored state are keyed by the instance name and survive restarts.
/// `@unchecked Sendable`: immutable references plus `stopRequested` (atomic), `stopCondition`
/// (its own lock), `topicCache` (guarded by `cacheLock`) and `recentLogs` (a Mutex).
public final class InstanceContext: @unchecked Sendable {
    public let instanceName: String
    public let pluginName: String
    let services: HostServices
    let outputTopic: String?
    /// Publish answers SB_ERR_FULL instead of waiting when the queue's buffers are full.
    let nonBlockingPublish: Bool
    let namespace: String
    let metricTable: PluginMetricTable
    let recordsOut: Counter
    let publishErrors: Counter
    let logger: Logger

    private let stopRequested = Atomic<Bool>(false)
    private let stopCondition = NSCondition()

    private let cacheLock = NSLock()
    private var cachedTopicBytes: [UInt8] = []
    private var cachedAppender: (any TopicAppender)?
    private var defaultAppender: (any TopicAppender)?

    let logBuffer: LogBuffer

    // `publish_batch_checkpoint` (see `PublishTransaction`); guarded by `transactionLock`.
    let transactionLock = NSLock()
    /// The sequence number of the next record published in a transaction (loaded on first use).
    var nextPublishSequence: UInt64?
    /// Appends committed transactions in the background (its own lock).
    let transactionAppender: TransactionAppender
    /// A transaction completed: its stored records may be dropped once the instance stops.
    var transactionNeedsClearing = false
    /// The pending slot of this run's newest transaction (the next one uses the other).
    var lastPendingSlot: Int?
    /// Set when the run is abandoned (a plugin call hung): its late transactional calls are refused,
    /// so they cannot race the next run's recovery.
    private let fenced = Atomic<Bool>(false)
    var isFenced: Bool { fenced.load(ordering: .acquiring) }
    func fence() { fenced.store(true, ordering: .releasing) }

    init(
        instanceName: String, pluginName: String, services: HostServices, outputTopic: String?,
        metricTable: PluginMetricTable, logBuffer: LogBuffer, nonBlockingPublish: Bool = false
    ) {
        self.logBuffer = logBuffer
        self.transactionAppender = TransactionAppender(instanceName: instanceName)
        self.nonBlockingPublish = nonBlockingPublish
        self.instanceName = instanceName
        self.pluginName = pluginName
        self.services = services
        self.outputTopic = outputTopic
        self.namespace = Self.namespace(of: instanceName)
        self.metricTable = metricTable
        let labels = [("instance", instanceName), ("plugin", pluginName)]
        recordsOut = services.metrics.counter(
            "starbloom_instance_records_out_total", help: "Records published or emitted by the instance", labels: labels)
        publishErrors = services.metrics.counter(
            "starbloom_instance_publish_errors_total", help: "Publish calls refused by the host", labels: labels)
        var logger = services.logger
        logger[metadataKey: "instance"] = .string(instanceName)
        self.logger = logger
    }

    /// Where an instance's key-value entries and checkpoint live; survives restarts.
    static func namespace(of instanceName: String) -> String { "instance/\(instanceName)" }

    // MARK: Stop signal

    var isStopRequested: Bool { stopRequested.load(ordering: .relaxed) }

    func requestStop() {
        stopRequested.store(true, ordering: .releasing)
        stopCondition.lock()
        stopCondition.broadcast()
        stopCondition.unlock()
    }

    /// Sleeps up to `nanoseconds`; returns true as soon as a stop is requested.
    func wait(nanoseconds: UInt64) -> Bool {
        if isStopRequested { return true }
        let deadline = Date(timeIntervalSinceNow: Double(min(nanoseconds, 86_400_000_000_000)) / 1e9)
        stopCondition.lock()
        defer { stopCondition.unlock() }
        while !isStopRequested {
            if !stopCondition.wait(until: deadline) { break }
        }
        return isStopRequested
    }

    // MARK: Topics

    /// The appender for a record's topic field, or the instance's output topic when it is empty.
    /// Caches the last topic so a source publishing to one topic pays no lookup.
    func appender(for topic: sb_str) throws(QueueError) -> any TopicAppender {
        cacheLock.lock()
        defer { cacheLock.unlock() }
        if topic.len == 0 {
            if let defaultAppender { return defaultAppender }
            guard let outputTopic else {
                throw QueueError(code: .invalidTopic,
                                 message: "record has no topic and instance '\(instanceName)' has no output topic configured")
            }
            let appender = try services.queue.topic(named: outputTopic)
            defaultAppender = appender
            return appender
        }
        if let cachedAppender, cachedTopicBytes.count == topic.len,
           cachedTopicBytes.withUnsafeBytes({ memcmp($0.baseAddress!, topic.ptr!, topic.len) == 0 }) {
            return cachedAppender
        }
        let name = CStrings.string(topic)
        if topic.len > TopicName.maxLength || name.utf8.count != topic.len {
            throw QueueError(code: .invalidTopic, message: TopicName.problem(with: name) ?? "topic name is not valid UTF-8")
        }
        let appender = try services.queue.topic(named: name)
        cachedTopicBytes = Array(name.utf8)
        cachedAppender = appender
        return appender
    }

    // MARK: Logs

    func log(_ level: sb_log_level, _ message: String) {
        let swiftLevel: Logger.Level = switch level {
        case SB_LOG_TRACE: .trace
        case SB_LOG_DEBUG: .debug
        case SB_LOG_INFO: .info
        case SB_LOG_WARN: .warning
        default: .error
        }
        logger.log(level: swiftLevel, "\(message)")
        logBuffer.append("\(swiftLevel): \(message)")
    }
}

/// The last lines an instance logged, kept across restarts for `plugins info` and tests.
public final class LogBuffer: Sendable {
    private let lines = Mutex<[String]>([])
    let limit: Int

    init(limit: Int = 200) { self.limit = limit }

    func append(_ line: String) {
        lines.withLock { lines in
            lines.append(line)
            if lines.count > limit { lines.removeFirst(lines.count - limit) }
        }
    }

    public var all: [String] { lines.withLock { $0 } }
}
