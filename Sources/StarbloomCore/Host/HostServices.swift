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
}
