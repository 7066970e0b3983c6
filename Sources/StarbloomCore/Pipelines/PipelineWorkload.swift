/// A deterministic stream of ERC-20-like transfer events (about 200 bytes of JSON each), for the
/// pipeline crash test and the pipeline benchmark: event `i` is always the same bytes.
///
/// Timestamps advance 1 s every 10 events with up to ±3 s of disorder; every 97th event is 2 minutes
/// late; from event 100 on, every 50th is a revert of event `i - 30` (same payload, revert header).
/// Amounts are up to 10^24 (past 2^64), so sums are exact only in 256-bit arithmetic.
public enum PipelineWorkload {
    public static let tokens: [String] = (0..<8).map { index in
        var generator = SplitMix(seed: UInt64(index) &+ 0x5EED)
        let hex = (0..<5).map { _ in String(generator.next(), radix: 16).leftPadded(to: 16) }.joined().prefix(40)
        // Mixed case on some: addresses must group regardless of case.
        return "0x" + (index % 3 == 0 ? hex.uppercased() : String(hex))
    }

    public struct Event {
        public var payload: [UInt8]
        public var isRevert: Bool
    }

    public static func event(_ index: Int) -> Event {
        if index >= 200 && index % 50 == 0 {
            return Event(payload: payload(index - 150), isRevert: true)
        }
        return Event(payload: payload(index), isRevert: false)
    }

    static func payload(_ index: Int) -> [UInt8] {
        var generator = SplitMix(seed: UInt64(index))
        let token = tokens[Int(generator.next() % UInt64(tokens.count))]
        let jitter = Int(generator.next() % 7) - 3
        var timestamp = 1_700_000_000 + index / 10 + jitter
        if index % 97 == 0 { timestamp -= 120 }
        let high = generator.next() % 1_000_000, low = generator.next() % 1_000_000_000_000_000_000
        // Every 7th is small, for the filter to drop some (amount > 1000).
        let amount = index % 7 == 0 ? String(low % 2_000) : high == 0 ? String(low) : String(high) + String(low).leftPadded(to: 18)
        let from = String(generator.next(), radix: 16).leftPadded(to: 16)
        let to = String(generator.next(), radix: 16).leftPadded(to: 16)
        let text = "{\"block\":\(1_000 + index / 10),\"log_index\":\(index % 10),\"token\":\"\(token)\",\"from\":\"0x\(from)0000000000000000000000ab\","
            + "\"to\":\"0x\(to)0000000000000000000000cd\",\"amount\":\"\(amount)\",\"timestamp\":\(timestamp)}"
        return Array(text.utf8)
    }

    /// The pipeline the crash test and the benchmark run: a filter, then a one-minute tumbling
    /// window per token counting transfers and summing amounts exactly.
    public static func definitionTOML(input: String, output: String) -> String {
        """
        [[pipelines]]
        name = "transfers"
        inputs = ["\(input)"]
        checkpoint_interval_ms = 50
        steps = [
          { type = "filter", where = "amount > 1000 and exists(token)" },
          { type = "window", kind = "tumbling", size = "60s", time_field = "timestamp", group_by = ["token"], aggregates = { transfers = "count", volume = "sum(amount)" }, allowed_lateness = "10s" },
        ]
        outputs = [ { topic = "\(output)" }, { kv = "\(output)", key = "token" } ]
        """
    }

    /// splitmix64: small, fast and fixed forever (the workload must never change).
    struct SplitMix {
        var state: UInt64
        init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
