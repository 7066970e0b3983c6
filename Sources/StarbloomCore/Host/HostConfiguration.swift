import Foundation

/// Everything `starbloom serve` needs. Every field has a default so the host runs with no file.
public struct HostConfiguration: Sendable {
    public var dataDirectory = "./data"
    public var pluginsDirectory = "./plugins"
    /// Directories holding bundled `libsbplugin_*.so` files (by default: next to the executable).
    public var bundledPluginDirectories: [String] = []
    public var adminHost = "127.0.0.1"
    public var adminPort = 8080
    /// API keys required (`[admin] auth = "keys"`, the default); false serves every route to anyone.
    public var apiAuthentication = true
    /// `[admin] max_connections`, `max_header_bytes`.
    public var apiLimits = APILimits()

    public struct APILimits: Sendable, Equatable {
        public var maxConnections = 1_024
        public var maxHeaderBytes = 16 << 10
        public init() {}
    }
    public var healthCheckInterval = 1.0
    /// How often the plugins directories are rescanned for new or replaced files (nil: only on request).
    /// Unchanged files (same size and modification time) are not read again.
    public var rescanInterval: Double? = 2.0
    public var instances: [InstanceSpec] = []
    /// `[[pipelines]]`: started after the instances (see `PipelineManager`).
    public var pipelines: [PipelineDefinition] = []
    /// Time-series retention (`[[series_retention]]`), applied every minute; first match wins.
    public var seriesRetention: [SQLiteTimeSeriesStore.RetentionPolicy] = []
    /// Time-series rollup resolutions in nanoseconds (`[storage] rollup_seconds`; default 1 min, 1 h).
    public var rollupResolutions: [Int64] = SQLiteTimeSeriesStore.defaultRollupResolutions
    /// Bytes the key-value cache may hold (`[storage] cache_bytes`; 0 disables it).
    public var cacheBytes = 64 << 20
    /// Bytes the time-series query cache may hold (`[storage] query_cache_bytes`; 0 disables it).
    public var queryCacheBytes = 16 << 20
    /// Settings of topics created on first publish (`[queue]`).
    public var queueDefaults = TopicSettings()
    /// Topics created at start with their own settings (`[[topics]]`).
    public var topics: [(name: String, settings: TopicSettings)] = []

    public init() {}
}
