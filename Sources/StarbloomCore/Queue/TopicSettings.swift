/// How a topic stores and keeps its records.
public struct TopicSettings: Sendable, Codable, Equatable {
    public enum Durability: Sendable, Codable, Equatable {
        /// A publish returns only after the fsync that covers it (concurrent publishers share fsyncs).
        case always
        /// Records are written at once and fsynced every `milliseconds`.
        case interval(milliseconds: Int)
        /// Records are written to the OS; the OS decides when they reach the disk.
        case none

        /// Parses `always`, `none`, `interval` (100 ms) or `interval:250`.
        public init?(text: String) {
            switch text {
            case "always": self = .always
            case "none": self = .none
            case "interval": self = .interval(milliseconds: 100)
            default:
                guard text.hasPrefix("interval:"), let ms = Int(text.dropFirst("interval:".count)), ms > 0 else { return nil }
                self = .interval(milliseconds: ms)
            }
        }

        public var text: String {
            switch self {
            case .always: "always"
            case .none: "none"
            case .interval(let ms): "interval:\(ms)"
            }
        }
    }

    public var partitions: Int
    public var durability: Durability
    /// Largest record (key + payload + headers) accepted.
    public var maxRecordBytes: Int
    /// Segments are rolled at this size; retention drops whole segments.
    public var segmentBytes: Int
    /// Drop segments whose newest record is older than this (nil: keep).
    public var retentionSeconds: Double?
    /// Drop the oldest segments while a partition holds more than this (nil: no limit).
    public var retentionBytes: Int?
    /// Keep only the newest record per key in sealed segments (records without a key are kept).
    public var compact: Bool = false

    public init(partitions: Int = 1, durability: Durability = .always, maxRecordBytes: Int = 1 << 20,
                segmentBytes: Int = 64 << 20, retentionSeconds: Double? = nil, retentionBytes: Int? = nil,
                compact: Bool = false) {
        self.compact = compact
        self.partitions = partitions
        self.durability = durability
        self.maxRecordBytes = maxRecordBytes
        self.segmentBytes = segmentBytes
        self.retentionSeconds = retentionSeconds
        self.retentionBytes = retentionBytes
    }

    /// nil when valid, else what to fix.
    enum CodingKeys: String, CodingKey {
        case partitions, durability, maxRecordBytes, segmentBytes, retentionSeconds, retentionBytes, compact
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        partitions = try container.decode(Int.self, forKey: .partitions)
        durability = try container.decode(Durability.self, forKey: .durability)
        maxRecordBytes = try container.decode(Int.self, forKey: .maxRecordBytes)
        segmentBytes = try container.decode(Int.self, forKey: .segmentBytes)
        retentionSeconds = try container.decodeIfPresent(Double.self, forKey: .retentionSeconds)
        retentionBytes = try container.decodeIfPresent(Int.self, forKey: .retentionBytes)
        compact = try container.decodeIfPresent(Bool.self, forKey: .compact) ?? false
    }

    public var problem: String? {
        if !(1...256).contains(partitions) { return "partitions must be 1-256, got \(partitions)" }
        if !(1...(64 << 20)).contains(maxRecordBytes) { return "max_record_bytes must be 1 byte to 64 MiB, got \(maxRecordBytes)" }
        if segmentBytes < 4096 || segmentBytes > (1 << 30) { return "segment_bytes must be 4 KiB to 1 GiB, got \(segmentBytes)" }
        if segmentBytes < maxRecordBytes + 4096 { return "segment_bytes (\(segmentBytes)) must exceed max_record_bytes (\(maxRecordBytes)) by at least 4 KiB" }
        if let seconds = retentionSeconds, !(seconds > 0) { return "retention_seconds must be positive" }
        if let bytes = retentionBytes, bytes < segmentBytes { return "retention_bytes (\(bytes)) must be at least segment_bytes (\(segmentBytes))" }
        if case .interval(let ms) = durability, ms < 1 { return "durability interval must be at least 1 ms" }
        return nil
    }
}
