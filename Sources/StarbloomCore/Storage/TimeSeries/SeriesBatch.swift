/// What identifies a series: its metric and its tags (the dictionary hashes independently of order).
struct SeriesIdentity: Hashable, Sendable {
    let metric: String
    let tags: [String: String]
}

/// One series' points from one write, as parallel arrays (what the chunk encoder and the rollup
/// fold read).
struct SeriesBatch: Sendable {
    let identity: SeriesIdentity
    private(set) var timestamps: [Int64] = []
    private(set) var values: [Double] = []

    init(identity: SeriesIdentity) {
        self.identity = identity
    }

    @inline(__always)
    mutating func append(_ timestamp: Int64, _ value: Double) {
        timestamps.append(timestamp)
        values.append(value)
    }

    mutating func append(contentsOf other: SeriesBatch) {
        timestamps.append(contentsOf: other.timestamps)
        values.append(contentsOf: other.values)
    }

    /// Orders points by time, keeping the write order of equal timestamps; a no-op (one pass) when
    /// they already are, as they almost always are.
    mutating func sortByTime() {
        var sorted = true
        for index in timestamps.indices.dropFirst() where timestamps[index] < timestamps[index - 1] {
            sorted = false
            break
        }
        if sorted { return }
        let order = timestamps.indices.sorted { timestamps[$0] != timestamps[$1] ? timestamps[$0] < timestamps[$1] : $0 < $1 }
        timestamps = order.map { timestamps[$0] }
        values = order.map { values[$0] }
    }
}
