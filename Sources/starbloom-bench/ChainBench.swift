import Foundation
import Logging
import StarbloomCore
#if canImport(Glibc)
import Glibc
#endif

/// Web3 ingestion benchmark (issue 7): the bundled eth-rpc source against a fast in-process
/// JSON-RPC fixture (a synthetic chain whose responses are encoded before the clock starts and
/// served from memory over HTTP/1.1 keep-alive), into the durable queue, then evm-decode as a
/// pipeline step. Also blocks/s of eth-rpc against the eth-tester chain (Tests/eth-tester/server.py).
///   starbloom-bench chain [LOGS]
enum ChainBench {
    static let logsPerBlock = 200
    static let chainID: UInt64 = 1337

    static func run(logs requested: Int) throws {
        let blocks = max(1, (requested + logsPerBlock - 1) / logsPerBlock)
        let logs = blocks * logsPerBlock
        let buildStart = DispatchTime.now().uptimeNanoseconds
        let chain = SyntheticChain(blocks: blocks, logsPerBlock: logsPerBlock)
        let buildSeconds = Double(DispatchTime.now().uptimeNanoseconds - buildStart) / 1e9
        let server = try FixtureServer(chain: chain)
        server.start()
        let fixtureURL = "http://127.0.0.1:\(server.port)/"

        print("### Web3 ingestion (issue 7)\n")
        print("Fixture: \(blocks) blocks × \(logsPerBlock) ERC-20 Transfer logs = \(logs) logs; `eth_getBlockByNumber` (hashes only, \(logsPerBlock) transaction hashes each, \(chain.headerBytes / blocks) bytes) in batches of 100, `eth_getLogs` over the same 100-block ranges (\(chain.logBytes / logs) bytes per log); responses encoded in memory before the clock starts (\(String(format: "%.1f", buildSeconds)) s), served by an in-process HTTP/1.1 keep-alive server. Durable queue (one partition per topic), data under /var/tmp; `reorg_window` 128 (the default) unless a row says otherwise.\n")
        print("| run | logs/s | blocks/s | time | note |")
        print("|---|---:|---:|---:|---|")
        // CHAIN_BENCH=quick: the first row only; CHAIN_BENCH=e2e: the first end-to-end row only (for
        // iterating on the connector or the decoder).
        let only = ProcessInfo.processInfo.environment["CHAIN_BENCH"]
        let quick = only == "quick"
        for (window, durability) in [(128, TopicSettings.Durability.always), (128, .none), (4, .always)] where only != "e2e" {
            let alone = try ingest(url: fixtureURL, chainID: chainID, blocks: blocks, logs: logs, decode: .none, reorgWindow: window, durability: durability)
            print(row("eth-rpc → `chain.logs` (connector alone), `reorg_window` \(window), durability `\(durability)`", alone.logsSeconds, logs: logs, blocks: blocks,
                      note: "\(String(format: "%.1f", alone.cpuSeconds)) CPU s"))
            fflush(nil)
            if quick { return }
        }
        // eth-rpc's exactly_once (default true) writes each range's records twice; false shows what it costs.
        let e2eRows: [(Decode, TopicSettings.Durability, Bool)] = [(.instance, .always, true), (.instance, .always, false), (.instance, .none, true), (.pipelineStep, .always, true)]
        for (decode, durability, exactlyOnce) in e2eRows {
            let full = try ingest(url: fixtureURL, chainID: chainID, blocks: blocks, logs: logs, decode: decode, reorgWindow: 128, durability: durability, exactlyOnce: exactlyOnce)
            let how = decode == .instance ? "evm-decode instance (inputs `chain.logs`)" : "pipeline with an evm-decode processor step"
            let effectivelyOnce = exactlyOnce && ProcessInfo.processInfo.environment["CHAIN_EXACTLY_ONCE"] != "0"
            let mode = effectivelyOnce ? "exactly once" : "`exactly_once = false` (at-least-once)"
            print(row("eth-rpc → `chain.logs` → \(how) → `chain.decoded` (end to end), durability `\(durability)`, \(mode)", full.decodedSeconds, logs: logs, blocks: blocks,
                      note: "`chain.logs` complete after \(String(format: "%.2f", full.logsSeconds)) s; \(String(format: "%.1f", full.cpuSeconds)) CPU s"))
            fflush(nil)
            if only == "e2e" { return }
        }
        server.stop()
        try ethTester(blocks: Int(ProcessInfo.processInfo.environment["ETH_TESTER_BLOCKS"] ?? "") ?? 300)
        print("")
    }

    static func row(_ name: String, _ seconds: Double, logs: Int, blocks: Int, note: String) -> String {
        "| \(name) | \(rate(Double(logs) / seconds)) | \(rate(Double(blocks) / seconds)) | \(String(format: "%.2f", seconds)) s | \(note) |"
    }

    static func rate(_ value: Double) -> String { value >= 1e4 ? StorageBench.rate(value) : String(format: "%.0f", value) }

    /// One host on a fresh data directory: eth-rpc from block 0 (and the decode pipeline if asked);
    /// the seconds from adding the instance until `chain.logs` (and `chain.decoded`) hold every log.
    /// How the logs are decoded in a run, if at all.
    enum Decode { case none, instance, pipelineStep }

    static func ingest(url: String, chainID: UInt64, blocks: Int, logs: Int, decode decodeMode: Decode, reorgWindow: Int?, durability: TopicSettings.Durability = .always,
                       blockTopicCount: Int? = nil, exactlyOnce: Bool = true) throws -> (logsSeconds: Double, decodedSeconds: Double, cpuSeconds: Double) {
        let work = "/var/tmp/starbloom-chain-bench-\(getpid())"
        try? FileManager.default.removeItem(atPath: work)
        try FileManager.default.createDirectory(atPath: "\(work)/plugins", withIntermediateDirectories: true)
        // CHAIN_BENCH_KEEP=1 keeps the data directory (and the plugin copies `perf report` needs).
        defer { if ProcessInfo.processInfo.environment["CHAIN_BENCH_KEEP"] == nil { try? FileManager.default.removeItem(atPath: work) } }
        let configuration = benchConfiguration(work: work)
        let logger = benchLogger()
        let host = StarbloomHost(configuration: configuration, services: try HostServices.embedded(configuration: configuration, logger: logger))
        try host.start()
        defer { host.shutdown() }
        let queue = host.services.queue
        for topic in ["chain.blocks", "chain.logs", "chain.decoded"] { try queue.createTopic(topic, settings: TopicSettings(durability: durability)) }
        let decode = decodeMode != .none
        switch decodeMode {
        case .none:
            break
        case .instance:
            // The processor reads chain.logs itself (consumer group instance/decode) and publishes to chain.decoded.
            try host.addInstance(InstanceSpec(name: "decode", plugin: "evm-decode", inputs: ["chain.logs"], output: "chain.decoded"))
        case .pipelineStep:
            try host.addInstance(InstanceSpec(name: "decode", plugin: "evm-decode"))
            guard waitFor(30, { host.instance(named: "decode")?.status.state == .running }) else {
                throw BenchError("evm-decode did not start: \(String(describing: host.instance(named: "decode")?.status)) \(host.catalog.refused)")
            }
            let toml = """
                [[pipelines]]
                name = "decode"
                inputs = ["chain.logs"]
                steps = [ { type = "processor", instance = "decode" } ]
                outputs = [ { topic = "chain.decoded" } ]
                """
            try host.pipelines!.apply(try HostConfiguration.parse(toml).pipelines[0])
        }
        var settings: [String: SettingValue] = [
            "endpoints": .list([.string(url)]), "chain_id": .int(Int64(chainID)), "start_block": .int(0),
            "poll_interval_ms": .int(20), "batch_blocks": .int(100),
        ]
        if let reorgWindow { settings["reorg_window"] = .int(Int64(reorgWindow)) }
        if !exactlyOnce || ProcessInfo.processInfo.environment["CHAIN_EXACTLY_ONCE"] == "0" { settings["exactly_once"] = .bool(false) }
        func published(_ topic: String) -> UInt64 { queue.topics().first { $0.name == topic }?.published ?? 0 }
        let start = DispatchTime.now().uptimeNanoseconds
        let cpuAtStart = processCPUSeconds()
        try host.addInstance(InstanceSpec(name: "eth", plugin: "eth-rpc", settings: settings))
        var logsAt: UInt64 = 0, decodedAt: UInt64 = 0
        let wantBlocks = UInt64(blockTopicCount ?? blocks)
        let deadline = start + 600_000_000_000
        while DispatchTime.now().uptimeNanoseconds < deadline {
            let now = DispatchTime.now().uptimeNanoseconds
            if logsAt == 0, published("chain.logs") >= UInt64(logs), published("chain.blocks") >= wantBlocks { logsAt = now }
            if decodedAt == 0, decode, published("chain.decoded") >= UInt64(logs) { decodedAt = now }
            if logsAt != 0, !decode || decodedAt != 0 { break }
            usleep(2000)
        }
        guard logsAt != 0, !decode || decodedAt != 0 else {
            throw BenchError("timed out: chain.logs \(published("chain.logs")), chain.blocks \(published("chain.blocks")), chain.decoded \(published("chain.decoded")); eth \(String(describing: host.instance(named: "eth")?.status)) \(host.instance(named: "eth")?.logs.suffix(5) ?? [])")
        }
        let decodedCount = published("chain.decoded")
        if decode, decodedCount != UInt64(logs) { throw BenchError("chain.decoded has \(decodedCount) records, expected \(logs)") }
        return (Double(logsAt - start) / 1e9, decode ? Double(decodedAt - start) / 1e9 : 0, processCPUSeconds() - cpuAtStart)
    }

    /// User plus system CPU time of this process so far (every thread: host, plugins, fixture server).
    static func processCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    /// A host configuration for a benchmark: data and plugins under `work`, the plugins built with
    /// this binary found next to it, health checks out of the way.
    static func benchConfiguration(work: String) -> HostConfiguration {
        var configuration = HostConfiguration()
        configuration.dataDirectory = "\(work)/data"
        configuration.pluginsDirectory = "\(work)/plugins"
        configuration.bundledPluginDirectories = [executableDirectory]
        configuration.healthCheckInterval = 3600
        return configuration
    }

    static func benchLogger() -> Logger {
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        return logger
    }

    static var executableDirectory: String {
        URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
            .deletingLastPathComponent().path
    }

    static func waitFor(_ seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(5000)
        }
        return condition()
    }

    struct BenchError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    // MARK: eth-tester

    /// Mines `blocks` blocks with one Transfer each on eth-tester + py-evm, then times eth-rpc
    /// backfilling them (and the genesis and deployment blocks) into `chain.blocks`.
    static func ethTester(blocks: Int) throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let script = "\(root)/Tests/eth-tester/server.py"
        let check = Process()
        check.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        check.arguments = ["python3", "-c", "import eth_tester, web3, eth.vm"]
        check.standardError = FileHandle.nullDevice
        try check.run()
        check.waitUntilExit()
        guard check.terminationStatus == 0, FileManager.default.fileExists(atPath: script) else {
            print("\neth-tester row skipped: python3 with eth-tester[py-evm] and web3 is not importable (scripts/install-deps --test-tools)")
            return
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, "--port", "0", "--exit-with-stdin"]
        let output = Pipe(), input = Pipe()
        process.standardOutput = output
        process.standardInput = input
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { try? input.fileHandleForWriting.close(); process.terminate(); process.waitUntilExit() }
        var line = ""
        while !line.contains("\n") {
            let data = output.fileHandleForReading.availableData
            if data.isEmpty { throw BenchError("eth-tester server exited before listening") }
            line += String(decoding: data, as: UTF8.self)
        }
        guard let port = Int(line.split(separator: "\n")[0].split(separator: " ").last ?? "") else { throw BenchError("eth-tester said \(line)") }
        let client = try RPCSocket(port: port)
        func call(_ method: String, _ params: String) throws -> String {
            let text = try client.post(#"{"jsonrpc":"2.0","id":1,"method":"\#(method)","params":\#(params)}"#)
            guard let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], let result = object["result"] else {
                throw BenchError("\(method): \(text.prefix(200))")
            }
            return result as? String ?? "\(result)"
        }
        let chainID = UInt64(try call("eth_chainId", "[]").dropFirst(2), radix: 16)!
        _ = try call("test_deployToken", "[]")
        let mineStart = DispatchTime.now().uptimeNanoseconds
        for i in 1...blocks { _ = try call("test_transfer", #"["0x00000000000000000000000000000000000a11ce","0x\#(String(i, radix: 16))"]"#) }
        let mineSeconds = Double(DispatchTime.now().uptimeNanoseconds - mineStart) / 1e9
        let head = Int(UInt64(try call("eth_blockNumber", "[]").dropFirst(2), radix: 16)!)
        client.close()
        // Blocks 0...head; `blocks` of them carry one log.
        let result = try ingest(url: "http://127.0.0.1:\(port)/", chainID: chainID, blocks: head + 1, logs: blocks, decode: .none, reorgWindow: nil)
        print(row("eth-rpc → `chain.blocks`/`chain.logs` against eth-tester + py-evm (`Tests/eth-tester/server.py`)", result.logsSeconds, logs: blocks, blocks: head + 1,
                  note: "\(head + 1) blocks, one Transfer each (mined in \(String(format: "%.1f", mineSeconds)) s); batches of 100"))
    }
}

// MARK: The synthetic chain

/// Blocks 0..<blocks, each with `logsPerBlock` ERC-20 Transfer logs (one transaction each), spread
/// over 16 token contracts. Headers and each block's logs are encoded once, as a node would send them.
final class SyntheticChain: @unchecked Sendable {
    let blocks: Int
    let headers: [[UInt8]]
    /// Each block's logs, comma-separated without brackets.
    let logs: [[UInt8]]
    var headerBytes: Int { headers.reduce(0) { $0 + $1.count } }
    var logBytes: Int { logs.reduce(0) { $0 + $1.count } }

    static func hex(_ value: UInt64, digits: Int) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }
    static func blockHash(_ n: Int) -> String { "0xb10c" + hex(UInt64(n), digits: 60) }
    static func txHash(_ n: Int, _ i: Int) -> String { "0x7a" + hex(UInt64(n), digits: 30) + hex(UInt64(i), digits: 32) }

    init(blocks: Int, logsPerBlock: Int) {
        self.blocks = blocks
        var headers: [[UInt8]] = [], logs: [[UInt8]] = []
        headers.reserveCapacity(blocks)
        logs.reserveCapacity(blocks)
        let topic0 = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
        let bloom = "0x" + String(repeating: "0", count: 512)
        let zero32 = "0x" + String(repeating: "0", count: 64)
        let tokens = (0..<16).map { "0x70ce" + Self.hex(UInt64($0), digits: 36) }
        for n in 0..<blocks {
            let hash = Self.blockHash(n)
            let parent = n == 0 ? zero32 : Self.blockHash(n - 1)
            let q = { (v: Int) in "0x" + String(v, radix: 16) }
            let transactions = (0..<logsPerBlock).map { "\"\(Self.txHash(n, $0))\"" }.joined(separator: ",")
            let header = #"{"baseFeePerGas":"0x3b9aca00","difficulty":"0x0","extraData":"0x","gasLimit":"0x1c9c380","gasUsed":"\#(q(51_000 * logsPerBlock))","hash":"\#(hash)","logsBloom":"\#(bloom)","miner":"0x95222290dd7278aa3ddd389cc1e1d165cc4bafe5","mixHash":"\#(zero32)","nonce":"0x0000000000000000","number":"\#(q(n))","parentHash":"\#(parent)","receiptsRoot":"\#(zero32)","sha3Uncles":"0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347","size":"\#(q(1000 + 110 * logsPerBlock))","stateRoot":"\#(zero32)","timestamp":"\#(q(1_700_000_000 + 12 * n))","totalDifficulty":"0x0","transactions":[\#(transactions)],"transactionsRoot":"\#(zero32)","uncles":[]}"#
            headers.append(Array(header.utf8))
            var blockLogs: [UInt8] = []
            blockLogs.reserveCapacity(logsPerBlock * 600)
            for i in 0..<logsPerBlock {
                let k = n * logsPerBlock + i
                let from = "0x000000000000000000000000f0" + Self.hex(UInt64(k % 9973), digits: 38)
                let to = "0x000000000000000000000000e0" + Self.hex(UInt64(k % 7919), digits: 38)
                let amount = "0x" + Self.hex(UInt64(k) &* 1_000_000_007 &+ 1, digits: 64)
                if i > 0 { blockLogs.append(UInt8(ascii: ",")) }
                blockLogs += Array(#"{"address":"\#(tokens[k % 16])","topics":["\#(topic0)","\#(from)","\#(to)"],"data":"\#(amount)","blockNumber":"\#(q(n))","transactionHash":"\#(Self.txHash(n, i))","transactionIndex":"\#(q(i))","blockHash":"\#(hash)","logIndex":"\#(q(i))","removed":false}"#.utf8)
            }
            logs.append(blockLogs)
        }
        self.headers = headers
        self.logs = logs
    }
}

// MARK: The fixture server

/// A JSON-RPC server on loopback: one thread per connection, HTTP/1.1 keep-alive, Content-Length
/// requests and responses. Requests are parsed with JSONSerialization (they are small: a batch of
/// 100 header requests is ~9 KB); the results are copied from the pre-encoded chain.
final class FixtureServer: @unchecked Sendable {
    let chain: SyntheticChain
    let listener: Int32
    let port: Int
    private let lock = NSLock()
    private var _requests = 0
    private var stopped = false
    var requests: Int { lock.lock(); defer { lock.unlock() }; return _requests }
    /// Every block's header and logs answer in one allocation that never moves, so that a response is
    /// written with `writev` straight from it: the fixture stands for a node on another machine, and
    /// assembling each 14 MB answer by copying took CPU from what is measured.
    private let store: UnsafeMutableRawBufferPointer
    private let headerRanges: [Range<Int>]
    private let logRanges: [Range<Int>]

    init(chain: SyntheticChain) throws {
        self.chain = chain
        let store = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, chain.headerBytes + chain.logBytes), alignment: 64)
        var cursor = 0
        func place(_ bytes: [UInt8]) -> Range<Int> {
            bytes.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: store[cursor..<(cursor + $0.count)]).copyMemory(from: $0) }
            cursor += bytes.count
            return (cursor - bytes.count)..<cursor
        }
        self.store = store
        headerRanges = chain.headers.map(place)
        logRanges = chain.logs.map(place)
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.listener = listener
        var one: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, listen(listener, 64) == 0 else { throw ChainBench.BenchError("fixture: bind/listen failed: errno \(errno)") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) } }
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { store.deallocate() }

    func start() {
        Thread.detachNewThread { [self] in
            while true {
                let connection = accept(listener, nil, nil)
                if connection < 0 { return }
                var one: Int32 = 1
                setsockopt(connection, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                Thread.detachNewThread { [self] in serve(connection) }
            }
        }
    }

    func stop() {
        lock.lock(); stopped = true; lock.unlock()
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private func serve(_ fd: Int32) {
        defer { close(fd) }
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            // Head.
            var headEnd: Int?
            while true {
                if let end = Self.find([13, 10, 13, 10], in: buffer) { headEnd = end; break }
                let n = read(fd, &chunk, chunk.count)
                if n <= 0 { return }
                buffer += chunk[0..<n]
            }
            let head = String(decoding: buffer[0..<headEnd!], as: UTF8.self).lowercased()
            var length = 0
            for line in head.split(separator: "\r\n") where line.hasPrefix("content-length:") {
                length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) ?? 0
            }
            let bodyStart = headEnd! + 4
            while buffer.count < bodyStart + length {
                let n = read(fd, &chunk, chunk.count)
                if n <= 0 { return }
                buffer += chunk[0..<n]
            }
            let body = Array(buffer[bodyStart..<bodyStart + length])
            buffer.removeFirst(bodyStart + length)
            lock.lock(); _requests += 1; lock.unlock()
            var response = Response()
            answer(body, into: &response)
            var status = Response()
            status.glue(Array("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: keep-alive\r\nContent-Length: \(response.length)\r\n\r\n".utf8))
            guard send(status, fd), send(response, fd) else { return }
        }
    }

    /// A response as pieces: bytes of its own (`glue`) and ranges of the fixture's `store`.
    struct Response {
        var glue: [UInt8] = []
        var pieces: [(inGlue: Bool, range: Range<Int>)] = []
        var length = 0

        mutating func glue(_ bytes: [UInt8]) {
            pieces.append((true, glue.count..<(glue.count + bytes.count)))
            glue += bytes
            length += bytes.count
        }

        mutating func stored(_ range: Range<Int>) {
            pieces.append((false, range))
            length += range.count
        }
    }

    /// Writes the pieces with `writev` (1,024 at a time), resuming after partial writes.
    private func send(_ response: Response, _ fd: Int32) -> Bool {
        response.glue.withUnsafeBytes { glue in
            var vectors = response.pieces.map { piece in
                let base = piece.inGlue ? glue.baseAddress! : UnsafeRawPointer(store.baseAddress!)
                return iovec(iov_base: UnsafeMutableRawPointer(mutating: base + piece.range.lowerBound), iov_len: piece.range.count)
            }
            var first = 0
            while first < vectors.count {
                let count = min(1024, vectors.count - first)
                let written = vectors.withUnsafeMutableBufferPointer { writev(fd, $0.baseAddress! + first, Int32(count)) }
                if written <= 0 { return false }
                var left = written
                while left > 0 && first < vectors.count {
                    if left >= vectors[first].iov_len {
                        left -= vectors[first].iov_len
                        first += 1
                    } else {
                        vectors[first].iov_base += left
                        vectors[first].iov_len -= left
                        left = 0
                    }
                }
                while first < vectors.count && vectors[first].iov_len == 0 { first += 1 }
            }
            return true
        }
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for i in 0...(haystack.count - needle.count) where haystack[i] == needle[0] && Array(haystack[i..<i + needle.count]) == needle { return i }
        return nil
    }

    func answer(_ body: [UInt8], into out: inout Response) {
        guard let json = try? JSONSerialization.jsonObject(with: Data(body)) else {
            return out.glue(Array(#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error"}}"#.utf8))
        }
        if let calls = json as? [[String: Any]] {
            out.glue([UInt8(ascii: "[")])
            for (index, call) in calls.enumerated() {
                if index > 0 { out.glue([UInt8(ascii: ",")]) }
                one(call, into: &out)
            }
            out.glue([UInt8(ascii: "]")])
            return
        }
        one(json as? [String: Any] ?? [:], into: &out)
    }

    private func quantity(_ value: Any?) -> Int? {
        guard let text = value as? String, text.hasPrefix("0x") else { return nil }
        return Int(text.dropFirst(2), radix: 16)
    }

    private func one(_ call: [String: Any], into out: inout Response) {
        let id = call["id"].map { "\($0)" } ?? "null"
        let params = call["params"] as? [Any] ?? []
        let method = call["method"] as? String ?? ""
        guard ["eth_chainId", "eth_blockNumber", "eth_getBlockByNumber", "eth_getLogs"].contains(method) else {
            return out.glue(Array(#"{"jsonrpc":"2.0","id":\#(id),"error":{"code":-32601,"message":"method not found"}}"#.utf8))
        }
        out.glue(Array(#"{"jsonrpc":"2.0","id":\#(id),"result":"#.utf8))
        switch method {
        case "eth_chainId":
            out.glue(Array("\"0x\(String(ChainBench.chainID, radix: 16))\"".utf8))
        case "eth_blockNumber":
            out.glue(Array("\"0x\(String(chain.blocks - 1, radix: 16))\"".utf8))
        case "eth_getBlockByNumber":
            if let n = quantity(params.first), n < chain.blocks { out.stored(headerRanges[n]) } else { out.glue(Array("null".utf8)) }
        default: // eth_getLogs
            let filter = params.first as? [String: Any] ?? [:]
            let from = quantity(filter["fromBlock"]) ?? 0
            let to = min(quantity(filter["toBlock"]) ?? 0, chain.blocks - 1)
            out.glue([UInt8(ascii: "[")])
            if from <= to {
                var first = true
                for n in from...to where !logRanges[n].isEmpty {
                    if !first { out.glue([UInt8(ascii: ",")]) }
                    out.stored(logRanges[n])
                    first = false
                }
            }
            out.glue([UInt8(ascii: "]")])
        }
        out.glue([UInt8(ascii: "}")])
    }
}

/// A blocking keep-alive JSON-RPC client for the eth-tester setup calls.
final class RPCSocket {
    let fd: Int32
    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard connected == 0 else { throw ChainBench.BenchError("connect to port \(port): errno \(errno)") }
    }

    func close() { Glibc.close(fd) }

    /// POSTs `body`; reads a Content-Length or chunked response.
    func post(_ body: String) throws -> String {
        let bytes = Array(body.utf8)
        let request = Array("POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(bytes.count)\r\n\r\n".utf8) + bytes
        _ = request.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            if let end = FixtureServer.find([13, 10, 13, 10], in: buffer) {
                let head = String(decoding: buffer[0..<end], as: UTF8.self).lowercased()
                var length: Int?
                for line in head.split(separator: "\r\n") where line.hasPrefix("content-length:") {
                    length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces))
                }
                guard let length else { throw ChainBench.BenchError("eth-tester: response without Content-Length") }
                if buffer.count >= end + 4 + length { return String(decoding: buffer[(end + 4)..<(end + 4 + length)], as: UTF8.self) }
            }
            let n = read(fd, &chunk, chunk.count)
            if n <= 0 { throw ChainBench.BenchError("eth-tester closed the connection") }
            buffer += chunk[0..<n]
        }
    }
}
