import Synchronization

/// Metric handles (`sb_metric_id`) of one instance: id N is slot N-1.
///
/// The hot path (counter_add & co.) reads a slot without a lock: slots are written once, before the
/// count that makes them visible is published with release ordering, and the metric objects they point
/// to are kept alive by the registry forever. Registration takes `lock`.
/// `@unchecked Sendable`: see the sentence above.
final class PluginMetricTable: @unchecked Sendable {
    static let capacity = 256
    private let slots = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: capacity)
    private let kinds = UnsafeMutablePointer<MetricKind?>.allocate(capacity: capacity)
    private let names = Mutex<[String]>([])
    private let count = Atomic<Int>(0)

    init() {
        slots.initialize(repeating: nil, count: Self.capacity)
        kinds.initialize(repeating: nil, count: Self.capacity)
    }

    deinit {
        slots.deallocate()
        kinds.deinitialize(count: Self.capacity)
        kinds.deallocate()
    }

    enum RegisterError: Error { case full, conflict(MetricKind) }

    /// Returns the id of `name`, registering it when new.
    func register(name: String, kind: MetricKind, metric: () throws -> AnyObject) throws -> UInt32 {
        try names.withLock { names -> UInt32 in
            if let index = names.firstIndex(of: name) {
                guard kinds[index] == kind else { throw RegisterError.conflict(kinds[index]!) }
                return UInt32(index + 1)
            }
            guard names.count < Self.capacity else { throw RegisterError.full }
            let object = try metric()
            let index = names.count
            slots[index] = Unmanaged.passUnretained(object).toOpaque()
            kinds[index] = kind
            names.append(name)
            count.store(index + 1, ordering: .releasing)
            return UInt32(index + 1)
        }
    }

    /// The metric behind `id` if it exists and has `kind`.
    @inline(__always)
    func slot(_ id: UInt32, kind: MetricKind) -> UnsafeMutableRawPointer? {
        let index = Int(id) - 1
        guard index >= 0, index < count.load(ordering: .acquiring), kinds[index] == kind else { return nil }
        return slots[index]
    }
}
