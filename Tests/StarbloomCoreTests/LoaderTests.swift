import Foundation
import Testing
@testable import StarbloomCore

/// Loading plugins: every refusal class is reported with its reason and a message naming the
/// problem, without disturbing the host or the other plugins; a good descriptor is read into Swift;
/// libraries are mapped from a content-addressed copy.
@Suite("Plugin loader")
struct LoaderTests {
    /// Builds good_source plus whatever `setup` drops (returning the path that must be refused),
    /// starts a host, and checks: exactly that file is refused with `reason`, the message names the
    /// file and contains every fragment, the refused plugin is not in the catalog, and the good
    /// plugin still loads and runs.
    private func expectRefusal(
        _ id: String,
        reason: PluginLoadError.Reason,
        messageContains fragments: [String],
        refusedPluginName: String? = nil,
        sourceLocation: SourceLocation = #_sourceLocation,
        setup: (FixtureBuilder) throws -> String
    ) throws {
        let fixtures = try FixtureBuilder()
        defer { fixtures.remove() }
        try fixtures.compileGoodSource()
        let badPath = try setup(fixtures)
        let host = try fixtures.startHost()
        defer { host.shutdown() }

        let refused = host.catalog.refused
        #expect(refused.count == 1, "refusals: \(refused)", sourceLocation: sourceLocation)
        let refusal = try #require(refused.first { $0.path == badPath }, "no refusal for \(badPath): \(refused)",
                                   sourceLocation: sourceLocation)
        #expect(refusal.reason == reason, "message: \(refusal.message)", sourceLocation: sourceLocation)
        #expect(refusal.message.contains(badPath), "message: \(refusal.message)", sourceLocation: sourceLocation)
        for fragment in fragments {
            #expect(refusal.message.contains(fragment), "'\(fragment)' missing from: \(refusal.message)",
                    sourceLocation: sourceLocation)
        }
        #expect(!refusal.message.contains("\n"), "a refusal is one line", sourceLocation: sourceLocation)
        if let refusedPluginName {
            #expect(host.catalog.plugin(named: refusedPluginName) == nil, sourceLocation: sourceLocation)
        }

        // The host keeps working: the good plugin loaded and an instance of it runs.
        #expect(host.catalog.plugins.map(\.name) == ["fixture-source"], sourceLocation: sourceLocation)
        try host.addInstance(goodSourceSpec("survivor-\(id)", topic: "survivor.\(id)"))
        let published = waitUntil(timeout: 10) { host.records(topic: "survivor.\(id)").count >= 2 }
        #expect(published, "the good plugin did not publish next to a refused one", sourceLocation: sourceLocation)
        #expect(host.metricValue("starbloom_plugins_refused") == 1, sourceLocation: sourceLocation)
        #expect(host.metricValue("starbloom_plugins_loaded") == 1, sourceLocation: sourceLocation)
    }

    @Test("a file that is not ELF is refused as not-elf")
    func notELF() throws {
        try expectRefusal("garbage", reason: .notELF, messageContains: ["is not an ELF shared library"]) { fixtures in
            try fixtures.write(Array("this is not a shared library at all".utf8), library: "garbage")
        }
    }

    @Test("a file shorter than the ELF magic is refused as not-elf")
    func tinyFile() throws {
        try expectRefusal("tiny", reason: .notELF, messageContains: ["is not an ELF shared library"]) { fixtures in
            try fixtures.write([0x7F, 0x45], library: "tiny")
        }
    }

    @Test("a truncated ELF file is refused as dlopen-failed with the loader's reason")
    func truncatedELF() throws {
        try expectRefusal("truncated", reason: .dlopenFailed, messageContains: ["dlopen failed for"]) { fixtures in
            let full = try fixtures.compileFixture("run_error", library: "whole")
            let bytes = try Data(contentsOf: URL(fileURLWithPath: full))
            try FileManager.default.removeItem(atPath: full)
            return try fixtures.write(Array(bytes.prefix(64)), library: "truncated")
        }
    }

    @Test("a library without the entry symbol is refused as missing-entry")
    func missingEntry() throws {
        try expectRefusal(
            "missing-entry", reason: .missingEntry,
            messageContains: ["does not export the entry symbol 'starbloom_plugin_entry'"],
            refusedPluginName: "fixture-missing-entry"
        ) { fixtures in
            try fixtures.compileFixture("missing_entry")
        }
    }

    @Test("a plugin built for another ABI major is refused as abi-mismatch, naming both versions")
    func wrongABIMajor() throws {
        try expectRefusal(
            "wrong-abi", reason: .abiMismatch,
            messageContains: [
                "built for plugin ABI \(ABIVersion.major + 1).\(ABIVersion.minor)",
                "this host supports ABI \(ABIVersion.major).x",
            ],
            refusedPluginName: "fixture-wrong-abi-major"
        ) { fixtures in
            try fixtures.compileFixture("wrong_abi_major")
        }
    }

    @Test("a descriptor smaller than ABI 1.0 is refused as malformed")
    func descriptorTooSmall() throws {
        try expectRefusal(
            "too-small", reason: .malformedDescriptor,
            messageContains: ["struct_size is 8 bytes", "at least \(ABIVersion.minimumDescriptorSize)"],
            refusedPluginName: "fixture-too-small"
        ) { fixtures in
            try fixtures.compileFixture("too_small")
        }
    }

    @Test("a descriptor with a NULL name is refused as malformed")
    func nullName() throws {
        try expectRefusal("null-name", reason: .malformedDescriptor, messageContains: ["name is NULL"]) { fixtures in
            try fixtures.compileFixture("null_name")
        }
    }

    @Test("a descriptor with an unknown kind is refused as malformed")
    func unknownKind() throws {
        try expectRefusal(
            "unknown-kind", reason: .malformedDescriptor,
            messageContains: ["fixture-unknown-kind", "unknown kind 99"],
            refusedPluginName: "fixture-unknown-kind"
        ) { fixtures in
            try fixtures.compileFixture("unknown_kind")
        }
    }

    @Test("an entry function returning NULL is refused as malformed")
    func entryReturnsNull() throws {
        try expectRefusal("entry-null", reason: .malformedDescriptor, messageContains: ["entry function returned NULL"]) { fixtures in
            try fixtures.compileFixture("entry_returns_null")
        }
    }

    @Test("a second file declaring an already loaded plugin name is refused as duplicate-name")
    func duplicateName() throws {
        let fixtures = try FixtureBuilder()
        defer { fixtures.remove() }
        let first = try fixtures.compileGoodSource(pluginName: "fixture-dup", library: "dup_a")
        let second = try fixtures.compileGoodSource(pluginName: "fixture-dup", library: "dup_b")
        try fixtures.compileFixture("run_returns_ok")
        let host = try fixtures.startHost()
        defer { host.shutdown() }

        // Files are scanned in name order, so dup_a wins and dup_b is refused.
        let loaded = try #require(host.catalog.plugin(named: "fixture-dup"))
        #expect(loaded.path == first)
        let refused = host.catalog.refused
        #expect(refused.count == 1, "refusals: \(refused)")
        let refusal = try #require(refused.first)
        #expect(refusal.path == second)
        #expect(refusal.reason == .duplicateName)
        #expect(refusal.message.contains("'fixture-dup'"), "message: \(refusal.message)")
        #expect(refusal.message.contains("already loaded from \(first)"), "message: \(refusal.message)")

        // Other plugins load, and the winner runs.
        #expect(host.catalog.plugin(named: "fixture-run-returns-ok") != nil)
        try host.addInstance(goodSourceSpec("dup-runner", topic: "dup.runner", plugin: "fixture-dup"))
        let published = waitUntil(timeout: 10) { host.records(topic: "dup.runner").count >= 2 }
        #expect(published)

        // A rescan does not try the unchanged refused file again.
        let scan = host.rescan()
        #expect(scan.loaded.isEmpty && scan.replaced.isEmpty && scan.refused.isEmpty)
    }

    @Test("a good plugin's descriptor is read into Swift: name, version, kind, fields and commands")
    func descriptorIsRead() throws {
        let fixtures = try FixtureBuilder()
        defer { fixtures.remove() }
        let path = try fixtures.compileGoodSource()
        let host = try fixtures.startHost()
        defer { host.shutdown() }

        #expect(host.catalog.refused.isEmpty)
        let plugin = try #require(host.catalog.plugin(named: "fixture-source"))
        #expect(plugin.name == "fixture-source")
        #expect(plugin.version == "1.0.0")
        #expect(plugin.kind == .source)
        #expect(plugin.description == "Test fixture: a well-behaved source")
        #expect(plugin.abiMajor == ABIVersion.major)
        #expect(plugin.abiMinor == ABIVersion.minor)
        #expect(plugin.path == path)

        let expectedTypes: [ValueType] = [.string, .int, .float, .bool, .stringList]
        let expectedDefaultTexts: [String?] = [nil, "10", "0.5", "false", "a,b"]
        let expectedDefaults: [SettingValue?] = [
            nil, .int(10), .float(0.5), .bool(false), .list([.string("a"), .string("b")]),
        ]
        #expect(plugin.fields.map(\.name) == ["topic", "interval_ms", "ratio", "verbose", "tags"])
        #expect(plugin.fields.map(\.type) == expectedTypes)
        #expect(plugin.fields.map(\.required) == [true, false, false, false, false])
        #expect(plugin.fields.map(\.defaultText) == expectedDefaultTexts)
        #expect(plugin.fields.map(\.defaultValue) == expectedDefaults)
        #expect(plugin.fields[0].doc == "topic to publish to")
        #expect(plugin.fields[1].doc == "milliseconds between records (>= 1)")

        #expect(plugin.commands.map(\.name) == ["degrade", "echo"])
        let degrade = plugin.commands[0]
        #expect(degrade.doc == "make health report DEGRADED (on=1) or OK (on=0)")
        let expectedDegradeParameters = [CommandSpec.Parameter(name: "on", type: .bool, doc: "1: report DEGRADED, 0: report OK")]
        #expect(degrade.parameters == expectedDegradeParameters)
        #expect(degrade.usage == "degrade ON:bool")
        let echo = plugin.commands[1]
        let expectedEchoTypes: [ValueType] = [.string, .int, .float, .bool]
        #expect(echo.parameters.map(\.name) == ["text", "n", "f", "b"])
        #expect(echo.parameters.map(\.type) == expectedEchoTypes)
        #expect(echo.parameters.map(\.doc) == ["", "", "", ""])
        #expect(echo.usage == "echo TEXT:string N:int F:float B:bool")
    }

    @Test("a library is mapped from a copy in the plugin cache named by its content hash")
    func loadedFromContentAddressedCopy() throws {
        let fixtures = try FixtureBuilder()
        defer { fixtures.remove() }
        let path = try fixtures.compileGoodSource()
        let original = try Data(contentsOf: URL(fileURLWithPath: path))
        let host = try fixtures.startHost()
        defer { host.shutdown() }

        let plugin = try #require(host.catalog.plugin(named: "fixture-source"))
        let cache = "\(fixtures.dataDirectory)/plugin-cache/"
        #expect(plugin.path == path)
        #expect(plugin.loadedFrom != plugin.path)
        #expect(plugin.loadedFrom.hasPrefix(cache), "loadedFrom: \(plugin.loadedFrom)")
        #expect(plugin.contentHash == PluginLoader.contentHash(original))
        #expect(plugin.contentHash.count == 16)
        #expect(URL(fileURLWithPath: plugin.loadedFrom).lastPathComponent == "libgood_source-\(plugin.contentHash).so")
        let copy = try Data(contentsOf: URL(fileURLWithPath: plugin.loadedFrom))
        #expect(copy == original)

        // The operator's file can go away: the host runs the cached image.
        try FileManager.default.removeItem(atPath: path)
        try host.addInstance(goodSourceSpec("cached", topic: "cached.t"))
        let published = waitUntil(timeout: 10) { host.records(topic: "cached.t").count >= 2 }
        #expect(published)
    }

    @Test("PluginLoader throws a typed PluginLoadError for a refused file")
    func loaderThrowsTypedError() throws {
        let fixtures = try FixtureBuilder()
        defer { fixtures.remove() }
        let path = try fixtures.compileFixture("wrong_abi_major")
        let loader = PluginLoader(cacheDirectory: "\(fixtures.dataDirectory)/direct-cache")
        let error = try #require(throws: PluginLoadError.self) {
            _ = try loader.load(path: path)
        }
        #expect(error.reason == .abiMismatch)
        #expect(error.description == error.message)
        #expect(error.message.contains(path))

        let missing = try #require(throws: PluginLoadError.self) {
            _ = try loader.load(path: "\(fixtures.pluginsDirectory)/libnothing-here.so")
        }
        #expect(missing.reason == .unreadable)
        #expect(missing.message.contains("libnothing-here.so"))
    }
}
