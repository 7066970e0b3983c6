import Foundation
import Testing
@testable import StarbloomCore

/// The supervisor: restart policies and their limits, finished runs, hung plugins, backoff and health.
@Suite("Supervision")
struct SupervisionTests {
    @Test("a failing start is retried by on-failure until max_restarts, then the instance fails with the plugin's message")
    func startErrorGivesUp() throws {
        let fixtures = try FixtureBuilder()
        defer { fixtures.remove() }
        try fixtures.compileFixture("start_error")
        let host = try fixtures.startHost()
        defer { host.shutdown() }

        try host.addInstance(InstanceSpec(name: "start-fails", plugin: "fixture-start-error", restart: fastRestart(.onFailure, maxRestarts: 3)))
        let instance = try #require(host.instance(named: "start-fails"))
        let failed = waitForState(instance, .failed)
        try #require(failed, "status: \(instance.status)")

        let status = instance.status
        let lastError = status.lastError ?? ""
        #expect(lastError.contains("start refused: fixture"), "lastError: \(lastError)")
        #expect(lastError.contains("gave up"), "lastError: \(lastError)")
        #expect(status.restarts == 3)
        #expect(status.errors == 4, "the first start and three restarts all failed")
        #expect(!instance.hasLog("run was called"), "run must never be called after a failed start")
        #expect(host.metricValue(#"starbloom_instance_restarts_total{instance="start-fails",plugin="fixture-start-error"}"#) == 3)
    }

    @Test("a run error is restarted by on-failure, then the instance fails")
    func runErrorRestartsThenFails() throws {
        let fixtures = try FixtureBuilder()
        defer { fixtures.remove() }
        try fixtures.compileFixture("run_error")
        let host = try fixtures.startHost()
        defer { host.shutdown() }

        try host.addInstance(InstanceSpec(name: "run-fails", plugin: "fixture-run-error", restart: fastRestart(.onFailure, maxRestarts: 2)))
        let instance = try #require(host.instance(named: "run-fails"))
        let failed = waitForState(instance, .failed)
        try #require(failed, "status: \(instance.status)")
        let status = instance.status
        #expect(status.restarts == 2)
        #expect(status.lastError?.contains("run failed: fixture") == true, "lastError: \(status.lastError ?? "nil")")
        #expect(status.lastError?.contains("gave up") == true, "lastError: \(status.lastError ?? "nil")")
    }

    @Test("a run error with policy never fails at once without restarts")
    func runErrorNeverRestarts() throws {
        let fixtures = try FixtureBuilder()
        defer { fixtures.remove() }
        try fixtures.compileFixture("run_error")
        let host = try fixtures.startHost()
        defer { host.shutdown() }

        try host.addInstance(InstanceSpec(name: "run-fails-never", plugin: "fixture-run-error", restart: fastRestart(.never)))
        let instance = try #require(host.instance(named: "run-fails-never"))
        let failed = waitForState(instance, .failed)
        try #require(failed, "status: \(instance.status)")
        let status = instance.status
        #expect(status.restarts == 0)
        #expect(status.errors == 1)
        #expect(status.lastError == "run failed (PLUGIN): run failed: fixture")
    }

    @Test("a run that returns OK by itself has finished: on-failure leaves it stopped")
    func runReturnsOKStops() throws {
        let fixtures = try FixtureBuilder()
        defer { fixtures.remove() }
        try fixtures.compileFixture("run_returns_ok")
        let host = try fixtures.startHost()
        defer { host.shutdown() }

        try host.addInstance(InstanceSpec(name: "finishes", plugin: "fixture-run-returns-ok", restart: fastRestart(.onFailure)))
        let instance = try #require(host.instance(named: "finishes"))
        let stopped = waitForState(instance, .stopped)
        try #require(stopped, "status: \(instance.status)")
        let status = instance.status
        #expect(status.restarts == 0)
        #expect(status.errors == 0)
        #expect(status.lastError == nil)
        #expect(status.enabled)
        #expect(instance.logCount("run-returns-ok: finished") == 1)
        #expect(host.metricValue(#"starbloom_plugin_fixture_run_returns_ok_runs_total{instance="finishes",plugin="fixture-run-returns-ok"}"#) == 1)
    }

    @Test("a run that returns OK by itself is restarted by policy always")
    func runReturnsOKAlwaysRestarts() throws {
        let fixtures = try FixtureBuilder()
        defer { fixtures.remove() }
        try fixtures.compileFixture("run_returns_ok")
        let host = try fixtures.startHost()
        defer { host.shutdown() }

        try host.addInstance(InstanceSpec(name: "again", plugin: "fixture-run-returns-ok", restart: fastRestart(.always, maxRestarts: 1_000)))
        let instance = try #require(host.instance(named: "again"))
        let restarted = waitUntil(timeout: 10) { instance.status.restarts >= 3 }
        try #require(restarted, "status: \(instance.status)")
        let runs = waitUntil(timeout: 10) { instance.logCount("run-returns-ok: finished") >= 3 }
        #expect(runs)
        let series = #"starbloom_plugin_fixture_run_returns_ok_runs_total{instance="again",plugin="fixture-run-returns-ok"}"#
        #expect((host.metricValue(series) ?? 0) >= 3, "the counter survives restarts")
        #expect(instance.status.errors == 0, "finishing is not a failure")
        #expect(instance.status.state != .failed)

        instance.disable()
        #expect(instance.status.state == .stopped)
        let restartsWhenDisabled = instance.status.restarts
        let restartedWhileDisabled = waitUntil(timeout: 0.2) { instance.status.restarts > restartsWhenDisabled }
        #expect(!restartedWhileDisabled, "disable cancels scheduled restarts")
    }

    @Test("a plugin that hangs in stop is abandoned after its stop timeout; other instances keep running")
    func hangInStop() throws {
        let fixtures = try FixtureBuilder()
        defer { fixtures.remove() }
        try fixtures.compileFixture("hang_in_stop")
        try fixtures.compileGoodSource()
        let host = try fixtures.startHost()
        defer { host.shutdown() }

        try host.addInstance(goodSourceSpec("bystander", topic: "bystander.t"))
        try host.addInstance(InstanceSpec(name: "hangs", plugin: "fixture-hang-in-stop", stopTimeoutMs: 200))
        let bystander = try #require(host.instance(named: "bystander"))
        let hangs = try #require(host.instance(named: "hangs"))
        #expect(hangs.status.state == .running)
        let publishing = waitUntil(timeout: 10) { host.records(topic: "bystander.t").count >= 2 }
        try #require(publishing)

        let countBefore = host.records(topic: "bystander.t").count
        let started = Date()
        hangs.disable()
        let elapsed = Date().timeIntervalSince(started)
        #expect(elapsed < 3, "disable took \(elapsed) s")
        #expect(elapsed >= 0.15, "disable should have waited for the 200 ms stop timeout, took \(elapsed) s")

        let status = hangs.status
        #expect(status.state == .failed)
        #expect(status.lastError == "stop did not return within 200 ms", "lastError: \(status.lastError ?? "nil")")
        #expect(status.errors == 1)

        // The other instance published while the hung one was being stopped, and still does.
        #expect(host.records(topic: "bystander.t").count > countBefore)
        let countAfter = host.records(topic: "bystander.t").count
        let stillPublishing = waitUntil(timeout: 10) { host.records(topic: "bystander.t").count > countAfter }
        #expect(stillPublishing)
        #expect(bystander.status.state == .running)

        // The host stays responsive: commands and new instances work.
        #expect(try bystander.call(command: "echo", arguments: ["still", "1", "1", "true"]) == "text=still n=1 f=1 b=1")
        try host.addInstance(goodSourceSpec("newcomer", topic: "newcomer.t"))
        let newcomer = waitUntil(timeout: 10) { !host.records(topic: "newcomer.t").isEmpty }
        #expect(newcomer)
    }

    @Test("a health probe reporting degraded marks the instance degraded, and OK brings it back to running")
    func healthDegradedAndBack() throws {
        let fixtures = try FixtureBuilder()
        defer { fixtures.remove() }
        try fixtures.compileGoodSource()
        let host = try fixtures.startHost()
        defer { host.shutdown() }

        try host.addInstance(goodSourceSpec("health-x", topic: "health.t"))
        let instance = try #require(host.instance(named: "health-x"))
        #expect(instance.status.state == .running)

        #expect(try instance.call(command: "degrade", arguments: ["true"]) == "degraded=1")
        let degraded = waitForState(instance, .degraded)
        try #require(degraded, "status: \(instance.status)")
        #expect(instance.status.lastError == "told to degrade")
        #expect(host.services.metrics.renderPrometheus().contains(
            #"starbloom_instance_state{instance="health-x",plugin="fixture-source",state="degraded"} 1"#))
        // Degraded still works.
        let count = host.records(topic: "health.t").count
        let stillPublishing = waitUntil(timeout: 10) { host.records(topic: "health.t").count > count }
        #expect(stillPublishing)

        #expect(try instance.call(command: "degrade", arguments: ["false"]) == "degraded=0")
        let recovered = waitForState(instance, .running)
        #expect(recovered, "status: \(instance.status)")
        #expect(instance.status.restarts == 0)
    }

    // MARK: Backoff (pure)

    @Test("backoff stays within [min, max], grows with attempts, and jitter stays within half..full of the cap")
    func backoffBounds() {
        let policy = RestartPolicy(mode: .onFailure, backoffMinMs: 100, backoffMaxMs: 1_000, maxRestarts: 5, windowSeconds: 60)
        let minimum = 0.1, maximum = 1.0
        let randoms = [0.0, 0.25, 0.5, 0.75, 1.0]
        for attempt in 1...40 {
            let cap = min(maximum, minimum * pow(2, Double(min(attempt - 1, 30))))
            for random in randoms {
                let delay = policy.backoff(attempt: attempt, random: random)
                let epsilon = 1e-12
                #expect(delay >= minimum - epsilon && delay <= maximum + epsilon, "attempt \(attempt) random \(random): \(delay)")
                #expect(delay >= cap / 2 - epsilon && delay <= cap + epsilon, "attempt \(attempt) random \(random): \(delay), cap \(cap)")
                if attempt > 1 {
                    #expect(delay >= policy.backoff(attempt: attempt - 1, random: random), "non-decreasing at attempt \(attempt)")
                }
            }
            // Jitter: random 0 gives half the cap (but never below min), random 1 the full cap.
            #expect(abs(policy.backoff(attempt: attempt, random: 0) - max(minimum, cap / 2)) < 1e-9)
            #expect(abs(policy.backoff(attempt: attempt, random: 1) - cap) < 1e-9)
        }
        // The exact ladder with full jitter: 0.1, 0.2, 0.4, 0.8, then capped at 1.0.
        let ladder = (1...6).map { policy.backoff(attempt: $0, random: 1) }
        let expectedLadder = [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
        for (got, expected) in zip(ladder, expectedLadder) {
            #expect(abs(got - expected) < 1e-9, "ladder \(ladder)")
        }
        #expect(policy.backoff(attempt: 3, random: 1) > policy.backoff(attempt: 2, random: 1))
        #expect(policy.backoff(attempt: 5, random: 0) == 0.5)
        // Attempts below 1 count as the first.
        #expect(policy.backoff(attempt: 0, random: 1) == policy.backoff(attempt: 1, random: 1))
        #expect(policy.backoff(attempt: -3, random: 1) == policy.backoff(attempt: 1, random: 1))
        // Default random stays in range too.
        for _ in 0..<100 {
            let delay = policy.backoff(attempt: 4)
            #expect(delay >= 0.4 && delay <= 0.8)
        }
    }

    @Test("restart policy problems are reported")
    func restartPolicyProblems() {
        #expect(RestartPolicy().problem == nil)
        #expect(RestartPolicy(backoffMinMs: 0).problem?.contains("backoff_min_ms") == true)
        #expect(RestartPolicy(backoffMinMs: 500, backoffMaxMs: 100).problem?.contains("backoff_max_ms") == true)
        #expect(RestartPolicy(maxRestarts: -1).problem?.contains("max_restarts") == true)
        #expect(RestartPolicy(windowSeconds: 0).problem?.contains("window_seconds") == true)
        #expect(RestartPolicy(windowSeconds: .nan).problem?.contains("window_seconds") == true)
    }
}
