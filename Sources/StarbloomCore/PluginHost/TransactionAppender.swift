import Foundation

/// Appends the records of an instance's committed publish transactions on its own thread, one
/// transaction at a time and in commit order, so that the next transaction's commit (writing its
/// pending records) overlaps this one's append (`PublishTransaction`). A failed append is kept as
/// `problem`: the transaction stays pending in the store and is completed before the next start.
/// `@unchecked Sendable`: every field is guarded by `condition`.
final class TransactionAppender: @unchecked Sendable {
    private let condition = NSCondition()
    private var running: PendingRecords?
    private var failure: String?
    private let queue: DispatchQueue

    init(instanceName: String) {
        queue = DispatchQueue(label: "sb-txn-\(instanceName)")
    }

    /// The transaction being appended (if any, without its bytes) and why an append failed (once
    /// set, no further transaction starts or commits until the instance restarts), read together.
    func snapshot() -> (running: PendingRecords?, failure: String?) {
        condition.lock()
        defer { condition.unlock() }
        return (running, failure)
    }

    var problem: String? { snapshot().failure }

    /// Waits for the running append (if any), then runs `work` in the background, unless an
    /// earlier append failed: then this transaction stays pending (committed, listed) and is
    /// appended by the recovery before the next start, after the failed one. `work` returns nil on
    /// success or the reason it failed.
    func start(_ transaction: PendingRecords, _ work: @escaping @Sendable () -> String?) {
        condition.lock()
        while running != nil { condition.wait() }
        if failure != nil {
            condition.unlock()
            return
        }
        running = transaction
        condition.unlock()
        queue.async { [self] in
            let outcome = work()
            condition.lock()
            running = nil
            if let outcome, failure == nil { failure = outcome }
            condition.broadcast()
            condition.unlock()
        }
    }

    /// Waits until nothing is being appended (before the instance is destroyed or its records read).
    func drain() {
        condition.lock()
        while running != nil { condition.wait() }
        condition.unlock()
    }
}
