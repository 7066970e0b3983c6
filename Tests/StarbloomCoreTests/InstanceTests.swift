import Foundation
import Testing
@testable import StarbloomCore

/// Instances of plugins: settings validation, several instances of one plugin, enable/disable,
/// reconfigure, rescans and replaced libraries, and C and Swift plugins reaching the host API.
@Suite("Plugin instances")
struct InstanceTests {
    // MARK: Config validation

    @Test("addInstance refuses an unknown setting, naming the instance and the key")
    func unknownSettingViaHost() throws {
        let fixtures = try FixtureBuilder()
        defer { fixtures.remove() }
        try fixtures.compileGoodSource()
        let host = try fixtures.startHost()
        defer { host.shutdown() }

        var spec = goodSourceSpec("cfg-unknown", topic: "cfg.unknown")
        spec.settings["colour"] = .string("red")
        let error = try #require(throws: ConfigError.self) { try host.addInstance(spec) }
        #expect(error.instance == "cfg-unknown")
        #expect(error.field == "colour")
        #expect(error.problem.contains("unknown to plugin 'fixture-source'"), "\(error)")
        #expect(error.problem.contains("topic, interval_ms, ratio, verbose, tags"), "lists what is accepted: \(error)")
        #expect(error.description.contains("instance 'cfg-unknown'") && error.description.contains("'colour'"), "\(error)")
        #expect(host.instance(named: "cfg-unknown") == nil)
    }

    @Test("addInstance refuses a missing required setting, naming the instance and the key")
    func missingRequiredViaHost() throws {
        let fixtures = try FixtureBuilder()
        defer { fixtures.remove() }
        try fixtures.compileGoodSource()
        let host = try fixtures.startHost()
        defer { host.shutdown() }

        let spec = InstanceSpec(name: "cfg-missing", plugin: "fixture-source", settings: ["interval_ms": .int(5)])
        let error = try #require(throws: ConfigError.self) { try host.addInstance(spec) }
        #expect(error.instance == "cfg-missing")
        #expect(error.field == "topic")
        #expect(error.problem.contains("is required"), "\(error)")
        #expect(error.description.contains("instance 'cfg-missing'") && error.description.contains("'topic'"), "\(error)")
        #expect(host.instance(named: "cfg-missing") == nil)
    }

    @Test("addInstance refuses a string where an integer is declared, naming the instance and the key")
    func wrongTypeViaHost() throws {
        let fixtures = try FixtureBuilder()
        defer { fixtures.remove() }
        try fixtures.compileGoodSource()
        let host = try fixtures.startHost()
        defer { host.shutdown() }

        var spec = goodSourceSpec("cfg-type", topic: "cfg.type")
        spec.settings["interval_ms"] = .string("10")
        let error = try #require(throws: ConfigError.self) { try host.addInstance(spec) }
        #expect(error.instance == "cfg-type")
        #expect(error.field == "interval_ms")
        #expect(error.problem == "must be an integer, got string '10'")
        #expect(error.description == "instance 'cfg-type': setting 'interval_ms' must be an integer, got string '10'")
        #expect(host.instance(named: "cfg-type") == nil)

        // The same check without creating anything (`plugins validate`).
        let validateError = try #require(throws: ConfigError.self) {
            try host.validate(plugin: "fixture-source", settings: spec.settings, instance: "cfg-type-check")
        }
        #expect(validateError.instance == "cfg-type-check")
        #expect(validateError.field == "interval_ms")
    }

    @Test("addInstance refuses an unknown plugin and a duplicate instance name")
    func unknownPluginAndDuplicateName() throws {
        let fixtures = try FixtureBuilder()
        defer { fixtures.remove() }
        try fixtures.compileGoodSource()
        let host = try fixtures.startHost()
        defer { host.shutdown() }

        let missing = try #require(throws: ConfigError.self) {
            try host.addInstance(InstanceSpec(name: "cfg-no-plugin", plugin: "no-such-plugin"))
        }
        #expect(missing.instance == "cfg-no-plugin")
        #expect(missing.field == nil)
        #expect(missing.problem.contains("'no-such-plugin' is not loaded (loaded: fixture-source)"), "\(missing)")

        let badName = try #require(throws: ConfigError.self) {
            try host.addInstance(goodSourceSpec("Bad Name", topic: "cfg.bad"))
        }
        #expect(badName.problem.contains("'Bad Name'"), "\(badName)")

        try host.addInstance(goodSourceSpec("cfg-twice", topic: "cfg.twice"))
        let duplicate = try #require(throws: ConfigError.self) {
            try host.addInstance(goodSourceSpec("cfg-twice", topic: "cfg.twice2"))
        }
        #expect(duplicate.instance == "cfg-twice")
        #expect(duplicate.problem.contains("already exists"), "\(duplicate)")
    }

    @Test("ConfigValidator names the instance and the field for unknown, missing and mistyped settings")
    func configValidator() throws {
        let fields = [
            ConfigField(name: "topic", type: .string, required: true, defaultText: nil, defaultValue: nil, doc: "topic to publish to"),
            ConfigField(name: "interval_ms", type: .int, required: false, defaultText: "10", defaultValue: .int(10), doc: ""),
            ConfigField(name: "ratio", type: .float, required: false, defaultText: "0.5", defaultValue: .float(0.5), doc: ""),
            ConfigField(name: "verbose", type: .bool, required: false, defaultText: "false", defaultValue: .bool(false), doc: ""),
            ConfigField(name: "tags", type: .stringList, required: false, defaultText: nil, defaultValue: nil, doc: ""),
        ]
        func validate(_ settings: [String: SettingValue]) throws(ConfigError) -> ValidatedConfig {
            try ConfigValidator.validate(settings: settings, fields: fields, instance: "val-1", plugin: "demo")
        }

        let unknown = try #require(throws: ConfigError.self) { _ = try validate(["topic": .string("t"), "speed": .int(3)]) }
        #expect(unknown.instance == "val-1" && unknown.field == "speed")
        #expect(unknown.description.contains("instance 'val-1': setting 'speed' is unknown to plugin 'demo'"), "\(unknown)")

        let missing = try #require(throws: ConfigError.self) { _ = try validate(["interval_ms": .int(3)]) }
        #expect(missing.instance == "val-1" && missing.field == "topic")
        #expect(missing.problem == "is required (a string: topic to publish to)")

        let mistyped = try #require(throws: ConfigError.self) { _ = try validate(["topic": .string("t"), "interval_ms": .string("ten")]) }
        #expect(mistyped.instance == "val-1" && mistyped.field == "interval_ms")
        #expect(mistyped.problem == "must be an integer, got string 'ten'")

        let notBool = try #require(throws: ConfigError.self) { _ = try validate(["topic": .string("t"), "verbose": .int(1)]) }
        #expect(notBool.field == "verbose" && notBool.problem.contains("must be a boolean"))

        let notFinite = try #require(throws: ConfigError.self) { _ = try validate(["topic": .string("t"), "ratio": .float(.infinity)]) }
        #expect(notFinite.field == "ratio" && notFinite.problem.contains("finite"))

        let badList = try #require(throws: ConfigError.self) { _ = try validate(["topic": .string("t"), "tags": .list([.int(1)])]) }
        #expect(badList.field == "tags" && badList.problem.contains("list of strings"))

        // Valid settings: defaults filled in, an integer accepted as a number, one string as a list.
        let config = try validate(["topic": .string("t"), "ratio": .int(2), "tags": .string("solo")])
        #expect(config.instanceName == "val-1")
        #expect(config["topic"] == .string("t"))
        #expect(config["interval_ms"] == .int(10))
        #expect(config["ratio"] == .float(2))
        #expect(config["verbose"] == .bool(false))
        #expect(config["tags"] == .list([.string("solo")]))
        #expect(config.values.map(\.field.name) == fields.map(\.name))
    }

    // MARK: Several instances of one plugin

    @Test("two instances of one plugin publish to their own topics with their own settings and metric labels")
    func twoInstancesOfOnePlugin() throws {
        let fixtures = try FixtureBuilder()
        defer { fixtures.remove() }
        try fixtures.compileGoodSource()
        let host = try fixtures.startHost()
        defer { host.shutdown() }

        try host.addInstance(goodSourceSpec("multi-a", topic: "multi.a"))
        try host.addInstance(goodSourceSpec("multi-b", topic: "multi.b", intervalMs: 15))
        let a = try #require(host.instance(named: "multi-a"))
        let b = try #require(host.instance(named: "multi-b"))

        let bothPublished = waitUntil(timeout: 10) {
            host.records(topic: "multi.a").count >= 3 && host.records(topic: "multi.b").count >= 3
        }
        try #require(bothPublished)
        #expect(Set(host.services.queue.topics().map(\.name)) == ["multi.a", "multi.b"])
        // Each instance has its own run: both sequences start at 0.
        #expect(host.payloads(topic: "multi.a").prefix(3) == ["1.0.0:0", "1.0.0:1", "1.0.0:2"])
        #expect(host.payloads(topic: "multi.b").prefix(3) == ["1.0.0:0", "1.0.0:1", "1.0.0:2"])
        // Each got its own config.
        #expect(a.hasLog("config: topic=multi.a interval_ms=10 ratio=0.5 verbose=0 tags=[a,b]"), "\(a.logs)")
        #expect(!a.hasLog("topic=multi.b"))
        #expect(b.hasLog("config: topic=multi.b interval_ms=15"), "\(b.logs)")
        #expect(!b.hasLog("topic=multi.a"))

        // Separate metric series, labelled by instance.
        let labelsA = #"{instance="multi-a",plugin="fixture-source"}"#
        let labelsB = #"{instance="multi-b",plugin="fixture-source"}"#
        let rendered = host.services.metrics.renderPrometheus()
        #expect(rendered.contains("starbloom_instance_records_out_total\(labelsA)"))
        #expect(rendered.contains("starbloom_instance_records_out_total\(labelsB)"))
        #expect((metricValueIn(rendered, "starbloom_instance_records_out_total\(labelsA)") ?? 0) >= 3)
        #expect((metricValueIn(rendered, "starbloom_instance_records_out_total\(labelsB)") ?? 0) >= 3)
        #expect(rendered.contains(#"starbloom_instance_state{instance="multi-a",plugin="fixture-source",state="running"} 1"#))
        #expect(rendered.contains(#"starbloom_instance_state{instance="multi-b",plugin="fixture-source",state="running"} 1"#))
        #expect(a.status.recordsOut >= 3 && b.status.recordsOut >= 3)
    }

    @Test("two instances of one plugin keep separate key-value namespaces, checkpoints and plugin metrics")
    func separateNamespaces() throws {
        let fixtures = try FixtureBuilder()
        defer { fixtures.remove() }
        try fixtures.compileFixture("api_exerciser")
        let host = try fixtures.startHost()
        defer { host.shutdown() }

        // api_exerciser checks that its first checkpoint_load finds nothing: with a shared namespace
        // the second instance would report "RESULT fail: checkpoint_load_empty".
        for name in ["ns-a", "ns-b"] {
            try host.addInstance(InstanceSpec(
                name: name, plugin: "api-exerciser", restart: RestartPolicy(mode: .never),
                settings: ["topic": .string("ns.\(name)")]))
        }
        let done = waitUntil(timeout: 10) {
            host.payloads(topic: "ns.ns-a").count >= 5 && host.payloads(topic: "ns.ns-b").count >= 5
        }
        try #require(done)
        #expect(host.payloads(topic: "ns.ns-a").last == "RESULT ok")
        #expect(host.payloads(topic: "ns.ns-b").last == "RESULT ok")

        let kv = host.services.keyValue
        let valueA = try #require(kv.get(namespace: "instance/ns-a", key: utf8("k1")))
        let valueB = try #require(kv.get(namespace: "instance/ns-b", key: utf8("k1")))
        #expect(valueA.value == utf8("v2") && valueB.value == utf8("v2"))
        #expect(valueA.version != valueB.version)
        #expect(kv.keys(namespace: "instance/ns-a") == [utf8("k1")])
        #expect(kv.keys(namespace: "instance/ns-b") == [utf8("k1")])
        #expect(host.services.checkpoints.load(owner: "instance/ns-a") == utf8("cp-1"))
        #expect(host.services.checkpoints.load(owner: "instance/ns-b") == utf8("cp-1"))

        // Each instance's counter got 3, not one shared counter with 6.
        #expect(host.metricValue(#"starbloom_plugin_api_exerciser_exercised_total{instance="ns-a",plugin="api-exerciser"}"#) == 3)
        #expect(host.metricValue(#"starbloom_plugin_api_exerciser_exercised_total{instance="ns-b",plugin="api-exerciser"}"#) == 3)
        let points = host.services.timeSeries.points(metric: "exercise.points")
        #expect(points.compactMap { $0.tags["instance"] }.sorted() == ["ns-a", "ns-b"])
    }

    // MARK: Runtime control

    @Test("disable stops an instance and its records; enable starts it again")
    func enableDisable() throws {
        let fixtures = try FixtureBuilder()
        defer { fixtures.remove() }
        try fixtures.compileGoodSource()
        let host = try fixtures.startHost()
        defer { host.shutdown() }

        try host.addInstance(goodSourceSpec("toggle", topic: "toggle.t"))
        let instance = try #require(host.instance(named: "toggle"))
        #expect(instance.status.state == .running)
        let started = waitUntil(timeout: 10) { host.records(topic: "toggle.t").count >= 2 }
        try #require(started)

        instance.disable()
        #expect(instance.status.state == .stopped)
        #expect(!instance.status.enabled)
        #expect(!instance.currentSpec.enabled)
        let countWhenDisabled = host.records(topic: "toggle.t").count
        // The source publishes every 10 ms when running; nothing may arrive while it is disabled.
        let grewWhileDisabled = waitUntil(timeout: 0.3) { host.records(topic: "toggle.t").count > countWhenDisabled }
        #expect(!grewWhileDisabled)
        #expect(instance.status.state == .stopped)

        instance.enable()
        #expect(instance.status.state == .running)
        #expect(instance.status.enabled)
        let resumed = waitUntil(timeout: 10) { host.records(topic: "toggle.t").count > countWhenDisabled + 1 }
        try #require(resumed)
        // A new incarnation: its sequence starts again at 0.
        #expect(host.payloads(topic: "toggle.t")[countWhenDisabled] == "1.0.0:0")
    }

    @Test("an instance added disabled is available, runs nothing, and starts on enable")
    func addedDisabled() throws {
        let fixtures = try FixtureBuilder()
        defer { fixtures.remove() }
        try fixtures.compileGoodSource()
        let host = try fixtures.startHost()
        defer { host.shutdown() }

        try host.addInstance(goodSourceSpec("later", topic: "later.t", enabled: false))
        let instance = try #require(host.instance(named: "later"))
        #expect(instance.status.state == .available)
        #expect(!instance.status.enabled)
        #expect(host.records(topic: "later.t").isEmpty)

        instance.enable()
        let published = waitUntil(timeout: 10) { !host.records(topic: "later.t").isEmpty }
        #expect(published)
        #expect(instance.status.state == .running)
    }

    @Test("reconfigure at runtime moves the instance to its new topic; an invalid one throws and changes nothing")
    func reconfigure() throws {
        let fixtures = try FixtureBuilder()
        defer { fixtures.remove() }
        try fixtures.compileGoodSource()
        let host = try fixtures.startHost()
        defer { host.shutdown() }

        try host.addInstance(goodSourceSpec("reconf", topic: "reconf.one"))
        let instance = try #require(host.instance(named: "reconf"))
        let first = waitUntil(timeout: 10) { host.records(topic: "reconf.one").count >= 2 }
        try #require(first)

        var moved = instance.currentSpec
        moved.settings["topic"] = .string("reconf.two")
        try instance.reconfigure(moved)
        #expect(instance.status.state == .running)
        #expect(instance.currentSpec.settings["topic"] == .string("reconf.two"))
        let countOnOldTopic = host.records(topic: "reconf.one").count
        let second = waitUntil(timeout: 10) { host.records(topic: "reconf.two").count >= 2 }
        try #require(second)
        #expect(host.records(topic: "reconf.one").count == countOnOldTopic, "the old topic must get nothing more")
        #expect(instance.hasLog("config: topic=reconf.two"))

        // Invalid settings: refused, the running config stays.
        var invalid = instance.currentSpec
        invalid.settings["interval_ms"] = .string("fast")
        let error = try #require(throws: ConfigError.self) { try instance.reconfigure(invalid) }
        #expect(error.instance == "reconf")
        #expect(error.field == "interval_ms")
        var unknownKey = instance.currentSpec
        unknownKey.settings["nonsense"] = .bool(true)
        let unknownError = try #require(throws: ConfigError.self) { try instance.reconfigure(unknownKey) }
        #expect(unknownError.field == "nonsense")
        var badOutput = instance.currentSpec
        badOutput.output = "not a topic"
        let outputError = try #require(throws: ConfigError.self) { try instance.reconfigure(badOutput) }
        #expect(outputError.problem.contains("output"), "\(outputError)")

        #expect(instance.currentSpec == moved)
        #expect(instance.status.state == .running)
        let countOnNewTopic = host.records(topic: "reconf.two").count
        let stillPublishing = waitUntil(timeout: 10) { host.records(topic: "reconf.two").count > countOnNewTopic }
        #expect(stillPublishing)
    }

    // MARK: Rescan and replacement

    @Test("rescan discovers a newly dropped library, which then runs")
    func rescanFindsNewPlugin() throws {
        let fixtures = try FixtureBuilder()
        defer { fixtures.remove() }
        try fixtures.compileGoodSource()
        let host = try fixtures.startHost()
        defer { host.shutdown() }
        #expect(host.catalog.plugin(named: "fixture-processor") == nil)

        try fixtures.compileFixture("good_processor")
        #expect(host.catalog.plugin(named: "fixture-processor") == nil, "nothing is loaded before a rescan")
        let scan = host.rescan()
        #expect(scan.loaded == ["fixture-processor"])
        #expect(scan.replaced.isEmpty && scan.refused.isEmpty)
        let plugin = try #require(host.catalog.plugin(named: "fixture-processor"))
        #expect(plugin.kind == .processor)
        #expect(host.catalog.plugins.map(\.name) == ["fixture-processor", "fixture-source"])

        // Unchanged files are not loaded again.
        let again = host.rescan()
        #expect(again.loaded.isEmpty && again.replaced.isEmpty && again.refused.isEmpty)

        // The new plugin works: a processor fed by a source.
        try host.addInstance(goodSourceSpec("rescan-src", topic: "rescan.in"))
        try host.addInstance(InstanceSpec(
            name: "rescan-proc", plugin: "fixture-processor",
            settings: ["output": .string("rescan.out")], inputs: ["rescan.in"]))
        let processed = waitUntil(timeout: 10) { host.records(topic: "rescan.out").count >= 2 }
        try #require(processed)
        #expect(host.payloads(topic: "rescan.out").prefix(2) == ["P:1.0.0:0", "P:1.0.0:1"])
    }

    @Test("a replaced library is used from the instance's next restart on")
    func replacedLibraryOnRestart() throws {
        let fixtures = try FixtureBuilder()
        defer { fixtures.remove() }
        let path = try fixtures.compileGoodSource(pluginName: "fixture-replace", version: "1.0.0", library: "replaceable")
        let host = try fixtures.startHost()
        defer { host.shutdown() }

        try host.addInstance(goodSourceSpec("replace-me", topic: "replace.t", plugin: "fixture-replace"))
        let instance = try #require(host.instance(named: "replace-me"))
        let first = waitUntil(timeout: 10) { host.records(topic: "replace.t").count >= 2 }
        try #require(first)
        #expect(instance.status.pluginVersion == "1.0.0")
        let old = try #require(host.catalog.plugin(named: "fixture-replace"))

        // Same file path, new content.
        let replacedPath = try fixtures.compileGoodSource(pluginName: "fixture-replace", version: "2.0.0", library: "replaceable")
        #expect(replacedPath == path)
        let scan = host.rescan()
        #expect(scan.replaced == ["fixture-replace"])
        #expect(scan.loaded.isEmpty && scan.refused.isEmpty)
        let new = try #require(host.catalog.plugin(named: "fixture-replace"))
        #expect(new.version == "2.0.0")
        #expect(new.path == old.path)
        #expect(new.loadedFrom != old.loadedFrom)
        #expect(new.contentHash != old.contentHash)

        // The running instance keeps its image until it restarts.
        #expect(instance.status.pluginVersion == "1.0.0")
        let countBeforeRestart = host.records(topic: "replace.t").count
        let stillOld = waitUntil(timeout: 10) { host.records(topic: "replace.t").count > countBeforeRestart }
        try #require(stillOld)
        #expect(host.payloads(topic: "replace.t").allSatisfy { $0.hasPrefix("1.0.0:") })

        instance.restart()
        #expect(instance.status.state == .running)
        #expect(instance.status.pluginVersion == "2.0.0")
        let switched = waitUntil(timeout: 10) { host.payloads(topic: "replace.t").contains { $0.hasPrefix("2.0.0:") } }
        try #require(switched)

        // All 1.0.0 records, then only 2.0.0 records starting at sequence 0.
        let payloads = host.payloads(topic: "replace.t")
        let firstNew = try #require(payloads.firstIndex { $0.hasPrefix("2.0.0:") })
        #expect(payloads[..<firstNew].allSatisfy { $0.hasPrefix("1.0.0:") })
        #expect(payloads[firstNew...].allSatisfy { $0.hasPrefix("2.0.0:") })
        #expect(payloads[firstNew] == "2.0.0:0")
        #expect(instance.hasLog("fixture-replace 2.0.0 config: topic=replace.t"))
        #expect(instance.status.restarts == 0, "an operator restart is not a policy restart")
    }

    // MARK: Plugins built outside SwiftPM

    @Test("a C plugin built outside SwiftPM with one cc line (SDK/examples/minimal_source.c) loads and runs")
    func minimalExampleBuiltWithOneCCLine() throws {
        let fixtures = try FixtureBuilder()
        defer { fixtures.remove() }
        let path = try fixtures.compile(source: TestPaths.minimalSourceExample, library: "minimal_source")

        // Exactly one compiler invocation, with nothing but the SDK header directory.
        #expect(fixtures.commands.count == 1)
        let command = try #require(fixtures.commands.first)
        #expect(Array(command.prefix(8)) == ["cc", "-std=c99", "-shared", "-fPIC", "-O2", "-fvisibility=hidden", "-I", TestPaths.sdkInclude])
        #expect(command.dropFirst(8).first == TestPaths.minimalSourceExample)

        let host = try fixtures.startHost()
        defer { host.shutdown() }
        let plugin = try #require(host.catalog.plugin(named: "example-source"), "refused: \(host.catalog.refused)")
        #expect(plugin.path == path)
        #expect(plugin.kind == .source)
        #expect(plugin.fields.map(\.name) == ["topic", "interval_ms"])

        try host.addInstance(InstanceSpec(
            name: "example", plugin: "example-source",
            settings: ["topic": .string("example.counter"), "interval_ms": .int(10)]))
        let instance = try #require(host.instance(named: "example"))
        let published = waitUntil(timeout: 10) { host.records(topic: "example.counter").count >= 3 }
        try #require(published)
        #expect(host.payloads(topic: "example.counter").prefix(3) == ["count=1", "count=2", "count=3"])
        #expect(instance.hasLog("example-source: running"))

        instance.disable()
        #expect(instance.status.state == .stopped)
        #expect(instance.hasLog("example-source: stopped"))
    }

    // MARK: Swift and C plugins side by side

    @Test("a Swift plugin (swift-stamp) and a C plugin (api_exerciser) run side by side and reach every host API function")
    func swiftAndCSideBySide() throws {
        try #require(
            FileManager.default.fileExists(atPath: TestPaths.bundledPlugin("swift_stamp")),
            "bundled plugin \(TestPaths.bundledPlugin("swift_stamp")) not found: build the package (swift build) or set STARBLOOM_BUILD_DIR")
        let fixtures = try FixtureBuilder()
        defer { fixtures.remove() }
        try fixtures.compileFixture("api_exerciser")
        let host = try fixtures.startHost(bundled: true)
        defer { host.shutdown() }

        let stampPlugin = try #require(host.catalog.plugin(named: "swift-stamp"), "refused: \(host.catalog.refused)")
        #expect(stampPlugin.kind == .processor)
        #expect(stampPlugin.fields.map(\.name).contains("self_test"))
        #expect(host.catalog.plugin(named: "api-exerciser") != nil)

        try host.addInstance(InstanceSpec(
            name: "stamp", plugin: "swift-stamp", restart: RestartPolicy(mode: .never),
            settings: ["self_test": .bool(true)], inputs: ["side-c.*"], output: "side-stamped"))
        try host.addInstance(InstanceSpec(
            name: "exerciser", plugin: "api-exerciser", restart: RestartPolicy(mode: .never),
            settings: ["topic": .string("side-c.out")]))
        let stamp = try #require(host.instance(named: "stamp"))
        let exerciser = try #require(host.instance(named: "exerciser"))

        // C: every check passed, and the records arrived in order.
        let verdict = waitUntil(timeout: 10) { host.payloads(topic: "side-c.out").contains { $0.hasPrefix("RESULT") } }
        try #require(verdict, "exerciser: \(exerciser.status) \(exerciser.logs)")
        let expectedPayloads = ["single", "batch-0", "batch-1", "batch-2", "RESULT ok"]
        #expect(host.payloads(topic: "side-c.out") == expectedPayloads, "logs: \(exerciser.logs)")
        #expect(exerciser.hasLog("api-exerciser: hello"))
        #expect(exerciser.hasLog("api-exerciser: RESULT ok"))
        for record in host.records(topic: "side-c.out") {
            #expect(record.keyText == "exercise")
            #expect(record.header("fixture") == "api-exerciser")
        }

        // Swift: the self-test passed.
        let selfTest = waitUntil(timeout: 10) { stamp.hasLog("self-test: ok") }
        #expect(selfTest, "stamp: \(stamp.status) \(stamp.logs)")
        #expect(stamp.status.state == .running, "lastError: \(stamp.status.lastError ?? "none")")
        #expect(host.payloads(topic: "swift-stamp.self-test") == ["published"])

        // Swift stamps what C published.
        let stamped = waitUntil(timeout: 10) { host.records(topic: "side-stamped").count >= 5 }
        try #require(stamped, "stamp: \(stamp.status) \(stamp.logs)")
        let stampedRecords = host.records(topic: "side-stamped")
        #expect(stampedRecords.count == 5)
        #expect(stampedRecords.map(\.payloadText) == expectedPayloads)
        for (index, record) in stampedRecords.enumerated() {
            #expect(record.header("stamped-by") == "stamp")
            #expect(record.header("stamp-seq") == String(index + 1))
            #expect(record.header("fixture") == "api-exerciser", "input headers are kept")
            #expect(record.keyText == "exercise")
        }

        // Time series.
        let cPoint = try #require(host.services.timeSeries.points(metric: "exercise.points").first)
        #expect(cPoint.tags == ["chain": "test", "instance": "exerciser"])
        #expect(cPoint.value == 42)
        let swiftPoint = try #require(host.services.timeSeries.points(metric: "swift_stamp.self_test").first)
        #expect(swiftPoint.tags == ["step": "timeseries", "instance": "stamp"])
        let batchPoints = waitUntil(timeout: 10) { !host.services.timeSeries.points(metric: "swift_stamp.batch_size").isEmpty }
        #expect(batchPoints)

        // Key-value and checkpoints, each in its own namespace.
        let kv = host.services.keyValue
        #expect(kv.get(namespace: "instance/exerciser", key: utf8("k1"))?.value == utf8("v2"))
        #expect(kv.get(namespace: "instance/exerciser", key: utf8("k2")) == nil)
        let sequenceSaved = waitUntil(timeout: 10) {
            kv.get(namespace: "instance/stamp", key: utf8("sequence"))?.value == utf8("5")
        }
        #expect(sequenceSaved)
        #expect(kv.get(namespace: "instance/stamp", key: utf8("self-test")) == nil, "the self-test deletes its key")
        #expect(host.services.checkpoints.load(owner: "instance/exerciser") == utf8("cp-1"))
        #expect(host.services.checkpoints.load(owner: "instance/stamp") == utf8("swift-checkpoint"))

        // Metrics.
        let exerciserLabels = #"{instance="exerciser",plugin="api-exerciser"}"#
        let stampLabels = #"{instance="stamp",plugin="swift-stamp"}"#
        #expect(host.metricValue("starbloom_plugin_api_exerciser_exercised_total\(exerciserLabels)") == 3)
        #expect(host.metricValue("starbloom_plugin_api_exerciser_exercised_gauge\(exerciserLabels)") == 2.5)
        #expect(host.metricValue("starbloom_plugin_api_exerciser_exercised_hist_count\(exerciserLabels)") == 1)
        #expect(host.metricValue("starbloom_plugin_swift_stamp_self_test_total\(stampLabels)") == 1)
        let stampedMetric = waitUntil(timeout: 10) {
            host.metricValue("starbloom_plugin_swift_stamp_stamped_total\(stampLabels)") == 5
        }
        #expect(stampedMetric)
        let recordsIn = waitUntil(timeout: 10) { stamp.status.recordsIn == 5 }
        #expect(recordsIn)
        #expect(host.metricValue("starbloom_plugin_swift_stamp_batch_size_count\(stampLabels)") != nil)
        #expect(exerciser.status.state == .running)
    }
}
