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
    /// checkpoints in SQLite (`<dataDirectory>/state.db`), time series in SQLite (`series.db`, its own
    /// file so that its writer does not wait behind key-value writes).
    public static func embedded(configuration: HostConfiguration, logger: Logger = Logger(label: "starbloom")) throws -> HostServices {
        try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
        let queue = try DurableQueue(directory: "\(configuration.dataDirectory)/queue", defaults: configuration.queueDefaults, logger: logger)
        for (name, settings) in configuration.topics {
            try queue.createTopic(name, settings: settings)
        }
        let state = try SQLiteStateStore(path: "\(configuration.dataDirectory)/state.db", cacheBytes: configuration.cacheBytes)
        let series = try SQLiteTimeSeriesStore(path: "\(configuration.dataDirectory)/series.db", rollupResolutions: configuration.rollupResolutions,
                                               queryCacheBytes: configuration.queryCacheBytes)
        let services = HostServices(queue: queue, keyValue: state, checkpoints: state, timeSeries: series, logger: logger)
        services.metrics.addCollector { [cache = state.cache] in
            let stats = cache.statistics
            return """
                # HELP starbloom_cache_hits_total Key-value reads served from the cache.
                # TYPE starbloom_cache_hits_total counter
                starbloom_cache_hits_total \(stats.hits)
                # HELP starbloom_cache_misses_total Key-value reads that went to SQLite.
                # TYPE starbloom_cache_misses_total counter
                starbloom_cache_misses_total \(stats.misses)
                # HELP starbloom_cache_evictions_total Entries evicted to stay within the byte bound.
                # TYPE starbloom_cache_evictions_total counter
                starbloom_cache_evictions_total \(stats.evictions)
                # HELP starbloom_cache_bytes Bytes held by the cache (bound: \(cache.capacityBytes)).
                # TYPE starbloom_cache_bytes gauge
                starbloom_cache_bytes \(stats.bytes)

                """
        }
        services.metrics.addCollector { [cache = series.queryCache] in
            let stats = cache.statistics
            return """
                # HELP starbloom_query_cache_hits_total Time-series queries answered from the query cache.
                # TYPE starbloom_query_cache_hits_total counter
                starbloom_query_cache_hits_total \(stats.hits)
                # HELP starbloom_query_cache_misses_total Time-series queries that read the database.
                # TYPE starbloom_query_cache_misses_total counter
                starbloom_query_cache_misses_total \(stats.misses)
                # HELP starbloom_query_cache_evictions_total Query results evicted to stay within the byte bound.
                # TYPE starbloom_query_cache_evictions_total counter
                starbloom_query_cache_evictions_total \(stats.evictions)
                # HELP starbloom_query_cache_bytes Bytes held by the query cache (bound: \(cache.capacityBytes)).
                # TYPE starbloom_query_cache_bytes gauge
                starbloom_query_cache_bytes \(stats.bytes)

                """
        }
        return services
    }
}
