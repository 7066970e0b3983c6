import CStarbloomABI
import Foundation
import StarbloomCore
import Synchronization

/// Durable queue benchmarks (issue 3): publish with `always` (one batching producer; 64 concurrent
/// producers each waiting for its ack), with `none`, consume, publish → consume latency at a fixed
/// rate, and peak RSS while publishing 10 million records. Records are 200-byte payloads.
enum QueueBench {
    static let payloadBytes = 200

    static func directory(_ name: String) -> String {
        let path = "/var/tmp/starbloom-queue-bench-\(getpid())-\(name)"
        try? FileManager.default.removeItem(atPath: path)
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// A reusable batch of `count` records pointing into one payload buffer.
    final class Batch: @unchecked Sendable { // immutable after init; read by one thread at a time
        let payload: UnsafeMutablePointer<UInt8>
        let records: UnsafeMutablePointer<sb_record>
        let count: Int

        init(count: Int, keyed: Bool = false) {
            self.count = count
            payload = .allocate(capacity: payloadBytes)
            let bytes = QueuePattern.payload(sequence: 42, bytes: payloadBytes)
            payload.initialize(from: bytes, count: payloadBytes)
            records = .allocate(capacity: count)
            for i in 0..<count {
                records[i] = sb_record(topic: sb_str(ptr: nil, len: 0), key: sb_bytes(ptr: nil, len: 0),
                                       payload: sb_bytes(ptr: payload, len: payloadBytes), headers: nil, header_count: 0,
                                       event_time_ns: 0, offset: 0, partition: 0, reserved: 0)
            }
        }

        var buffer: UnsafeBufferPointer<sb_record> { UnsafeBufferPointer(start: records, count: count) }
    }

    static func seconds(_ body: () throws -> Void) rethrows -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    static func publishBatched(durability: TopicSettings.Durability, total: Int, batch: Int) throws -> Double {
        let path = directory("batched-\(durability.text)")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let queue = try DurableQueue(directory: path, defaults: TopicSettings(durability: durability))
        defer { queue.close() }
        let topic = try queue.topic(named: "bench.publish")
        let records = Batch(count: batch)
        let elapsed = try seconds {
            for _ in 0..<(total / batch) { _ = try topic.append(records.buffer, defaultEventTimeNs: 1) }
        }
        return Double(total) / elapsed
    }

    static func publishConcurrent(producers: Int, perProducer: Int) throws -> Double {
        let path = directory("concurrent")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let queue = try DurableQueue(directory: path, defaults: TopicSettings(durability: .always))
        defer { queue.close() }
        let topic = try queue.topic(named: "bench.concurrent")
        let group = DispatchGroup()
        let elapsed = seconds {
            for _ in 0..<producers {
                let record = Batch(count: 1)
                let thread = Thread {
                    for _ in 0..<perProducer { _ = try? topic.append(record.buffer, defaultEventTimeNs: 1) }
                    group.leave()
                }
                group.enter()
                thread.start()
            }
            group.wait()
        }
        if let info = queue.topics().first?.partitions.first, info.syncs > 0 {
            FileHandle.standardError.write(Data("concurrent: \(info.syncs) fsyncs, \(String(format: "%.1f", Double(info.nextOffset) / Double(info.syncs))) records per fsync, \(String(format: "%.0f", Double(info.syncs) / elapsed)) fsyncs/s\n".utf8))
        }
        return Double(producers * perProducer) / elapsed
    }

    /// 64 async producers (Swift tasks, not threads), each awaiting its ack before the next publish.
    static func publishConcurrentAsync(producers: Int, perProducer: Int) async throws -> Double {
        let path = directory("concurrent-async")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let queue = try DurableQueue(directory: path, defaults: TopicSettings(durability: .always))
        defer { queue.close() }
        let topic = try queue.topic(named: "bench.concurrent")
        let start = DispatchTime.now().uptimeNanoseconds
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<producers {
                group.addTask {
                    let record = Batch(count: 1)
                    for _ in 0..<perProducer { _ = try? await topic.appendAsync(record.buffer, defaultEventTimeNs: 1) }
                }
            }
        }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        if let info = queue.topics().first?.partitions.first, info.syncs > 0 {
            FileHandle.standardError.write(Data("concurrent async: \(info.syncs) fsyncs, \(String(format: "%.1f", Double(info.nextOffset) / Double(info.syncs))) records per fsync\n".utf8))
        }
        return Double(producers * perProducer) / elapsed
    }

    static func consume(total: Int) throws -> Double {
        let path = directory("consume")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let queue = try DurableQueue(directory: path, defaults: TopicSettings(durability: .none))
        defer { queue.close() }
        let topic = try queue.topic(named: "bench.consume")
        let records = Batch(count: 1000)
        for _ in 0..<(total / 1000) { _ = try topic.append(records.buffer, defaultEventTimeNs: 1) }
        queue.close() // flush everything
        var read = 0
        let elapsed = try seconds {
            var next: UInt64 = 0
            while read < total {
                let batch = try queue.read(topic: "bench.consume", partition: 0, from: next, limit: 2000)
                guard let last = batch.last else { break }
                read += batch.count
                next = last.offset + 1
            }
        }
        return Double(read) / elapsed
    }

    /// Publishes `rate` records/s (batches every millisecond) with `always` while a consumer polls;
    /// latency = consumer's clock when it reads the record − the event time stamped at publish.
    static func latency(rate: Int, seconds duration: Double) throws -> (p50: Double, p99: Double, samples: Int) {
        let path = directory("latency")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let queue = try DurableQueue(directory: path, defaults: TopicSettings(durability: .always))
        defer { queue.close() }
        let topic = try queue.topic(named: "bench.latency")
        let perMillisecond = max(rate / 1000, 1)
        let done = Atomic<Bool>(false)
        let latencies = Mutex<[Double]>([])
        let consumer = Thread {
            var next: UInt64 = 0
            var local: [Double] = []
            local.reserveCapacity(rate * Int(duration) + 1000)
            while !done.load(ordering: .relaxed) {
                guard let batch = try? queue.read(topic: "bench.latency", partition: 0, from: next, limit: 1000), let last = batch.last else {
                    usleep(50)
                    continue
                }
                let now = Int64(Date().timeIntervalSince1970 * 1e9)
                for record in batch { local.append(Double(now - record.eventTimeNs) / 1e6) }
                next = last.offset + 1
            }
            latencies.withLock { $0 = local }
        }
        consumer.start()
        let records = Batch(count: perMillisecond)
        let start = DispatchTime.now().uptimeNanoseconds
        var tick: UInt64 = 0
        while Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 < duration {
            tick += 1
            let now = Int64(Date().timeIntervalSince1970 * 1e9)
            for i in 0..<records.count { records.records[i].event_time_ns = now }
            _ = try topic.append(records.buffer, defaultEventTimeNs: now)
            let target = start + tick * 1_000_000
            let current = DispatchTime.now().uptimeNanoseconds
            if current < target { usleep(UInt32((target - current) / 1000)) }
        }
        Thread.sleep(forTimeInterval: 0.2)
        done.store(true, ordering: .relaxed)
        while latencies.withLock({ $0.isEmpty }) { usleep(1000) }
        let sorted = latencies.withLock { $0 }.sorted()
        return (sorted[sorted.count / 2], sorted[Int(Double(sorted.count) * 0.99)], sorted.count)
    }

    static func peakResidentMiB() -> Double {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kib = Double(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
        return kib / 1024
    }

    static func run() async throws {
        func m(_ rate: Double) -> String { String(format: "%.2fM", rate / 1e6) }
        func k(_ rate: Double) -> String { String(format: "%.0fk", rate / 1e3) }
        print("## Durable queue (200-byte records)\n")
        print("| measurement | result | target |")
        print("|---|---|---|")
        // QUEUE_BENCH=producers: only the two 64-producer rows (for iterating on group commit).
        let producersOnly = ProcessInfo.processInfo.environment["QUEUE_BENCH"] == "producers"
        if producersOnly {
            let concurrent = try (0..<3).map { _ in try publishConcurrent(producers: 64, perProducer: 2_000) }.sorted()[1]
            print("| publish, `always`, 64 producer threads each waiting for its ack (blocking API) | \(k(concurrent)) records/s | ≥ 200k/s |")
            var asyncRates: [Double] = []
            for _ in 0..<3 { asyncRates.append(try await publishConcurrentAsync(producers: 64, perProducer: 3_000)) }
            print("| publish, `always`, 64 producer tasks each awaiting its ack (async API) | \(k(asyncRates.sorted()[1])) records/s | ≥ 200k/s |")
            return
        }
        let always = try (0..<3).map { _ in try publishBatched(durability: .always, total: 2_000_000, batch: 1000) }.sorted()[1]
        print("| publish, `always`, one producer, batches of 1000 | \(m(always)) records/s | ≥ 1M/s |")
        let concurrent = try (0..<3).map { _ in try publishConcurrent(producers: 64, perProducer: 2_000) }.sorted()[1]
        print("| publish, `always`, 64 producer threads each waiting for its ack (blocking API) | \(k(concurrent)) records/s | ≥ 200k/s |")
        var asyncRates: [Double] = []
        for _ in 0..<3 { asyncRates.append(try await publishConcurrentAsync(producers: 64, perProducer: 3_000)) }
        print("| publish, `always`, 64 producer tasks each awaiting its ack (async API) | \(k(asyncRates.sorted()[1])) records/s | ≥ 200k/s |")
        let none = try (0..<3).map { _ in try publishBatched(durability: .none, total: 2_000_000, batch: 1000) }.sorted()[1]
        print("| publish, `none`, one producer, batches of 1000 | \(m(none)) records/s | — |")
        let consumed = try (0..<3).map { _ in try consume(total: 2_000_000) }.sorted()[1]
        print("| consume (read from disk, decode) | \(m(consumed)) records/s | ≥ 3M/s |")
        let latency = try latency(rate: 50_000, seconds: 5)
        print("| publish → consume latency at 50k records/s, `always` | p50 \(String(format: "%.2f", latency.p50)) ms, p99 \(String(format: "%.2f", latency.p99)) ms (\(latency.samples) samples) | p99 < 5 ms |")
        print("")
    }

    /// Run in a fresh process (`starbloom-bench queue-rss`) so the high-water mark is this test's alone.
    static func runPeakRSS() throws {
        let rate = try publishBatched(durability: .always, total: 10_000_000, batch: 1000)
        print("| peak RSS while publishing 10M records (`always`, batches of 1000; \(String(format: "%.2fM", rate / 1e6)) records/s) | \(String(format: "%.0f", peakResidentMiB())) MiB | < 256 MiB |")
    }
}
