import Foundation
import Testing
@testable import StarbloomCore

/// The bundled sim-chain source (Plugins/sim-chain): after applying reverts its output is one chain,
/// it is deterministic, it resumes after a restart without gap or duplicate, and it refuses bad
/// settings by name.
@Suite("sim-chain plugin")
struct SimChainTests {
    static let transferTopic = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"

    /// Copies the SwiftPM-built `libsbplugin_sim_chain.so` into the test's plugins directory, so the
    /// host loads exactly that product and nothing else.
    static func install(_ fixtures: FixtureBuilder) throws {
        let path = TestPaths.bundledPlugin("sim_chain")
        try #require(FileManager.default.fileExists(atPath: path),
                     "bundled plugin \(path) not found: build the package (swift build) or set STARBLOOM_BUILD_DIR")
        try FileManager.default.copyItem(atPath: path, toPath: "\(fixtures.pluginsDirectory)/libsbplugin_sim_chain.so")
    }

    static func settings(_ overrides: [String: SettingValue] = [:]) -> [String: SettingValue] {
        var settings: [String: SettingValue] = [
            "seed": .int(42), "block_time_ms": .int(0), "start_block": .int(1000), "start_timestamp": .int(1_700_000_000),
            "tokens": .int(3), "accounts": .int(20), "transfers_per_block": .int(6), "reorg_every": .int(8),
            "reorg_depth": .int(4), "max_blocks": .int(200), "topic_blocks": .string("sim.blocks"),
            "topic_logs": .string("sim.logs"), "confirmations": .int(3),
        ]
        for (key, value) in overrides { settings[key] = value }
        return settings
    }

    /// Adds an instance and waits until its chain has finished (`max_blocks`).
    @discardableResult
    static func runToEnd(_ host: StarbloomHost, name: String, settings: [String: SettingValue]) throws -> PluginInstance {
        try host.addInstance(InstanceSpec(name: name, plugin: "sim-chain", restart: RestartPolicy(mode: .never), settings: settings))
        let instance = try #require(host.instance(named: name))
        let finished = waitUntil(timeout: 120) { instance.hasLog("finished at block") && instance.status.state == .stopped }
        try #require(finished, "state \(instance.status.state), error \(instance.status.lastError ?? "none"), logs \(instance.logs)")
        return instance
    }

    // MARK: The chain after reverts

    struct Block {
        let number: UInt64
        let hash: String
        let parentHash: String
        let timestamp: UInt64
        let logCount: Int
    }

    struct Log: Hashable {
        let address: String
        let blockNumber: UInt64
        let blockHash: String
        let blockTimestamp: UInt64
        let logIndex: UInt64
        let data: String
    }

    static func object(_ record: QueueRecord) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(record.payload)) as? [String: Any], "\(record.payloadText)")
    }

    static func quantity(_ value: Any?) throws -> UInt64 {
        let text = try #require(value as? String)
        #expect(text.hasPrefix("0x") && (text == "0x0" || !text.hasPrefix("0x0")), "quantity \(text)")
        return try #require(UInt64(text.dropFirst(2), radix: 16), "quantity \(text)")
    }

    static func isHex(_ text: String, digits: Int) -> Bool {
        text.count == digits + 2 && text.hasPrefix("0x") && text.dropFirst(2).allSatisfy { "0123456789abcdef".contains($0) }
    }

    static func block(_ record: QueueRecord) throws -> Block {
        let json = try object(record)
        let block = Block(number: try quantity(json["number"]), hash: try #require(json["hash"] as? String),
                          parentHash: try #require(json["parentHash"] as? String), timestamp: try quantity(json["timestamp"]),
                          logCount: try #require(json["logCount"] as? Int))
        #expect(isHex(block.hash, digits: 64) && isHex(block.parentHash, digits: 64), "\(record.payloadText)")
        #expect(json["confirmed"] as? Bool == false)
        #expect(record.keyText == String(block.number))
        #expect(record.eventTimeNs == Int64(block.timestamp) * 1_000_000_000)
        return block
    }

    static func log(_ record: QueueRecord, removed: Bool) throws -> Log {
        let json = try object(record)
        let topics = try #require(json["topics"] as? [String])
        let log = Log(address: try #require(json["address"] as? String), blockNumber: try quantity(json["blockNumber"]),
                      blockHash: try #require(json["blockHash"] as? String), blockTimestamp: try quantity(json["blockTimestamp"]),
                      logIndex: try quantity(json["logIndex"]), data: try #require(json["data"] as? String))
        #expect(isHex(log.address, digits: 40))
        #expect(topics.count == 3 && topics[0] == transferTopic)
        #expect(topics.dropFirst().allSatisfy { isHex($0, digits: 64) && $0.hasPrefix("0x000000000000000000000000") })
        #expect(topics[1] != topics[2], "a transfer to itself")
        #expect(isHex(log.data, digits: 64) && log.data != "0x" + String(repeating: "0", count: 64))
        #expect(isHex(try #require(json["transactionHash"] as? String), digits: 64))
        #expect(try quantity(json["transactionIndex"]) == log.logIndex)
        #expect(json["removed"] as? Bool == removed)
        #expect(record.keyText == log.address, "logs are keyed by token address")
        #expect(record.eventTimeNs == Int64(log.blockTimestamp) * 1_000_000_000)
        return log
    }

    struct Outcome {
        var blocks: [Block] = []          // surviving, in order
        var logs: [Log] = []              // surviving, in order
        var revertedBlocks = 0
        var revertedLogs = 0
        var reorgs = 0                    // runs of consecutive block reverts
        var logsAbove64Bits = 0
    }

    /// Replays both topics, applying every revert to the record it retracts, and checks on the way
    /// that the blocks form one chain at every moment and that reverts come newest first.
    static func replay(blocks blockRecords: [QueueRecord], logs logRecords: [QueueRecord]) throws -> Outcome {
        var outcome = Outcome()
        var chain: [(block: Block, payload: [UInt8])] = []
        var reverted: [String: Int] = [:] // block hash → its logCount
        var previousWasRevert = false
        for record in blockRecords {
            let block = try block(record)
            if record.header(PipelineHeaders.revert) != nil {
                #expect(record.header(PipelineHeaders.revert) == "1")
                let tip = try #require(chain.last, "a revert with no block left")
                #expect(tip.payload == record.payload, "a block revert retracts the tip, with the same payload")
                chain.removeLast()
                reverted[block.hash] = block.logCount
                outcome.revertedBlocks += 1
                if !previousWasRevert { outcome.reorgs += 1 }
                previousWasRevert = true
            } else {
                #expect(record.headers.isEmpty)
                if let tip = chain.last?.block {
                    #expect(block.number == tip.number + 1, "contiguous numbers")
                    #expect(block.parentHash == tip.hash, "block \(block.number) extends the tip")
                    #expect(block.timestamp >= tip.timestamp)
                }
                chain.append((block, record.payload))
                previousWasRevert = false
            }
        }
        outcome.blocks = chain.map(\.block)

        var live: [String: [Int]] = [:]   // payload (with removed:false) → indexes in `all`
        var all: [(log: Log, alive: Bool)] = []
        var lastRevert: Log?
        for record in logRecords {
            if record.header(PipelineHeaders.revert) != nil {
                #expect(record.header(PipelineHeaders.revert) == "1")
                let log = try log(record, removed: true)
                let original = record.payloadText.replacingOccurrences(of: #""removed":true}"#, with: #""removed":false}"#)
                let popped = live[original]?.popLast()
                let index = try #require(popped, "a log revert retracts a published log: \(record.payloadText)")
                all[index].alive = false
                if let last = lastRevert, last.blockHash == log.blockHash {
                    #expect(log.logIndex + 1 == last.logIndex, "a block's logs are reverted newest first")
                }
                #expect(reverted[log.blockHash] != nil, "the log's block was reverted too")
                lastRevert = log
                outcome.revertedLogs += 1
            } else {
                #expect(record.headers.isEmpty)
                let log = try log(record, removed: false)
                live[record.payloadText, default: []].append(all.count)
                all.append((log, true))
                lastRevert = nil
                if log.data.dropFirst(2).prefix(48).contains(where: { $0 != "0" }) { outcome.logsAbove64Bits += 1 }
            }
        }
        outcome.logs = all.filter(\.alive).map(\.log)
        #expect(outcome.revertedLogs == reverted.values.reduce(0, +), "every log of a reverted block was reverted")
        return outcome
    }

    /// The surviving blocks and logs are one consistent chain of `count` blocks from `start`.
    static func checkSingleChain(_ outcome: Outcome, start: UInt64, count: Int) {
        #expect(outcome.blocks.map(\.number) == Array(start..<(start + UInt64(count))))
        for (parent, child) in zip(outcome.blocks, outcome.blocks.dropFirst()) {
            #expect(child.parentHash == parent.hash, "block \(child.number)")
        }
        let byHash = Dictionary(uniqueKeysWithValues: outcome.blocks.map { ($0.hash, $0) })
        var perBlock: [String: [UInt64]] = [:]
        for log in outcome.logs {
            guard let block = byHash[log.blockHash] else {
                Issue.record("log \(log.logIndex) of \(log.blockHash) at \(log.blockNumber) belongs to no surviving block")
                continue
            }
            #expect(log.blockNumber == block.number && log.blockTimestamp == block.timestamp)
            perBlock[log.blockHash, default: []].append(log.logIndex)
        }
        #expect(Set(outcome.logs).count == outcome.logs.count, "no log twice")
        for block in outcome.blocks {
            #expect(perBlock[block.hash, default: []] == (0..<UInt64(block.logCount)).map { $0 },
                    "block \(block.number): logs 0..<\(block.logCount) once each, in order")
        }
    }

    @Test("200 blocks with reorgs on the durable queue: after reverts the logs form one chain, none missing, none twice")
    func singleChainAfterReverts() throws {
        let fixtures = try FixtureBuilder()
        defer { fixtures.remove() }
        try Self.install(fixtures)
        let configuration = fixtures.configuration()
        let host = StarbloomHost(configuration: configuration, services: try HostServices.embedded(configuration: configuration))
        try host.start()
        defer { host.shutdown() }
        let plugin = try #require(host.catalog.plugin(named: "sim-chain"), "refused: \(host.catalog.refused)")
        #expect(plugin.kind == .source)
        #expect(plugin.fields.map(\.name) == [
            "seed", "block_time_ms", "start_block", "start_timestamp", "tokens", "accounts", "transfers_per_block",
            "reorg_every", "reorg_depth", "max_blocks", "topic_blocks", "topic_logs", "confirmations",
        ])
        #expect(plugin.commands.map(\.name) == ["reorg", "status"])

        try Self.runToEnd(host, name: "chain", settings: Self.settings())
        let outcome = try Self.replay(blocks: host.records(topic: "sim.blocks"), logs: host.records(topic: "sim.logs"))
        Self.checkSingleChain(outcome, start: 1000, count: 200)
        #expect(outcome.reorgs >= 5, "reorg_every = 8 over 200 blocks: \(outcome.reorgs) reorgs")
        #expect(outcome.revertedLogs > 0)
        #expect(outcome.logsAbove64Bits > outcome.logs.count / 2, "values exceed 64 bits")
        #expect(Set(outcome.logs.map(\.address)).count == 3, "3 tokens")
        #expect(outcome.blocks.first?.timestamp == 1_700_000_000)
        #expect(outcome.blocks.last?.timestamp == 1_700_000_000 + 199, "1 s per block when block_time_ms = 0")

        let labels = #"{instance="chain",plugin="sim-chain"}"#
        #expect(host.metricValue("starbloom_plugin_sim_chain_reorgs_total\(labels)") == Double(outcome.reorgs))
        #expect(host.metricValue("starbloom_plugin_sim_chain_reverted_blocks_total\(labels)") == Double(outcome.revertedBlocks))
        #expect(host.metricValue("starbloom_plugin_sim_chain_reverted_logs_total\(labels)") == Double(outcome.revertedLogs))
        #expect(host.metricValue("starbloom_plugin_sim_chain_blocks_published_total\(labels)") == Double(200 + outcome.revertedBlocks))
        #expect(host.metricValue("starbloom_plugin_sim_chain_logs_published_total\(labels)") == Double(outcome.logs.count + outcome.revertedLogs))
        #expect(host.metricValue("starbloom_plugin_sim_chain_head_block\(labels)") == 1199)
    }

    // MARK: Determinism

    /// Everything a consumer sees of a topic.
    static func fingerprint(_ records: [QueueRecord]) -> [String] {
        records.map { record in
            "\(record.keyText)|\(record.eventTimeNs)|\(record.headers.map { "\($0.name)=\(String(decoding: $0.value, as: UTF8.self))" })|\(record.payloadText)"
        }
    }

    static func inMemoryRun(_ settings: [String: SettingValue]) throws -> (blocks: [String], logs: [String]) {
        let fixtures = try FixtureBuilder()
        defer { fixtures.remove() }
        try install(fixtures)
        let host = try fixtures.startHost()
        defer { host.shutdown() }
        try runToEnd(host, name: "det", settings: settings)
        return (fingerprint(host.records(topic: "sim.blocks")), fingerprint(host.records(topic: "sim.logs")))
    }

    @Test("the same seed and settings give identical records; another seed gives another chain")
    func deterministic() throws {
        let settings = Self.settings(["max_blocks": .int(120), "reorg_every": .int(5)])
        let first = try Self.inMemoryRun(settings)
        let second = try Self.inMemoryRun(settings)
        #expect(first.blocks.count > 120 && first.logs.count > 100)
        #expect(first.blocks == second.blocks)
        #expect(first.logs == second.logs)

        let other = try Self.inMemoryRun(Self.settings(["max_blocks": .int(120), "reorg_every": .int(5), "seed": .int(43)]))
        #expect(other.blocks != first.blocks)
        #expect(Set(other.logs).isDisjoint(with: Set(first.logs)))
    }

    // MARK: Restarts

    @Test("a chain stopped twice (an instance restart, then a whole host restart) resumes with no gap and no duplicate")
    func resumesAfterRestart() throws {
        // Paced, so that the stops land in the middle of the chain.
        let settings = Self.settings(["block_time_ms": .int(5), "max_blocks": .int(200), "reorg_every": .int(6)])
        let expected = try Self.inMemoryRun(settings)

        let fixtures = try FixtureBuilder()
        defer { fixtures.remove() }
        try Self.install(fixtures)
        let configuration = fixtures.configuration()
        do {
            let host = StarbloomHost(configuration: configuration, services: try HostServices.embedded(configuration: configuration))
            try host.start()
            try host.addInstance(InstanceSpec(name: "resume", plugin: "sim-chain", restart: RestartPolicy(mode: .never), settings: settings))
            let instance = try #require(host.instance(named: "resume"))
            try #require(waitUntil(timeout: 30) { host.records(topic: "sim.blocks").count >= 40 }, "\(instance.status)")
            instance.restart()
            let before = host.records(topic: "sim.blocks").count
            try #require(waitUntil(timeout: 30) { host.records(topic: "sim.blocks").count >= before + 40 }, "\(instance.status)")
            #expect(instance.hasLog("resuming after block"))
            host.shutdown()
            #expect(!instance.hasLog("finished at block"), "stopped before the end")
        }
        let host = StarbloomHost(configuration: configuration, services: try HostServices.embedded(configuration: configuration))
        try host.start()
        defer { host.shutdown() }
        try Self.runToEnd(host, name: "resume", settings: settings)
        #expect(Self.fingerprint(host.records(topic: "sim.blocks")) == expected.blocks)
        #expect(Self.fingerprint(host.records(topic: "sim.logs")) == expected.logs)
        let outcome = try Self.replay(blocks: host.records(topic: "sim.blocks"), logs: host.records(topic: "sim.logs"))
        Self.checkSingleChain(outcome, start: 1000, count: 200)
    }

    // MARK: Commands

    @Test("the reorg command replaces exactly DEPTH blocks at the next block; status reports it; bad depths are refused")
    func reorgCommand() throws {
        let fixtures = try FixtureBuilder()
        defer { fixtures.remove() }
        try Self.install(fixtures)
        let host = try fixtures.startHost()
        defer { host.shutdown() }
        try host.addInstance(InstanceSpec(
            name: "cmd", plugin: "sim-chain",
            settings: Self.settings(["block_time_ms": .int(20), "reorg_every": .int(0), "max_blocks": .int(0)])))
        let instance = try #require(host.instance(named: "cmd"))
        try #require(waitUntil(timeout: 10) { host.records(topic: "sim.blocks").count >= 10 }, "\(instance.status)")

        let reply = try instance.call(command: "reorg", arguments: ["4"])
        #expect(reply.hasPrefix("reorg of depth 4 at the next block"), "\(reply)")
        try #require(waitUntil(timeout: 10) { instance.hasLog("reorg at block") && host.records(topic: "sim.blocks").count >= 25 })
        let blocks = host.records(topic: "sim.blocks")
        let reverts = blocks.filter { $0.header(PipelineHeaders.revert) != nil }
        #expect(reverts.count == 4)
        let status = try instance.call(command: "status", arguments: [])
        #expect(status.hasPrefix("head=") && status.hasSuffix(" branch=1 reorgs=1"), "\(status)")

        let zero = try #require(throws: CommandError.self) { _ = try instance.call(command: "reorg", arguments: ["0"]) }
        #expect(zero.message.contains("depth must be between 1 and 128, got 0"), "\(zero.message)")
        let deep = try #require(throws: CommandError.self) { _ = try instance.call(command: "reorg", arguments: ["129"]) }
        #expect(deep.message.contains("depth must be between 1 and 128, got 129"), "\(deep.message)")

        instance.disable()
        let outcome = try Self.replay(blocks: host.records(topic: "sim.blocks"), logs: host.records(topic: "sim.logs"))
        Self.checkSingleChain(outcome, start: 1000, count: outcome.blocks.count)
        #expect(outcome.reorgs == 1 && outcome.revertedBlocks == 4)
    }

    // MARK: Settings

    @Test("out-of-range settings are refused at create with a message naming the setting")
    func badSettings() throws {
        let fixtures = try FixtureBuilder()
        defer { fixtures.remove() }
        try Self.install(fixtures)
        let host = try fixtures.startHost()
        defer { host.shutdown() }

        let cases: [(String, SettingValue, String)] = [
            ("block_time_ms", .int(-1), "block_time_ms must be between 0 and 3600000 (0 = as fast as possible), got -1"),
            ("start_block", .int(-5), "start_block must be between 0 and 281474976710656, got -5"),
            ("start_timestamp", .int(1_700_000_000_000), "start_timestamp must be between 0 and 253402300799 (Unix seconds, not milliseconds; 0 = now), got 1700000000000"),
            ("tokens", .int(0), "tokens must be between 1 and 100000, got 0"),
            ("accounts", .int(1), "accounts must be between 2 and 1000000000, got 1"),
            ("transfers_per_block", .int(10_001), "transfers_per_block must be between 0 and 10000, got 10001"),
            ("reorg_every", .int(-2), "reorg_every must be between 0 and 1000000000 (0 = never), got -2"),
            ("reorg_depth", .int(0), "reorg_depth must be between 1 and 128, got 0"),
            ("reorg_depth", .int(200), "reorg_depth must be between 1 and 128, got 200"),
            ("max_blocks", .int(-1), "max_blocks must be between 0 and 281474976710656 (0 = unlimited), got -1"),
            ("confirmations", .int(-3), "confirmations must be between 0 and 1000000, got -3"),
            ("topic_blocks", .string(""), "topic_blocks must not be empty"),
            ("topic_logs", .string("bad topic"), "topic_logs must be dot-separated segments of [A-Za-z0-9_-], got 'bad topic'"),
            ("topic_logs", .string("a..b"), "topic_logs must be dot-separated segments of [A-Za-z0-9_-], got 'a..b'"),
            ("topic_logs", .string("sim.blocks"), "topic_logs must differ from topic_blocks, both are 'sim.blocks'"),
        ]
        for (index, (field, value, message)) in cases.enumerated() {
            let name = "bad-\(index)"
            try host.addInstance(InstanceSpec(name: name, plugin: "sim-chain", restart: RestartPolicy(mode: .never),
                                              settings: Self.settings([field: value])))
            let instance = try #require(host.instance(named: name))
            #expect(waitForState(instance, .failed), "\(field): \(instance.status)")
            #expect(instance.status.lastError?.contains(message) == true, "\(field): \(instance.status.lastError ?? "none")")
        }

        // Types are checked by the host before create.
        let typeError = try #require(throws: ConfigError.self) {
            try host.addInstance(InstanceSpec(name: "bad-type", plugin: "sim-chain", settings: Self.settings(["seed": .string("x")])))
        }
        #expect(typeError.field == "seed")

        // A different seed for an existing chain is refused, naming the seed.
        try Self.runToEnd(host, name: "seeded", settings: Self.settings(["max_blocks": .int(3)]))
        let seeded = try #require(host.instance(named: "seeded"))
        try seeded.reconfigure(InstanceSpec(name: "seeded", plugin: "sim-chain", restart: RestartPolicy(mode: .never),
                                            settings: Self.settings(["max_blocks": .int(5), "seed": .int(7)])))
        #expect(waitForState(seeded, .failed), "\(seeded.status)")
        #expect(seeded.status.lastError?.contains("seed is 7 but this instance's chain was generated with seed 42") == true,
                "\(seeded.status.lastError ?? "none")")
    }
}
