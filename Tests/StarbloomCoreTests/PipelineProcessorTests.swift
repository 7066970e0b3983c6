import Foundation
import Testing
@testable import StarbloomCore

/// Processor plugin instances as pipeline steps (`{ type = "processor", instance = "NAME" }`), with
/// the C fixture good_processor.c (prefixes payloads with "P:", rejects the payload "bad").
@Suite("Pipeline processor steps")
struct PipelineProcessorTests {
    /// A host on the embedded (durable, SQLite) services, so that it runs pipelines.
    private final class World {
        let fixtures: FixtureBuilder
        let host: StarbloomHost

        init(fixture: String = "good_processor", source: String? = nil) throws {
            fixtures = try FixtureBuilder()
            if let source {
                let path = "\(fixtures.root)/\(fixture).c"
                try source.write(toFile: path, atomically: true, encoding: .utf8)
                try fixtures.compile(source: path, library: fixture)
            } else {
                try fixtures.compileFixture(fixture)
            }
            let configuration = fixtures.configuration()
            host = StarbloomHost(configuration: configuration, services: try HostServices.embedded(configuration: configuration))
            try host.start()
        }

        deinit {
            host.shutdown()
            fixtures.remove()
        }

        var pipelines: PipelineManager { host.pipelines! }

        func apply(_ toml: String) throws {
            try pipelines.apply(try HostConfiguration.parse(toml).pipelines[0])
        }

        func publish(_ topic: String, _ payloads: [String]) throws {
            let appender = try host.services.queue.topic(named: topic)
            let records = payloads.map { QueueRecord(topic: "", offset: 0, key: Array("k".utf8), payload: Array($0.utf8), headers: [], eventTimeNs: 0) }
            let arena = RecordArena(records)
            defer { arena.release() }
            _ = try appender.append(UnsafeBufferPointer(start: arena.records, count: records.count), defaultEventTimeNs: 5)
        }

        func status(_ pipeline: String) -> PipelineStatus { pipelines.pipeline(named: pipeline)?.status ?? PipelineStatus() }
    }

    private static let pipeline = """
        [[pipelines]]
        name = "p"
        inputs = ["in.x"]
        steps = [ { type = "processor", instance = "proc" } ]
        outputs = [ { topic = "out.x" } ]
        """

    @Test("emitted records reach the output with the input's event time; a record rejected every time is dead-lettered after 3 deliveries with the plugin's reason")
    func emitsAndDeadLetters() throws {
        let world = try World()
        let host = world.host
        try host.addInstance(InstanceSpec(name: "proc", plugin: "fixture-processor", restart: fastRestart()))
        let instance = try #require(host.instance(named: "proc"))
        #expect(waitForState(instance, .running), "a processor without inputs runs (it serves pipeline steps only)")
        try world.apply(Self.pipeline)
        try world.publish("in.x", ["a", "bad", "b"])

        #expect(waitUntil(timeout: 20) { host.payloads(topic: "out.x") == ["P:a", "P:b"] })
        #expect(waitUntil(timeout: 10) { host.records(topic: "dlq.pipeline.p").count == 1 })
        let dead = try #require(host.records(topic: "dlq.pipeline.p").first)
        #expect(dead.payloadText == "bad")
        let reason = try #require(dead.header(PipelineHeaders.error))
        #expect(reason.hasSuffix("payload is bad"), "\(reason)")
        #expect(reason.contains("step 0 (processor)") && reason.contains("'proc' rejected the record 3 times"), "\(reason)")
        // 1 delivery each for a and b, 3 for bad.
        #expect(instance.status.recordsIn == 5)
        #expect(instance.status.recordsOut == 2)

        let outputs = host.records(topic: "out.x")
        #expect(outputs.allSatisfy { $0.eventTimeNs == 5 && $0.keyText == "k" })
        #expect(host.records(topic: "fixture.out").isEmpty, "the plugin's own output topic is not used: emitted records go down the pipeline")
        #expect(instance.status.state == .running)
    }

    @Test("while its processor instance is disabled the pipeline waits (no dead letters) and resumes when it is enabled again")
    func waitsForDisabledInstance() throws {
        let world = try World()
        let host = world.host
        try host.addInstance(InstanceSpec(name: "proc", plugin: "fixture-processor", restart: fastRestart()))
        let instance = try #require(host.instance(named: "proc"))
        #expect(waitForState(instance, .running))
        try world.apply(Self.pipeline)
        try world.publish("in.x", ["a"])
        #expect(waitUntil(timeout: 20) { host.payloads(topic: "out.x") == ["P:a"] })

        instance.disable()
        try world.publish("in.x", ["b", "c"])
        #expect(waitUntil(timeout: 20) { world.status("p").lastError?.contains("processor instance 'proc' is disabled") == true },
                "\(world.status("p"))")
        Thread.sleep(forTimeInterval: 0.5)
        #expect(host.payloads(topic: "out.x") == ["P:a"])
        #expect(host.records(topic: "dlq.pipeline.p").isEmpty)

        instance.enable()
        #expect(waitUntil(timeout: 40) { host.payloads(topic: "out.x") == ["P:a", "P:b", "P:c"] }, "\(host.payloads(topic: "out.x"))")
        #expect(host.records(topic: "dlq.pipeline.p").isEmpty)
        #expect(waitUntil(timeout: 5) { world.status("p").lastError == nil })
    }

    @Test("a missing instance is named with the known processor instances; the pipeline waits and starts once it is created")
    func waitsForMissingInstance() throws {
        let world = try World()
        let host = world.host
        try host.addInstance(InstanceSpec(name: "other", plugin: "fixture-processor"))
        try world.apply(Self.pipeline)
        try world.publish("in.x", ["a"])
        #expect(waitUntil(timeout: 20) {
            world.status("p").lastError?.contains("no instance named 'proc' (processor instances: other)") == true
        }, "\(world.status("p"))")

        // An instance fed by its own inputs is refused as a step (it would get records twice over).
        try host.addInstance(InstanceSpec(name: "proc", plugin: "fixture-processor", settings: ["output": .string("fed.out")], inputs: ["fed.in"]))
        #expect(waitUntil(timeout: 40) { world.status("p").lastError?.contains("'proc' has inputs (fed.in)") == true }, "\(world.status("p"))")
        #expect(host.records(topic: "out.x").isEmpty)

        #expect(host.removeInstance(named: "proc"))
        try host.addInstance(InstanceSpec(name: "proc", plugin: "fixture-processor"))
        #expect(waitUntil(timeout: 40) { host.payloads(topic: "out.x") == ["P:a"] }, "\(world.status("p"))")
        #expect(host.records(topic: "dlq.pipeline.p").isEmpty)
    }

    /// Fails the whole `process` call for the payload "flaky" on its first two deliveries (a static
    /// counter: it survives the restarts, which each create a new plugin instance).
    private static let flakySource = """
        #include <starbloom/plugin.h>
        #include <stdio.h>
        #include <string.h>
        static int failures;
        static sb_status fx_create(const sb_host_api *h, sb_host_ctx *c, const sb_config *cf, void **out, sb_message *e)
        { (void)h; (void)c; (void)cf; (void)e; *out = &failures; return SB_OK; }
        static sb_status fx_process(void *inst, const sb_record *records, size_t count, const sb_emitter *em, sb_message *error)
        {
            size_t i;
            (void)inst;
            for (i = 0; i < count; i++) {
                if (records[i].payload.len == 5 && memcmp(records[i].payload.ptr, "flaky", 5) == 0 && failures < 2) {
                    failures++;
                    snprintf(error->text, SB_MESSAGE_CAPACITY, "backend down (%d)", failures);
                    return SB_ERR_UNAVAILABLE;
                }
                if (em->emit(em->ctx, &records[i]) != SB_OK) return SB_ERR_INTERNAL;
            }
            return SB_OK;
        }
        static void fx_destroy(void *inst) { (void)inst; }
        static const sb_plugin_descriptor descriptor = {
            SB_DESCRIPTOR_HEADER, "fixture-flaky", "1.0.0", SB_KIND_PROCESSOR, "fails process twice", NULL, 0,
            fx_create, NULL, NULL, fx_process, NULL, fx_destroy, NULL, NULL, 0,
        };
        SB_EXPORT const sb_plugin_descriptor *starbloom_plugin_entry(void) { return &descriptor; }
        """

    @Test("a process call that fails as a whole restarts the instance by its policy and is retried, never dead-lettered")
    func wholeCallFailureIsRetried() throws {
        let world = try World(fixture: "flaky", source: Self.flakySource)
        let host = world.host
        try host.addInstance(InstanceSpec(name: "proc", plugin: "fixture-flaky", restart: fastRestart(maxRestarts: 5)))
        let instance = try #require(host.instance(named: "proc"))
        #expect(waitForState(instance, .running))
        try world.apply(Self.pipeline)
        try world.publish("in.x", ["one", "flaky", "two"])
        #expect(waitUntil(timeout: 40) { host.payloads(topic: "out.x") == ["one", "flaky", "two"] }, "\(host.payloads(topic: "out.x")) \(world.status("p"))")
        #expect(host.records(topic: "dlq.pipeline.p").isEmpty)
        #expect(instance.status.restarts == 2)
        #expect(instance.status.lastError?.contains("backend down (2)") == true, "\(instance.status)")
        #expect(waitForState(instance, .running))
    }

    @Test("definitions: a processor step needs an instance name; unknown step types list processor")
    func parsing() throws {
        func parse(_ step: String) -> String? {
            do {
                _ = try HostConfiguration.parse("""
                    [[pipelines]]
                    name = "p"
                    inputs = ["in"]
                    steps = [ \(step) ]
                    outputs = [ { topic = "out" } ]
                    """)
                return nil
            } catch {
                return "\(error)"
            }
        }
        #expect(parse(#"{ type = "processor", instance = "proc" }"#) == nil)
        let config = try HostConfiguration.parse("""
            [[pipelines]]
            name = "p"
            inputs = ["in"]
            steps = [ { type = "processor", instance = "proc" } ]
            outputs = [ { topic = "out" } ]
            """)
        guard case .processor(let name) = config.pipelines[0].steps[0] else { Issue.record("not a processor step"); return }
        #expect(name == "proc" && config.pipelines[0].steps[0].kind == "processor")
        #expect(parse(#"{ type = "processor" }"#)?.contains("'instance' (the name of a processor instance configured on the host) is required") == true)
        #expect(parse(#"{ type = "processor", instance = "Bad Name" }"#)?.contains("not a valid instance name") == true)
        #expect(parse(#"{ type = "processor", instance = "proc", extra = 1 }"#)?.contains("unknown key 'extra'") == true)
        #expect(parse(#"{ type = "nope" }"#)?.contains("use one of filter, map, enrich, dedupe, window, processor") == true)
    }
}
