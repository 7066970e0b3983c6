import CStarbloomABI
import Foundation
import Synchronization
import Testing
@testable import StarbloomCore

/// The processor feed's publisher thread: jobs run in submission order, nothing runs after a failure
/// (a batch's commit never follows a failed publish), at most one job waits, and `finish` returns
/// only when everything submitted has run.
@Suite("Processor feed publisher")
struct FeedPublisherTests {
    @Test("jobs run in the order submitted, on another thread, and finish waits for all of them")
    func order() {
        let publisher = FeedPublisher(name: "test-publisher")
        let ran = Mutex<[Int]>([])
        let submitter = Thread.current
        let onOtherThread = Mutex(true)
        for n in 0..<200 {
            let failure = publisher.submit {
                if Thread.current == submitter { onOtherThread.withLock { $0 = false } }
                if n % 50 == 0 { usleep(2_000) } // some jobs slow, so that submitters wait for room
                ran.withLock { $0.append(n) }
                return nil
            }
            #expect(failure == nil)
        }
        #expect(publisher.finish() == nil)
        #expect(ran.withLock { $0 } == Array(0..<200))
        #expect(onOtherThread.withLock { $0 })
    }

    @Test("after a job fails nothing more runs, and submit and finish report that failure")
    func stopsAtFailure() {
        let publisher = FeedPublisher(name: "test-publisher")
        let ran = Mutex<[Int]>([])
        let release = DispatchSemaphore(value: 0)
        publisher.submit {
            release.wait() // hold the thread so that the next two jobs queue behind the failing one
            ran.withLock { $0.append(0) }
            return (SB_ERR_UNAVAILABLE, "disk full")
        }
        let queuedBehind = Thread {
            publisher.submit { ran.withLock { $0.append(1) }; return nil } // queued: waits for room
            publisher.submit { ran.withLock { $0.append(2) }; return nil } // refused or dropped
        }
        queuedBehind.start()
        usleep(50_000)
        release.signal()
        let failure = publisher.finish()
        #expect(failure?.0 == SB_ERR_UNAVAILABLE)
        #expect(failure?.1 == "disk full")
        #expect(ran.withLock { $0 } == [0], "a job after the failed one ran")
        let refused = publisher.submit { ran.withLock { $0.append(3) }; return nil }
        #expect(refused?.1 == "disk full")
        usleep(20_000)
        #expect(ran.withLock { $0 } == [0])
    }

    @Test("at most one job waits behind the running one")
    func bounded() {
        let publisher = FeedPublisher(name: "test-publisher")
        let hold = DispatchSemaphore(value: 0)
        let submitted = Mutex(0)
        let allSubmitted = DispatchSemaphore(value: 0)
        let submitter = Thread {
            for _ in 0..<5 {
                publisher.submit { hold.wait(); return nil }
                submitted.withLock { $0 += 1 }
            }
            allSubmitted.signal()
        }
        submitter.start()
        usleep(100_000)
        // One running (holding), one queued; the third submit waits for room.
        #expect(submitted.withLock { $0 } == 2)
        for _ in 0..<5 { hold.signal() }
        allSubmitted.wait()
        #expect(publisher.finish() == nil)
        #expect(submitted.withLock { $0 } == 5)
    }
}
