/// When and how fast a failed instance is started again.
public struct RestartPolicy: Sendable, Codable, Equatable {
    public enum Mode: String, Sendable, Codable {
        /// A failure leaves the instance `failed`.
        case never
        /// A failure restarts it; finishing on its own leaves it `stopped`.
        case onFailure = "on-failure"
        /// Failing or finishing restarts it.
        case always
    }

    public var mode: Mode
    /// Backoff grows from `backoffMinMs` doubling per restart in the window, capped at `backoffMaxMs`,
    /// with jitter so that instances failing together do not retry together.
    public var backoffMinMs: Int
    public var backoffMaxMs: Int
    /// More than `maxRestarts` restarts within `windowSeconds` → `failed`.
    public var maxRestarts: Int
    public var windowSeconds: Double

    public init(mode: Mode = .onFailure, backoffMinMs: Int = 200, backoffMaxMs: Int = 30_000,
                maxRestarts: Int = 5, windowSeconds: Double = 60) {
        self.mode = mode
        self.backoffMinMs = backoffMinMs
        self.backoffMaxMs = backoffMaxMs
        self.maxRestarts = maxRestarts
        self.windowSeconds = windowSeconds
    }

    /// The delay before restart number `attempt` (1-based) in the current window: between
    /// half and all of min(max, min × 2^(attempt-1)), never below the minimum.
    public func backoff(attempt: Int, random: Double = Double.random(in: 0...1)) -> Double {
        let exponent = min(max(attempt - 1, 0), 30)
        let cap = min(Double(backoffMaxMs), Double(backoffMinMs) * Double(1 << exponent))
        let jittered = cap / 2 + random * cap / 2
        return max(Double(backoffMinMs), jittered) / 1000
    }

    /// nil when the policy makes sense, otherwise what is wrong.
    public var problem: String? {
        if backoffMinMs < 1 { return "backoff_min_ms must be at least 1" }
        if backoffMaxMs < backoffMinMs { return "backoff_max_ms (\(backoffMaxMs)) must be at least backoff_min_ms (\(backoffMinMs))" }
        if maxRestarts < 0 { return "max_restarts must not be negative" }
        if !(windowSeconds > 0) { return "window_seconds must be positive" }
        return nil
    }
}
