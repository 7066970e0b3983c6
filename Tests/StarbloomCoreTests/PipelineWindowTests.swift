import Foundation
import Testing
@testable import StarbloomCore

/// Runs events through a window step, returning results (payload text) and side records (topic, reason).
private func run(_ step: WindowStep, _ events: [PipelineEvent]) -> (results: [String], side: [String]) {
    var results: [String] = []
    var side: [String] = []
    for event in events {
        var output = StepOutput()
        do {
            try step.process(event, into: &output)
        } catch {
            side.append("error: \(error)")
        }
        results += output.events.map { String(decoding: $0.payload, as: UTF8.self) }
        side += output.side.map { "\($0.topic): \($0.reason.prefix(5))" }
    }
    return (results, side)
}

private func windowDefinition(_ extra: String) throws -> PipelineDefinition.WindowDefinition {
    let toml = """
        [[pipelines]]
        name = "t"
        inputs = ["in"]
        steps = [ { type = "window", time_field = "t", group_by = ["token"], aggregates = { n = "count", volume = "sum(amount)" }, \(extra) } ]
        outputs = [ { topic = "out" } ]
        """
    let configuration = try HostConfiguration.parse(toml)
    guard case .window(let window) = configuration.pipelines[0].steps[0] else { throw StepFailure("not a window") }
    return window
}

private func event(token: String, amount: String, t: Int64, revert: Bool = false) -> PipelineEvent {
    PipelineEvent(key: [], payload: Array("{\"token\":\"\(token)\",\"amount\":\"\(amount)\",\"t\":\(t)}".utf8), headers: [], eventTimeNs: 0, isRevert: revert)
}

/// The semantics of `WindowStep` (tumbling and hopping), written the slow and obvious way: every
/// window keeps the list of its signed contributions and recomputes its result from them.
private struct WindowOracle {
    let size: Int64, hop: Int64, lateness: Int64, retain: Int64
    var maxTime = Int64.min
    var open: [String: (start: Int64, group: String, items: [(Int64, Int128)], revision: Int)] = [:]
    var closed: [String: (start: Int64, group: String, items: [(Int64, Int128)], revision: Int)] = [:]
    var results: [String] = []
    var late = 0
    /// Per kept closed window: the events (token/amount/time) dropped as late there, with multiplicity.
    var lateNotes: [String: [String: Int]] = [:]

    var watermark: Int64 { maxTime == .min ? .min : maxTime - lateness }

    func text(_ window: (start: Int64, group: String, items: [(Int64, Int128)], revision: Int)) -> String {
        let count = window.items.reduce(0) { $0 + $1.0 }
        let sum = window.items.reduce(Int128(0)) { $0 + Int128($1.0) * $1.1 }
        return "{\"token\":\"\(window.group)\",\"window_start\":\(window.start / 1_000_000_000),\"window_end\":\((window.start + size) / 1_000_000_000),\"n\":\(count),\"volume\":\"\(sum)\",\"revision\":\(window.revision)}"
    }

    mutating func add(token: String, amount: Int128, t: Int64, revert: Bool) {
        let sign: Int64 = revert ? -1 : 1
        var lateHere = false
        var start = t - ((t % hop) + hop) % hop
        var starts: [Int64] = []
        while start > t - size { starts.append(start); start -= hop }
        for start in starts.reversed() {
            let key = "\(start)/\(token)"
            if start + size > watermark {
                open[key, default: (start, token, [], 0)].items.append((sign, amount))
            } else if closed[key] != nil {
                let item = "\(token)/\(amount)/\(t)"
                if !revert {
                    lateNotes[key, default: [:]][item, default: 0] += 1 // dropped as late, remembered
                    lateHere = true
                } else if let count = lateNotes[key]?[item], count > 0 {
                    lateNotes[key]![item] = count - 1 // the revert of a late event takes nothing back
                    lateHere = true
                } else {
                    closed[key]!.items.append((sign, amount))
                    closed[key]!.revision += 1
                    results.append(text(closed[key]!))
                }
            } else {
                lateHere = true
            }
        }
        if lateHere { late += 1 }
        if !revert { maxTime = max(maxTime, t) }
        let closing = open.filter { $0.value.start + size <= watermark }
            .sorted { ($0.value.start, $0.value.group) < ($1.value.start, $1.value.group) }
        for (key, window) in closing {
            results.append(text(window))
            open[key] = nil
            closed[key] = window
        }
        closed = closed.filter { $0.value.start + size + retain > watermark }
        lateNotes = lateNotes.filter { closed[$0.key] != nil }
    }
}

@Suite("Pipeline windows")
struct PipelineWindowTests {
    @Test("tumbling and hopping windows equal a brute-force oracle on random streams with disorder, late events and reverts; a save and load mid-stream changes nothing", arguments: 1...12)
    func oracle(seed: UInt64) throws {
        var random = SplitMix64(state: seed)
        let hopping = seed % 2 == 0
        let size: Int64 = 10, hop: Int64 = hopping ? 5 : 10, lateness = Int64(random.next() % 4), retain: Int64 = 20
        let definition = try windowDefinition(hopping
            ? "kind = \"hopping\", size = \"10s\", hop = \"5s\", allowed_lateness = \"\(max(lateness, 1))s\", retain_closed = \"20s\""
            : "kind = \"tumbling\", size = \"10s\", allowed_lateness = \"\(max(lateness, 1))s\", retain_closed = \"20s\"")
        var oracle = WindowOracle(size: size * 1_000_000_000, hop: hop * 1_000_000_000, lateness: max(lateness, 1) * 1_000_000_000, retain: retain * 1_000_000_000)
        let tokens = ["0xaa", "0xbb", "0xcc"]
        var history: [(String, Int128, Int64)] = []
        var events: [PipelineEvent] = []
        var clock: Int64 = 100
        for _ in 0..<600 {
            if !history.isEmpty && random.next() % 8 == 0 {
                let (token, amount, t) = history[Int(random.next() % UInt64(history.count))]
                events.append(event(token: token, amount: "\(amount)", t: t, revert: true))
                oracle.add(token: token, amount: amount, t: t * 1_000_000_000, revert: true)
                continue
            }
            clock += Int64(random.next() % 3)
            let t = random.next() % 10 == 0 ? clock - Int64(random.next() % 30) : clock - Int64(random.next() % 4)
            let token = tokens[Int(random.next() % 3)]
            // Past 2^64, so that only exact arithmetic gets the sums right.
            let amount = Int128(random.next() % 1_000) * (Int128(1) << 66) + Int128(random.next() % 1_000)
            history.append((token, amount, t))
            events.append(event(token: token, amount: "\(amount)", t: t))
            oracle.add(token: token, amount: amount, t: t * 1_000_000_000, revert: false)
        }
        let whole = run(WindowStep(definition), events)
        #expect(whole.results == oracle.results)
        #expect(whole.side.count == oracle.late)
        #expect(whole.results.contains { $0.contains("\"revision\":1") }, "no stream produced a correction; the test lost its point")

        // Cut anywhere, save, load into a fresh step and go on: the same results.
        let cut = Int(random.next() % UInt64(events.count))
        let first = WindowStep(definition)
        let before = run(first, Array(events[..<cut]))
        var writer = StateWriter()
        first.saveState(into: &writer)
        let second = WindowStep(definition)
        var reader = StateReader(writer.bytes)
        try second.loadState(from: &reader)
        let after = run(second, Array(events[cut...]))
        #expect(before.results + after.results == whole.results)
    }

    @Test("a revert subtracts from an open window, corrects a closed one with the next revision, and goes to the late topic once the window is forgotten")
    func reverts() throws {
        let step = WindowStep(try windowDefinition("kind = \"tumbling\", size = \"10s\", retain_closed = \"25s\""))
        let out = run(step, [
            event(token: "0xAA", amount: "5", t: 1),
            event(token: "0xaa", amount: "7", t: 2),
            event(token: "0xaa", amount: "7", t: 2, revert: true),   // open window: just subtracts
            event(token: "0xaa", amount: "1", t: 12),                 // closes [0,10)
            event(token: "0xaa", amount: "5", t: 1, revert: true),   // closed, kept: correction
            event(token: "0xaa", amount: "1", t: 40),                 // closes [10,20); forgets [0,10)
            event(token: "0xaa", amount: "1", t: 12, revert: true),  // [10,20) closed and kept → correction
            event(token: "0xaa", amount: "9", t: 3, revert: true),   // [0,10) forgotten → late topic
        ])
        #expect(out.results == [
            #"{"token":"0xaa","window_start":0,"window_end":10,"n":1,"volume":"5","revision":0}"#,
            #"{"token":"0xaa","window_start":0,"window_end":10,"n":0,"volume":"0","revision":1}"#,
            #"{"token":"0xaa","window_start":10,"window_end":20,"n":1,"volume":"1","revision":0}"#,
            #"{"token":"0xaa","window_start":10,"window_end":20,"n":0,"volume":"0","revision":1}"#,
        ])
        #expect(out.side == ["late.pipeline.t: rever"])
    }

    @Test("the revert of an event dropped as late takes nothing back (tumbling and session windows), also across a save and load; a checkpoint from before the late notes still loads")
    func revertOfLateEvent() throws {
        let definition = try windowDefinition("kind = \"tumbling\", size = \"10s\", retain_closed = \"60s\"")
        let counted = event(token: "0xaa", amount: "5", t: 1)
        let lateOne = event(token: "0xaa", amount: "9", t: 3)
        let first = WindowStep(definition)
        let before = run(first, [counted, event(token: "0xaa", amount: "1", t: 12), lateOne]) // [0,10) closes, then 9 comes late
        #expect(before.results == [#"{"token":"0xaa","window_start":0,"window_end":10,"n":1,"volume":"5","revision":0}"#])
        #expect(before.side == ["late.pipeline.t: late:"])
        var writer = StateWriter()
        first.saveState(into: &writer)
        let second = WindowStep(definition)
        var reader = StateReader(writer.bytes)
        try second.loadState(from: &reader)
        let after = run(second, [
            event(token: "0xaa", amount: "9", t: 3, revert: true),  // was late: nothing to subtract
            event(token: "0xaa", amount: "5", t: 1, revert: true),  // was counted: a correction
        ])
        #expect(after.side == ["late.pipeline.t: rever"])
        #expect(after.results == [#"{"token":"0xaa","window_start":0,"window_end":10,"n":0,"volume":"0","revision":1}"#])

        // A checkpoint written before late notes existed ends after the sessions: it loads, with no notes.
        var old = StateWriter()
        WindowStep(definition).saveState(into: &old)
        #expect(old.bytes.last == 0)
        var oldReader = StateReader(Array(old.bytes.dropLast()))
        try WindowStep(definition).loadState(from: &oldReader)

        let sessions = WindowStep(try windowDefinition("kind = \"session\", gap = \"5s\", allowed_lateness = \"1s\", retain_closed = \"60s\""))
        let out = run(sessions, [
            event(token: "0xaa", amount: "1", t: 10),
            event(token: "0xaa", amount: "2", t: 12),
            event(token: "0xaa", amount: "1", t: 30),               // closes the session [10,12]
            event(token: "0xaa", amount: "4", t: 11),               // late for it
            event(token: "0xaa", amount: "4", t: 11, revert: true), // nothing to take back
            event(token: "0xaa", amount: "2", t: 12, revert: true), // a correction
        ])
        #expect(out.side == ["late.pipeline.t: late:", "late.pipeline.t: rever"])
        #expect(out.results.count == 2)
        #expect(out.results.last?.contains(#""n":1,"volume":"1","revision":1"#) == true, "\(out.results)")
    }

    @Test("session windows merge events within the gap, close after it, and take reverts back")
    func sessions() throws {
        let step = WindowStep(try windowDefinition("kind = \"session\", gap = \"5s\", allowed_lateness = \"10s\""))
        let out = run(step, [
            event(token: "0xaa", amount: "1", t: 10),
            event(token: "0xaa", amount: "2", t: 20),   // another session (gap 5)
            event(token: "0xaa", amount: "4", t: 14),   // bridges nothing: 14 is within 5 of 10 only
            event(token: "0xaa", amount: "4", t: 14, revert: true),
            event(token: "0xaa", amount: "8", t: 17),   // within 5 of 14? 14 was reverted but the session keeps its span: merges 10–14 and 20
            event(token: "0xaa", amount: "1", t: 40),   // closes the first session
        ])
        #expect(out.results == [
            #"{"token":"0xaa","window_start":10,"window_end":25,"n":3,"volume":"11","revision":0}"#,
        ])
    }

    @Test("invalid window settings are refused with the place and the fix")
    func badDefinitions() {
        #expect(throws: ConfigFileError.self) { try windowDefinition("kind = \"hopping\", size = \"10s\", hop = \"3s\"") }
        do {
            _ = try windowDefinition("kind = \"tumbling\", size = \"10s\", aggregates2 = 1")
            Issue.record("accepted an unknown key")
        } catch {
            #expect("\(error)".contains("unknown key 'aggregates2'"))
        }
        do {
            _ = try windowDefinition("kind = \"tumbling\", size = \"ten seconds\"")
            Issue.record("accepted a bad duration")
        } catch {
            #expect("\(error)".contains("'size' must be a positive duration"))
        }
    }
}
