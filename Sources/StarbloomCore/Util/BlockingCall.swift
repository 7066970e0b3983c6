import Dispatch
import Foundation
import Synchronization

/// Runs plugin code on a fresh thread and waits for it at most `timeout` seconds.
///
/// Why a fresh thread: a plugin that hangs (in stop, in a command) must not take a host thread with it.
/// On timeout the thread is abandoned — C code cannot be cancelled — and the caller marks the
/// instance failed so nothing calls into it again.
enum BlockingCall {
    /// Returns the body's result, or nil when it did not finish in time.
    static func run<T>(timeout: Double, name: String, _ body: @escaping @Sendable () -> T) -> T? {
        let result = Mutex<UnsafeTransfer<T>?>(nil)
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            let value = body()
            result.withLock { $0 = UnsafeTransfer(value) }
            done.signal()
        }
        thread.name = name
        thread.start()
        if done.wait(timeout: .now() + timeout) == .timedOut { return nil }
        return result.withLock { $0?.value }
    }
}
