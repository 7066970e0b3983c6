import Foundation
import Testing
@testable import StarbloomCore
#if canImport(Glibc)
import Glibc
#endif

// Shared support for the plugin-host tests: compiling the C fixtures with one `cc` line, a private
// temporary directory per test, a host wired to it, and polling helpers for asynchronous effects.

/// Where things are in the package, found from this file (Tests/StarbloomCoreTests/Support/).
enum TestPaths {
    static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() } // Support, StarbloomCoreTests, Tests, <root>
        return url.path
    }()

    static var sdkInclude: String { "\(packageRoot)/SDK/include" }
    static var fixturesDirectory: String { "\(packageRoot)/Tests/Fixtures/plugins" }
    static var minimalSourceExample: String { "\(packageRoot)/SDK/examples/minimal_source.c" }
    static var syntheticSource: String { "\(packageRoot)/Plugins/synthetic-source/synthetic_source.c" }

    /// `Tests/Fixtures/plugins/<name>.c`.
    static func fixture(_ name: String) -> String { "\(fixturesDirectory)/\(name).c" }

    /// The SwiftPM build products folder holding the bundled `libsbplugin_*.so` files:
    /// `STARBLOOM_BUILD_DIR` if set, else `<root>/.build/debug`, else the folder of the running test
    /// executable, else `<root>/.build/release` (the first one that holds the bundled plugins).
    static let buildDirectory: String = {
        if let fromEnvironment = ProcessInfo.processInfo.environment["STARBLOOM_BUILD_DIR"], !fromEnvironment.isEmpty {
            return fromEnvironment
        }
        let fallback = "\(packageRoot)/.build/debug"
        var candidates = [fallback]
        if let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            candidates.append(URL(fileURLWithPath: executable).deletingLastPathComponent().path)
        }
        if let executable = Bundle.main.executablePath {
            candidates.append(URL(fileURLWithPath: executable).deletingLastPathComponent().path)
        }
        candidates.append("\(packageRoot)/.build/release")
        return candidates.first { FileManager.default.fileExists(atPath: "\($0)/libsbplugin_swift_stamp.so") } ?? fallback
    }()

    /// `<build dir>/libsbplugin_<name>.so`.
    static func bundledPlugin(_ name: String) -> String { "\(buildDirectory)/libsbplugin_\(name).so" }
}

/// A fixture that could not be built or placed; the description carries the compiler's output.
struct FixtureBuildError: Error, CustomStringConvertible {
    let description: String
}

/// One test's private world: a fresh temporary directory holding the plugins directory, the data
/// directory and a scratch folder for compiler output. Nothing in it is shared with other tests.
///
/// Typical use:
///
///     let fixtures = try FixtureBuilder()
///     defer { fixtures.remove() }
///     try fixtures.compileGoodSource()
///     let host = try fixtures.startHost()
///     defer { host.shutdown() }
final class FixtureBuilder {
    let root: String
    let pluginsDirectory: String
    let dataDirectory: String
    private let scratchDirectory: String
    /// Every compiler invocation made so far, as argv (starting with "cc").
    private(set) var commands: [[String]] = []

    /// The flags of the one-line build in plugin.h: a plugin needs nothing but the header.
    static let compilerFlags = ["-std=c99", "-shared", "-fPIC", "-O2", "-fvisibility=hidden"]

    init() throws {
        root = FileManager.default.temporaryDirectory
            .appendingPathComponent("starbloom-tests-\(UUID().uuidString)").path
        pluginsDirectory = "\(root)/plugins"
        dataDirectory = "\(root)/data"
        scratchDirectory = "\(root)/scratch"
        for directory in [root, pluginsDirectory, dataDirectory, scratchDirectory] {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
    }

    /// Deletes the whole temporary directory. Call after `host.shutdown()`. (Mapped libraries stay
    /// valid after their files are unlinked.)
    func remove() {
        try? FileManager.default.removeItem(atPath: root)
    }

    // MARK: Compiling

    /// `cc -std=c99 -shared -fPIC -O2 -fvisibility=hidden -I <root>/SDK/include [-D...] <source> -o <output>`
    static func compilerCommand(source: String, output: String, defines: [String: String] = [:]) -> [String] {
        ["cc"] + compilerFlags + ["-I", TestPaths.sdkInclude]
            + defines.sorted { $0.key < $1.key }.map { "-D\($0.key)=\($0.value)" }
            + [source, "-o", output]
    }

    /// A C string-literal macro value: `quoted("2.0.0")` is `"2.0.0"` with the quotes.
    static func quoted(_ text: String) -> String { "\"\(text)\"" }

    /// Compiles `source` into `<directory>/lib<library>.so` (default: the plugins directory) and
    /// returns that path. The library is built in the scratch folder and renamed into place, so an
    /// existing file at the destination is replaced atomically (as an operator's `mv` would).
    /// Throws with the compiler's output if `cc` fails.
    @discardableResult
    func compile(source: String, library: String, defines: [String: String] = [:], into directory: String? = nil) throws -> String {
        let destination = "\(directory ?? pluginsDirectory)/lib\(library).so"
        let output = "\(scratchDirectory)/\(UUID().uuidString)-lib\(library).so"
        let command = Self.compilerCommand(source: source, output: output, defines: defines)
        commands.append(command)
        try Self.run(command)
        guard rename(output, destination) == 0 else {
            throw FixtureBuildError(description: "cannot move \(output) to \(destination): \(String(cString: strerror(errno)))")
        }
        return destination
    }

    /// Compiles `Tests/Fixtures/plugins/<name>.c` into `lib<library ?? name>.so` in the plugins directory.
    @discardableResult
    func compileFixture(_ name: String, library: String? = nil, defines: [String: String] = [:]) throws -> String {
        try compile(source: TestPaths.fixture(name), library: library ?? name, defines: defines)
    }

    /// good_source.c, optionally with another plugin name and version (FIXTURE_NAME, FIXTURE_VERSION).
    @discardableResult
    func compileGoodSource(pluginName: String? = nil, version: String? = nil, library: String = "good_source") throws -> String {
        var defines: [String: String] = [:]
        if let pluginName { defines["FIXTURE_NAME"] = Self.quoted(pluginName) }
        if let version { defines["FIXTURE_VERSION"] = Self.quoted(version) }
        return try compileFixture("good_source", library: library, defines: defines)
    }

    /// Writes arbitrary bytes as `lib<library>.so` in the plugins directory.
    @discardableResult
    func write(_ bytes: [UInt8], library: String) throws -> String {
        let path = "\(pluginsDirectory)/lib\(library).so"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    private static func run(_ command: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = command
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do {
            try process.run()
        } catch {
            throw FixtureBuildError(description: "cannot start the C compiler (\(command.joined(separator: " "))): \(error)")
        }
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            throw FixtureBuildError(description: """
                fixture build failed (status \(process.terminationStatus)): \(command.joined(separator: " "))
                \(String(decoding: output, as: UTF8.self))
                """)
        }
    }

    // MARK: Hosts

    /// A configuration rooted in this test's directories. Bundled plugins (the SwiftPM build
    /// products folder) are scanned only when asked for.
    func configuration(bundled: Bool = false) -> HostConfiguration {
        var configuration = HostConfiguration()
        configuration.pluginsDirectory = pluginsDirectory
        configuration.dataDirectory = dataDirectory
        configuration.bundledPluginDirectories = bundled ? [TestPaths.buildDirectory] : []
        configuration.healthCheckInterval = 0.05
        return configuration
    }

    /// Builds a host on `configuration(bundled:)` and starts it (scans plugins, starts health checks).
    /// The caller must `defer { host.shutdown() }`.
    func startHost(bundled: Bool = false) throws -> StarbloomHost {
        let host = StarbloomHost(configuration: configuration(bundled: bundled))
        try host.start()
        return host
    }
}

// MARK: - Polling

/// Polls `condition` every 10 ms until it is true (returns true) or `timeout` seconds have passed
/// (returns false). Tests assert the result; it is never a fixed sleep.
func waitUntil(timeout: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date(timeIntervalSinceNow: timeout)
    while true {
        if condition() { return true }
        if Date() >= deadline { return false }
        Thread.sleep(forTimeInterval: 0.01)
    }
}

/// Waits until the instance reaches `state`.
func waitForState(_ instance: PluginInstance, _ state: InstanceState, timeout: Double = 10) -> Bool {
    waitUntil(timeout: timeout) { instance.status.state == state }
}

// MARK: - Reading what plugins produced

/// Every record currently retained in `topic` of `queue`, oldest first.
func allRecords(in queue: any MessageQueue, topic: String) -> [QueueRecord] {
    var result: [QueueRecord] = []
    var next: UInt64 = 0
    while let batch = try? queue.read(topic: topic, from: next, limit: 4096), let last = batch.last {
        result += batch
        next = last.offset + 1
    }
    return result
}

extension StarbloomHost {
    /// Every record of `topic` in this host's queue.
    func records(topic: String) -> [QueueRecord] {
        allRecords(in: services.queue, topic: topic)
    }

    /// The payloads of `topic` as text.
    func payloads(topic: String) -> [String] {
        records(topic: topic).map(\.payloadText)
    }

    /// The value of one rendered Prometheus series, e.g.
    /// `metricValue("starbloom_instance_records_out_total{instance=\"a\",plugin=\"p\"}")`.
    func metricValue(_ series: String) -> Double? {
        metricValueIn(services.metrics.renderPrometheus(), series)
    }
}

/// The value of `series` (name plus rendered labels) in Prometheus text, or nil if absent.
func metricValueIn(_ rendered: String, _ series: String) -> Double? {
    for line in rendered.split(separator: "\n") where line.hasPrefix(series + " ") {
        return Double(line.dropFirst(series.count + 1))
    }
    return nil
}

extension QueueRecord {
    var payloadText: String { String(decoding: payload, as: UTF8.self) }
    var keyText: String { String(decoding: key, as: UTF8.self) }

    /// The value of the first header called `name`, as text.
    func header(_ name: String) -> String? {
        headers.first { $0.name == name }.map { String(decoding: $0.value, as: UTF8.self) }
    }
}

extension PluginInstance {
    /// Whether any logged line contains `fragment`.
    func hasLog(_ fragment: String) -> Bool {
        logs.contains { $0.contains(fragment) }
    }

    /// How many logged lines contain `fragment`.
    func logCount(_ fragment: String) -> Int {
        logs.filter { $0.contains(fragment) }.count
    }
}

// MARK: - Specs

/// An instance of good_source.c (plugin "fixture-source" unless renamed) publishing to `topic`.
func goodSourceSpec(
    _ name: String, topic: String, plugin: String = "fixture-source", intervalMs: Int64 = 10,
    restart: RestartPolicy = RestartPolicy(), enabled: Bool = true
) -> InstanceSpec {
    InstanceSpec(
        name: name, plugin: plugin, enabled: enabled, restart: restart,
        settings: ["topic": .string(topic), "interval_ms": .int(intervalMs)])
}

/// A restart policy that retries fast, so supervision tests finish quickly.
func fastRestart(_ mode: RestartPolicy.Mode = .onFailure, maxRestarts: Int = 3) -> RestartPolicy {
    RestartPolicy(mode: mode, backoffMinMs: 10, backoffMaxMs: 40, maxRestarts: maxRestarts, windowSeconds: 60)
}

/// Bytes of a string, for the key-value and checkpoint stores.
func utf8(_ text: String) -> [UInt8] { Array(text.utf8) }
