import Foundation
import Testing
@testable import StarbloomCore

/// Processor delivery over the durable queue, through the host: retries, dead letters, patterns.
@Suite("Processor delivery on the durable queue")
struct PipelineDeliveryTests {
    private func publish(_ host: StarbloomHost, topic: String, _ payloads: [String]) throws {
        let appender = try host.services.queue.topic(named: topic)
        let records = payloads.map { QueueRecord(topic: "", offset: 0, key: [], payload: Array($0.utf8), headers: [], eventTimeNs: 0) }
        let arena = RecordArena(records)
        defer { arena.release() }
        _ = try appender.append(UnsafeBufferPointer(start: arena.records, count: records.count), defaultEventTimeNs: 5)
    }

    @Test("an emitted record too large for its topic is refused by emit itself (TOO_LARGE), and nothing emitted by that failed process call is published")
    func emitChecksEachRecord() throws {
        let fixtures = try FixtureBuilder()
        defer { fixtures.remove() }
        _ = try fixtures.compileFixture("good_processor")
        let configuration = fixtures.configuration()
        let host = StarbloomHost(configuration: configuration, services: try HostServices.embedded(configuration: configuration))
        try host.start()
        defer { host.shutdown() }
        try host.services.queue.createTopic("out.small", settings: TopicSettings(maxRecordBytes: 64))
        try publish(host, topic: "in.a", ["ok-1", String(repeating: "x", count: 100)])
        try host.addInstance(InstanceSpec(name: "proc", plugin: "fixture-processor", restart: RestartPolicy(mode: .never),
                                          settings: ["output": .string("out.small")], inputs: ["in.a"]))
        let instance = try #require(host.instance(named: "proc"))
        #expect(waitForState(instance, .failed, timeout: 10), "\(instance.status)")
        #expect(instance.status.lastError?.contains("emit failed with status 5") == true, "\(instance.status.lastError ?? "none")")
        #expect(host.records(topic: "out.small").isEmpty, "ok-1 was emitted in the same call, which failed: not published")
    }

    @Test("a record rejected on every delivery reaches the dead-letter topic after 3 deliveries, with the reason; a pattern subscription picks up a topic created later")
    func deadLetterAndPatterns() throws {
        let fixtures = try FixtureBuilder()
        defer { fixtures.remove() }
        _ = try fixtures.compileFixture("good_processor")
        let configuration = fixtures.configuration()
        let host = StarbloomHost(configuration: configuration, services: try HostServices.embedded(configuration: configuration))
        try host.start()
        defer { host.shutdown() }

        try publish(host, topic: "in.a", ["ok-1", "bad", "ok-2"])
        try host.addInstance(InstanceSpec(name: "proc", plugin: "fixture-processor", settings: ["output": .string("out.t")], inputs: ["in.*"]))
        #expect(waitUntil(timeout: 10) { host.records(topic: "out.t").count == 2 })
        #expect(waitUntil(timeout: 10) { host.records(topic: "dlq.proc").count == 1 })
        let dead = try #require(host.records(topic: "dlq.proc").first)
        #expect(String(decoding: dead.payload, as: UTF8.self) == "bad")
        #expect(dead.header("starbloom-error") == "payload is bad")
        #expect(dead.header("starbloom-deliveries") == "3")
        #expect(dead.header("starbloom-source-topic") == "in.a")
        #expect(dead.header("starbloom-source-offset") == "1")
        #expect(host.payloads(topic: "out.t") == ["P:ok-1", "P:ok-2"])

        // A topic that did not exist when the instance subscribed.
        try publish(host, topic: "in.b", ["late"])
        #expect(waitUntil(timeout: 10) { host.payloads(topic: "out.t").contains("P:late") })
        // A topic outside the pattern is not delivered.
        try publish(host, topic: "other.c", ["ignored"])
        Thread.sleep(forTimeInterval: 0.2)
        #expect(!host.payloads(topic: "out.t").contains("P:ignored"))
        // Offsets are committed per topic for the instance's consumer group.
        #expect(waitUntil(timeout: 5) { host.services.queue.committedOffset(group: "instance/proc", topic: "in.a") == 3 })
        #expect(host.instance(named: "proc")?.status.state == .running)
    }

    @Test("after a host restart a processor resumes at its committed offsets: nothing is delivered twice, nothing skipped")
    func resumeAfterRestart() throws {
        let fixtures = try FixtureBuilder()
        defer { fixtures.remove() }
        _ = try fixtures.compileFixture("good_processor")
        let configuration = fixtures.configuration()
        do {
            let host = StarbloomHost(configuration: configuration, services: try HostServices.embedded(configuration: configuration))
            try host.start()
            try publish(host, topic: "in.x", (0..<50).map { "r\($0)" })
            try host.addInstance(InstanceSpec(name: "proc", plugin: "fixture-processor", settings: ["output": .string("out.x")], inputs: ["in.x"]))
            #expect(waitUntil(timeout: 10) { host.records(topic: "out.x").count == 50 })
            #expect(waitUntil(timeout: 5) { host.services.queue.committedOffset(group: "instance/proc", topic: "in.x") == 50 })
            host.shutdown()
            (host.services.queue as? DurableQueue)?.close()
        }
        let host = StarbloomHost(configuration: configuration, services: try HostServices.embedded(configuration: configuration))
        try host.start()
        defer { host.shutdown() }
        try publish(host, topic: "in.x", (50..<60).map { "r\($0)" })
        try host.addInstance(InstanceSpec(name: "proc", plugin: "fixture-processor", settings: ["output": .string("out.x")], inputs: ["in.x"]))
        #expect(waitUntil(timeout: 10) { host.records(topic: "out.x").count == 60 })
        Thread.sleep(forTimeInterval: 0.2)
        #expect(host.payloads(topic: "out.x") == (0..<60).map { "P:r\($0)" })
    }

    @Test("an instance whose input pattern matches its own output topic does not consume its own records")
    func noSelfFeedback() throws {
        let fixtures = try FixtureBuilder()
        defer { fixtures.remove() }
        _ = try fixtures.compileFixture("good_processor")
        let configuration = fixtures.configuration()
        let host = StarbloomHost(configuration: configuration, services: try HostServices.embedded(configuration: configuration))
        try host.start()
        defer { host.shutdown() }
        try publish(host, topic: "chain.events", ["a", "b"])
        try host.addInstance(InstanceSpec(name: "loop", plugin: "fixture-processor", settings: ["output": .string("chain.out")],
                                          inputs: ["chain.*"], output: "chain.out"))
        #expect(waitUntil(timeout: 10) { host.records(topic: "chain.out").count == 2 })
        Thread.sleep(forTimeInterval: 0.3)
        #expect(host.payloads(topic: "chain.out") == ["P:a", "P:b"], "no P:P:a — the output is not fed back")
    }
}
