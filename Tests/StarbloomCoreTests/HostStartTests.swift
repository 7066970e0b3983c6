import Foundation
import Testing
@testable import StarbloomCore

@Suite("Host start and shutdown")
struct HostStartTests {
    @Test("a configured instance with a missing plugin or bad settings is failed with its reason; the others start")
    func badInstancesDoNotBlockOthers() throws {
        let fixtures = try FixtureBuilder()
        defer { fixtures.remove() }
        _ = try fixtures.compileGoodSource()
        var configuration = fixtures.configuration()
        configuration.instances = [
            InstanceSpec(name: "missing", plugin: "no-such-plugin"),
            InstanceSpec(name: "misconfigured", plugin: "fixture-source", settings: ["topic": .int(5)]),
            InstanceSpec(name: "good", plugin: "fixture-source", settings: ["topic": .string("good.t"), "interval_ms": .int(5)]),
        ]
        let host = StarbloomHost(configuration: configuration)
        try host.start()
        defer { host.shutdown() }
        let good = try #require(host.instance(named: "good"))
        #expect(waitForState(good, .running))
        #expect(waitUntil(timeout: 5) { !host.records(topic: "good.t").isEmpty })
        let missing = try #require(host.instance(named: "missing"))
        #expect(waitForState(missing, .failed))
        #expect(missing.status.lastError?.contains("plugin 'no-such-plugin' is not loaded") == true)
        let misconfigured = try #require(host.instance(named: "misconfigured"))
        #expect(waitForState(misconfigured, .failed))
        #expect(misconfigured.status.lastError?.contains("setting 'topic' must be a string") == true)
    }

    @Test("shutdown stops running instances but leaves a failed instance failed, with its error")
    func shutdownKeepsFailures() throws {
        let fixtures = try FixtureBuilder()
        defer { fixtures.remove() }
        _ = try fixtures.compileFixture("start_error")
        _ = try fixtures.compileGoodSource()
        let host = try fixtures.startHost()
        var failing = InstanceSpec(name: "failing", plugin: "fixture-start-error")
        failing.restart.mode = .never
        try host.addInstance(failing)
        try host.addInstance(InstanceSpec(name: "good", plugin: "fixture-source", settings: ["topic": .string("g.t")]))
        let failed = try #require(host.instance(named: "failing"))
        #expect(waitForState(failed, .failed))
        host.shutdown()
        #expect(failed.status.state == .failed)
        #expect(failed.status.lastError?.contains("start refused: fixture") == true)
        #expect(host.instance(named: "good")?.status.state == .stopped)
    }
}
