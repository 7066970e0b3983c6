import Foundation
import Synchronization

/// One token bucket per key: `ratePerSecond` tokens a second, at most `burst` saved up; a request
/// takes one. Buckets of keys no longer used are dropped once the map grows past 10,000.
public final class RateLimiter: Sendable {
    public init() {}

    private struct Bucket {
        var tokens: Double
        var updatedNs: UInt64
    }

    private let buckets = Mutex<[String: Bucket]>([:])

    /// nil when the request may go ahead, else the seconds to wait before the next one would.
    func take(key: String, ratePerSecond: Double, burst: Int, nowNs: UInt64 = DispatchTime.now().uptimeNanoseconds) -> Int? {
        buckets.withLock { buckets in
            if buckets.count > 10_000 && buckets[key] == nil {
                buckets = buckets.filter { nowNs - $0.value.updatedNs < 60_000_000_000 }
            }
            var bucket = buckets[key] ?? Bucket(tokens: Double(burst), updatedNs: nowNs)
            let elapsed = Double(nowNs &- bucket.updatedNs) / 1e9
            bucket.tokens = min(Double(burst), bucket.tokens + elapsed * ratePerSecond)
            bucket.updatedNs = nowNs
            defer { buckets[key] = bucket }
            if bucket.tokens >= 1 {
                bucket.tokens -= 1
                return nil
            }
            return max(1, Int(((1 - bucket.tokens) / ratePerSecond).rounded(.up)))
        }
    }
}
