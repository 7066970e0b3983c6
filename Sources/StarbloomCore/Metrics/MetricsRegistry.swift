import Foundation

/// All metrics of the host and its plugin instances, rendered in the Prometheus text format.
///
/// Metrics are never removed: an instance that restarts finds its counters again (same name and
/// labels), so totals survive restarts.
/// `@unchecked Sendable`: `families` and `collectors` are guarded by `lock`; metric objects are Sendable.
public final class MetricsRegistry: @unchecked Sendable {
    public typealias Labels = [(String, String)]

    private struct Series {
        let labels: Labels
        let metric: AnyObject
    }
    private struct Family {
        let kind: MetricKind
        let help: String
        var series: [String: Series] = [:]
        var order: [String] = []
    }

    private let lock = NSLock()
    private var families: [String: Family] = [:]
    private var familyOrder: [String] = []
    private var collectors: [@Sendable () -> String] = []

    public init() {}

    public struct KindConflict: Error, CustomStringConvertible {
        public let name: String
        public let existing: MetricKind
        public var description: String { "metric '\(name)' is already registered as a \(existing.rawValue)" }
    }

    public func counter(_ name: String, help: String, labels: Labels = []) -> Counter {
        try! find(name, kind: .counter, help: help, labels: labels) { Counter() } as! Counter
    }

    public func gauge(_ name: String, help: String, labels: Labels = []) -> Gauge {
        try! find(name, kind: .gauge, help: help, labels: labels) { Gauge() } as! Gauge
    }

    public func histogram(_ name: String, help: String, labels: Labels = []) -> Histogram {
        try! find(name, kind: .histogram, help: help, labels: labels) { Histogram() } as! Histogram
    }

    /// Registers or finds a metric; throws `KindConflict` if the name exists with another kind.
    func find(_ name: String, kind: MetricKind, help: String, labels: Labels, make: () -> AnyObject) throws -> AnyObject {
        let key = labels.map { "\($0.0)=\($0.1)" }.joined(separator: ",")
        lock.lock()
        defer { lock.unlock() }
        if let family = families[name] {
            guard family.kind == kind else { throw KindConflict(name: name, existing: family.kind) }
            if let existing = family.series[key] { return existing.metric }
        } else {
            families[name] = Family(kind: kind, help: help)
            familyOrder.append(name)
        }
        let metric = make()
        families[name]!.series[key] = Series(labels: labels, metric: metric)
        families[name]!.order.append(key)
        return metric
    }

    /// Adds text produced at render time (values that are cheaper to compute than to keep updated).
    public func addCollector(_ collector: @escaping @Sendable () -> String) {
        lock.lock()
        collectors.append(collector)
        lock.unlock()
    }

    public func renderPrometheus() -> String {
        lock.lock()
        let snapshot = familyOrder.map { ($0, families[$0]!) }
        let extra = collectors
        lock.unlock()
        var out = ""
        for (name, family) in snapshot {
            out += "# HELP \(name) \(Self.escapeHelp(family.help))\n# TYPE \(name) \(family.kind.rawValue)\n"
            for key in family.order {
                let series = family.series[key]!
                let labels = Self.render(series.labels)
                switch family.kind {
                case .counter:
                    out += "\(name)\(labels) \((series.metric as! Counter).value)\n"
                case .gauge:
                    out += "\(name)\(labels) \(Self.format((series.metric as! Gauge).value))\n"
                case .histogram:
                    let (counts, sum, count) = (series.metric as! Histogram).snapshot
                    var cumulative: UInt64 = 0
                    for (index, bound) in Histogram.bounds.enumerated() {
                        cumulative += counts[index]
                        out += "\(name)_bucket\(Self.render(series.labels + [("le", Self.format(bound))])) \(cumulative)\n"
                    }
                    out += "\(name)_bucket\(Self.render(series.labels + [("le", "+Inf")])) \(count)\n"
                    out += "\(name)_sum\(labels) \(Self.format(sum))\n\(name)_count\(labels) \(count)\n"
                }
            }
        }
        for collector in extra { out += collector() }
        return out
    }

    static func render(_ labels: Labels) -> String {
        if labels.isEmpty { return "" }
        return "{" + labels.map { "\($0.0)=\"\(escapeLabel($0.1))\"" }.joined(separator: ",") + "}"
    }

    static func escapeLabel(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }

    static func escapeHelp(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
    }

    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded() && abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }
}
