import Foundation
import Testing
@testable import StarbloomCore

/// Operator commands, called through libffi with arguments converted by the declared parameter types.
@Suite("Plugin commands")
struct CommandTests {
    /// A started host with good_source and one running instance of it.
    private func goodSourceInstance(_ name: String, _ fixtures: FixtureBuilder) throws -> (StarbloomHost, PluginInstance) {
        try fixtures.compileGoodSource()
        let host = try fixtures.startHost()
        do {
            try host.addInstance(goodSourceSpec(name, topic: "\(name).t"))
            let instance = try #require(host.instance(named: name))
            #expect(instance.status.state == .running)
            return (host, instance)
        } catch {
            host.shutdown()
            throw error
        }
    }

    @Test("echo receives STRING, INT, FLOAT and BOOL arguments exactly")
    func echoTypedArguments() throws {
        let fixtures = try FixtureBuilder()
        defer { fixtures.remove() }
        let (host, instance) = try goodSourceInstance("cmd-echo", fixtures)
        defer { host.shutdown() }

        #expect(try instance.call(command: "echo", arguments: ["hello", "42", "2.5", "true"]) == "text=hello n=42 f=2.5 b=1")
        #expect(try instance.call(command: "echo", arguments: ["two words", "-7", "1e3", "0"]) == "text=two words n=-7 f=1000 b=0")
        #expect(try instance.call(command: "echo", arguments: ["", "9223372036854775807", "-0.125", "off"])
            == "text= n=9223372036854775807 f=-0.125 b=0")
        #expect(try instance.call(command: "echo", arguments: ["ünïcödé", "1_000", "3", "YES"]) == "text=ünïcödé n=1000 f=3 b=1")
    }

    @Test("a wrong argument count is refused with the command's usage")
    func wrongArgumentCount() throws {
        let fixtures = try FixtureBuilder()
        defer { fixtures.remove() }
        let (host, instance) = try goodSourceInstance("cmd-count", fixtures)
        defer { host.shutdown() }

        let tooFew = try #require(throws: CommandError.self) { _ = try instance.call(command: "echo", arguments: ["hello"]) }
        #expect(tooFew.message == "command 'echo' takes 4 argument(s), got 1; usage: echo TEXT:string N:int F:float B:bool")
        #expect(tooFew.description == tooFew.message)
        let tooMany = try #require(throws: CommandError.self) {
            _ = try instance.call(command: "degrade", arguments: ["true", "extra"])
        }
        #expect(tooMany.message.contains("takes 1 argument(s), got 2"), "\(tooMany)")
        #expect(tooMany.message.contains("usage: degrade ON:bool"), "\(tooMany)")
    }

    @Test("arguments that do not convert to the declared types are refused before the plugin is called")
    func typeErrorsRefusedBeforeCall() throws {
        let fixtures = try FixtureBuilder()
        defer { fixtures.remove() }
        let (host, instance) = try goodSourceInstance("cmd-types", fixtures)
        defer { host.shutdown() }

        let cases: [(arguments: [String], fragment: String)] = [
            (["hello", "forty-two", "2.5", "true"], "argument 'n' must be an integer, got 'forty-two'"),
            (["hello", "4.5", "2.5", "true"], "argument 'n' must be an integer, got '4.5'"),
            (["hello", "99999999999999999999", "2.5", "true"], "argument 'n' must be an integer"),
            (["hello", "42", "two and a half", "true"], "argument 'f' must be a number, got 'two and a half'"),
            (["hello", "42", "inf", "true"], "argument 'f' must be a number, got 'inf'"),
            (["hello", "42", "nan", "true"], "argument 'f' must be a number, got 'nan'"),
            (["hello", "42", "2.5", "maybe"], "argument 'b' must be a boolean, got 'maybe'"),
            (["hello", "42", "2.5", "2"], "argument 'b' must be a boolean, got '2'"),
        ]
        for (arguments, fragment) in cases {
            let error = try #require(throws: CommandError.self) { _ = try instance.call(command: "echo", arguments: arguments) }
            #expect(error.message.hasPrefix("command 'echo': "), "\(error)")
            #expect(error.message.contains(fragment), "\(arguments): \(error)")
            // A failure reported by the plugin would read "command 'echo' failed (STATUS): ...".
            #expect(!error.message.contains("failed ("), "\(error)")
        }

        // Observable proof for the BOOL case: `degrade` with a bad value must not run, so health stays OK.
        let bad = try #require(throws: CommandError.self) { _ = try instance.call(command: "degrade", arguments: ["perhaps"]) }
        #expect(bad.message == "command 'degrade': argument 'on' must be a boolean, got 'perhaps'")
        let degraded = waitUntil(timeout: 0.3) { instance.status.state == .degraded }
        #expect(!degraded, "degrade ran although its argument was refused")
        #expect(instance.status.state == .running)
        // The instance is unharmed and still answers.
        #expect(try instance.call(command: "echo", arguments: ["ok", "1", "1", "1"]) == "text=ok n=1 f=1 b=1")
    }

    @Test("an unknown command is refused, listing the commands the plugin has")
    func unknownCommand() throws {
        let fixtures = try FixtureBuilder()
        defer { fixtures.remove() }
        let (host, instance) = try goodSourceInstance("cmd-unknown", fixtures)
        defer { host.shutdown() }

        let error = try #require(throws: CommandError.self) { _ = try instance.call(command: "explode", arguments: []) }
        #expect(error.message == "plugin 'fixture-source' has no command 'explode' (commands: degrade, echo)")
    }

    @Test("a command on an instance that is not running is refused with its state")
    func commandOnStoppedInstance() throws {
        let fixtures = try FixtureBuilder()
        defer { fixtures.remove() }
        let (host, instance) = try goodSourceInstance("cmd-stopped", fixtures)
        defer { host.shutdown() }

        instance.disable()
        let stopped = try #require(throws: CommandError.self) {
            _ = try instance.call(command: "echo", arguments: ["hello", "42", "2.5", "true"])
        }
        #expect(stopped.message == "instance 'cmd-stopped' is not running (state stopped)")

        try host.addInstance(goodSourceSpec("cmd-never-started", topic: "cmd.never", enabled: false))
        let idle = try #require(host.instance(named: "cmd-never-started"))
        let available = try #require(throws: CommandError.self) { _ = try idle.call(command: "degrade", arguments: ["true"]) }
        #expect(available.message == "instance 'cmd-never-started' is not running (state available)")

        // Enabled again, commands work.
        instance.enable()
        #expect(try instance.call(command: "echo", arguments: ["back", "1", "0.5", "false"]) == "text=back n=1 f=0.5 b=0")
    }

    @Test("synthetic-source's status and set-rate commands work, and its own failures are reported")
    func syntheticSourceCommands() throws {
        let fixtures = try FixtureBuilder()
        defer { fixtures.remove() }
        // The bundled plugin's C source, built like any third-party plugin (so this test does not
        // depend on the SwiftPM build products).
        try fixtures.compile(source: TestPaths.syntheticSource, library: "synthetic_source")
        let host = try fixtures.startHost()
        defer { host.shutdown() }
        let plugin = try #require(host.catalog.plugin(named: "synthetic-source"), "refused: \(host.catalog.refused)")
        #expect(plugin.commands.map(\.name) == ["set-rate", "status"])

        try host.addInstance(InstanceSpec(
            name: "synth-cmd", plugin: "synthetic-source",
            settings: ["topic": .string("synth.events"), "rate": .int(200), "payload_size": .int(64), "batch_size": .int(16)]))
        let instance = try #require(host.instance(named: "synth-cmd"))
        let published = waitUntil(timeout: 10) { host.records(topic: "synth.events").count >= 4 }
        try #require(published, "status: \(instance.status)")

        let status = try instance.call(command: "status", arguments: [])
        #expect(status.hasPrefix("seq="), "\(status)")
        #expect(status.hasSuffix(" rate=200"), "\(status)")

        #expect(try instance.call(command: "set-rate", arguments: ["50"]) == "rate changed from 200 to 50 records/s")
        #expect(try instance.call(command: "status", arguments: []).hasSuffix(" rate=50"))

        // Refused by the host (not an integer): set-rate is not called, the rate stays.
        let notInt = try #require(throws: CommandError.self) { _ = try instance.call(command: "set-rate", arguments: ["fast"]) }
        #expect(notInt.message == "command 'set-rate': argument 'rate' must be an integer, got 'fast'")
        #expect(try instance.call(command: "status", arguments: []).hasSuffix(" rate=50"))

        // Refused by the plugin: its reply and status are shown.
        let negative = try #require(throws: CommandError.self) { _ = try instance.call(command: "set-rate", arguments: ["-1"]) }
        #expect(negative.message == "command 'set-rate' failed (INVALID_ARGUMENT): rate must be >= 0 (0 = unlimited), got -1")
        #expect(try instance.call(command: "status", arguments: []).hasSuffix(" rate=50"))

        // Payloads are the documented JSON, exactly payload_size bytes.
        let first = try #require(host.records(topic: "synth.events").first)
        #expect(first.payload.count == 64)
        #expect(first.payloadText.hasPrefix(#"{"seq":0,"key":"key-0","pad":"x"#), "\(first.payloadText)")
        #expect(first.header("source") == "synthetic")
        #expect(first.keyText == "key-0")
    }
}
