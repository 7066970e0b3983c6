import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import StarbloomCore

/// The bundled eth-rpc source (Plugins/eth-rpc) against a real local EVM: eth-tester + py-evm behind
/// Tests/eth-tester/server.py. After applying reverts, the log topic equals the chain's canonical
/// logs exactly, through a reorg while running and one while the instance is stopped.
@Suite("eth-rpc plugin against eth-tester", .serialized, .enabled(if: EthTesterServer.available, EthTesterServer.unavailableReason))
struct EthRPCTests {
    static func metric(_ host: StarbloomHost, _ name: String, instance: String = "eth") -> Double? {
        host.metricValue("starbloom_plugin_eth_rpc_\(name){instance=\"\(instance)\",plugin=\"eth-rpc\"}")
    }

    static func install(_ fixtures: FixtureBuilder) throws {
        let path = TestPaths.bundledPlugin("eth_rpc")
        try #require(FileManager.default.fileExists(atPath: path),
                     "bundled plugin \(path) not found: build the package (swift build) or set STARBLOOM_BUILD_DIR")
        try FileManager.default.copyItem(atPath: path, toPath: "\(fixtures.pluginsDirectory)/libsbplugin_eth_rpc.so")
    }

    static func settings(_ server: EthTesterServer, chainID: Int64) -> [String: SettingValue] {
        [
            "endpoints": .list([.string(server.url)]), "chain_id": .int(chainID), "start_block": .int(0),
            "confirmations": .int(3), "batch_blocks": .int(4), "poll_interval_ms": .int(20),
            "request_timeout_ms": .int(5000), "topic_blocks": .string("eth.blocks"), "topic_logs": .string("eth.logs"),
        ]
    }

    /// Surviving records after applying reverts (each revert removes the latest identical record).
    static func survivors(_ records: [QueueRecord]) throws -> [QueueRecord] {
        var alive: [QueueRecord] = []
        for record in records {
            if record.header("starbloom-revert") != nil {
                #expect(record.header("starbloom-revert") == "1")
                let original = record.payloadText.replacingOccurrences(of: #""removed":true}"#, with: #""removed":false}"#)
                let index = try #require(alive.lastIndex { $0.payloadText == original }, "a revert retracts a published record: \(record.payloadText)")
                #expect(index == alive.count - 1 || record.payloadText.contains("\"logCount\"") == false,
                        "a block revert retracts the newest block")
                alive.remove(at: index)
            } else {
                alive.append(record)
            }
        }
        return alive
    }

    static func object(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(text)")
    }

    /// Waits until the plugin's cursor is at the chain head (and stays there for a poll or two).
    static func waitCaughtUp(_ host: StarbloomHost, _ server: EthTesterServer, _ instance: PluginInstance) throws {
        let head = try server.blockNumber()
        let name = instance.status.name
        let reached = waitUntil(timeout: 60) { metric(host, "cursor_block", instance: name) == Double(head) }
        try #require(reached, "cursor \(metric(host, "cursor_block", instance: name) ?? -1) != head \(head); status \(instance.status); logs \(instance.logs.suffix(10))")
        instance.drainPublishTransactions() // the cursor moves at commit; the records follow in the background
    }

    /// After reverts, `eth.logs` equals `eth_getLogs` over the whole chain (in order), and
    /// `eth.blocks` is the canonical chain 0...head.
    static func checkCanonical(_ host: StarbloomHost, _ server: EthTesterServer, token: String, logCount: Int,
                               instance: String = "eth", sameHostThroughout: Bool = true) throws {
        let head = try server.blockNumber()
        let canonical = try #require(try server.call("eth_getLogs", [["fromBlock": "0x0", "toBlock": "0x" + String(head, radix: 16)]]) as? [[String: Any]])
        let logRecords = host.records(topic: "eth.logs")
        let published = try survivors(logRecords).map { try object($0.payloadText) }
        #expect(published.count == canonical.count, "published \(published.count), canonical \(canonical.count)")
        #expect(canonical.count == logCount)
        func identity(_ log: [String: Any]) -> String {
            ["address", "blockNumber", "blockHash", "transactionHash", "transactionIndex", "logIndex", "data"]
                .map { "\(log[$0] ?? "nil")" }.joined(separator: "|") + "|\(log["topics"] ?? "nil")"
        }
        #expect(published.map(identity) == canonical.map(identity))
        #expect(published.allSatisfy { $0["removed"] as? Bool == false && ($0["address"] as? String) == token })
        #expect(logRecords.allSatisfy { $0.keyText == token })

        let blocks = try survivors(host.records(topic: "eth.blocks"))
        #expect(blocks.map(\.keyText) == (0...head).map { String($0) })
        let canonicalBlocks = try (0...head).map { number in
            try #require(try server.call("eth_getBlockByNumber", ["0x" + String(number, radix: 16), false]) as? [String: Any])
        }
        for (record, block) in zip(blocks, canonicalBlocks) {
            let json = try object(record.payloadText)
            #expect(json["hash"] as? String == block["hash"] as? String, "block \(record.keyText)")
            #expect(json["parentHash"] as? String == block["parentHash"] as? String)
            #expect(json["timestamp"] as? String == block["timestamp"] as? String)
            let timestamp = try #require(UInt64((block["timestamp"] as? String ?? "").dropFirst(2), radix: 16))
            #expect(record.eventTimeNs == Int64(timestamp) * 1_000_000_000)
        }
        // Metrics count from the host's start.
        #expect(!sameHostThroughout || metric(host, "logs_published_total", instance: instance) == Double(logRecords.filter { $0.header("starbloom-revert") == nil }.count))
    }

    /// An instance with `settings` fails at once, with `message` in its last error.
    static func expectRefused(_ host: StarbloomHost, name: String, _ settings: [String: SettingValue], _ message: String) throws {
        try host.addInstance(InstanceSpec(name: name, plugin: "eth-rpc", restart: RestartPolicy(mode: .never), settings: settings))
        let instance = try #require(host.instance(named: name))
        #expect(waitForState(instance, .failed, timeout: 10), "\(instance.status)")
        #expect(instance.status.lastError?.contains(message) == true, "\(instance.status.lastError ?? "none")")
    }

    static func startHost(_ fixtures: FixtureBuilder, installPlugin: Bool = true) throws -> StarbloomHost {
        if installPlugin { try install(fixtures) }
        let configuration = fixtures.configuration()
        let host = StarbloomHost(configuration: configuration, services: try HostServices.embedded(configuration: configuration))
        try host.start()
        return host
    }

    @Test("429 with Retry-After, 500, malformed JSON, a JSON-RPC error, a dropped connection, a stall and a dead first endpoint: no gap, no duplicate")
    func faultsAndFailover() throws {
        let server = try EthTesterServer.start()
        defer { server.stop() }
        let chainID = try server.chainID()
        let token = try #require(try server.call("test_deployToken") as? String)
        for i in 1...8 { _ = try server.call("test_transfer", ["0x00000000000000000000000000000000000a11ce", "0x\(String(i, radix: 16))"]) }
        let fixtures = try FixtureBuilder()
        defer { fixtures.remove() }
        var settings = Self.settings(server, chainID: chainID)
        settings["endpoints"] = .list([.string("http://127.0.0.1:1/"), .string(server.url)]) // nothing listens on port 1
        settings["request_timeout_ms"] = .int(1000)
        settings["backoff_max_ms"] = .int(400)
        do {
        let host = try Self.startHost(fixtures)
        try host.addInstance(InstanceSpec(name: "eth", plugin: "eth-rpc", restart: RestartPolicy(mode: .never), settings: settings))
        let instance = try #require(host.instance(named: "eth"))
        try Self.waitCaughtUp(host, server, instance)
        #expect(instance.hasLog("failing over to \(server.url)"), "the start failed over from the dead endpoint")
        defer { host.shutdown() }
        // Faults for the plugin's next requests (the test's own curl requests are not affected).
        _ = try server.call("test_faults", ["429", "500", "garbage", "rpcerror", "close", "stall:1500", "500"])
        for i in 1...4 { _ = try server.call("test_transfer", ["0x0000000000000000000000000000000000000b0b", "0x\(String(i, radix: 16))"]) }
        try Self.waitCaughtUp(host, server, instance)
        #expect(waitUntil(timeout: 5) { instance.status.state == .running }, "healthy again once requests succeed: \(instance.status)")
        instance.disable()
        #expect((Self.metric(host, "request_errors_total") ?? 0) >= 9, "2 refused connections and 7 injected faults")
        #expect((Self.metric(host, "failovers_total") ?? 0) >= 1)
        #expect((Self.metric(host, "retries_total") ?? 0) >= 9)
        try Self.checkCanonical(host, server, token: token, logCount: 12)
        }

        // A whole host restart on the same data directory: the checkpoint resumes the chain.
        _ = try server.call("test_transfer", ["0x00000000000000000000000000000000000ca201", "0x77"])
        let host = try Self.startHost(fixtures, installPlugin: false)
        defer { host.shutdown() }
        try host.addInstance(InstanceSpec(name: "eth", plugin: "eth-rpc", restart: RestartPolicy(mode: .never), settings: settings))
        let instance = try #require(host.instance(named: "eth"))
        _ = try server.call("test_transfer", ["0x00000000000000000000000000000000000ca201", "0x78"])
        try Self.waitCaughtUp(host, server, instance)
        #expect(instance.hasLog("resuming after block"))
        instance.disable()
        try Self.checkCanonical(host, server, token: token, logCount: 14, sameHostThroughout: false)
    }

    @Test("max_retries: a request failing more often than allowed fails the instance with the last error; max_retries out of range is refused")
    func retriesAreBounded() throws {
        let server = try EthTesterServer.start()
        defer { server.stop() }
        let chainID = try server.chainID()
        _ = try server.call("test_deployToken")
        let fixtures = try FixtureBuilder()
        defer { fixtures.remove() }
        let host = try Self.startHost(fixtures)
        defer { host.shutdown() }
        var settings = Self.settings(server, chainID: chainID)
        settings["max_retries"] = .int(2)
        settings["backoff_max_ms"] = .int(50)
        try host.addInstance(InstanceSpec(name: "eth", plugin: "eth-rpc", restart: RestartPolicy(mode: .never), settings: settings))
        let instance = try #require(host.instance(named: "eth"))
        try Self.waitCaughtUp(host, server, instance)
        _ = try server.call("test_faults", ["500", "500", "500", "500"])
        #expect(waitForState(instance, .failed, timeout: 30), "\(instance.status)")
        #expect(instance.status.lastError?.contains("gave up after 3 failed attempts in a row (max_retries)") == true
                && instance.status.lastError?.contains("HTTP 500") == true, "\(instance.status.lastError ?? "none")")

        var bad = Self.settings(server, chainID: chainID)
        bad["max_retries"] = .int(-1)
        try Self.expectRefused(host, name: "bad", bad, "max_retries must be between 0 and 1000000 (0 = until it works), got -1")
        for (name, value, message) in [("max_lag_blocks", Int64(0), "max_lag_blocks must be between 1 and 1000000, got 0"),
                                       ("lag_check_interval_ms", 5, "lag_check_interval_ms must be between 10 and 3600000, got 5"),
                                       ("reorg_window", 10_001, "reorg_window must be between 1 and 10000, got 10001")] {
            var out = Self.settings(server, chainID: chainID)
            out[name] = .int(value)
            try Self.expectRefused(host, name: "bad-\(name.replacingOccurrences(of: "_", with: "-"))", out, message)
        }
    }

    @Test("a first endpoint lagging more than max_lag_blocks behind the second is left for it: the instance reaches the real head")
    func laggingEndpointIsLeft() throws {
        let server = try EthTesterServer.start()
        defer { server.stop() }
        let chainID = try server.chainID()
        let token = try #require(try server.call("test_deployToken") as? String)
        for i in 1...10 { _ = try server.call("test_transfer", ["0x00000000000000000000000000000000000a11ce", "0x\(String(i, radix: 16))"]) }
        _ = try server.call("test_setLag", [6])
        let head = try server.blockNumber()
        let laggingHead = try #require(UInt64((try server.call("eth_blockNumber", at: server.laggingURL) as? String ?? "").dropFirst(2), radix: 16))
        #expect(laggingHead + 6 == head, "the lagging view trails by 6")

        let fixtures = try FixtureBuilder()
        defer { fixtures.remove() }
        let host = try Self.startHost(fixtures)
        defer { host.shutdown() }
        var settings = Self.settings(server, chainID: chainID)
        settings["endpoints"] = .list([.string(server.laggingURL), .string(server.url)])
        settings["max_lag_blocks"] = .int(2)
        settings["lag_check_interval_ms"] = .int(100)
        try host.addInstance(InstanceSpec(name: "eth", plugin: "eth-rpc", restart: RestartPolicy(mode: .never), settings: settings))
        let instance = try #require(host.instance(named: "eth"))
        try Self.waitCaughtUp(host, server, instance)
        #expect(instance.hasLog("is 6 blocks behind \(server.url)"), "\(instance.logs.suffix(5))")
        #expect((Self.metric(host, "failovers_total") ?? 0) >= 1)
        #expect(Self.metric(host, "endpoint_lag_blocks") == 0)
        for i in 1...3 { _ = try server.call("test_transfer", ["0x0000000000000000000000000000000000000b0b", "0x\(String(i, radix: 16))"]) }
        try Self.waitCaughtUp(host, server, instance)
        instance.disable()
        try Self.checkCanonical(host, server, token: token, logCount: 13)
    }

    @Test("https endpoint: with tls_ca_file naming its certificate the chain is read completely; untrusted, the instance reports why; a bad tls_ca_file or URL is refused")
    func httpsEndpoint() throws {
        let fixtures = try FixtureBuilder()
        defer { fixtures.remove() }
        // A self-signed certificate for 127.0.0.1 (its own CA), and a second one nobody trusts.
        func makeCertificate(_ name: String) throws -> (certificate: String, key: String) {
            let certificate = "\(fixtures.root)/\(name).pem", key = "\(fixtures.root)/\(name)-key.pem"
            let openssl = Process()
            openssl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            openssl.arguments = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", certificate,
                                 "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
            openssl.standardOutput = FileHandle.nullDevice
            openssl.standardError = FileHandle.nullDevice
            try openssl.run()
            openssl.waitUntilExit()
            try #require(openssl.terminationStatus == 0, "openssl req failed")
            return (certificate, key)
        }
        let trusted = try makeCertificate("node")
        let stranger = try makeCertificate("stranger")
        let server = try EthTesterServer.start(tls: trusted)
        defer { server.stop() }
        #expect(server.url.hasPrefix("https://"))
        let chainID = try server.chainID()
        let token = try #require(try server.call("test_deployToken") as? String)
        for i in 1...5 { _ = try server.call("test_transfer", ["0x00000000000000000000000000000000000a11ce", "0x\(String(i, radix: 16))"]) }

        let host = try Self.startHost(fixtures)
        defer { host.shutdown() }
        // Trusting only another certificate: the handshake fails and the instance says why.
        var settings = Self.settings(server, chainID: chainID)
        settings["tls_ca_file"] = .string(stranger.certificate)
        try host.addInstance(InstanceSpec(name: "untrusting", plugin: "eth-rpc", restart: RestartPolicy(mode: .never), settings: settings))
        let untrusting = try #require(host.instance(named: "untrusting"))
        #expect(waitUntil(timeout: 30) { untrusting.hasLog("TLS certificate not trusted") }, "\(untrusting.logs.suffix(5))")
        untrusting.disable()

        settings["tls_ca_file"] = .string(trusted.certificate)
        try host.addInstance(InstanceSpec(name: "eth", plugin: "eth-rpc", restart: RestartPolicy(mode: .never), settings: settings))
        let instance = try #require(host.instance(named: "eth"))
        try Self.waitCaughtUp(host, server, instance)
        instance.disable()
        try Self.checkCanonical(host, server, token: token, logCount: 5)

        // Refused at create, with the setting named.
        var badCA = settings
        badCA["tls_ca_file"] = .string("\(fixtures.root)/missing.pem")
        try Self.expectRefused(host, name: "bad-ca", badCA, "tls_ca_file '\(fixtures.root)/missing.pem' has no readable PEM certificate")
        var badURL = Self.settings(server, chainID: chainID)
        badURL["endpoints"] = .list([.string("ftp://127.0.0.1:1/")])
        try Self.expectRefused(host, name: "bad-url", badURL, "endpoints: 'ftp://127.0.0.1:1/' is not an http:// or https://host[:port][/path] URL")
    }

    @Test("topic filters: only logs whose topics match are published; a malformed or empty topic filter is refused with its name")
    func topicFilters() throws {
        let server = try EthTesterServer.start()
        defer { server.stop() }
        let chainID = try server.chainID()
        _ = try server.call("test_deployToken")
        let alice = "0x00000000000000000000000000000000000a11ce"
        let bob = "0x0000000000000000000000000000000000000b0b"
        for i in 1...6 { _ = try server.call("test_transfer", [i % 2 == 0 ? alice : bob, "0x\(String(i, radix: 16))"]) }
        let aliceTopic = "0x" + String(repeating: "0", count: 24) + alice.dropFirst(2).uppercased() // compared case-insensitively
        let transferTopic = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"

        let fixtures = try FixtureBuilder()
        defer { fixtures.remove() }
        let host = try Self.startHost(fixtures)
        defer { host.shutdown() }
        var settings = Self.settings(server, chainID: chainID)
        settings["topic0"] = .list([.string(transferTopic)])
        settings["topic2"] = .list([.string(aliceTopic)])
        try host.addInstance(InstanceSpec(name: "eth", plugin: "eth-rpc", restart: RestartPolicy(mode: .never), settings: settings))
        let instance = try #require(host.instance(named: "eth"))
        try Self.waitCaughtUp(host, server, instance)
        instance.disable()
        let published = host.records(topic: "eth.logs").map(\.payloadText)
        #expect(published.count == 3, "\(published)")
        #expect(published.allSatisfy { $0.contains(aliceTopic.lowercased()) })
        let expected = try #require(try server.call("eth_getLogs", [["fromBlock": "0x0", "topics": [transferTopic, nil, aliceTopic.lowercased()] as [Any?]]]) as? [[String: Any]])
        #expect(try published.map { try Self.object($0)["transactionHash"] as? String } == expected.map { $0["transactionHash"] as? String })

        for (index, (name, value, message)) in [("topic1", SettingValue.list([.string("0x12")]), "topic1: '0x12' is not a 0x-prefixed 32-byte hex value"),
                                       ("topic3", .list([]), "topic3 is an empty list, which no log would match"),
                                       ("max_records_per_call", .int(1), "max_records_per_call must be between 2 and 65536, got 1"),
                                       ("max_records_per_call", .int(65_537), "max_records_per_call must be between 2 and 65536, got 65537")].enumerated() {
            var bad = Self.settings(server, chainID: chainID)
            bad[name] = value
            try Self.expectRefused(host, name: "bad-setting-\(index)", bad, message)
        }
    }

    @Test("emit_transactions and emit_receipts: through a reorg, the transaction and receipt topics after reverts equal the canonical chain's")
    func transactionsAndReceipts() throws {
        let server = try EthTesterServer.start()
        defer { server.stop() }
        let chainID = try server.chainID()
        _ = try server.call("test_deployToken")
        let bob = "0x0000000000000000000000000000000000000b0b"
        let carol = "0x00000000000000000000000000000000000ca201"
        for i in 1...3 { _ = try server.call("test_transfer", [carol, "0x\(String(i, radix: 16))"]) }

        let fixtures = try FixtureBuilder()
        defer { fixtures.remove() }
        let host = try Self.startHost(fixtures)
        defer { host.shutdown() }
        var settings = Self.settings(server, chainID: chainID)
        settings["emit_transactions"] = .bool(true)
        settings["emit_receipts"] = .bool(true)
        settings["topic_transactions"] = .string("eth.txs")
        settings["topic_receipts"] = .string("eth.receipts")
        try host.addInstance(InstanceSpec(name: "eth", plugin: "eth-rpc", restart: RestartPolicy(mode: .never), settings: settings))
        let instance = try #require(host.instance(named: "eth"))
        try Self.waitCaughtUp(host, server, instance)
        let snapshot = try #require(try server.call("evm_snapshot") as? String)
        for i in 1...2 { _ = try server.call("test_transfer", [bob, "0x\(String(i, radix: 16))"]) }
        try Self.waitCaughtUp(host, server, instance)
        _ = try server.call("evm_revert", [snapshot])
        for i in 1...3 { _ = try server.call("test_transfer", [carol, "0x\(String(i + 10, radix: 16))"]) }
        try Self.waitCaughtUp(host, server, instance)
        instance.disable()

        let head = try server.blockNumber()
        var canonical: [[String: Any]] = []
        for number in 0...head {
            let block = try #require(try server.call("eth_getBlockByNumber", ["0x" + String(number, radix: 16), true]) as? [String: Any])
            canonical += try #require(block["transactions"] as? [[String: Any]])
        }
        let hashes = canonical.map { $0["hash"] as? String }
        #expect(hashes.count == 7, "deploy + 3 + 3 transfers")

        let txRecords = host.records(topic: "eth.txs")
        #expect(txRecords.filter { $0.header("starbloom-revert") != nil }.count == 2, "bob's two transactions reverted")
        let transactions = try Self.survivors(txRecords).map { try Self.object($0.payloadText) }
        #expect(transactions.map { $0["hash"] as? String } == hashes)
        for (published, expected) in zip(transactions, canonical) {
            #expect(published["from"] as? String == expected["from"] as? String)
            #expect(published["input"] as? String == expected["input"] as? String)
            #expect(published["removed"] as? Bool == false && published["blockTimestamp"] is String)
        }
        #expect(Self.metric(host, "transactions_published_total") == Double(txRecords.filter { $0.header("starbloom-revert") == nil }.count))

        let receiptRecords = host.records(topic: "eth.receipts")
        #expect(receiptRecords.filter { $0.header("starbloom-revert") != nil }.count == 2)
        let receipts = try Self.survivors(receiptRecords).map { try Self.object($0.payloadText) }
        #expect(receipts.map { $0["transactionHash"] as? String } == hashes)
        #expect(try Self.survivors(receiptRecords).map(\.keyText) == hashes.map { $0 ?? "" })
        for receipt in receipts {
            let expected = try #require(try server.call("eth_getTransactionReceipt", [receipt["transactionHash"] as? String ?? ""]) as? [String: Any])
            #expect(receipt["blockHash"] as? String == expected["blockHash"] as? String)
            #expect(receipt["gasUsed"] as? String == expected["gasUsed"] as? String)
            #expect((receipt["logs"] as? [Any])?.count == (expected["logs"] as? [Any])?.count)
        }

        var clash = Self.settings(server, chainID: chainID)
        clash["topic_receipts"] = .string("eth.logs")
        try Self.expectRefused(host, name: "clash", clash, "topic_receipts must differ from topic_logs, both are 'eth.logs'")
    }

    @Test("sample.toml parses, and its settings (pointed at the test chain) start an instance that follows it")
    func sampleConfiguration() throws {
        let text = try String(contentsOfFile: "\(TestPaths.packageRoot)/Plugins/eth-rpc/sample.toml", encoding: .utf8)
        let configuration = try HostConfiguration.parse(text)
        var spec = try #require(configuration.instances.first)
        #expect(spec.plugin == "eth-rpc")
        let server = try EthTesterServer.start()
        defer { server.stop() }
        let chainID = try server.chainID()
        _ = try server.call("test_deployToken")
        spec.settings["endpoints"] = .list([.string(server.url)])
        spec.settings["chain_id"] = .int(chainID)
        spec.settings["poll_interval_ms"] = .int(20)
        let fixtures = try FixtureBuilder()
        defer { fixtures.remove() }
        let host = try Self.startHost(fixtures)
        defer { host.shutdown() }
        try host.addInstance(spec)
        let instance = try #require(host.instance(named: spec.name))
        #expect(waitForState(instance, .running, timeout: 30), "\(instance.status)")
        _ = try server.call("test_transfer", ["0x00000000000000000000000000000000000ca201", "0x5"])
        let head = try server.blockNumber()
        #expect(waitUntil(timeout: 30) { Self.metric(host, "cursor_block", instance: spec.name) == Double(head) }, "\(instance.logs.suffix(5))")
        instance.drainPublishTransactions()
        #expect(host.records(topic: "chain.logs").count == 1, "start_block = -1: only the transfer after the start")
        instance.disable()
    }

    @Test("a block published more than reorg_window below the head keeps no payloads: a reorg orphaning it degrades the instance instead of reverting")
    func deepBackfillBlockIsNotReverted() throws {
        let server = try EthTesterServer.start()
        defer { server.stop() }
        let chainID = try server.chainID()
        let genesis = try #require(try server.call("evm_snapshot") as? String)
        _ = try server.call("test_deployToken")
        for i in 1...12 { _ = try server.call("test_transfer", ["0x0000000000000000000000000000000000000b0b", "0x\(String(i, radix: 16))"]) }
        let fixtures = try FixtureBuilder()
        defer { fixtures.remove() }
        let host = try Self.startHost(fixtures)
        defer { host.shutdown() }
        var settings = Self.settings(server, chainID: chainID)
        settings["reorg_window"] = .int(3)
        settings["batch_blocks"] = .int(2)
        settings["max_requests_per_second"] = .int(2) // a range every ~1.5 s: the test stops it after the first
        try host.addInstance(InstanceSpec(name: "eth", plugin: "eth-rpc", restart: RestartPolicy(mode: .never), settings: settings))
        let instance = try #require(host.instance(named: "eth"))
        #expect(waitUntil(timeout: 30) { (Self.metric(host, "cursor_block") ?? -1) >= 1 })
        instance.disable()
        #expect(Self.metric(host, "cursor_block") == 1, "blocks 0 and 1 published, 12 blocks below the head")
        let published = host.records(topic: "eth.logs").count + host.records(topic: "eth.blocks").count

        // Block 1 (the token's deployment) is replaced by another chain from genesis.
        _ = try server.call("evm_revert", [genesis])
        for _ in 1...3 { _ = try server.call("evm_mine") }
        instance.enable()
        #expect(waitForState(instance, .degraded, timeout: 30), "\(instance.status)")
        #expect(instance.status.lastError?.contains("it orphans block 1, which was published more than reorg_window blocks below the head") == true,
                "\(instance.status.lastError ?? "none")")
        Thread.sleep(forTimeInterval: 0.3)
        #expect(host.records(topic: "eth.logs").count + host.records(topic: "eth.blocks").count == published, "nothing published, nothing reverted")
        instance.disable()
    }

    @Test("a reorg deeper than reorg_window: health degraded with the reason, nothing published after the cursor")
    func deepReorgDegrades() throws {
        let server = try EthTesterServer.start()
        defer { server.stop() }
        let chainID = try server.chainID()
        _ = try server.call("test_deployToken")
        let fixtures = try FixtureBuilder()
        defer { fixtures.remove() }
        let host = try Self.startHost(fixtures)
        defer { host.shutdown() }
        var settings = Self.settings(server, chainID: chainID)
        settings["reorg_window"] = .int(3)
        try host.addInstance(InstanceSpec(name: "eth", plugin: "eth-rpc", restart: RestartPolicy(mode: .never), settings: settings))
        let instance = try #require(host.instance(named: "eth"))
        let snapshot = try #require(try server.call("evm_snapshot") as? String)
        for i in 1...6 { _ = try server.call("test_transfer", ["0x0000000000000000000000000000000000000b0b", "0x\(String(i, radix: 16))"]) }
        try Self.waitCaughtUp(host, server, instance)
        let cursor = Self.metric(host, "cursor_block")
        let published = host.records(topic: "eth.logs").count + host.records(topic: "eth.blocks").count
        _ = try server.call("evm_revert", [snapshot])
        for i in 1...8 { _ = try server.call("test_transfer", ["0x00000000000000000000000000000000000ca201", "0x\(String(i, radix: 16))"]) }
        #expect(waitForState(instance, .degraded, timeout: 30), "\(instance.status)")
        #expect(instance.status.lastError?.contains("reorg deeper than reorg_window (3 blocks)") == true, "\(instance.status.lastError ?? "none")")
        Thread.sleep(forTimeInterval: 0.3)
        #expect(Self.metric(host, "cursor_block") == cursor)
        #expect(host.records(topic: "eth.logs").count + host.records(topic: "eth.blocks").count == published, "nothing published after the cursor")
        instance.disable()
    }

    @Test("backfill, follow, a reorg that removes events, a reorg while stopped: the log topic after reverts equals eth_getLogs")
    func canonicalAfterReorgs() throws {
        let server = try EthTesterServer.start()
        defer { server.stop() }
        let chainID = try server.chainID()
        let token = try #require(try server.call("test_deployToken") as? String)
        let alice = "0x00000000000000000000000000000000000a11ce"
        let bob = "0x0000000000000000000000000000000000000b0b"
        let carol = "0x00000000000000000000000000000000000ca201"
        for i in 1...12 { _ = try server.call("test_transfer", [alice, "0x\(String(i * 1000, radix: 16))"]) }

        let fixtures = try FixtureBuilder()
        defer { fixtures.remove() }
        let host = try Self.startHost(fixtures)
        defer { host.shutdown() }
        let plugin = try #require(host.catalog.plugin(named: "eth-rpc"), "refused: \(host.catalog.refused)")
        #expect(plugin.kind == .source)

        // A wrong chain id fails the start with both ids.
        var wrong = Self.settings(server, chainID: chainID)
        wrong["chain_id"] = .int(chainID + 1)
        try host.addInstance(InstanceSpec(name: "wrong-chain", plugin: "eth-rpc", restart: RestartPolicy(mode: .never), settings: wrong))
        let wrongInstance = try #require(host.instance(named: "wrong-chain"))
        #expect(waitForState(wrongInstance, .failed, timeout: 30), "\(wrongInstance.status)")
        #expect(wrongInstance.status.lastError?.contains("chain id mismatch") == true &&
                wrongInstance.status.lastError?.contains("chain_id is \(chainID + 1)") == true,
                "\(wrongInstance.status.lastError ?? "none")")

        try host.addInstance(InstanceSpec(name: "eth", plugin: "eth-rpc", restart: RestartPolicy(mode: .never),
                                          settings: Self.settings(server, chainID: chainID)))
        let instance = try #require(host.instance(named: "eth"))
        try Self.waitCaughtUp(host, server, instance)

        // Reorg 1 while running: three transfers to bob are published, then replaced by a longer
        // branch of transfers to carol (the bob events disappear from the chain).
        let snapshot = try #require(try server.call("evm_snapshot") as? String)
        for i in 1...3 { _ = try server.call("test_transfer", [bob, "0x\(String(i, radix: 16))"]) }
        try Self.waitCaughtUp(host, server, instance)
        #expect(host.payloads(topic: "eth.logs").contains { $0.contains(String(bob.dropFirst(2))) })
        _ = try server.call("evm_revert", [snapshot])
        for i in 1...5 { _ = try server.call("test_transfer", [carol, "0x\(String(i + 100, radix: 16))"]) }
        try Self.waitCaughtUp(host, server, instance)
        #expect(Self.metric(host, "reorgs_total") == 1)
        #expect(Self.metric(host, "reverted_blocks_total") == 3)
        #expect(Self.metric(host, "reverted_logs_total") == 3)

        // Two reorgs in quick succession (the plugin may see one or both).
        let snapshotA = try #require(try server.call("evm_snapshot") as? String)
        for i in 1...2 { _ = try server.call("test_transfer", [bob, "0x\(String(i + 400, radix: 16))"]) }
        try Self.waitCaughtUp(host, server, instance)
        _ = try server.call("evm_revert", [snapshotA])
        let snapshotB = try #require(try server.call("evm_snapshot") as? String)
        for i in 1...3 { _ = try server.call("test_transfer", [bob, "0x\(String(i + 500, radix: 16))"]) }
        _ = try server.call("evm_revert", [snapshotB])
        for i in 1...4 { _ = try server.call("test_transfer", [carol, "0x\(String(i + 600, radix: 16))"]) }
        try Self.waitCaughtUp(host, server, instance)
        #expect((Self.metric(host, "reorgs_total") ?? 0) >= 2)

        // Reorg while the instance is stopped: the restart finds its cursor orphaned.
        let snapshot2 = try #require(try server.call("evm_snapshot") as? String)
        for i in 1...2 { _ = try server.call("test_transfer", [bob, "0x\(String(i + 200, radix: 16))"]) }
        try Self.waitCaughtUp(host, server, instance)
        instance.disable()
        _ = try server.call("evm_revert", [snapshot2])
        _ = try server.call("evm_mine")
        for i in 1...3 { _ = try server.call("test_transfer", [alice, "0x\(String(i + 300, radix: 16))"]) }
        instance.enable()
        try Self.waitCaughtUp(host, server, instance)
        #expect(instance.hasLog("resuming after block"))
        #expect(instance.hasLog("reorg at block"))
        for _ in 1...2 { _ = try server.call("evm_mine") }
        _ = try server.call("test_transfer", [carol, "0x1"])
        try Self.waitCaughtUp(host, server, instance)
        instance.disable()

        try Self.checkCanonical(host, server, token: token, logCount: 12 + 5 + 4 + 3 + 1)
        let survivors = try Self.survivors(host.records(topic: "eth.logs"))
        #expect(!survivors.contains { $0.payloadText.contains(String(bob.dropFirst(2))) }, "bob's transfers were all reorged away")
    }
}

/// Exactly once across kill -9: a real process running eth-rpc is killed inside a transaction
/// (between the append of its logs and of its block records, by the host's crash-test hook) and at
/// arbitrary moments; after the restarts the topics hold the canonical chain with no record twice.
@Suite("eth-rpc exactly once across kill -9", .serialized, .enabled(if: EthTesterServer.available, EthTesterServer.unavailableReason))
struct EthRPCCrashTests {
    @Test("killed inside a transaction and mid-backfill, then restarted: eth.logs equals eth_getLogs and eth.blocks is 0...head, each record once")
    func exactlyOnceAcrossKillNine() throws {
        try #require(FileManager.default.isExecutableFile(atPath: TestPaths.queueTool), "build starbloom-queue-tool first (swift build --build-tests)")
        let server = try EthTesterServer.start()
        defer { server.stop() }
        let chainID = try server.chainID()
        let token = try #require(try server.call("test_deployToken") as? String)
        for i in 1...40 { _ = try server.call("test_transfer", ["0x00000000000000000000000000000000000a11ce", "0x\(String(i * 7, radix: 16))"]) }
        let head = try server.blockNumber()

        let root = FileManager.default.temporaryDirectory.appendingPathComponent("starbloom-eth-crash-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let data = "\(root)/data", plugins = "\(root)/plugins"
        try FileManager.default.createDirectory(atPath: plugins, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: TestPaths.bundledPlugin("eth_rpc"), toPath: "\(plugins)/libsbplugin_eth_rpc.so")
        let arguments = ["source-run", data, plugins, server.url, String(chainID), String(head)]

        // 1. Killed by the hook in its 8th transaction: block 7's log is appended, its block record not.
        let hooked = try runQueueTool(arguments, environment: ["STARBLOOM_FAULT_KILL_IN_TRANSACTION": "8"])
        #expect(hooked.killedBySignal && hooked.status == SIGKILL)
        do {
            let queue = try DurableQueue(directory: "\(data)/queue", defaults: TopicSettings())
            defer { queue.close() }
            let logs = try queue.read(topic: "eth.logs", from: 0, limit: 1_000).count
            let blocks = try queue.read(topic: "eth.blocks", from: 0, limit: 1_000).count
            // Transaction n publishes block n - 1 (batch_blocks 1); blocks 2... hold one log each.
            // The 8th (block 7) was killed between its log and its block record.
            #expect(blocks == 7 && logs == 6, "the kill should leave block 7's log without its block record: \(logs) logs, \(blocks) blocks")
        }
        // 2. Killed at arbitrary moments of the backfill.
        var kills = 0
        for killAfter in [14, 22, 31] {
            let (acknowledged, killed) = try runAndKill(arguments: arguments, killAfter: killAfter)
            if killed && acknowledged < 40 { kills += 1 }
        }
        #expect(kills >= 2, "the runs ended before they could be killed")
        // 3. Runs to the head.
        let last = try runQueueTool(arguments)
        try #require(last.status == 0 && last.output.hasSuffix("done\n"), "\(last.output.suffix(300))")

        let queue = try DurableQueue(directory: "\(data)/queue", defaults: TopicSettings())
        defer { queue.close() }
        let logRecords = try queue.read(topic: "eth.logs", from: 0, limit: 100_000)
        let blockRecords = try queue.read(topic: "eth.blocks", from: 0, limit: 100_000)
        #expect(!(logRecords + blockRecords).contains { $0.header("starbloom-revert") != nil }, "no reorg happened")
        let canonical = try #require(try server.call("eth_getLogs", [["fromBlock": "0x0", "toBlock": "0x" + String(head, radix: 16)]]) as? [[String: Any]])
        #expect(canonical.count == 40)
        func identity(_ log: [String: Any]) -> String {
            ["address", "blockNumber", "blockHash", "transactionHash", "logIndex", "data"].map { "\(log[$0] ?? "nil")" }.joined(separator: "|")
        }
        let published = try logRecords.map { try EthRPCTests.object($0.payloadText) }
        #expect(published.map(identity) == canonical.map(identity), "published \(published.count) logs, canonical \(canonical.count)")
        #expect(published.allSatisfy { ($0["address"] as? String) == token })
        #expect(blockRecords.map(\.keyText) == (0...head).map { String($0) })
        // Every record carries its transaction sequence number, each number once, in order.
        let sequences = (logRecords + blockRecords).compactMap { $0.header("starbloom-txn") }
        #expect(sequences.count == logRecords.count + blockRecords.count)
        #expect(Set(sequences).count == sequences.count)
    }
}

extension EthRPCCrashTests {
    @Test("a block larger than one publish call, killed between its calls: the restart publishes only the rest; orphaned while stopped, its published part is reverted")
    func blockSplitAcrossCalls() throws {
        try #require(FileManager.default.isExecutableFile(atPath: TestPaths.queueTool), "build starbloom-queue-tool first (swift build --build-tests)")
        let server = try EthTesterServer.start()
        defer { server.stop() }
        let chainID = try server.chainID()
        let token = try #require(try server.call("test_deployToken") as? String)
        let alice = "0x00000000000000000000000000000000000a11ce", bob = "0x0000000000000000000000000000000000000b0b"
        for i in 1...2 { _ = try server.call("test_transfer", [alice, "0x\(String(i, radix: 16))"]) }
        _ = try server.call("test_transferBatch", [alice, 9]) // block 4: 9 logs + its block record = 4 calls of at most 3
        _ = try server.call("test_transfer", [alice, "0x99"])
        var head = try server.blockNumber()
        let batchLogs = try #require(try server.call("eth_getLogs", [["fromBlock": "0x4", "toBlock": "0x4"]]) as? [[String: Any]])
        #expect(batchLogs.count == 9, "block 4 holds the 9 transfers")

        let root = FileManager.default.temporaryDirectory.appendingPathComponent("starbloom-eth-split-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let data = "\(root)/data", plugins = "\(root)/plugins"
        try FileManager.default.createDirectory(atPath: plugins, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: TestPaths.bundledPlugin("eth_rpc"), toPath: "\(plugins)/libsbplugin_eth_rpc.so")
        let split = ["SOURCE_RUN_MAX_RECORDS_PER_CALL": "3"]
        func logCount() throws -> Int {
            let queue = try DurableQueue(directory: "\(data)/queue", defaults: TopicSettings())
            defer { queue.close() }
            return try queue.read(topic: "eth.logs", from: 0, limit: 10_000).count
        }

        // 1. Blocks 0...3 are one call each (transactions 1...4); block 4 is transactions 5...8.
        // Killed while appending the 6th: block 4's first 6 logs are in the topic, the block is not.
        var arguments = ["source-run", data, plugins, server.url, String(chainID), String(head)]
        let hooked = try runQueueTool(arguments, environment: split.merging(["STARBLOOM_FAULT_KILL_IN_TRANSACTION": "6"]) { $1 })
        #expect(hooked.killedBySignal && hooked.status == SIGKILL)
        #expect(try logCount() == 2 + 6, "blocks 2 and 3, then 6 of block 4's logs")
        // The restart publishes block 4's last 3 logs and its block record, then block 5.
        let resumed = try runQueueTool(arguments, environment: split)
        try #require(resumed.status == 0 && resumed.output.hasSuffix("done\n"), "\(resumed.output.suffix(300))")

        // 2. The same split interrupted (killed in its 2nd call), then the block orphaned while the
        // source is stopped.
        let snapshot = try #require(try server.call("evm_snapshot") as? String)
        _ = try server.call("test_transferBatch", [bob, 9]) // block 6
        head = try server.blockNumber()
        arguments[5] = String(head)
        let hooked2 = try runQueueTool(arguments, environment: split.merging(["STARBLOOM_FAULT_KILL_IN_TRANSACTION": "2"]) { $1 })
        #expect(hooked2.killedBySignal && hooked2.status == SIGKILL)
        _ = try server.call("evm_revert", [snapshot])
        for i in 1...2 { _ = try server.call("test_transfer", [alice, "0x\(String(i + 0x200, radix: 16))"]) } // blocks 6', 7'
        head = try server.blockNumber()
        arguments[5] = String(head)
        let last = try runQueueTool(arguments, environment: split)
        try #require(last.status == 0 && last.output.hasSuffix("done\n"), "\(last.output.suffix(300))")

        let queue = try DurableQueue(directory: "\(data)/queue", defaults: TopicSettings())
        defer { queue.close() }
        let logRecords = try queue.read(topic: "eth.logs", from: 0, limit: 10_000)
        // The kill came in the append of the 2nd call; the 3rd may have committed meanwhile (the
        // next call commits while the previous one appends): 6 or 9 of the orphaned block's logs
        // were published, and each of them is reverted once.
        let reverts = logRecords.filter { $0.header("starbloom-revert") != nil }
        let orphanedLogs = logRecords.filter { $0.header("starbloom-revert") == nil && $0.payloadText.contains(String(bob.dropFirst(2))) }
        #expect([6, 9].contains(orphanedLogs.count), "\(orphanedLogs.count) logs of the orphaned block were published")
        #expect(reverts.count == orphanedLogs.count, "each published log of the orphaned block is reverted once")
        #expect(reverts.allSatisfy { $0.payloadText.contains(String(bob.dropFirst(2))) && $0.payloadText.contains(#""removed":true"#) })
        let canonical = try #require(try server.call("eth_getLogs", [["fromBlock": "0x0", "toBlock": "0x" + String(head, radix: 16)]]) as? [[String: Any]])
        #expect(canonical.count == 2 + 9 + 1 + 2)
        func identity(_ log: [String: Any]) -> String {
            ["address", "blockNumber", "blockHash", "transactionHash", "logIndex", "data"].map { "\(log[$0] ?? "nil")" }.joined(separator: "|")
        }
        let published = try EthRPCTests.survivors(logRecords).map { try EthRPCTests.object($0.payloadText) }
        #expect(published.map(identity) == canonical.map(identity), "published \(published.count) logs, canonical \(canonical.count)")
        #expect(published.allSatisfy { ($0["address"] as? String) == token })
        let blockRecords = try queue.read(topic: "eth.blocks", from: 0, limit: 10_000)
        #expect(blockRecords.map(\.keyText) == (0...head).map { String($0) }, "no block record of the orphaned block 6 was ever published")
        let sequences = (logRecords + blockRecords).compactMap { $0.header("starbloom-txn") }
        #expect(Set(sequences).count == sequences.count, "each transaction's records once")
    }
}

extension Int64 {
    init?(_ text: String, hexPrefixed: Bool) {
        guard text.hasPrefix("0x"), let value = Int64(text.dropFirst(2), radix: 16) else { return nil }
        self = value
    }
}

/// Tests/eth-tester/server.py as a subprocess on a free port, and a JSON-RPC client for the test
/// (curl; the plugin itself uses its own HTTP client).
final class EthTesterServer: @unchecked Sendable {
    static let script = "\(TestPaths.packageRoot)/Tests/eth-tester/server.py"
    static let unavailableReason: Comment =
        "python3 with eth-tester[py-evm] and web3 is not importable: run scripts/install-deps --test-tools (CI does)"

    /// Whether `python3 -c 'import eth_tester, web3'` works.
    static let available: Bool = {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import eth_tester, web3, eth.vm"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }()

    let process: Process
    let url: String
    /// The same chain served as a node that trails it by `setLag(_:)` blocks.
    let laggingURL: String
    private var nextID = 1

    let input: Pipe
    /// With TLS: the certificate the test's own calls trust (curl --cacert).
    let trustedCertificate: String?

    private init(process: Process, port: Int, laggingPort: Int, input: Pipe, tlsCertificate: String?) {
        self.process = process
        self.input = input
        self.trustedCertificate = tlsCertificate
        self.url = "\(tlsCertificate == nil ? "http" : "https")://127.0.0.1:\(port)/"
        self.laggingURL = "http://127.0.0.1:\(laggingPort)/"
    }

    /// `tls`: serve the main endpoint over https with this certificate and key (PEM files).
    static func start(tls: (certificate: String, key: String)? = nil) throws -> EthTesterServer {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, "--port", "0", "--lagging-port", "0", "--exit-with-stdin"]
            + (tls.map { ["--tls-cert", $0.certificate, "--tls-key", $0.key] } ?? [])
        let input = Pipe() // closed when this process ends: the server then exits too
        process.standardInput = input
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.standardError
        try process.run()
        // "listening <port>" then "lagging <port>" once the server accepts connections.
        var text = ""
        let deadline = Date(timeIntervalSinceNow: 60)
        while text.split(separator: "\n").count < 2 || !text.hasSuffix("\n"), Date() < deadline, process.isRunning {
            let data = output.fileHandleForReading.availableData
            if data.isEmpty { break }
            text += String(decoding: data, as: UTF8.self)
        }
        func port(_ label: String) -> Int? {
            text.split(separator: "\n").first { $0.hasPrefix(label + " ") }.flatMap { Int($0.dropFirst(label.count + 1)) }
        }
        guard let main = port("listening"), let lagging = port("lagging") else {
            process.terminate()
            throw FixtureBuildError(description: "server.py did not start: '\(text)'")
        }
        return EthTesterServer(process: process, port: main, laggingPort: lagging, input: input, tlsCertificate: tls?.certificate)
    }

    func stop() {
        try? input.fileHandleForWriting.close()
        if process.isRunning { process.terminate() }
        if !waitUntil(timeout: 5, { !process.isRunning }) {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// The chain's id (`eth_chainId`).
    func chainID() throws -> Int64 {
        let text = try call("eth_chainId") as? String ?? ""
        guard let id = Int64(text, hexPrefixed: true) else { throw FixtureBuildError(description: "eth_chainId answered '\(text)'") }
        return id
    }

    /// One JSON-RPC call (to `url`, or the main endpoint); throws on an error answer.
    func call(_ method: String, _ params: [Any] = [], at endpoint: String? = nil) throws -> Any? {
        nextID += 1
        let request: [String: Any] = ["jsonrpc": "2.0", "id": nextID, "method": method, "params": params]
        let body = try JSONSerialization.data(withJSONObject: request)
        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        curl.arguments = ["curl", "-sS", "--max-time", "60", "-X", "POST", "-H", "Content-Type: application/json"]
            + (trustedCertificate.map { ["--cacert", $0] } ?? [])
            + ["--data-binary", String(decoding: body, as: UTF8.self), endpoint ?? url]
        let output = Pipe()
        curl.standardOutput = output
        try curl.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        curl.waitUntilExit()
        guard curl.terminationStatus == 0,
              let answer = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) as? [String: Any] else {
            throw FixtureBuildError(description: "\(method): curl exit \(curl.terminationStatus), answer '\(String(decoding: data, as: UTF8.self))'")
        }
        if let error = answer["error"] { throw FixtureBuildError(description: "\(method): \(error)") }
        return answer["result"] is NSNull ? nil : answer["result"]
    }

    func blockNumber() throws -> UInt64 {
        let text = try call("eth_blockNumber") as? String ?? ""
        guard text.hasPrefix("0x"), let value = UInt64(text.dropFirst(2), radix: 16) else {
            throw FixtureBuildError(description: "eth_blockNumber answered '\(text)'")
        }
        return value
    }
}
