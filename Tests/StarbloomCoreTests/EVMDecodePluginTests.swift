import Foundation
import Testing
@testable import StarbloomCore

/// The bundled evm-decode processor (Plugins/evm-decode), loaded from the SwiftPM-built
/// `libsbplugin_evm_decode.so` and run as a pipeline step (and once through its own feed).
@Suite("evm-decode plugin")
struct EVMDecodePluginTests {
    static let transferTopic = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
    static let approvalTopic = "0x8c5be1e5ebec7d5bd14f71427d1e84f3dd0314c0f7b2291e5b200ac8c7c3b925"
    /// keccak256("Swap(address,uint256,uint256,uint256,uint256,address)"), as published for Uniswap V2 pairs.
    static let swapTopic = "0xd78ad95fa46c994b6551d0da85fc275fe613ce37657fb8d5e3d130840159d822"
    /// keccak256("Note(address,string,bool,int256,uint64[],bytes4)").
    static let noteTopic = "0xfe9be6003b269f03061bb50390c1befd1a4c6047d001d055b36ad9b78f660f58"

    static let usdc = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"   // checksum case: decoded lower-cased
    static let alice = "1111111111111111111111111111111111111111"
    static let bob = "2222222222222222222222222222222222222222"
    static let blockHash = "0x" + String(repeating: "ab", count: 32)
    static let txHash = "0x" + String(repeating: "cd", count: 32)

    // MARK: Building logs

    /// `digits` left-padded with zeros to a 32-byte word (64 hex digits, no prefix).
    static func word(_ digits: String) -> String { String(repeating: "0", count: 64 - digits.count) + digits }
    static func word(_ value: UInt64) -> String { word(String(value, radix: 16)) }
    static func addressTopic(_ digits: String) -> String { "0x" + word(digits) }

    /// An `eth_getLogs` entry as sim-chain and eth-rpc publish it.
    static func log(address: String = usdc, topics: [String], data: String, block: String = "0x121eac0",
                    blockHash: String = "\"\(blockHash)\"", timestamp: String = "0x65a0e4c0", tx: String = "\"\(txHash)\"",
                    logIndex: String = "0x7", removed: Bool = false, extra: String = "") -> String {
        let topicList = topics.map { "\"\($0)\"" }.joined(separator: ",")
        return #"{"address":"\#(address)","topics":[\#(topicList)],"data":"\#(data)","blockNumber":"\#(block)","blockHash":\#(blockHash),"#
            + #""blockTimestamp":"\#(timestamp)","transactionHash":\#(tx),"transactionIndex":"0x3","logIndex":"\#(logIndex)","removed":\#(removed)\#(extra)}"#
    }

    /// 123456789012345678901234567890 (> 2^64).
    static let bigValue = "18ee90ff6c373e0ee4e3f0ad2"
    static let erc20Transfer = log(topics: [transferTopic, addressTopic(alice), addressTopic(bob)], data: "0x" + word(bigValue))

    /// What the decoder makes of a log built by `log(…)` with the default block fields.
    static func expected(address: String = "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48", event: String, signature: String, args: String,
                         removed: Bool = false) -> String {
        #"{"address":"\#(address)","event":"\#(event)","signature":"\#(signature)","args":\#(args),"block":19000000,"#
            + #""blockHash":"\#(blockHash)","timestamp":1705043136,"tx":"\#(txHash)","logIndex":7,"removed":\#(removed)}"#
    }

    // MARK: World

    static func install(_ fixtures: FixtureBuilder, _ name: String) throws {
        let path = TestPaths.bundledPlugin(name)
        try #require(FileManager.default.fileExists(atPath: path),
                     "bundled plugin \(path) not found: build the package (swift build) or set STARBLOOM_BUILD_DIR")
        try FileManager.default.copyItem(atPath: path, toPath: "\(fixtures.pluginsDirectory)/libsbplugin_\(name).so")
    }

    /// A host on the embedded services (pipelines need them) with the built evm-decode plugin.
    final class World {
        let fixtures: FixtureBuilder
        let host: StarbloomHost

        init(simChain: Bool = false) throws {
            fixtures = try FixtureBuilder()
            try EVMDecodePluginTests.install(fixtures, "evm_decode")
            if simChain { try EVMDecodePluginTests.install(fixtures, "sim_chain") }
            let configuration = fixtures.configuration()
            host = StarbloomHost(configuration: configuration, services: try HostServices.embedded(configuration: configuration))
            try host.start()
        }

        deinit {
            host.shutdown()
            fixtures.remove()
        }

        var pipelines: PipelineManager { host.pipelines! }

        func apply(_ toml: String) throws {
            try pipelines.apply(try HostConfiguration.parse(toml).pipelines[0])
        }

        /// Adds a processor instance without inputs (it serves pipeline steps) and waits until it runs.
        @discardableResult
        func addDecoder(_ name: String, settings: [String: SettingValue] = [:]) throws -> PluginInstance {
            try host.addInstance(InstanceSpec(name: name, plugin: "evm-decode", restart: fastRestart(), settings: settings))
            let instance = try #require(host.instance(named: name))
            try #require(waitForState(instance, .running), "\(instance.status)")
            return instance
        }

        func publish(_ topic: String, _ records: [(key: String, payload: String, headers: [(String, String)])], eventTimeNs: Int64 = 5) throws {
            let appender = try host.services.queue.topic(named: topic)
            let queued = records.map { record in
                QueueRecord(topic: "", offset: 0, key: Array(record.key.utf8), payload: Array(record.payload.utf8),
                            headers: record.headers.map { QueueRecord.Header(name: $0.0, value: Array($0.1.utf8)) },
                            eventTimeNs: eventTimeNs)
            }
            let arena = RecordArena(queued)
            defer { arena.release() }
            _ = try appender.append(UnsafeBufferPointer(start: arena.records, count: queued.count), defaultEventTimeNs: eventTimeNs)
        }

        func status(_ pipeline: String) -> PipelineStatus { pipelines.pipeline(named: pipeline)?.status ?? PipelineStatus() }
    }

    static func stepPipeline(instance: String) -> String {
        """
        [[pipelines]]
        name = "p"
        inputs = ["in.logs"]
        steps = [ { type = "processor", instance = "\(instance)" } ]
        outputs = [ { topic = "out.decoded" } ]
        """
    }

    // MARK: Built-in events

    @Test("built-ins as a pipeline step: ERC-20 Transfer above 2^64, Approval, ERC-721 Transfer decode exactly; unknown topic0 and malformed hex are dead-lettered with the reason; a revert stays a revert")
    func builtinsInPipeline() throws {
        let world = try World()
        let host = world.host
        let plugin = try #require(host.catalog.plugin(named: "evm-decode"), "refused: \(host.catalog.refused)")
        #expect(plugin.kind == .processor)
        #expect(plugin.fields.map(\.name) == ["abi", "builtins"])
        try world.addDecoder("decode")
        try world.apply(Self.stepPipeline(instance: "decode"))

        let approval = Self.log(topics: [Self.approvalTopic, Self.addressTopic(Self.alice), Self.addressTopic(Self.bob)],
                                data: "0x" + String(repeating: "f", count: 64))
        let nft = Self.log(address: "0xBC4CA0EdA7647A8aB7C2061c2E118A18a936f13D",
                           topics: [Self.transferTopic, Self.addressTopic(Self.alice), Self.addressTopic(Self.bob), "0x" + Self.word(1234)],
                           data: "0x")
        let unknownTopic = Self.log(topics: ["0x" + String(repeating: "11", count: 32), Self.addressTopic(Self.alice), Self.addressTopic(Self.bob)],
                                    data: "0x" + Self.word(1))
        let badHex = Self.log(topics: [Self.transferTopic, "0x000000000000000000000000zz11111111111111111111111111111111111111", Self.addressTopic(Self.bob)],
                              data: "0x" + Self.word(1))
        let revert = Self.erc20Transfer.replacingOccurrences(of: #""removed":false"#, with: #""removed":true"#)
        try world.publish("in.logs", [
            (Self.usdc, Self.erc20Transfer, [("trace", "t-1")]),
            (Self.usdc, approval, []),
            ("nft", nft, []),
            ("unknown", unknownTopic, [("trace", "t-2")]),
            ("bad", badHex, []),
            (Self.usdc, revert, [(PipelineHeaders.revert, "1")]),
        ])

        #expect(waitUntil(timeout: 30) { host.records(topic: "out.decoded").count == 4 && host.records(topic: "dlq.pipeline.p").count == 2 },
                "\(host.payloads(topic: "out.decoded")) \(host.payloads(topic: "dlq.pipeline.p")) \(world.status("p"))")
        let outputs = host.records(topic: "out.decoded")
        try #require(outputs.count == 4)
        let transferArgs = #"{"from":"0x\#(Self.alice)","to":"0x\#(Self.bob)","value":"123456789012345678901234567890"}"#
        #expect(outputs[0].payloadText == Self.expected(event: "Transfer", signature: "Transfer(address,address,uint256)", args: transferArgs))
        #expect(outputs[1].payloadText == Self.expected(
            event: "Approval", signature: "Approval(address,address,uint256)",
            args: #"{"owner":"0x\#(Self.alice)","spender":"0x\#(Self.bob)","value":"115792089237316195423570985008687907853269984665640564039457584007913129639935"}"#))
        #expect(outputs[2].payloadText == Self.expected(
            address: "0xbc4ca0eda7647a8ab7c2061c2e118a18a936f13d", event: "Transfer", signature: "Transfer(address,address,uint256)",
            args: #"{"from":"0x\#(Self.alice)","to":"0x\#(Self.bob)","tokenId":"1234"}"#))
        #expect(outputs[3].payloadText == Self.expected(event: "Transfer", signature: "Transfer(address,address,uint256)", args: transferArgs, removed: true))

        // Key, headers and event time are the input's; the revert stays a revert.
        #expect(outputs.map(\.keyText) == [Self.usdc, Self.usdc, "nft", Self.usdc])
        #expect(outputs.allSatisfy { $0.eventTimeNs == 5 })
        #expect(outputs[0].header("trace") == "t-1")
        #expect(outputs[0].header(PipelineHeaders.revert) == nil)
        #expect(outputs[3].header(PipelineHeaders.revert) == "1")

        let dead = host.records(topic: "dlq.pipeline.p")
        #expect(dead.map(\.keyText) == ["unknown", "bad"])
        #expect(dead[0].payloadText == unknownTopic && dead[0].header("trace") == "t-2")
        let unknownReason = dead[0].header(PipelineHeaders.error) ?? ""
        #expect(unknownReason.contains("'decode' rejected the record 3 times: unknown event: no event has topic0 0x\(String(repeating: "11", count: 32)) and 3 topics"),
                "\(unknownReason)")
        let hexReason = dead[1].header(PipelineHeaders.error) ?? ""
        #expect(hexReason.hasSuffix("malformed hex in topics[1]: 'z' at digit 24: \"0x000000000000000000000000zz11111111111111111111111111111111111111\""),
                "\(hexReason)")

        let labels = #"{instance="decode",plugin="evm-decode"}"#
        #expect(host.metricValue("starbloom_plugin_evm_decode_decoded_total\(labels)") == 4)
        #expect(host.metricValue("starbloom_plugin_evm_decode_rejected_total\(labels)") == 6, "2 records, 3 deliveries each")
    }

    // MARK: A custom ABI

    /// A Hardhat artifact: Uniswap V2's Swap, and an event with a string, bool, int, dynamic array and bytes4.
    static let artifact = #"""
        {"contractName":"Pair","abi":[
          {"type":"function","name":"swap","inputs":[{"name":"amount0Out","type":"uint256"}],"outputs":[],"stateMutability":"nonpayable"},
          {"type":"event","name":"Swap","anonymous":false,"inputs":[
            {"indexed":true,"name":"sender","type":"address"},{"indexed":false,"name":"amount0In","type":"uint256"},
            {"indexed":false,"name":"amount1In","type":"uint256"},{"indexed":false,"name":"amount0Out","type":"uint256"},
            {"indexed":false,"name":"amount1Out","type":"uint256"},{"indexed":true,"name":"to","type":"address"}]},
          {"type":"event","name":"Note","anonymous":false,"inputs":[
            {"indexed":true,"name":"who","type":"address"},{"indexed":false,"name":"text","type":"string"},
            {"indexed":false,"name":"ok","type":"bool"},{"indexed":false,"name":"delta","type":"int256"},
            {"indexed":false,"name":"ids","type":"uint64[]"},{"indexed":false,"name":"tag","type":"bytes4"}]}
        ],"bytecode":"0x"}
        """#

    @Test("events of an ABI given in settings decode (string, bool, int256, uint64[], bytes4); with builtins = false an ERC-20 Transfer is unknown")
    func customABI() throws {
        let world = try World()
        let host = world.host
        try world.addDecoder("custom", settings: ["abi": .string(Self.artifact), "builtins": .bool(false)])
        try world.apply(Self.stepPipeline(instance: "custom"))

        let swap = Self.log(topics: [Self.swapTopic, Self.addressTopic(Self.alice), Self.addressTopic(Self.bob)],
                            data: "0x" + Self.word(0) + Self.word(1_000_000_000_000_000_000) + Self.word(2_500_000_000) + Self.word(0))
        let text = Array(#"gm "frens""#.utf8)   // 10 bytes
        let textHex = text.map { String(format: "%02x", $0) }.joined()
        let note = Self.log(topics: [Self.noteTopic, Self.addressTopic(Self.alice)], data: "0x"
            + Self.word(0xa0) + Self.word(1) + String(repeating: "f", count: 63) + "b" + Self.word(0xe0) + "deadbeef" + String(repeating: "0", count: 56)
            + Self.word(10) + textHex + String(repeating: "0", count: 64 - textHex.count)
            + Self.word(3) + Self.word(1) + Self.word(2) + Self.word(UInt64.max))
        try world.publish("in.logs", [("swap", swap, []), ("note", note, []), ("erc20", Self.erc20Transfer, [])])

        #expect(waitUntil(timeout: 30) { host.records(topic: "out.decoded").count == 2 && host.records(topic: "dlq.pipeline.p").count == 1 },
                "\(host.payloads(topic: "out.decoded")) \(host.payloads(topic: "dlq.pipeline.p")) \(world.status("p"))")
        #expect(host.payloads(topic: "out.decoded") == [
            Self.expected(event: "Swap", signature: "Swap(address,uint256,uint256,uint256,uint256,address)",
                          args: #"{"sender":"0x\#(Self.alice)","amount0In":"0","amount1In":"1000000000000000000","amount0Out":"2500000000","amount1Out":"0","to":"0x\#(Self.bob)"}"#),
            Self.expected(event: "Note", signature: "Note(address,string,bool,int256,uint64[],bytes4)",
                          args: #"{"who":"0x\#(Self.alice)","text":"gm \"frens\"","ok":true,"delta":"-5","ids":["1","2","18446744073709551615"],"tag":"0xdeadbeef"}"#),
        ])
        let reason = host.records(topic: "dlq.pipeline.p").first?.header(PipelineHeaders.error) ?? ""
        #expect(reason.contains("unknown event: no event has topic0 \(Self.transferTopic) and 3 topics"), "\(reason)")
    }

    @Test("an ABI that does not parse fails create with the entry named; no events at all is refused")
    func badSettings() throws {
        let world = try World()
        let host = world.host
        let cases: [(String, [String: SettingValue], String)] = [
            ("bad-type", ["abi": .string(#"[{"type":"function","name":"f","inputs":[]},{"type":"event","name":"X","inputs":[{"name":"a","type":"uint7"}]}]"#)],
             "abi: ABI entry 1: event 'X' input 0"),
            ("bad-json", ["abi": .string("[{")], "abi: ABI: bad JSON"),
            ("not-array", ["abi": .string(#"{"contractName":"x"}"#)], "abi: ABI: bad JSON: the ABI must be an array of entries"),
            ("nothing", ["builtins": .bool(false)], "nothing to decode: abi is empty and builtins = false"),
            ("no-events", ["abi": .string(#"[{"type":"function","name":"f","inputs":[]}]"#), "builtins": .bool(false)],
             "nothing to decode: abi has no events and builtins = false"),
        ]
        for (name, settings, message) in cases {
            try host.addInstance(InstanceSpec(name: name, plugin: "evm-decode", restart: RestartPolicy(mode: .never), settings: settings))
            let instance = try #require(host.instance(named: name))
            #expect(waitForState(instance, .failed), "\(name): \(instance.status)")
            #expect(instance.status.lastError?.contains(message) == true, "\(name): \(instance.status.lastError ?? "none")")
        }
        let typeError = try #require(throws: ConfigError.self) {
            try host.addInstance(InstanceSpec(name: "bad-setting", plugin: "evm-decode", settings: ["builtins": .string("yes")]))
        }
        #expect(typeError.field == "builtins")
    }

    @Test("sample.toml: its instance starts and its pipeline counts and sums decoded Transfers per token and minute")
    func sampleConfiguration() throws {
        let text = try String(contentsOfFile: "\(TestPaths.packageRoot)/Plugins/evm-decode/sample.toml", encoding: .utf8)
        let configuration = try HostConfiguration.parse(text)
        try #require(configuration.instances.count == 1 && configuration.pipelines.count == 1)
        let world = try World()
        let host = world.host
        try host.addInstance(configuration.instances[0])
        let instance = try #require(host.instance(named: "decode"))
        try #require(waitForState(instance, .running), "\(instance.status)")
        try world.pipelines.apply(configuration.pipelines[0])

        let topics = [Self.transferTopic, Self.addressTopic(Self.alice), Self.addressTopic(Self.bob)]
        let swap = Self.log(topics: [Self.swapTopic, Self.addressTopic(Self.alice), Self.addressTopic(Self.bob)],
                            data: "0x" + Self.word(1) + Self.word(2) + Self.word(3) + Self.word(4))
        try world.publish("chain.logs", [
            (Self.usdc, Self.log(topics: topics, data: "0x" + Self.word(Self.bigValue), timestamp: "0x65a0e4c0"), []),
            (Self.usdc, Self.log(topics: topics, data: "0x" + Self.word(10), timestamp: "0x65a0e4c1"), []),
            (Self.usdc, swap, []),
            (Self.usdc, Self.log(topics: topics, data: "0x" + Self.word(1), timestamp: "0x65a0e540"), []),   // +128 s: closes the first minute
        ])
        #expect(waitUntil(timeout: 30) { host.records(topic: "tokens.volume.1m").count == 1 }, "\(world.status("token-volume"))")
        #expect(host.payloads(topic: "tokens.volume.1m") == [
            #"{"address":"0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48","window_start":1705043100,"window_end":1705043160,"transfers":2,"volume":"123456789012345678901234567900","revision":0}"#,
        ])
        #expect(host.records(topic: "dlq.pipeline.token-volume").isEmpty)
    }

    // MARK: Hostile input

    @Test("hostile payloads through the instance's own feed: every record is either decoded or dead-lettered with a reason, never a crash")
    func hostileInput() throws {
        let world = try World()
        let host = world.host
        try host.addInstance(InstanceSpec(name: "feed", plugin: "evm-decode", restart: RestartPolicy(mode: .never),
                                          inputs: ["hostile.in"], output: "hostile.out"))
        let instance = try #require(host.instance(named: "feed"))
        try #require(waitForState(instance, .running), "\(instance.status)")

        let valid = Self.erc20Transfer
        let topics = [Self.transferTopic, Self.addressTopic(Self.alice), Self.addressTopic(Self.bob)]
        let value = "0x" + Self.word(Self.bigValue)
        // (payload, nil = decodes, else a fragment of the reason)
        var cases: [(String, String?)] = [
            (valid, nil),
            ("", "payload is empty"),
            ("  \n", "payload is only whitespace"),
            ("[]", "payload is not a JSON object (starts with '[')"),
            (Self.log(topics: topics, data: "0x" + String(repeating: "0", count: 63)), "malformed hex in 'data': odd number of hex digits (63)"),
            (Self.log(topics: topics, data: Self.word(5)), "malformed hex in 'data': no 0x prefix"),
            (Self.log(topics: topics, data: "0x"), "Transfer: argument 'value': needs 32 bytes, data has 0"),
            (Self.log(topics: topics, data: value, block: "0x20000000000000"), "'blockNumber' \"0x20000000000000\" is larger than 2^53 - 1"),
            (Self.log(topics: topics, data: value, block: "0x1fffffffffffff"), nil),
            (Self.log(topics: topics, data: value, block: "0x"), "'blockNumber' is not a hex quantity"),
            (Self.log(topics: topics, data: value, logIndex: "0xffffffffffffffffffff"), "'logIndex' \"0xffffffffffffffffffff\" is larger than 2^53 - 1"),
            (Self.log(topics: [topics[0], "0x" + String(repeating: "0", count: 62), topics[2]], data: value), "topics[1] has 31 bytes; a topic has 32"),
            (Self.log(topics: topics + topics, data: value), "'topics' has more than 4 entries"),
            (Self.log(topics: [], data: value), "log has no topics"),
            (Self.log(topics: topics, data: value, extra: #","data":"0x""#), "duplicate member 'data'"),
            (Self.log(topics: topics, data: value, extra: #","deep":"# + String(repeating: "[", count: 100) + String(repeating: "]", count: 100)),
             "nest deeper than 64 levels"),
            (Self.log(topics: topics, data: value, extra: #","extra":{"a":[1,-2.5e3,true,null,"x\u00e9\n"],"b":{}},"c":[]"#), nil),
            (Self.log(address: "0x" + String(repeating: "a", count: 38), topics: topics, data: value), "'address' is not 0x and 40 hex digits"),
            (Self.log(topics: topics, data: #"0x\u0030"#), "malformed hex in 'data': escape sequence in a hex string"),
            (valid + "x", "unexpected text after the log object"),
            (valid.replacingOccurrences(of: #""topics""#, with: #""topicz""#), "missing 'topics'"),
            (Self.log(topics: [topics[0], "0x" + String(repeating: "f", count: 24) + Self.alice, topics[2]], data: value),
             "argument 'from': address has non-zero bytes in its 12-byte padding"),
            (Self.log(topics: topics.map { $0.uppercased().replacingOccurrences(of: "0X", with: "0x") }, data: value.uppercased().replacingOccurrences(of: "0X", with: "0x")), nil),
            (Self.log(topics: topics, data: value, blockHash: "null", tx: "null", removed: false), nil),
            (Self.log(topics: topics, data: value, removed: false).replacingOccurrences(of: #""removed":false"#, with: #""removed":1"#), "'removed' is not true or false"),
            (#"{"address":"#, "'address' is not a string"),
            ("{\"a\":\"\u{01}\"}", "malformed JSON at byte 6: control character in a string"),
        ]
        // Every proper prefix of a valid log is malformed; so are single-byte corruptions (outcome not asserted).
        let validBytes = Array(valid.utf8)
        for length in 0..<validBytes.count {
            cases.append((String(decoding: validBytes[..<length], as: UTF8.self), length == 0 ? "payload is empty" : ""))
        }
        var corrupted: [[UInt8]] = []
        for position in stride(from: 0, to: validBytes.count, by: 3) {
            for replacement: UInt8 in [0x22, 0x5c, 0x7b, 0x5d, 0x00, 0xff, 0x67, 0x20] {
                var bytes = validBytes
                bytes[position] = replacement
                corrupted.append(bytes)
            }
        }

        let appender = try host.services.queue.topic(named: "hostile.in")
        var records = cases.enumerated().map { index, item in
            QueueRecord(topic: "", offset: 0, key: Array("case-\(index)".utf8), payload: Array(item.0.utf8), headers: [], eventTimeNs: 1)
        }
        records += corrupted.enumerated().map { index, bytes in
            QueueRecord(topic: "", offset: 0, key: Array("corrupt-\(index)".utf8), payload: bytes, headers: [], eventTimeNs: 1)
        }
        for chunk in stride(from: 0, to: records.count, by: 500) {
            let part = Array(records[chunk..<min(chunk + 500, records.count)])
            let arena = RecordArena(part)
            defer { arena.release() }
            _ = try appender.append(UnsafeBufferPointer(start: arena.records, count: part.count), defaultEventTimeNs: 1)
        }
        let total = records.count
        #expect(waitUntil(timeout: 120) { host.records(topic: "hostile.out").count + host.records(topic: "dlq.feed").count == total },
                "\(host.records(topic: "hostile.out").count) + \(host.records(topic: "dlq.feed").count) of \(total); \(instance.status)")
        #expect(instance.status.state == .running)

        let decodedKeys = Set(host.records(topic: "hostile.out").map(\.keyText))
        var reasons: [String: String] = [:]
        for record in host.records(topic: "dlq.feed") { reasons[record.keyText] = record.header("starbloom-error") ?? "" }
        for (index, (payload, expected)) in cases.enumerated() {
            let key = "case-\(index)"
            if let expected {
                let reason = reasons[key]
                // An empty fragment: rejected, whatever the reason (String.contains("") is false).
                #expect(reason.map { expected.isEmpty ? !$0.isEmpty : $0.contains(expected) } == true,
                        "\(key) \(payload.prefix(120)): \(reason ?? "decoded")")
                #expect(!decodedKeys.contains(key), "\(key)")
            } else {
                #expect(decodedKeys.contains(key), "\(key) \(payload.prefix(120)): \(reasons[key] ?? "missing")")
            }
        }
        #expect(reasons.values.allSatisfy { !$0.isEmpty }, "every rejection has a reason")
        // Outputs parse as JSON objects; the upper-case log decodes to the same text as the valid one.
        let outputs = host.records(topic: "hostile.out")
        for output in outputs {
            #expect((try? JSONSerialization.jsonObject(with: Data(output.payload))) is [String: Any], "\(output.payloadText)")
        }
        let byKey = Dictionary(outputs.map { ($0.keyText, $0.payloadText) }, uniquingKeysWith: { first, _ in first })
        let upperIndex = try #require(cases.firstIndex { $0.0.contains("0xDDF252AD") })
        #expect(byKey["case-\(upperIndex)"] == byKey["case-0"])
        let pendingIndex = try #require(cases.firstIndex { $0.0.contains(#""blockHash":null"#) })
        #expect(byKey["case-\(pendingIndex)"]?.contains(#""blockHash":null,"timestamp":1705043136,"tx":null"#) == true, "\(byKey["case-\(pendingIndex)"] ?? "")")
        let maxBlockIndex = try #require(cases.firstIndex { $0.0.contains("0x1fffffffffffff") })
        #expect(byKey["case-\(maxBlockIndex)"]?.contains(#""block":9007199254740991,"#) == true)
    }

    // MARK: Throughput

    @Test("throughput: logs per second through a pipeline with an evm-decode step, durable queue in and out (printed)")
    func throughput() throws {
        let world = try World()
        let host = world.host
        try world.addDecoder("decode")
        let count = 20_000
        let records = (0..<count).map { index in
            QueueRecord(topic: "", offset: 0, key: Array(Self.usdc.utf8),
                        payload: Array(Self.log(topics: [Self.transferTopic, Self.addressTopic(Self.alice), Self.addressTopic(Self.bob)],
                                                data: "0x" + Self.word(UInt64(index) &* 0x9e37_79b9_7f4a_7c15),
                                                logIndex: "0x" + String(index, radix: 16)).utf8),
                        headers: [], eventTimeNs: 1)
        }
        let appender = try host.services.queue.topic(named: "in.logs")
        for chunk in stride(from: 0, to: count, by: 4096) {
            let part = Array(records[chunk..<min(chunk + 4096, count)])
            let arena = RecordArena(part)
            defer { arena.release() }
            _ = try appender.append(UnsafeBufferPointer(start: arena.records, count: part.count), defaultEventTimeNs: 1)
        }
        let start = Date()
        try world.apply(Self.stepPipeline(instance: "decode"))
        #expect(waitUntil(timeout: 120) { world.status("p").emitted == UInt64(count) }, "\(world.status("p"))")
        #expect(waitUntil(timeout: 30) { host.services.queue.topics().first { $0.name == "out.decoded" }?.published == UInt64(count) })
        let seconds = Date().timeIntervalSince(start)
        print("evm-decode: \(count) logs in \(String(format: "%.3f", seconds)) s = \(Int(Double(count) / seconds)) logs/s through a pipeline step (debug build)")
        #expect(host.records(topic: "dlq.pipeline.p").isEmpty)
    }

    // MARK: sim-chain → decode → window

    @Test("sim-chain → pipeline (evm-decode step → window per address with count and sum(args.value)): totals equal the surviving logs")
    func simChainWindow() throws {
        let world = try World(simChain: true)
        let host = world.host
        try world.addDecoder("decode")
        try world.apply("""
            [[pipelines]]
            name = "volume"
            inputs = ["sim.logs"]
            steps = [ { type = "processor", instance = "decode" }, { type = "window", size = "1m", time_field = "timestamp", group_by = ["address"], aggregates = { transfers = "count", volume = "sum(args.value)" }, allowed_lateness = "10s" } ]
            outputs = [ { topic = "volume.1m" } ]
            """)
        // reorg_depth 4 < allowed_lateness: replacement logs are never late.
        try SimChainTests.runToEnd(host, name: "chain", settings: SimChainTests.settings())
        let outcome = try SimChainTests.replay(blocks: host.records(topic: "sim.blocks"), logs: host.records(topic: "sim.logs"))
        #expect(outcome.reorgs > 0 && outcome.revertedLogs > 0)
        var expected: [String: (count: Int, volume: UInt256)] = [:]
        for log in outcome.logs {
            let value = try #require(UInt256(hex: log.data))
            let current = expected[log.address] ?? (0, .zero)
            expected[log.address] = (current.count + 1, current.volume.addingReportingOverflow(value).partialValue)
        }

        // A log a day later closes every window.
        let lastTime = try #require(outcome.blocks.last?.timestamp)
        let sentinel = "0x" + String(repeating: "ee", count: 20)
        try world.publish("sim.logs", [(sentinel, Self.log(address: sentinel, topics: [Self.transferTopic, Self.addressTopic(Self.alice), Self.addressTopic(Self.bob)],
                                                           data: "0x" + Self.word(1), timestamp: "0x" + String(lastTime + 86_400, radix: 16)), [])])

        /// Per address: the latest revision of each window, summed.
        func totals() -> [String: (count: Int, volume: UInt256)] {
            var latest: [String: (revision: Int, count: Int, volume: UInt256)] = [:]
            for record in host.records(topic: "volume.1m") {
                guard let json = try? JSONSerialization.jsonObject(with: Data(record.payload)) as? [String: Any],
                      let address = json["address"] as? String, let start = json["window_start"] as? Int,
                      let revision = json["revision"] as? Int, let count = json["transfers"] as? Int,
                      let volumeText = json["volume"] as? String, let volume = UInt256(decimal: volumeText) else { continue }
                let key = "\(address)/\(start)"
                if let previous = latest[key], previous.revision > revision { continue }
                latest[key] = (revision, count, volume)
            }
            var result: [String: (count: Int, volume: UInt256)] = [:]
            for (key, window) in latest {
                let address = String(key.prefix { $0 != "/" })
                let current = result[address] ?? (0, .zero)
                result[address] = (current.count + window.count, current.volume.addingReportingOverflow(window.volume).partialValue)
            }
            return result
        }
        func same(_ a: [String: (count: Int, volume: UInt256)], _ b: [String: (count: Int, volume: UInt256)]) -> Bool {
            a.count == b.count && a.allSatisfy { key, value in b[key].map { $0.count == value.count && $0.volume == value.volume } ?? false }
        }
        #expect(waitUntil(timeout: 60) { same(totals(), expected) },
                "window totals \(totals().mapValues { "\($0.count) \($0.volume)" }) vs logs \(expected.mapValues { "\($0.count) \($0.volume)" }); \(world.status("volume"))")
        #expect(expected.count == 3 && expected.values.reduce(0) { $0 + $1.count } == outcome.logs.count)
        #expect(host.records(topic: "dlq.pipeline.volume").isEmpty, "\(host.payloads(topic: "dlq.pipeline.volume").prefix(3))")
        #expect(host.records(topic: "late.pipeline.volume").isEmpty)
        let inputs = UInt64(host.records(topic: "sim.logs").count)
        #expect(waitUntil(timeout: 10) { world.status("volume").processed == inputs }, "\(world.status("volume"))")
    }
}
