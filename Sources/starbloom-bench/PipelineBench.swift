import Foundation
import StarbloomCore

/// Pipeline benchmark (issue 6): a filter, then a one-minute tumbling window per token counting
/// transfers and summing their uint256 amounts exactly, over `PipelineWorkload` events (JSON, about
/// 230 bytes; reverts and late events included). Next to it, in the same run, a plain loop doing the
/// same computation over the same bytes: their ratio is what the pipeline machinery costs.
///   starbloom-bench pipeline [EVENTS]
enum PipelineBench {
    static func run(events count: Int) async throws {
        let input = "bench.events"
        var records: [QueueRecord] = []
        records.reserveCapacity(count)
        var bytes = 0
        for index in 0..<count {
            let event = PipelineWorkload.event(index)
            bytes += event.payload.count
            records.append(QueueRecord(topic: input, offset: 0, key: [], payload: event.payload,
                                       headers: event.isRevert ? [.init(name: PipelineHeaders.revert, value: [0x31])] : [], eventTimeNs: 1))
        }
        print("### Pipelines (issue 6)\n")
        print("\(count) events, \(bytes / count) bytes of JSON each on average; filter `amount > 1000`, tumbling 1 min window by token: count and exact uint256 sum.\n")
        print("| run | events/s | time | ratio to the plain loop |")
        print("|---|---:|---:|---:|")
        let plain = plainLoop(records.map(\.payload), reverts: records.map { !$0.headers.isEmpty })
        let steps = try stepsOnly(records, input: input)
        let framework = try await pipeline(records, input: input)
        print("| plain loop (hand-written scan, Dictionary, UInt256) | \(StorageBench.rate(Double(count) / plain.seconds)) | \(String(format: "%.2f", plain.seconds)) s | 1.00 |")
        print("| the pipeline's steps alone (no queue, no checkpoints) | \(StorageBench.rate(Double(count) / steps)) | \(String(format: "%.2f", steps)) s | \(String(format: "%.2f", plain.seconds / steps)) |")
        print("| pipeline (in-memory queue, checkpoints to SQLite every 200 ms) | \(StorageBench.rate(Double(count) / framework.seconds)) | \(String(format: "%.2f", framework.seconds)) s | \(String(format: "%.2f", plain.seconds / framework.seconds)) |")
        print("\nplain loop: \(plain.windows) windows; pipeline: \(framework.results) results, \(framework.late) late, \(framework.checkpoints) checkpoints\n")
    }

    static func pipeline(_ records: [QueueRecord], input: String) async throws -> (seconds: Double, results: UInt64, late: UInt64, checkpoints: UInt64) {
        let path = "/var/tmp/starbloom-pipeline-bench-\(getpid())"
        try? FileManager.default.removeItem(atPath: path)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let queue = InMemoryQueue(maxBytesPerTopic: 4 << 30)
        for start in stride(from: 0, to: records.count, by: 10_000) {
            _ = try await queue.publish(topic: input, records: Array(records[start..<min(start + 10_000, records.count)]))
        }
        let state = try SQLiteStateStore(path: "\(path)/state.db")
        let manager = PipelineManager(queue: queue, state: state, series: nil, keyValues: state, logger: { print("log: \($0)") })
        var definition = try HostConfiguration.parse(PipelineWorkload.definitionTOML(input: input, output: "bench.out")).pipelines[0]
        definition.outputs = [.topic("bench.out")]
        definition.checkpointIntervalMs = 200
        let start = DispatchTime.now().uptimeNanoseconds
        try manager.apply(definition, persist: false)
        guard let runner = manager.pipeline(named: definition.name) else { throw StepFailureBench(message: "pipeline did not start") }
        while runner.status.offsets.first?.nextOffset != UInt64(records.count) {
            try await Task.sleep(for: .milliseconds(1))
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let status = runner.status
        manager.stopAll()
        return (seconds, status.emitted, status.late, status.checkpoints)
    }

    struct StepFailureBench: Error { let message: String }

    /// The filter and window steps called in a loop over the same events: what the steps cost
    /// without reading from the queue or checkpointing.
    static func stepsOnly(_ records: [QueueRecord], input: String) throws -> Double {
        let definition = try HostConfiguration.parse(PipelineWorkload.definitionTOML(input: input, output: "bench.out")).pipelines[0]
        let evaluator = PipelineEvaluator(definition)
        var results = 0
        let start = DispatchTime.now().uptimeNanoseconds
        for record in records { results += evaluator.process(record) }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        precondition(results > 0)
        return seconds
    }

    /// The same computation without the framework: find the three fields by scanning, compare the
    /// amount's digits with 1000, add into a Dictionary keyed by (token, minute).
    static func plainLoop(_ payloads: [[UInt8]], reverts: [Bool]) -> (seconds: Double, windows: Int) {
        struct Key: Hashable { var token: [UInt8]; var minute: Int64 }
        var windows: [Key: (count: Int64, plus: UInt256, minus: UInt256)] = [:]
        let start = DispatchTime.now().uptimeNanoseconds
        for (index, payload) in payloads.enumerated() {
            payload.withUnsafeBytes { bytes in
                guard let amount = value(of: "\"amount\":\"", in: bytes, until: UInt8(ascii: "\"")),
                      let token = value(of: "\"token\":\"", in: bytes, until: UInt8(ascii: "\"")),
                      let time = value(of: "\"timestamp\":", in: bytes, until: UInt8(ascii: "}")) else { return }
                let digits = UnsafeRawBufferPointer(rebasing: bytes[amount])
                // amount > 1000, exactly: more than four digits, or four digits above "1000".
                guard digits.count > 4 || (digits.count == 4 && !digits.elementsEqual("1000".utf8)) && digits.first! >= UInt8(ascii: "1") else { return }
                guard let value = UInt256(decimalUTF8: digits) else { return }
                var seconds: Int64 = 0
                for byte in bytes[time] { seconds = seconds * 10 + Int64(byte - 48) }
                let key = Key(token: bytes[token].map { $0 >= 65 && $0 <= 90 ? $0 | 0x20 : $0 }, minute: seconds / 60)
                var entry = windows[key] ?? (0, .zero, .zero)
                if reverts[index] {
                    entry.count -= 1
                    entry.minus = entry.minus.addingReportingOverflow(value).partialValue
                } else {
                    entry.count += 1
                    entry.plus = entry.plus.addingReportingOverflow(value).partialValue
                }
                windows[key] = entry
            }
        }
        return (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9, windows.count)
    }

    /// The byte range after `prefix` up to `terminator`.
    static func value(of prefix: StaticString, in bytes: UnsafeRawBufferPointer, until terminator: UInt8) -> Range<Int>? {
        let needle = UnsafeRawBufferPointer(start: prefix.utf8Start, count: prefix.utf8CodeUnitCount)
        var index = 0
        let end = bytes.count - needle.count
        while index <= end {
            if bytes[index] == needle[0] && memcmp(bytes.baseAddress! + index, needle.baseAddress!, needle.count) == 0 {
                let valueStart = index + needle.count
                var valueEnd = valueStart
                while valueEnd < bytes.count && bytes[valueEnd] != terminator && bytes[valueEnd] != UInt8(ascii: ",") { valueEnd += 1 }
                return valueStart..<valueEnd
            }
            index += 1
        }
        return nil
    }
}
