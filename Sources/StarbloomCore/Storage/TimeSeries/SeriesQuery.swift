/// How points falling into one bucket are combined.
public enum Aggregate: String, Sendable, CaseIterable, Codable {
    case min, max, avg, sum, count, first, last
}

/// A range query: points of `metric` whose tags include `tags`, with `from <= timestamp < to`,
/// grouped into buckets of `step` nanoseconds starting at `from`.
public struct SeriesQuery: Sendable {
    public var metric: String
    public var tags: [String: String]
    public var from: Int64
    public var to: Int64
    public var step: Int64
    public var aggregate: Aggregate
    /// nil: one result per series. Otherwise series are merged by the values of these tags
    /// (an empty list merges every matching series into one result).
    public var groupBy: [String]?
    /// false: always aggregate raw points (to check rollups against, or to measure raw speed).
    public var allowRollups: Bool

    public init(metric: String, tags: [String: String] = [:], from: Int64, to: Int64, step: Int64,
                aggregate: Aggregate, groupBy: [String]? = nil, allowRollups: Bool = true) {
        self.metric = metric
        self.tags = tags
        self.from = from
        self.to = to
        self.step = step
        self.aggregate = aggregate
        self.groupBy = groupBy
        self.allowRollups = allowRollups
    }

    /// nil when valid, else what to fix.
    public var problem: String? {
        if metric.isEmpty { return "metric name is empty" }
        if to <= from { return "the range is empty: to (\(to)) must be after from (\(from))" }
        if step <= 0 { return "step must be positive, got \(step)" }
        if (to - from) / step > 1_000_000 { return "the range and step give more than 1,000,000 buckets" }
        return nil
    }
}

/// One bucket's running aggregate.
struct BucketState {
    var count = 0
    var sum = 0.0
    var min = Double.infinity
    var max = -Double.infinity
    var firstTime = Int64.max
    var first = 0.0
    var lastTime = Int64.min
    var last = 0.0

    @inline(__always)
    mutating func add(_ time: Int64, _ value: Double) {
        count += 1
        sum += value
        if value < min { min = value }
        if value > max { max = value }
        if time < firstTime { firstTime = time; first = value }
        if time >= lastTime { lastTime = time; last = value }
    }

    /// Folds in another bucket's aggregate of later-written points (ties: first keeps the earlier,
    /// last takes the later, as `add` does).
    mutating func merge(_ other: BucketState) {
        guard other.count > 0 else { return }
        count += other.count
        sum += other.sum
        if other.min < min { min = other.min }
        if other.max > max { max = other.max }
        if other.firstTime < firstTime { firstTime = other.firstTime; first = other.first }
        if other.lastTime >= lastTime { lastTime = other.lastTime; last = other.last }
    }

    func value(_ aggregate: Aggregate) -> Double {
        switch aggregate {
        case .min: min
        case .max: max
        case .avg: sum / Double(count)
        case .sum: sum
        case .count: Double(count)
        case .first: first
        case .last: last
        }
    }
}

/// The answer for one series or group: non-empty buckets in time order.
public struct SeriesResult: Sendable, Equatable {
    public struct Bucket: Sendable, Equatable {
        public var start: Int64
        public var value: Double
    }
    public var tags: [String: String]
    public var buckets: [Bucket]
}
