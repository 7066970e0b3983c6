import Foundation
import Testing
@testable import StarbloomCore

private func definition(_ steps: String, outputs: String = "[ { topic = \"out\" } ]") throws -> PipelineDefinition {
    try HostConfiguration.parse("""
        [[pipelines]]
        name = "t"
        inputs = ["in"]
        steps = \(steps)
        outputs = \(outputs)
        """).pipelines[0]
}

private func event(_ json: String, revert: Bool = false, time: Int64 = 0) -> PipelineEvent {
    PipelineEvent(key: [], payload: Array(json.utf8), headers: [], eventTimeNs: time, isRevert: revert)
}

private func run(_ step: any PipelineStep, _ events: [PipelineEvent]) -> [String] {
    var out: [String] = []
    for event in events {
        var output = StepOutput()
        do {
            try step.process(event, into: &output)
        } catch {
            out.append("error: \(error.message)")
        }
        out += output.events.map { ($0.isRevert ? "revert " : "") + String(decoding: $0.payload, as: UTF8.self) }
    }
    return out
}

@Suite("Pipeline steps")
struct PipelineStepTests {
    @Test("dedupe drops copies within its window and keeps reverts exact: a duplicate's revert is dropped, the last copy's passes")
    func dedupe() throws {
        guard case .dedupe(let dedupe) = try definition("[ { type = \"dedupe\", key = \"concat(tx, '/', i)\", window = \"10s\" } ]").steps[0] else { Issue.record("not dedupe"); return }
        let step = DedupeStep(dedupe)
        let s = 1_000_000_000 as Int64
        #expect(run(step, [
            event(#"{"tx":"0xA","i":1}"#, time: 1 * s),
            event(#"{"tx":"0xa","i":1}"#, time: 2 * s),             // same key (hex case ignored): dropped
            event(#"{"tx":"0xA","i":2}"#, time: 2 * s),
            event(#"{"tx":"0xA","i":1}"#, revert: true, time: 2 * s), // one of two copies reverted: dropped
            event(#"{"tx":"0xA","i":1}"#, revert: true, time: 2 * s), // the last copy: passes
            event(#"{"tx":"0xA","i":1}"#, time: 3 * s),             // seen again after its revert: passes
            event(#"{"tx":"0xA","i":2}"#, time: 13 * s),            // past the 10 s window: passes again
        ]) == [
            #"{"tx":"0xA","i":1}"#, #"{"tx":"0xA","i":2}"#, #"revert {"tx":"0xA","i":1}"#, #"{"tx":"0xA","i":1}"#, #"{"tx":"0xA","i":2}"#,
        ])
    }

    @Test("map selects, renames, drops and computes exactly; enrich merges JSON values and follows on_missing")
    func mapAndEnrich() throws {
        guard case .map(let map) = try definition("""
            [ { type = "map", select = ["a", "b", "c"], rename = { b = "beta" }, drop = ["c"], set = { sum = "a + 1", label = "concat('#', lower(name))" } } ]
            """).steps[0] else { Issue.record("not map"); return }
        #expect(run(MapStep(map), [event(#"{"name":"X","a":115792089237316195423570985008687907853269984665640564039457584007913129639934,"b":[1,2],"c":3,"d":4}"#)]) == [
            ##"{"a":115792089237316195423570985008687907853269984665640564039457584007913129639934,"beta":[1,2],"sum":"115792089237316195423570985008687907853269984665640564039457584007913129639935","label":"#x"}"##,
        ])
        let store = InMemoryKeyValueStore()
        _ = try store.put(namespace: "tokens", key: Array("0xab".utf8), value: Array(#"{"symbol":"USDC","decimals":6}"#.utf8))
        _ = try store.put(namespace: "tokens", key: Array("0xcd".utf8), value: Array("plain text".utf8))
        guard case .enrich(let keep) = try definition("[ { type = \"enrich\", namespace = \"tokens\", key = \"token\", into = \"info\" } ]").steps[0],
              case .enrich(let strict) = try definition("[ { type = \"enrich\", namespace = \"tokens\", key = \"token\", into = \"info\", on_missing = \"dead-letter\" } ]").steps[0]
        else { Issue.record("not enrich"); return }
        #expect(run(EnrichStep(keep, store: store), [event(#"{"token":"0xAB"}"#), event(#"{"token":"0xcd","info":1}"#), event(#"{"token":"0xef"}"#)]) == [
            #"{"token":"0xAB","info":{"symbol":"USDC","decimals":6}}"#, #"{"token":"0xcd","info":"plain text"}"#, #"{"token":"0xef"}"#,
        ])
        #expect(run(EnrichStep(strict, store: store), [event(#"{"token":"0xef"}"#)]) == ["error: enrich: no entry for key '0xef' in namespace 'tokens'"])
    }

    @Test("a filter over records that are not JSON, or whose fields have the wrong type, fails those records only")
    func filterFailures() throws {
        guard case .filter(let expression) = try definition("[ { type = \"filter\", where = \"amount > 10 and (ok or flag)\" } ]").steps[0] else { return }
        let out = run(FilterStep(expression), [
            event("[1,2]"), event(#"{"amount":"11","ok":true}"#), event(#"{"amount":"11","ok":"yes"}"#), event(#"{"amount":5}"#),
        ])
        #expect(out.count == 3)
        #expect(out[0].hasPrefix("error: payload is not a JSON object"))
        #expect(out[1] == #"{"amount":"11","ok":true}"#)
        #expect(out[2].hasPrefix("error: ") && out[2].contains("ok"), "\(out[2])")
    }

    @Test("definitions with mistakes are refused with the place: expression position, unknown keys and steps, missing outputs", arguments: [
        ("[ { type = \"filter\", where = \"amount >\" } ]", "[ { topic = \"o\" } ]", "steps[0] (filter): where \"amount >\": at 9"),
        ("[ { type = \"filter\", wher = \"a\" } ]", "[ { topic = \"o\" } ]", "'where'"),
        ("[ { type = \"filter\", where = \"a\", extra = 1 } ]", "[ { topic = \"o\" } ]", "unknown key 'extra'"),
        ("[ { type = \"sort\" } ]", "[ { topic = \"o\" } ]", "unknown step type 'sort'"),
        ("[]", "[]", "'outputs' must name at least one destination"),
        ("[]", "[ { topic = \"bad topic\" } ]", "outputs[0]"),
        ("[ { type = \"window\", size = \"1m\", aggregates = { v = \"median(x)\" } } ]", "[ { topic = \"o\" } ]", "unknown aggregate 'median'"),
        ("[ { type = \"window\", size = \"1m\", aggregates = { revision = \"count\" } } ]", "[ { topic = \"o\" } ]", "'revision' is a field of every window result"),
        ("[ { type = \"map\" } ]", "[ { topic = \"o\" } ]", "give at least one of select, rename, drop, set"),
    ])
    func badDefinitions(steps: String, outputs: String, expected: String) {
        do {
            _ = try definition(steps, outputs: outputs)
            Issue.record("accepted \(steps)")
        } catch {
            #expect("\(error)".contains(expected), "\(error)")
        }
    }

    @Test("the built-in demo configuration parses: the chain, the decoder and both pipelines")
    func demo() throws {
        let configuration = try DemoConfiguration.make()
        #expect(configuration.instances.map(\.name) == ["chain", "decode"])
        #expect(configuration.pipelines.map(\.name) == ["erc20-transfers", "erc20-volume"])
    }

    @Test("a JSON definition from the API parses to the same pipeline as its TOML form, and a name in the body must match the path")
    func jsonDefinitions() throws {
        let toml = try definition("[ { type = \"filter\", where = \"x > 1\" } ]")
        let fromJSON = try PipelineDefinition.parse(try PipelineDefinition.table(fromJSON: toml.sourceJSON), name: "t")
        #expect(fromJSON.canonicalJSON == toml.canonicalJSON)
        #expect(throws: PipelineConfigError.self) { try PipelineDefinition.parse(try PipelineDefinition.table(fromJSON: toml.sourceJSON), name: "other") }
        #expect(throws: PipelineConfigError.self) { try PipelineDefinition.table(fromJSON: Array("{\"inputs\": null}".utf8)) }
        #expect(throws: PipelineConfigError.self) { try PipelineDefinition.table(fromJSON: Array("[1]".utf8)) }
    }
}
