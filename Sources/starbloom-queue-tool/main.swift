// starbloom-queue-tool: drives the durable queue (and the SQLite state store) from a separate
// process, for crash tests.
//
//   starbloom-queue-tool publish DIR TOPIC COUNT DURABILITY PAYLOAD_BYTES BATCH
//     Publishes COUNT records (payload = QueuePattern.payload(sequence)) in batches, printing
//     "ack N" after each batch is acknowledged, where N is the number of records acknowledged so far.
//     A test kills it with SIGKILL mid-stream and checks that every acknowledged record survived.
import CStarbloomABI
import Foundation
import StarbloomCore

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    exit(2)
}

let arguments = CommandLine.arguments
// starbloom-queue-tool kv-put DB COUNT: puts key-<i> = value-<i> one write at a time into the SQLite
// state store, printing "ack N" after each acknowledged write (for the storage crash test).
if arguments.count == 4, arguments[1] == "kv-put" {
    guard let count = Int(arguments[3]), count > 0 else { fail("COUNT must be a positive integer") }
    let store: SQLiteStateStore
    do {
        store = try SQLiteStateStore(path: arguments[2])
    } catch {
        fail(error.description)
    }
    for i in 0..<count {
        do {
            _ = try store.put(namespace: "crash", key: Array("key-\(i)".utf8), value: QueuePattern.payload(sequence: i, bytes: 100))
        } catch {
            fail(error.message)
        }
        FileHandle.standardOutput.write(Data("ack \(i + 1)\n".utf8))
    }
    exit(0)
}
// starbloom-queue-tool series-write DB BATCHES: writes batches of 100 points (point i of the whole run
// has timestamp i and value i * 0.5, spread over 4 series, with its rollups), printing "ack N" after each
// acknowledged batch, N = points acknowledged so far (for the time-series crash test).
if arguments.count == 4, arguments[1] == "series-write" {
    guard let batches = Int(arguments[3]), batches > 0 else { fail("BATCHES must be a positive integer") }
    let store: SQLiteTimeSeriesStore
    do {
        store = try SQLiteTimeSeriesStore(path: arguments[2], rollupResolutions: [1_000])
    } catch {
        fail(error.description)
    }
    for batch in 0..<batches {
        let points = (batch * 100..<(batch + 1) * 100).map {
            TimeSeriesPoint(metric: "crash", tags: ["series": "s\($0 % 4)"], timestampNs: Int64($0), value: Double($0) * 0.5)
        }
        do {
            try store.write(points)
        } catch {
            fail(error.message)
        }
        FileHandle.standardOutput.write(Data("ack \((batch + 1) * 100)\n".utf8))
    }
    exit(0)
}
// starbloom-queue-tool pipeline-run DIR TOTAL: runs the `PipelineWorkload` pipeline on the data
// directory DIR while publishing workload events TOTAL times in all (resuming after what the input
// topic already holds), printing "ack N" after each acknowledged batch; once the pipeline has
// checkpointed past the last event it stops cleanly and prints "done" (for the pipeline crash test).
if arguments.count == 4, arguments[1] == "pipeline-run" {
    guard let total = Int(arguments[3]), total > 0 else { fail("TOTAL must be a positive integer") }
    let directory = arguments[2]
    let input = "crash.events"
    do {
        let queue = try DurableQueue(directory: "\(directory)/queue", defaults: TopicSettings())
        let state = try SQLiteStateStore(path: "\(directory)/state.db")
        let configuration = try HostConfiguration.parse(PipelineWorkload.definitionTOML(input: input, output: "crash.out"))
        let manager = PipelineManager(queue: queue, state: state, series: nil, keyValues: state, logger: { message in
            FileHandle.standardError.write(Data("\(message)\n".utf8))
        })
        try manager.start(configured: configuration.pipelines)
        var next = Int(queue.topics().first { $0.name == input }?.nextOffset ?? 0)
        while next < total {
            let records = (next..<min(next + 20, total)).map { index -> QueueRecord in
                let event = PipelineWorkload.event(index)
                return QueueRecord(topic: input, offset: 0, key: [], payload: event.payload,
                                   headers: event.isRevert ? [.init(name: PipelineHeaders.revert, value: [0x31])] : [], eventTimeNs: 1)
            }
            _ = try await queue.publish(topic: input, records: records)
            next += records.count
            FileHandle.standardOutput.write(Data("ack \(next)\n".utf8))
            usleep(1_000)
        }
        while manager.pipeline(named: "transfers")?.status.offsets.first(where: { $0.topic == input })?.nextOffset != UInt64(total) {
            usleep(5_000)
        }
        manager.stopAll()
        queue.close()
        FileHandle.standardOutput.write(Data("done\n".utf8))
        exit(0)
    } catch {
        fail("\(error)")
    }
}
// starbloom-queue-tool source-run DIR PLUGINS_DIR URL CHAIN_ID HEAD: runs an eth-rpc instance named
// "eth" (from PLUGINS_DIR) on the data directory DIR against the node at URL, printing "ack N" whenever
// the log topic holds N records; once the block topic reaches block HEAD it stops cleanly and prints
// "done" (for the source crash test: exactly once across kill -9). SOURCE_RUN_MAX_RECORDS_PER_CALL
// sets eth-rpc's max_records_per_call.
if arguments.count == 7, arguments[1] == "source-run" {
    guard let chainID = Int64(arguments[5]), let head = UInt64(arguments[6]) else { fail("CHAIN_ID and HEAD must be integers") }
    var configuration = HostConfiguration()
    configuration.dataDirectory = arguments[2]
    configuration.pluginsDirectory = arguments[3]
    configuration.rescanInterval = nil
    do {
        let services = try HostServices.embedded(configuration: configuration)
        let host = StarbloomHost(configuration: configuration, services: services)
        try host.start()
        var settings: [String: SettingValue] = [
            "endpoints": .list([.string(arguments[4])]), "chain_id": .int(chainID), "start_block": .int(0),
            "confirmations": .int(3), "batch_blocks": .int(1), "poll_interval_ms": .int(20),
            "request_timeout_ms": .int(5000), "topic_blocks": .string("eth.blocks"), "topic_logs": .string("eth.logs"),
        ]
        // SOURCE_RUN_MAX_RECORDS_PER_CALL: split blocks larger than this into several calls (crash tests).
        if let limit = ProcessInfo.processInfo.environment["SOURCE_RUN_MAX_RECORDS_PER_CALL"].flatMap({ Int64($0) }) {
            settings["max_records_per_call"] = .int(limit)
        }
        try host.addInstance(InstanceSpec(name: "eth", plugin: "eth-rpc", restart: RestartPolicy(mode: .never), settings: settings))
        var reported: UInt64 = .max
        while true {
            let topics = services.queue.topics()
            let logs = topics.first { $0.name == "eth.logs" }?.nextOffset ?? 0
            if logs != reported {
                reported = logs
                FileHandle.standardOutput.write(Data("ack \(logs)\n".utf8))
            }
            if (topics.first { $0.name == "eth.blocks" }?.nextOffset ?? 0) > head { break }
            if let instance = host.instance(named: "eth"), instance.status.state == .failed {
                fail("instance failed: \(instance.status.lastError ?? "")")
            }
            usleep(2_000)
        }
        host.shutdown()
        FileHandle.standardOutput.write(Data("done\n".utf8))
        exit(0)
    } catch {
        fail("\(error)")
    }
}
guard arguments.count == 8, arguments[1] == "publish" else {
    fail("usage: starbloom-queue-tool publish DIR TOPIC COUNT DURABILITY PAYLOAD_BYTES BATCH")
}
let directory = arguments[2], topic = arguments[3]
guard let count = Int(arguments[4]), count > 0 else { fail("COUNT must be a positive integer") }
guard let durability = TopicSettings.Durability(text: arguments[5]) else { fail("DURABILITY must be always, none or interval:<ms>") }
guard let payloadBytes = Int(arguments[6]), payloadBytes >= 16 else { fail("PAYLOAD_BYTES must be at least 16") }
guard let batch = Int(arguments[7]), batch > 0 else { fail("BATCH must be positive") }

let queue: DurableQueue
do {
    queue = try DurableQueue(directory: directory, defaults: TopicSettings(durability: durability))
} catch {
    fail(error.message)
}
let appender: any TopicAppender
do {
    appender = try queue.topic(named: topic)
} catch {
    fail(error.message)
}
var sequence = 0
while sequence < count {
    let size = min(batch, count - sequence)
    let payloads = (sequence..<(sequence + size)).map { QueuePattern.payload(sequence: $0, bytes: payloadBytes) }
    var records: [sb_record] = []
    records.reserveCapacity(size)
    let status: Int32 = payloads.withUnsafeBufferPointers { pointers in
        for pointer in pointers {
            records.append(sb_record(topic: sb_str(ptr: nil, len: 0), key: sb_bytes(ptr: nil, len: 0),
                                     payload: sb_bytes(ptr: pointer.baseAddress, len: pointer.count),
                                     headers: nil, header_count: 0, event_time_ns: 1, offset: 0, partition: 0, reserved: 0))
        }
        return records.withUnsafeBufferPointer { buffer in
            do {
                _ = try appender.append(buffer, defaultEventTimeNs: 1)
                return 0
            } catch {
                FileHandle.standardError.write(Data("error: \(error)\n".utf8))
                return 1
            }
        }
    }
    if status != 0 { exit(1) }
    sequence += size
    FileHandle.standardOutput.write(Data("ack \(sequence)\n".utf8))
}
queue.close()

extension Array where Element == [UInt8] {
    /// Calls `body` with stable pointers to every element's bytes.
    func withUnsafeBufferPointers<R>(_ body: ([UnsafeBufferPointer<UInt8>]) -> R) -> R {
        var pointers: [UnsafeBufferPointer<UInt8>] = []
        func recurse(_ index: Int) -> R {
            if index == count { return body(pointers) }
            return self[index].withUnsafeBufferPointer { pointer in
                pointers.append(pointer)
                return recurse(index + 1)
            }
        }
        return recurse(0)
    }
}
