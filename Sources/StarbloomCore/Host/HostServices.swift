import Foundation
import Logging

/// The core services every plugin instance reaches through the host API table. One set per host;
/// tests build their own.
public struct HostServices: Sendable {
    public let queue: any MessageQueue
    public let keyValue: any KeyValueStore
    public let checkpoints: any CheckpointStore
    public let timeSeries: any TimeSeriesStore
    public let metrics: MetricsRegistry
    public let logger: Logger

    public init(
        queue: any MessageQueue = InMemoryQueue(),
        keyValue: any KeyValueStore = InMemoryKeyValueStore(),
        checkpoints: any CheckpointStore = InMemoryCheckpointStore(),
        timeSeries: any TimeSeriesStore = InMemoryTimeSeriesStore(),
        metrics: MetricsRegistry = MetricsRegistry(),
        logger: Logger = Logger(label: "starbloom")
    ) {
        self.queue = queue
        self.keyValue = keyValue
        self.checkpoints = checkpoints
        self.timeSeries = timeSeries
        self.metrics = metrics
        self.logger = logger
    }

    /// The embedded defaults: the durable queue in `<dataDirectory>/queue`, key-value entries and
    /// checkpoints in SQLite (`<dataDirectory>/state.db`); time series stay in memory until the
    /// time-series store lands.
    public static func embedded(configuration: HostConfiguration, logger: Logger = Logger(label: "starbloom")) throws -> HostServices {
        try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
        let queue = try DurableQueue(directory: "\(configuration.dataDirectory)/queue", defaults: configuration.queueDefaults, logger: logger)
        for (name, settings) in configuration.topics {
            try queue.createTopic(name, settings: settings)
        }
        let state = try SQLiteStateStore(path: "\(configuration.dataDirectory)/state.db")
        return HostServices(queue: queue, keyValue: state, checkpoints: state, logger: logger)
    }
}
