import Synchronization

/// Wakes readers waiting for new records (SSE streams, WebSocket subscriptions) when anything is
/// appended to the queue, so they sleep instead of polling. A version counter makes a wake-up
/// impossible to miss: a reader notes `version` before it looks for records and waits only if no
/// append happened since. Appends pay one atomic increment, plus a lock only while someone waits.
public final class AppendSignal: Sendable {
    private struct Waiters {
        var byID: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var cancelled: Set<UInt64> = []
        var nextID: UInt64 = 0
    }

    private let counter = Atomic<UInt64>(0)
    private let waiting = Atomic<Int>(0)
    private let waiters = Mutex(Waiters())
    /// Topics appended to since each tracker last took them (`track`).
    private let changes = Mutex<(byTracker: [UInt64: Set<String>], nextID: UInt64)>(([:], 0))
    private let trackers = Atomic<Int>(0)

    public init() {}

    public var version: UInt64 { counter.load(ordering: .acquiring) }

    /// Starts recording which topics are appended to, for a reader that follows many topics and
    /// wants to look only at those that changed (the API's live feed). Returns the tracker's id for
    /// `changedTopics` and `untrack`.
    public func track() -> UInt64 {
        trackers.add(1, ordering: .relaxed)
        return changes.withLock { state in
            state.nextID += 1
            state.byTracker[state.nextID] = []
            return state.nextID
        }
    }

    public func untrack(_ tracker: UInt64) {
        if changes.withLock({ $0.byTracker.removeValue(forKey: tracker) }) != nil { trackers.subtract(1, ordering: .relaxed) }
    }

    /// The topics appended to since the last call (or since `track`), each once.
    public func changedTopics(_ tracker: UInt64) -> Set<String> {
        changes.withLock { state in
            guard let changed = state.byTracker[tracker], !changed.isEmpty else { return [] }
            state.byTracker[tracker] = []
            return changed
        }
    }

    /// Called after records of `topic` became readable: recorded for the trackers before the
    /// version moves, so a reader that saw the new version also finds the topic.
    public func notify(topic: String) {
        if trackers.load(ordering: .relaxed) > 0 {
            changes.withLock { state in
                for index in state.byTracker.values.indices { state.byTracker.values[index].insert(topic) }
            }
        }
        notify()
    }

    /// Called after records became readable.
    public func notify() {
        counter.add(1, ordering: .releasing)
        guard waiting.load(ordering: .acquiring) > 0 else { return }
        let woken = waiters.withLock { state -> [CheckedContinuation<Void, Never>] in
            defer { state.byID.removeAll() }
            return Array(state.byID.values)
        }
        woken.forEach { $0.resume() }
    }

    /// Returns once `version` moved past `seen`, after `timeout`, or when the task is cancelled.
    public func wait(after seen: UInt64, timeout: Duration) async {
        if version != seen { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.waitForNotify(after: seen) }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
    }

    private func waitForNotify(after seen: UInt64) async {
        let id = waiters.withLock { state -> UInt64 in
            state.nextID += 1
            return state.nextID
        }
        waiting.add(1, ordering: .releasing)
        defer { waiting.subtract(1, ordering: .releasing) }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = waiters.withLock { state -> Bool in
                    // Registered after an append or a cancellation that it must not miss: go at once.
                    if counter.load(ordering: .acquiring) != seen || state.cancelled.remove(id) != nil { return true }
                    state.byID[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let continuation = waiters.withLock { state -> CheckedContinuation<Void, Never>? in
                if let registered = state.byID.removeValue(forKey: id) { return registered }
                state.cancelled.insert(id) // not registered yet: tell the registration to return
                return nil
            }
            continuation?.resume()
        }
    }
}
