import Foundation
import Testing
@testable import StarbloomCore

/// One starbloom.toml that is wrong in one way, and what its error message must name.
struct ConfigFileErrorCase: Sendable, CustomTestStringConvertible {
    let name: String
    let toml: String
    let fragments: [String]
    var testDescription: String { name }
}

/// A minimal valid instance, to which each error case adds one mistake.
private let instanceHeader = """
    [[instances]]
    name = "src"
    plugin = "synthetic-source"

    """

@Suite("Host configuration file")
struct HostConfigurationTests {
    static let fullConfig = """
        # Every section and key starbloom.toml accepts.
        data_dir = "/var/lib/starbloom"
        plugins_dir = "/opt/starbloom/plugins"

        [admin]
        host = "0.0.0.0"
        port = 9090

        [host]
        health_check_interval_ms = 250
        bundled_plugin_dirs = ["/opt/starbloom/bundled", "/usr/lib/starbloom"]

        [[instances]]
        name = "source-a"
        plugin = "synthetic-source"
        enabled = false
        restart = "always"
        stop_timeout_ms = 1500
        output = "demo.events"

        [instances.settings]
        topic = "demo.events"
        rate = 1_000
        ratio = 0.25
        verbose = true
        tags = ["a", "b"]
        empty_list = []
        started = 1979-05-27T07:32:00Z

        [[instances]]
        name = "stamp"
        plugin = "swift-stamp"
        inputs = ["demo.*", "other.>"]
        output = "demo.stamped"
        restart = { policy = "never", backoff_min_ms = 50, backoff_max_ms = 5000, max_restarts = 7, window_seconds = 30 }

        [[instances]]
        name = "table-restart"
        plugin = "synthetic-source"

        [instances.restart]
        policy = "on-failure"
        window_seconds = 12.5

        """

    @Test("a full starbloom.toml is read into HostConfiguration and InstanceSpecs")
    func parsesFullConfiguration() throws {
        let configuration = try HostConfiguration.parse(Self.fullConfig, file: "full.toml")
        #expect(configuration.dataDirectory == "/var/lib/starbloom")
        #expect(configuration.pluginsDirectory == "/opt/starbloom/plugins")
        #expect(configuration.adminHost == "0.0.0.0")
        #expect(configuration.adminPort == 9090)
        #expect(configuration.healthCheckInterval == 0.25)
        #expect(configuration.bundledPluginDirectories == ["/opt/starbloom/bundled", "/usr/lib/starbloom"])
        #expect(configuration.instances.map(\.name) == ["source-a", "stamp", "table-restart"])

        let source = configuration.instances[0]
        #expect(source.plugin == "synthetic-source")
        #expect(!source.enabled)
        #expect(source.restart == RestartPolicy(mode: .always))
        #expect(source.stopTimeoutMs == 1500)
        #expect(source.output == "demo.events")
        #expect(source.inputs.isEmpty)
        let expectedSettings: [String: SettingValue] = [
            "topic": .string("demo.events"),
            "rate": .int(1000),
            "ratio": .float(0.25),
            "verbose": .bool(true),
            "tags": .list([.string("a"), .string("b")]),
            "empty_list": .list([]),
            "started": .string("1979-05-27T07:32:00Z"),
        ]
        #expect(source.settings == expectedSettings)

        let stamp = configuration.instances[1]
        #expect(stamp.plugin == "swift-stamp")
        #expect(stamp.enabled)
        #expect(stamp.inputs == ["demo.*", "other.>"])
        #expect(stamp.output == "demo.stamped")
        #expect(stamp.stopTimeoutMs == 5000)
        #expect(stamp.settings.isEmpty)
        let expectedStampPolicy = RestartPolicy(mode: .never, backoffMinMs: 50, backoffMaxMs: 5000, maxRestarts: 7, windowSeconds: 30)
        #expect(stamp.restart == expectedStampPolicy)

        let tableRestart = configuration.instances[2]
        let expectedTablePolicy = RestartPolicy(mode: .onFailure, windowSeconds: 12.5)
        #expect(tableRestart.restart == expectedTablePolicy)
        #expect(tableRestart.output == nil)
    }

    @Test("an empty file gives the defaults")
    func emptyFileGivesDefaults() throws {
        let configuration = try HostConfiguration.parse("# nothing\n")
        let defaults = HostConfiguration()
        #expect(configuration.dataDirectory == defaults.dataDirectory)
        #expect(configuration.pluginsDirectory == defaults.pluginsDirectory)
        #expect(configuration.adminHost == "127.0.0.1")
        #expect(configuration.adminPort == 8080)
        #expect(configuration.healthCheckInterval == 1.0)
        #expect(configuration.bundledPluginDirectories.isEmpty)
        #expect(configuration.instances.isEmpty)

        let minimal = try HostConfiguration.parse(instanceHeader)
        let spec = try #require(minimal.instances.first)
        #expect(spec == InstanceSpec(name: "src", plugin: "synthetic-source"))
    }

    @Test("load(file:) reads a file and names it in errors")
    func loadFromFile() throws {
        let fixtures = try FixtureBuilder()
        defer { fixtures.remove() }
        let path = "\(fixtures.root)/starbloom.toml"
        try Self.fullConfig.write(toFile: path, atomically: true, encoding: .utf8)
        let configuration = try HostConfiguration.load(file: path)
        #expect(configuration.instances.count == 3)

        let missing = try #require(throws: ConfigFileError.self) {
            _ = try HostConfiguration.load(file: "\(fixtures.root)/absent.toml")
        }
        #expect(missing.file == "\(fixtures.root)/absent.toml")
        #expect(missing.description == "\(fixtures.root)/absent.toml: cannot read the file")

        let badPath = "\(fixtures.root)/bad.toml"
        try "colour = 1\n".write(toFile: badPath, atomically: true, encoding: .utf8)
        let bad = try #require(throws: ConfigFileError.self) { _ = try HostConfiguration.load(file: badPath) }
        #expect(bad.description.hasPrefix("\(badPath): "))
        #expect(bad.message.contains("colour"))
    }

    static let errorCases: [ConfigFileErrorCase] = [
        .init(name: "unknown top-level key", toml: "colour = \"red\"\n", fragments: ["unknown key 'colour'"]),
        .init(name: "unknown key in [admin]", toml: "[admin]\nfoo = 1\n", fragments: ["admin: ", "'foo'"]),
        .init(name: "unknown key in [host]", toml: "[host]\nthreads = 4\n", fragments: ["host: ", "'threads'"]),
        .init(name: "unknown instance key", toml: instanceHeader + "colour = 1\n",
              fragments: ["instance 'src'", "unknown key 'colour'"]),
        .init(name: "unknown restart key", toml: instanceHeader + "restart = { policy = \"always\", jitter = 2 }\n",
              fragments: ["instance 'src'", "restart: ", "'jitter'"]),
        .init(name: "bad restart mode", toml: instanceHeader + "restart = \"sometimes\"\n",
              fragments: ["instance 'src': restart must be never, on-failure or always, got 'sometimes'"]),
        .init(name: "bad restart policy in a table", toml: instanceHeader + "restart = { policy = \"often\" }\n",
              fragments: ["instance 'src': restart.policy", "'often'"]),
        .init(name: "restart of the wrong type", toml: instanceHeader + "restart = 3\n",
              fragments: ["instance 'src': restart must be a string or a table, got integer"]),
        .init(name: "restart window of the wrong type", toml: instanceHeader + "restart = { window_seconds = \"soon\" }\n",
              fragments: ["restart.window_seconds must be a number, got string"]),
        .init(name: "restart backoff out of range", toml: instanceHeader + "restart = { backoff_min_ms = 0 }\n",
              fragments: ["instance 'src'", "backoff_min_ms"]),
        .init(name: "duplicate instance names",
              toml: instanceHeader + "\n[[instances]]\nname = \"src\"\nplugin = \"other\"\n",
              fragments: ["instances[1]", "instance name 'src' is used twice"]),
        .init(name: "data_dir of the wrong type", toml: "data_dir = 5\n", fragments: ["data_dir must be a string, got integer"]),
        .init(name: "admin.port of the wrong type", toml: "[admin]\nport = \"80\"\n",
              fragments: ["admin.port must be an integer, got string"]),
        .init(name: "admin.port out of range", toml: "[admin]\nport = 70000\n", fragments: ["admin.port must be 0-65535, got 70000"]),
        .init(name: "admin of the wrong type", toml: "admin = 1\n", fragments: ["admin must be a table, got integer"]),
        .init(name: "health interval too small", toml: "[host]\nhealth_check_interval_ms = 5\n",
              fragments: ["host.health_check_interval_ms must be at least 10, got 5"]),
        .init(name: "bundled dirs of the wrong type", toml: "[host]\nbundled_plugin_dirs = \"/x\"\n",
              fragments: ["host.bundled_plugin_dirs must be a list of strings, got string"]),
        .init(name: "instances of the wrong type", toml: "instances = 5\n",
              fragments: ["instances must be an array of tables ([[instances]]), got integer"]),
        .init(name: "enabled of the wrong type", toml: instanceHeader + "enabled = \"yes\"\n",
              fragments: ["instance 'src': enabled must be a boolean, got string"]),
        .init(name: "inputs of the wrong type", toml: instanceHeader + "inputs = \"a.b\"\n",
              fragments: ["instance 'src': inputs must be a list of strings, got string"]),
        .init(name: "stop_timeout_ms of the wrong type", toml: instanceHeader + "stop_timeout_ms = 1.5\n",
              fragments: ["instance 'src': stop_timeout_ms must be an integer, got float"]),
        .init(name: "stop_timeout_ms out of range", toml: instanceHeader + "stop_timeout_ms = 0\n",
              fragments: ["instance 'src'", "stop_timeout_ms must be at least 1"]),
        .init(name: "invalid input pattern", toml: instanceHeader + "inputs = [\"a..b\"]\n",
              fragments: ["instance 'src'", "inputs", "'a..b'"]),
        .init(name: "invalid output topic", toml: instanceHeader + "output = \"a b\"\n",
              fragments: ["instance 'src'", "output"]),
        .init(name: "setting that is a table", toml: instanceHeader + "[instances.settings]\nnested = { a = 1 }\n",
              fragments: ["instance 'src': settings.nested is a table"]),
        .init(name: "setting list with non-strings", toml: instanceHeader + "[instances.settings]\ntags = [1, 2]\n",
              fragments: ["instance 'src': settings.tags must be a list of strings, but contains integer"]),
        .init(name: "instance without a name", toml: "[[instances]]\nplugin = \"p\"\n",
              fragments: ["instances[0]: 'name' is required"]),
        .init(name: "instance without a plugin", toml: "[[instances]]\nname = \"lonely\"\n",
              fragments: ["instance 'lonely': 'plugin' is required"]),
        .init(name: "invalid instance name", toml: "[[instances]]\nname = \"Bad Name\"\nplugin = \"p\"\n",
              fragments: ["instance name 'Bad Name'"]),
        .init(name: "TOML syntax error", toml: "data_dir = \n", fragments: ["line 1"]),
    ]

    @Test("each configuration error names the key (and the instance) it is about", arguments: HostConfigurationTests.errorCases)
    func configurationErrors(_ errorCase: ConfigFileErrorCase) throws {
        let error = try #require(throws: ConfigFileError.self) {
            _ = try HostConfiguration.parse(errorCase.toml, file: "case.toml")
        }
        #expect(error.file == "case.toml")
        #expect(error.description == "case.toml: \(error.message)")
        for fragment in errorCase.fragments {
            #expect(error.message.contains(fragment), "'\(fragment)' missing from: \(error.message)")
        }
        #expect(!error.message.contains("\n"), "one line: \(error.message)")
    }
}
