import Foundation
import Synchronization

/// A monotonically increasing counter. Lock-free.
public final class Counter: Sendable {
    private let storage = Atomic<UInt64>(0)
    public func add(_ delta: UInt64 = 1) { storage.add(delta, ordering: .relaxed) }
    public var value: UInt64 { storage.load(ordering: .relaxed) }
}

/// A value that goes up and down, stored as the bit pattern of a Double. Lock-free.
public final class Gauge: Sendable {
    private let storage = Atomic<UInt64>(0)
    public func set(_ value: Double) { storage.store(value.bitPattern, ordering: .relaxed) }
    public var value: Double { Double(bitPattern: storage.load(ordering: .relaxed)) }
}

/// Observations counted into fixed buckets (Prometheus cumulative buckets are computed when rendered).
public final class Histogram: Sendable {
    public static let bounds: [Double] = [
        0.000_01, 0.000_025, 0.000_05, 0.0001, 0.000_25, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 50, 100, 500, 1000, 10_000,
    ]
    private struct State {
        var counts = [UInt64](repeating: 0, count: Histogram.bounds.count + 1)
        var sum = 0.0
        var count: UInt64 = 0
    }
    private let state = Mutex(State())

    public func observe(_ value: Double) {
        guard value.isFinite else { return }
        let index = Self.bounds.firstIndex { value <= $0 } ?? Self.bounds.count
        state.withLock {
            $0.counts[index] += 1
            $0.sum += value
            $0.count += 1
        }
    }

    var snapshot: (counts: [UInt64], sum: Double, count: UInt64) {
        state.withLock { ($0.counts, $0.sum, $0.count) }
    }
}

public enum MetricKind: String, Sendable {
    case counter, gauge, histogram
}
