import Foundation
import Testing
@testable import StarbloomCore

/// A data directory with a durable queue, the SQLite stores and a pipeline manager over them.
private final class PipelineFixture {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("starbloom-pipeline-\(UUID().uuidString)").path
    let queue: DurableQueue
    let state: SQLiteStateStore
    let series: SQLiteTimeSeriesStore
    let manager: PipelineManager

    init() throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        queue = try DurableQueue(directory: "\(path)/queue", defaults: TopicSettings())
        state = try SQLiteStateStore(path: "\(path)/state.db")
        series = try SQLiteTimeSeriesStore(path: "\(path)/series.db")
        manager = PipelineManager(queue: queue, state: state, series: series, keyValues: state, logger: { print("pipeline log: \($0)") })
    }

    deinit {
        manager.stopAll()
        queue.close()
        try? FileManager.default.removeItem(atPath: path)
    }

    func definition(_ toml: String) throws -> PipelineDefinition {
        try HostConfiguration.parse(toml).pipelines[0]
    }

    func publish(_ topic: String, _ payloads: [String], revert: Bool = false) async throws {
        let records = payloads.map {
            QueueRecord(topic: topic, offset: 0, key: [], payload: Array($0.utf8),
                        headers: revert ? [.init(name: PipelineHeaders.revert, value: [0x31])] : [], eventTimeNs: 1)
        }
        _ = try await queue.publish(topic: topic, records: records)
    }

    func read(_ topic: String) throws -> [QueueRecord] {
        guard queue.topics().contains(where: { $0.name == topic }) else { return [] }
        return try queue.read(topic: topic, from: 0, limit: 100_000)
    }

    func payloads(_ topic: String) throws -> [String] {
        try read(topic).map { String(decoding: $0.payload, as: UTF8.self) }
    }

    /// Waits (at most 20 s) until `condition` holds.
    func wait(_ what: String, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(20)
        while try !condition() {
            guard Date() < deadline else { throw StepFailure("timed out waiting for \(what)") }
            Thread.sleep(forTimeInterval: 0.01)
        }
    }
}

@Suite("Pipeline runtime")
struct PipelineRuntimeTests {
    @Test("a filter and map pipeline publishes its results; bad JSON goes to the dead-letter topic with the reason and nothing stalls")
    func filterMapAndDeadLetter() async throws {
        let fixture = try PipelineFixture()
        try fixture.manager.apply(try fixture.definition("""
            [[pipelines]]
            name = "big"
            inputs = ["transfers.>"]
            steps = [
              { type = "filter", where = "amount > 100000000000000000000 and token in ['0xAB', '0xcd']" },
              { type = "map", select = ["token", "amount"], rename = { amount = "value" }, set = { doubled = "amount * 2" } },
            ]
            outputs = [ { topic = "big.out" }, { kv = "big", key = "token" } ]
            """))
        try await fixture.publish("transfers.erc20", [
            #"{"token":"0xab","amount":"100000000000000000001","x":1}"#,
            #"{"token":"0xab","amount":"100000000000000000000"}"#,
            "not json",
            #"{"token":"0xEF","amount":"999999999999999999999"}"#,
            #"{"token":"0xCD","amount":"115792089237316195423570985008687907853269984665640564039457584007913129639935"}"#,
        ])
        try fixture.wait("the dead letters") { try fixture.read("dlq.pipeline.big").count == 2 }
        try fixture.wait("the result") { try fixture.payloads("big.out").count == 1 }
        #expect(try fixture.payloads("big.out") == [#"{"token":"0xab","value":"100000000000000000001","doubled":"200000000000000000002"}"#])
        try fixture.wait("the dead letter") { try fixture.read("dlq.pipeline.big").count == 2 }
        let dead = try fixture.read("dlq.pipeline.big")
        #expect(String(decoding: dead[0].payload, as: UTF8.self) == "not json")
        let reason = String(decoding: dead[0].headers.first { $0.name == PipelineHeaders.error }!.value, as: UTF8.self)
        #expect(reason.contains("not a JSON object"), "\(reason)")
        // 2^256-1 doubled overflows: that record is dead-lettered, with the expression named.
        let overflow = String(decoding: dead[1].headers.first { $0.name == PipelineHeaders.error }!.value, as: UTF8.self)
        #expect(overflow.contains("amount * 2"), "\(overflow)")
        #expect(fixture.state.get(namespace: "big", key: Array("0xab".utf8))?.value == Array(#"{"token":"0xab","value":"100000000000000000001","doubled":"200000000000000000002"}"#.utf8))
    }

    @Test("a pipeline of keep-or-drop steps only (filter, dedupe) passes events unchanged, drops duplicates, dead-letters bad input with the step named, and passes the last copy's revert")
    func predicateStepsOnly() async throws {
        let fixture = try PipelineFixture()
        try fixture.manager.apply(try fixture.definition("""
            [[pipelines]]
            name = "unique"
            inputs = ["moves"]
            steps = [
              { type = "filter", where = "amount > 10" },
              { type = "dedupe", key = "tx", window = "10s" },
            ]
            outputs = [ { topic = "unique.out" } ]
            """))
        let a = #"{"tx":"a","amount":50}"#
        try await fixture.publish("moves", [a, a, #"{"tx":"b","amount":5}"#, "[1]", #"{"tx":"c","amount":20}"#])
        try fixture.wait("the results") { try fixture.payloads("unique.out").count == 2 }
        // Two reverts of "a": the first retracts the duplicate (dropped), the second the copy that passed.
        try await fixture.publish("moves", [a, a], revert: true)
        try fixture.wait("the revert") { try fixture.payloads("unique.out").count == 3 }
        try await Task.sleep(for: .milliseconds(200)) // nothing more may come
        let out = try fixture.read("unique.out")
        #expect(out.map { String(decoding: $0.payload, as: UTF8.self) } == [a, #"{"tx":"c","amount":20}"#, a])
        #expect(out.map { $0.headers.contains { $0.name == PipelineHeaders.revert } } == [false, false, true])
        let dead = try fixture.read("dlq.pipeline.unique")
        #expect(dead.map { String(decoding: $0.payload, as: UTF8.self) } == ["[1]"])
        let reason = dead.first.flatMap { record in record.headers.first { $0.name == PipelineHeaders.error } }.map { String(decoding: $0.value, as: UTF8.self) } ?? ""
        #expect(reason.hasPrefix("step 0 (filter)"), "\(reason)")
        #expect(dead.first?.headers.contains { $0.name == "starbloom-source" && $0.value == Array("moves/0/3".utf8) } == true)
    }

    @Test("a pipeline changed at runtime applies the new steps to new records without reading old ones again; a removed one stops")
    func changedAtRuntime() async throws {
        let fixture = try PipelineFixture()
        let first = """
            [[pipelines]]
            name = "p"
            inputs = ["in"]
            steps = [ { type = "filter", where = "x > 5" } ]
            outputs = [ { topic = "out" } ]
            """
        try fixture.manager.apply(try fixture.definition(first))
        try await fixture.publish("in", (1...10).map { "{\"x\":\($0)}" })
        try fixture.wait("x 6-10") { try fixture.payloads("out").count == 5 }
        try fixture.manager.apply(try fixture.definition(first.replacingOccurrences(of: "x > 5", with: "x > 8")))
        try await fixture.publish("in", (1...10).map { "{\"x\":\($0)}" })
        try fixture.wait("x 9-10 again") { try fixture.payloads("out").count == 7 }
        try await Task.sleep(for: .milliseconds(200))
        #expect(try fixture.payloads("out") == (6...10).map { "{\"x\":\($0)}" } + ["{\"x\":9}", "{\"x\":10}"])
        #expect(try fixture.manager.remove(name: "p"))
        try await fixture.publish("in", ["{\"x\":100}"])
        try await Task.sleep(for: .milliseconds(300))
        #expect(try fixture.payloads("out").count == 7)
        #expect(fixture.manager.pipeline(named: "p") == nil)
    }

    @Test("window results reach a topic, a time series and key-value; a revert after the window closed publishes a correction and the series sums stay exact")
    func windowOutputs() async throws {
        let fixture = try PipelineFixture()
        try fixture.manager.apply(try fixture.definition("""
            [[pipelines]]
            name = "w"
            inputs = ["chain.transfers"]
            steps = [ { type = "window", size = "60s", time_field = "ts", group_by = ["token"], aggregates = { n = "count", volume = "sum(amount)" } } ]
            outputs = [ { topic = "w.out" }, { series = "transfers", values = ["n", "volume"], tags = ["token"] }, { kv = "w", key = "token" } ]
            """))
        try await fixture.publish("chain.transfers", [
            #"{"token":"0xAA","amount":"10","ts":60}"#,
            #"{"token":"0xaa","amount":"5","ts":61}"#,
            #"{"token":"0xaa","amount":"1","ts":125}"#,
        ])
        try fixture.wait("the first window") { try fixture.payloads("w.out").count == 1 }
        try await fixture.publish("chain.transfers", [#"{"token":"0xaa","amount":"5","ts":61}"#], revert: true)
        try fixture.wait("the correction") { try fixture.payloads("w.out").count == 2 }
        #expect(try fixture.payloads("w.out") == [
            #"{"token":"0xaa","window_start":60,"window_end":120,"n":2,"volume":"15","revision":0}"#,
            #"{"token":"0xaa","window_start":60,"window_end":120,"n":1,"volume":"10","revision":1}"#,
        ])
        try fixture.wait("the series") {
            fixture.series.points(metric: "transfers.volume").map(\.value).reduce(0, +) == 10
        }
        #expect(fixture.series.points(metric: "transfers.n").map(\.value).reduce(0, +) == 1)
        #expect(fixture.series.points(metric: "transfers.n").allSatisfy { $0.tags == ["token": "0xaa"] && $0.timestampNs == 60_000_000_000 })
        #expect(fixture.state.get(namespace: "w", key: Array("0xaa".utf8)).map { String(decoding: $0.value, as: UTF8.self) }
                == #"{"token":"0xaa","window_start":60,"window_end":120,"n":1,"volume":"10","revision":1}"#)
    }

    @Test("steps changed between two runs (as in an edited starbloom.toml) start their state afresh and continue the inputs; aggregates come out in name order either way")
    func stepsChangedAcrossRestart() async throws {
        let fixture = try PipelineFixture()
        let window = """
            [[pipelines]]
            name = "c"
            inputs = ["in"]
            steps = [ { type = "window", size = "10s", time_field = "ts", aggregates = { total = "sum(v)", n = "count" } } ]
            outputs = [ { topic = "out" } ]
            """
        try fixture.manager.apply(try fixture.definition(window), persist: false)
        try await fixture.publish("in", [#"{"ts":1,"v":5}"#, #"{"ts":2,"v":5}"#, #"{"ts":25,"v":1}"#])
        try fixture.wait("the first window") { try fixture.payloads("out").count == 1 }
        fixture.manager.stopAll()
        // A second run with other steps (a filter in front): the window's old state is not loaded.
        let second = PipelineManager(queue: fixture.queue, state: fixture.state, series: nil, keyValues: fixture.state, logger: { _ in })
        defer { second.stopAll() }
        try second.apply(try fixture.definition(window.replacingOccurrences(of: "steps = [ ", with: "steps = [ { type = \"filter\", where = \"v > 0\" }, ")), persist: false)
        try await fixture.publish("in", [#"{"ts":26,"v":2}"#, #"{"ts":45,"v":1}"#])
        try fixture.wait("the second window") { try fixture.payloads("out").count == 2 }
        #expect(second.pipeline(named: "c")?.status.state == "running")
        #expect(try fixture.payloads("out") == [
            #"{"window_start":0,"window_end":10,"n":2,"total":"10","revision":0}"#,
            // [20,30) holds only ts 26: the ts 25 record was counted by the old steps, whose state was dropped.
            #"{"window_start":20,"window_end":30,"n":1,"total":"2","revision":0}"#,
        ])
    }

    @Test("a pipeline killed with SIGKILL mid-stream and restarted publishes exactly what an uninterrupted run publishes")
    func killNine() throws {
        try #require(FileManager.default.isExecutableFile(atPath: TestPaths.queueTool), "build starbloom-queue-tool first (swift build --build-tests)")
        let total = 3_000
        let clean = FileManager.default.temporaryDirectory.appendingPathComponent("starbloom-pipeline-clean-\(UUID().uuidString)").path
        let crashed = FileManager.default.temporaryDirectory.appendingPathComponent("starbloom-pipeline-crash-\(UUID().uuidString)").path
        defer {
            try? FileManager.default.removeItem(atPath: clean)
            try? FileManager.default.removeItem(atPath: crashed)
        }
        try runToCompletion(["pipeline-run", clean, "\(total)"])
        var kills = 0
        for killAfter in [700, 1_500, 2_300] {
            let (acknowledged, killed) = try runAndKill(arguments: ["pipeline-run", crashed, "\(total)"], killAfter: killAfter)
            if killed && acknowledged < total { kills += 1 }
        }
        #expect(kills >= 2, "the runs ended before they could be killed")
        try runToCompletion(["pipeline-run", crashed, "\(total)"])

        func contents(_ directory: String) throws -> (out: [String], late: [String], latest: [String]) {
            let queue = try DurableQueue(directory: "\(directory)/queue", defaults: TopicSettings())
            defer { queue.close() }
            let state = try SQLiteStateStore(path: "\(directory)/state.db")
            func records(_ topic: String) throws -> [String] {
                try queue.read(topic: topic, from: 0, limit: 1_000_000).map { record in
                    String(decoding: record.payload, as: UTF8.self) + " " + record.headers.map { "\($0.name)=\(String(decoding: $0.value, as: UTF8.self))" }.joined(separator: ";")
                }
            }
            let latest = PipelineWorkload.tokens.map { token in
                state.get(namespace: "crash.out", key: Array(token.lowercased().utf8)).map { String(decoding: $0.value, as: UTF8.self) } ?? "none"
            }
            return (try records("crash.out"), try records("late.pipeline.transfers"), latest)
        }
        let expected = try contents(clean)
        let actual = try contents(crashed)
        #expect(expected.out.count > 30)
        #expect(expected.out.contains { $0.contains("\"revision\":1") }, "the workload produced no correction")
        #expect(actual.out == expected.out)
        #expect(actual.late == expected.late)
        #expect(actual.latest == expected.latest)
    }
}

/// Runs `starbloom-queue-tool` until it exits; it must print "done".
private func runToCompletion(_ arguments: [String]) throws {
    let run = try runQueueTool(arguments)
    #expect(run.status == 0)
    #expect(run.output.hasSuffix("done\n"))
}
