import CStarbloomABI
import StarbloomPluginSDK
import Synchronization

/// A source that reads an EVM chain over JSON-RPC: backfill in ranges, then follow the head;
/// reorgs detected by parent hash against a window of published blocks and retracted with revert
/// records. Records have the shapes of Plugins/sim-chain (see README.md).
final class EthRPCSource: StarbloomSource {
    static let metadata = PluginMetadata(
        name: "eth-rpc",
        version: "0.1.0",
        description: "Ethereum JSON-RPC source: blocks and logs with reorg reverts, checkpointed cursor",
        settings: [
            .stringList("endpoints", required: true, doc: "JSON-RPC endpoints (http:// or https://); the first is primary, the others are failover"),
            .string("tls_ca_file", doc: "https endpoints: a PEM file of certificates to trust instead of the system's trust store (a private CA, a self-signed node)"),
            .int("chain_id", required: true, doc: "expected chain id, checked with eth_chainId at start"),
            .int("start_block", default: -1, doc: "first block for a new instance; -1 = the head at first start"),
            .int("confirmations", default: 12, doc: "depth at which a block counts as confirmed (the records' confirmed field)"),
            .bool("emit_blocks", default: true, doc: "publish block records on topic_blocks"),
            .stringList("addresses", doc: "only logs of these contract addresses (default: all)"),
            .stringList("topic0", doc: "only logs whose first topic (the event signature hash) is one of these (default: any)"),
            .stringList("topic1", doc: "only logs whose second topic is one of these (default: any)"),
            .stringList("topic2", doc: "only logs whose third topic is one of these (default: any)"),
            .stringList("topic3", doc: "only logs whose fourth topic is one of these (default: any)"),
            .int("batch_blocks", default: 100, doc: "blocks per eth_getLogs range and header batch, 1..10000"),
            .int("poll_interval_ms", default: 1000, doc: "milliseconds between head polls once caught up, 1..3600000"),
            .int("request_timeout_ms", default: 10000, doc: "timeout of one HTTP request (connect included), 100..600000"),
            .int("max_requests_per_second", default: 0, doc: "request rate limit per instance (a batch counts once); 0 = none, else 1..100000"),
            .int("max_retries", default: 0, doc: "retries of a failing request before the instance gives up and fails (its restart policy applies); 0 = retry until it works, else 1..1000000"),
            .int("backoff_max_ms", default: 5000, doc: "longest wait between retries of a failed request (backoff doubles from 100 ms), 10..600000"),
            .int("max_lag_blocks", default: 5, doc: "with several endpoints: when the current one's head is more than this many blocks behind another's, switch to that one, 1..1000000"),
            .int("lag_check_interval_ms", default: 10000, doc: "with several endpoints: milliseconds between comparisons of their heads, 10..3600000"),
            .int("reorg_window", default: 128, doc: "published blocks kept for reorg detection and reverts, 1..10000"),
            .string("topic_blocks", default: "chain.blocks", doc: "topic of block records"),
            .string("topic_logs", default: "chain.logs", doc: "topic of log records"),
            .bool("emit_transactions", default: false, doc: "publish each block's transactions (full objects) on topic_transactions"),
            .bool("emit_receipts", default: false, doc: "publish each transaction's receipt on topic_receipts (one eth_getTransactionReceipt per transaction, batched)"),
            .string("topic_transactions", default: "chain.transactions", doc: "topic of transaction records"),
            .string("topic_receipts", default: "chain.receipts", doc: "topic of receipt records"),
            .int("max_records_per_call", default: 65_536, doc: "records per publish call, 2..65536 (the host's limit); a block with more is published in several calls, exactly once all the same (its progress is in the checkpoint). Lower it only to test that"),
            .bool("exactly_once", default: true, doc: "publish each range and its checkpoint as one transaction (no duplicate after a crash); false: at-least-once, faster (the records are not also written to the host's pending-records file)"),
        ])

    struct Settings {
        var endpoints: [EndpointURL]
        var chainID: UInt64
        var startBlock: Int64
        var confirmations: UInt64
        var emitBlocks: Bool
        var addresses: [String]
        /// `eth_getLogs` topic filter: per position, the accepted values (empty = any).
        var topics: [[String]]
        var batchBlocks: UInt64
        var pollIntervalMs: Int64
        var requestTimeoutMs: Int
        var backoffMaxMs: Int
        var maxRetries: Int?
        var maxRequestsPerSecond: Int
        var maxLagBlocks: UInt64
        var lagCheckIntervalMs: Int64
        var reorgWindow: Int
        var topicBlocks: String
        var topicLogs: String
        var emitTransactions: Bool
        var emitReceipts: Bool
        var topicTransactions: String
        var topicReceipts: String
        var exactlyOnce: Bool
        var maxRecordsPerCall: Int
    }

    struct Shared {
        var degraded: String?       // a condition that stops advancing (deep reorg)
        var rpcFailures = 0
        var rpcError = ""
    }

    let host: Host
    let settings: Settings
    let rpc: RPCClient
    final class SharedBox: Sendable {
        let mutex = Mutex(Shared())
    }
    let box = SharedBox()
    let blocksPublished, logsPublished, transactionsPublished, receiptsPublished, reorgs, revertedBlocks, revertedLogs: Host.Metric
    let headGauge, cursorGauge, lagGauge: Host.Metric
    /// When the endpoints' heads were last compared (monotonic ns).
    var lastLagCheckNs: Int64 = 0
    var window: [KeptBlock] = []
    /// A block too large for one call, partly committed (see `PartialBlock`); in the checkpoint.
    private var partial: PartialBlock?
    var startNext: UInt64?
    /// Blocks per range now: `batch_blocks`, halved when the provider refuses a range.
    var rangeLimit = UInt64.max
    /// Reused across ranges (keeps its capacity).
    var batch = PublishBatch()
    /// The next range's answers, read while the current one is published.
    let prefetch = RangePrefetch()

    init(host: Host, config: Config) throws(PluginError) {
        self.host = host
        func range(_ name: String, _ value: Int64, _ low: Int64, _ high: Int64, _ note: String = "") throws(PluginError) -> Int64 {
            guard value >= low, value <= high else { throw PluginError("\(name) must be between \(low) and \(high)\(note), got \(value)", status: SB_ERR_INVALID_ARGUMENT) }
            return value
        }
        let endpointTexts = config.strings("endpoints") ?? []
        guard !endpointTexts.isEmpty else { throw PluginError("endpoints must list at least one http:// or https:// URL", status: SB_ERR_INVALID_ARGUMENT) }
        var endpoints: [EndpointURL] = []
        for text in endpointTexts {
            guard let url = EndpointURL(text) else {
                throw PluginError("endpoints: '\(text)' is not an http:// or https://host[:port][/path] URL", status: SB_ERR_INVALID_ARGUMENT)
            }
            endpoints.append(url)
        }
        var addresses: [String] = []
        for address in config.strings("addresses") ?? [] {
            guard Hex.isHex(address, digits: 40) else {
                throw PluginError("addresses: '\(address)' is not a 0x-prefixed 20-byte hex address", status: SB_ERR_INVALID_ARGUMENT)
            }
            addresses.append(address.lowercased())
        }
        var topics: [[String]] = []
        for position in 0..<4 {
            var accepted: [String] = []
            for topic in config.strings("topic\(position)") ?? [] {
                guard Hex.isHex(topic, digits: 64) else {
                    throw PluginError("topic\(position): '\(topic)' is not a 0x-prefixed 32-byte hex value", status: SB_ERR_INVALID_ARGUMENT)
                }
                accepted.append(topic.lowercased())
            }
            guard config.strings("topic\(position)") == nil || !accepted.isEmpty else {
                throw PluginError("topic\(position) is an empty list, which no log would match; leave it out to accept any", status: SB_ERR_INVALID_ARGUMENT)
            }
            topics.append(accepted)
        }
        while topics.last?.isEmpty == true { topics.removeLast() }
        let maxRetries = try range("max_retries", config.int("max_retries") ?? 0, 0, 1_000_000, " (0 = until it works)")
        let topicBlocks = config.string("topic_blocks") ?? "chain.blocks"
        let topicLogs = config.string("topic_logs") ?? "chain.logs"
        let topicTransactions = config.string("topic_transactions") ?? "chain.transactions"
        let topicReceipts = config.string("topic_receipts") ?? "chain.receipts"
        let namedTopics = [("topic_blocks", topicBlocks), ("topic_logs", topicLogs), ("topic_transactions", topicTransactions), ("topic_receipts", topicReceipts)]
        for (name, topic) in namedTopics {
            let valid = !topic.isEmpty && topic.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { segment in
                !segment.isEmpty && segment.utf8.allSatisfy { c in
                    (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 95 || c == 45
                }
            }
            guard valid else { throw PluginError("\(name) must be dot-separated segments of [A-Za-z0-9_-], got '\(topic)'", status: SB_ERR_INVALID_ARGUMENT) }
        }
        // Reverts are matched to records by topic and payload: every kind needs its own topic.
        for (index, (name, topic)) in namedTopics.enumerated() {
            if let other = namedTopics.prefix(index).first(where: { $0.1 == topic }) {
                throw PluginError("\(name) must differ from \(other.0), both are '\(topic)'", status: SB_ERR_INVALID_ARGUMENT)
            }
        }
        settings = Settings(
            endpoints: endpoints,
            chainID: UInt64(try range("chain_id", config.int("chain_id") ?? 0, 1, Int64.max)),
            startBlock: try range("start_block", config.int("start_block") ?? -1, -1, 1 << 48, " (-1 = latest)"),
            confirmations: UInt64(try range("confirmations", config.int("confirmations") ?? 12, 0, 1_000_000)),
            emitBlocks: config.bool("emit_blocks") ?? true,
            addresses: addresses,
            topics: topics,
            batchBlocks: UInt64(try range("batch_blocks", config.int("batch_blocks") ?? 100, 1, 10_000)),
            pollIntervalMs: try range("poll_interval_ms", config.int("poll_interval_ms") ?? 1000, 1, 3_600_000),
            requestTimeoutMs: Int(try range("request_timeout_ms", config.int("request_timeout_ms") ?? 10_000, 100, 600_000)),
            backoffMaxMs: Int(try range("backoff_max_ms", config.int("backoff_max_ms") ?? 5000, 10, 600_000)),
            maxRetries: maxRetries == 0 ? nil : Int(maxRetries),
            maxRequestsPerSecond: Int(try range("max_requests_per_second", config.int("max_requests_per_second") ?? 0, 0, 100_000, " (0 = no limit)")),
            maxLagBlocks: UInt64(try range("max_lag_blocks", config.int("max_lag_blocks") ?? 5, 1, 1_000_000)),
            lagCheckIntervalMs: try range("lag_check_interval_ms", config.int("lag_check_interval_ms") ?? 10_000, 10, 3_600_000),
            // 10,000 keeps the checkpoint (about 90 bytes per kept block) under the host's 1 MiB limit.
            reorgWindow: Int(try range("reorg_window", config.int("reorg_window") ?? 128, 1, 10_000)),
            topicBlocks: topicBlocks, topicLogs: topicLogs,
            emitTransactions: config.bool("emit_transactions") ?? false, emitReceipts: config.bool("emit_receipts") ?? false,
            topicTransactions: topicTransactions, topicReceipts: topicReceipts,
            exactlyOnce: config.bool("exactly_once") ?? true,
            maxRecordsPerCall: Int(try range("max_records_per_call", config.int("max_records_per_call") ?? 65_536, 2, Int64(PublishBatch.maxCount))))
        let metrics = RPCClient.Metrics(
            requests: try host.counter("requests_total", help: "JSON-RPC HTTP requests sent (a batch counts once)"),
            errors: try host.counter("request_errors_total", help: "failed requests (transport, HTTP status, malformed JSON, JSON-RPC error)"),
            retries: try host.counter("retries_total", help: "requests retried after a backoff"),
            failovers: try host.counter("failovers_total", help: "switches to the next endpoint"))
        // One TLS context for the instance's https endpoints; a bad tls_ca_file is refused now.
        let caFile = config.string("tls_ca_file")
        var tls: TLSContext?
        if endpoints.contains(where: \.tls) || caFile != nil {
            do throws(HTTPError) {
                tls = try TLSContext(caFile: caFile)
            } catch {
                throw PluginError(error.message, status: SB_ERR_INVALID_ARGUMENT)
            }
        }
        rpc = RPCClient(host: host, endpoints: endpoints, tls: tls, timeoutMs: settings.requestTimeoutMs, backoffMaxMs: settings.backoffMaxMs, maxRetries: settings.maxRetries,
                        maxRequestsPerSecond: settings.maxRequestsPerSecond, metrics: metrics)
        blocksPublished = try host.counter("blocks_published_total", help: "blocks published")
        logsPublished = try host.counter("logs_published_total", help: "logs published")
        transactionsPublished = try host.counter("transactions_published_total", help: "transactions published (emit_transactions)")
        receiptsPublished = try host.counter("receipts_published_total", help: "receipts published (emit_receipts)")
        reorgs = try host.counter("reorgs_total", help: "reorgs handled")
        revertedBlocks = try host.counter("reverted_blocks_total", help: "orphaned blocks reverted")
        revertedLogs = try host.counter("reverted_logs_total", help: "logs of orphaned blocks reverted")
        headGauge = try host.gauge("head_block", help: "the endpoint's head block number")
        cursorGauge = try host.gauge("cursor_block", help: "the last published block number")
        lagGauge = try host.gauge("endpoint_lag_blocks", help: "how many blocks the current endpoint's head was behind the highest head of the others at the last comparison")
        rpc.onStateChange = { [box] failures, message in
            box.mutex.withLock { $0.rpcFailures = failures; $0.rpcError = message }
        }
    }

    // MARK: Lifecycle

    func start() throws(PluginError) {
        let reported: RawResponse
        do {
            // The host gives start 30 s: bound the attempts by time as well as by count.
            reported = try rpc.call("eth_chainId", "[]", maxAttempts: max(3, settings.endpoints.count * 2), budgetMs: 20_000)
        } catch {
            throw PluginError("cannot read eth_chainId from \(settings.endpoints.map(\.text).joined(separator: ", ")): \(error)")
        }
        guard let chainID = reported.quantity() else {
            throw PluginError("eth_chainId from \(rpc.currentEndpoint) answered \(reported.resultText), not a quantity")
        }
        guard chainID == settings.chainID else {
            throw PluginError("chain id mismatch: \(rpc.currentEndpoint) reports chain \(chainID) (\(Hex.quantity(chainID))), but chain_id is \(settings.chainID)",
                              status: SB_ERR_INVALID_ARGUMENT)
        }
        if let saved = try host.loadCheckpoint() {
            guard let decoded = CheckpointCodec.decode(saved) else { throw PluginError("the saved checkpoint is unreadable") }
            guard decoded.chainID == settings.chainID else {
                throw PluginError("this instance's checkpoint is for chain \(decoded.chainID), but chain_id is \(settings.chainID): use a new instance name for another chain")
            }
            window = decoded.window
            partial = decoded.partial
            if decoded.slim {
                for index in window.indices where window[index].payloadsKept {
                    guard let full = try keptBlocks.load(number: window[index].number, hash: window[index].hash, chainID: settings.chainID) else {
                        throw PluginError("the stored payloads of block \(window[index].number) in the reorg window are missing; a reorg reaching it could not be reverted (start a new instance)")
                    }
                    window[index] = full
                }
            }
            if let tip = window.last {
                cursorGauge.set(Double(tip.number))
                host.log(.info, "resuming after block \(tip.number) (\(tip.hash)), \(window.count) blocks in the reorg window")
            }
        }
        host.log(.info, "connected to \(rpc.currentEndpoint), chain \(chainID)")
    }

    func health() -> Health {
        box.mutex.withLock { state in
            if let degraded = state.degraded { return .degraded(degraded) }
            if state.rpcFailures >= 3 { return .degraded("\(state.rpcFailures) JSON-RPC requests failed in a row; last: \(state.rpcError)") }
            return .ok
        }
    }

    func run() throws(PluginError) {
        let pollNs = UInt64(settings.pollIntervalMs) * 1_000_000
        while !host.shouldStop {
            if box.mutex.withLock({ $0.degraded != nil }) {
                if host.wait(nanoseconds: pollNs) { break }
                continue
            }
            do {
                if try !step() {
                    if host.wait(nanoseconds: pollNs) { break }
                }
            } catch RPCFailure.stopped {
                break
            } catch let error as PluginError where error.status == SB_ERR_TOO_LARGE {
                // Retrying cannot help and skipping the record would leave a gap: fail with the reason.
                _ = prefetch.join()
                throw PluginError("\(error.message); raise the topic's max_record_bytes (records cannot be skipped without a gap)", status: SB_ERR_TOO_LARGE)
            } catch let interrupted as TransactionInterrupted {
                _ = prefetch.join()
                throw PluginError("\(interrupted)", status: SB_ERR_UNAVAILABLE)
            } catch let failure as RPCFailure {
                if case .gaveUp = failure {
                    _ = prefetch.join()
                    throw PluginError("\(failure)", status: SB_ERR_UNAVAILABLE)
                }
                host.log(.warning, "\(failure)")
                if host.wait(nanoseconds: pollNs) { break }
            } catch {
                host.log(.warning, "\(error)")
                if host.wait(nanoseconds: pollNs) { break }
            }
        }
        _ = prefetch.join()
    }

    // MARK: The loop

    /// Block `number`'s header, nil when the node does not have it (`null`).
    func blockByNumber(_ number: UInt64) throws -> Header? {
        let answer = try rpc.call("eth_getBlockByNumber", #"["\#(Hex.quantity(number))",false]"#)
        return try BlockReader.blocks(answer, first: number, transactionObjects: false).first?.header
    }

    /// Larger block numbers are refused as malformed: no chain is near it, and arithmetic on a
    /// hostile 2^64 - 1 must not trap.
    static let maxBlockNumber: UInt64 = 1 << 48

    /// One round: returns false when there was nothing to do (caught up).
    func step() throws -> Bool {
        let ahead = prefetch.join() // before this thread uses the RPC client again
        guard var head = try rpc.call("eth_blockNumber", "[]").quantity(), head <= Self.maxBlockNumber else {
            throw Malformed(description: "eth_blockNumber: not a quantity up to 2^48")
        }
        if settings.endpoints.count > 1, host.monotonicNs - lastLagCheckNs >= settings.lagCheckIntervalMs * 1_000_000 {
            head = compareEndpoints(currentHead: head)
        }
        headGauge.set(Double(head))
        // A block left partly published by a crash: orphaned meanwhile, its published part is reverted
        // first; still canonical, `publishGroup` publishes the rest.
        if let partial {
            guard let canonical = try blockByNumber(partial.number) else { return false } // the node is behind: wait
            if canonical.hash != partial.hash {
                try revertPartial(partial)
                return true
            }
        }
        let tip = window.last
        let next: UInt64
        if let tip {
            next = tip.number + 1
        } else {
            // A partly published first block resumes where it was (whatever start_block says).
            if startNext == nil { startNext = partial?.number ?? (settings.startBlock < 0 ? head : UInt64(settings.startBlock)) }
            next = startNext!
        }
        if next > head {
            // Caught up: is our tip still canonical?
            guard let tip else { return false }
            guard let canonical = try blockByNumber(tip.number) else { return false } // the node is behind us: wait
            if canonical.hash != tip.hash { try handleReorg(); return true }
            return false
        }
        let to = min(head, next + min(settings.batchBlocks, rangeLimit) - 1)
        let blocks: [ReadBlock]
        var aheadLogs: LogReader.Outcome?
        if let ahead, ahead.first == next, ahead.last == to {
            blocks = ahead.blocks
            aheadLogs = ahead.logs
        } else {
            blocks = try BlockReader.blocks(try rpc.batch(headerCalls(next, to)), first: next, transactionObjects: settings.emitTransactions)
        }
        guard let first = blocks.first?.header, let last = blocks.last?.header else { return false }
        if let tip, first.parentHash != tip.hash { try handleReorg(); return true }
        // A node that does not serve blocks up to the head it reported is believed as far as it serves
        // (depths for `confirmed` and kept payloads are counted from there).
        if last.number < to { head = min(head, last.number) }

        let outcome: LogReader.Outcome
        if let aheadLogs {
            outcome = aheadLogs
        } else {
            let (answer, why) = try getLogs(logFilter(first.number, last.number), maxAttempts: blocks.count > 1 ? 2 : nil)
            guard let answer else {
                // The provider may refuse a range or a result size: halve the range (back up on success).
                rangeLimit = max(1, UInt64(blocks.count) / 2)
                host.log(.info, "eth_getLogs over \(first.number)...\(last.number) failed (\(why)); trying \(rangeLimit) blocks at a time")
                return true
            }
            outcome = try LogReader.read(answer, headers: blocks.map(\.header))
        }
        if rangeLimit < settings.batchBlocks { rangeLimit = min(settings.batchBlocks, rangeLimit * 2) }
        let perBlockLogs: [[KeptRecord]]
        switch outcome {
        case .logs(let logs):
            perBlockLogs = logs
        case .moved(let number, let hash):
            // The chain moved between the two calls: read again after a poll interval (not at once,
            // so that an endpoint that keeps disagreeing with itself causes no request storm).
            host.log(.debug, "logs of block \(number) belong to \(hash), not to the header just read: the chain moved, reading again")
            return false
        }
        var perBlockReceipts = [[KeptRecord]](repeating: [], count: blocks.count)
        if settings.emitReceipts {
            guard let receipts = try readReceipts(blocks) else {
                host.log(.debug, "receipts of \(first.number)...\(last.number) are missing or belong to other blocks: reading again")
                return false
            }
            perBlockReceipts = receipts
        }
        let records = blocks.indices.map { i in
            blocks[i].transactions.isEmpty && perBlockReceipts[i].isEmpty ? perBlockLogs[i] : blocks[i].transactions + perBlockReceipts[i] + perBlockLogs[i]
        }
        if last.number < head { readAhead(from: last.number + 1, head: head) }
        try publish(zip(blocks.map(\.header), records).map { ($0, $1) }, head: head)
        return true
    }

    private func headerCalls(_ first: UInt64, _ last: UInt64) -> [(method: String, params: String)] {
        (first...last).map { ("eth_getBlockByNumber", #"["\#(Hex.quantity($0))",\#(settings.emitTransactions)]"#) }
    }

    private func logFilter(_ first: UInt64, _ last: UInt64) -> String {
        var filter = #"{"fromBlock":"\#(Hex.quantity(first))","toBlock":"\#(Hex.quantity(last))""#
        if !settings.addresses.isEmpty { filter += #","address":[\#(settings.addresses.map { "\"\($0)\"" }.joined(separator: ","))]"# }
        if !settings.topics.isEmpty {
            let positions = settings.topics.map { $0.isEmpty ? "null" : "[" + $0.map { "\"\($0)\"" }.joined(separator: ",") + "]" }
            filter += #","topics":[\#(positions.joined(separator: ","))]"#
        }
        return filter + "}"
    }

    /// Starts reading the range after `first - 1` on the helper thread (one attempt per request: a
    /// failure is left to the next round, which reads it with the full retry policy).
    private func readAhead(from first: UInt64, head: UInt64) {
        let last = min(head, first + min(settings.batchBlocks, rangeLimit) - 1)
        let calls = headerCalls(first, last)
        let filter = logFilter(first, last)
        let rpc = self.rpc
        let transactionObjects = settings.emitTransactions
        prefetch.start {
            guard let headers = try? rpc.batch(calls, maxAttempts: 1),
                  let blocks = try? BlockReader.blocks(headers, first: first, transactionObjects: transactionObjects) else { return nil }
            var logs: LogReader.Outcome?
            if blocks.last?.header.number == last, let answer = try? rpc.call("eth_getLogs", "[\(filter)]", maxAttempts: 1) {
                logs = try? LogReader.read(answer, headers: blocks.map(\.header))
            }
            return RangeAnswers(first: first, last: last, blocks: blocks, logs: logs)
        }
    }

    /// The receipts of every transaction of `blocks`, per block, in batches of at most 1000 calls;
    /// nil when one is missing or belongs to another block (read again later).
    private func readReceipts(_ blocks: [ReadBlock]) throws -> [[KeptRecord]]? {
        var calls: [(hash: [UInt8], block: Int)] = []
        for (index, block) in blocks.enumerated() {
            for hash in block.transactionHashes { calls.append((hash, index)) }
        }
        var perBlock = [[KeptRecord]](repeating: [], count: blocks.count)
        let blockHashes = blocks.map { Array($0.header.hash.utf8) }
        var start = 0
        while start < calls.count {
            let chunk = calls[start..<min(calls.count, start + 1000)]
            let answer = try rpc.batch(chunk.map { ("eth_getTransactionReceipt", #"[""# + String(decoding: $0.hash, as: UTF8.self) + #""]"#) })
            guard let receipts = try BlockReader.receipts(answer, transactions: chunk.map(\.hash), blockHashes: chunk.map { blockHashes[$0.block] },
                                                          timestamps: chunk.map { blocks[$0.block].header.timestamp }) else { return nil }
            for (call, receipt) in zip(chunk, receipts) { perBlock[call.block].append(receipt) }
            start += chunk.count
        }
        return perBlock
    }

    /// Reads every other endpoint's head (one attempt each); when the current endpoint is more than
    /// `max_lag_blocks` behind the best, switches to the best. Returns the current endpoint's head.
    private func compareEndpoints(currentHead: UInt64) -> UInt64 {
        lastLagCheckNs = host.monotonicNs
        let current = rpc.current
        var best = (index: current, head: currentHead)
        for index in settings.endpoints.indices where index != current {
            let (head, error) = rpc.probe(index, "eth_blockNumber")
            guard let head else {
                host.log(.debug, "endpoint \(settings.endpoints[index].text) did not answer eth_blockNumber: \(error)")
                continue
            }
            if head > best.head { best = (index, head) }
        }
        let lag = best.head - currentHead
        lagGauge.set(Double(lag))
        guard lag > settings.maxLagBlocks else { return currentHead }
        // A higher head is only worth following on the same chain.
        let (chainID, error) = rpc.probe(best.index, "eth_chainId")
        guard chainID == settings.chainID else {
            host.log(.warning, "endpoint \(settings.endpoints[best.index].text) reports head \(best.head), \(lag) blocks past \(settings.endpoints[current].text), but its chain id is \(chainID.map(String.init) ?? "unreadable (\(error))"), not \(settings.chainID): not switching")
            return currentHead
        }
        host.log(.warning, "endpoint \(settings.endpoints[current].text) is \(lag) blocks behind \(settings.endpoints[best.index].text) (head \(currentHead) < \(best.head), max_lag_blocks \(settings.maxLagBlocks)): switching to it")
        rpc.switchTo(best.index)
        lagGauge.set(0)
        return best.head
    }

    /// `eth_getLogs`; nil and the reason when `maxAttempts` were used up.
    private func getLogs(_ filter: String, maxAttempts: Int?) throws(RPCFailure) -> (RawResponse?, String) {
        do {
            return (try rpc.call("eth_getLogs", "[\(filter)]", maxAttempts: maxAttempts), "")
        } catch {
            if case .exhausted(let why) = error { return (nil, why) }
            throw error
        }
    }

    /// The topic of a kind of record.
    private func topic(_ kind: KeptRecord.Kind) -> String {
        switch kind {
        case .log: settings.topicLogs
        case .transaction: settings.topicTransactions
        case .receipt: settings.topicReceipts
        }
    }

    /// Publishes a range of blocks with one `publish_batch` call (more only past the ABI's limit per
    /// call), so that an `always` topic costs one fsync per topic for the whole range: the range's
    /// transactions, then receipts, then logs, then block records (a block record means that what
    /// belongs to it is already in the queue). Then the window and one checkpoint.
    private func publish(_ blocks: [(Header, [KeptRecord])], head: UInt64) throws {
        // The partly published block was replaced between the check in `step` and these headers:
        // revert its published part before anything of the new branch.
        if let partial, let block = blocks.first(where: { $0.0.number == partial.number }), block.0.hash != partial.hash {
            guard try revertPartial(partial) else { return }
        }
        // Groups of whole blocks that fit one call, each followed by its checkpoint: a failure then
        // never repeats records that an earlier call published (only a single block too large for
        // one call is split, see `flushIfFull`).
        // What a record costs in the batch beyond its key and payload: its topic's name and the
        // `"confirmed":false,` marking; a block record is under 512 bytes plus its topic's name. An
        // upper bound, so that a group never has to be split.
        let recordExtra = 18 + [settings.topicLogs, settings.topicTransactions, settings.topicReceipts].map(\.utf8.count).max()!
        let blockExtra = 512 + settings.topicBlocks.utf8.count
        var start = 0
        while start < blocks.count {
            var end = start, count = 0, bytes = 0
            while end < blocks.count {
                let records = blocks[end].1
                let blockCount = records.count + 1
                let blockBytes = records.withUnsafeBufferPointer { $0.reduce(blockExtra) { $0 + $1.key.count + $1.payload.count + recordExtra } }
                if end > start && (count + blockCount > settings.maxRecordsPerCall || bytes + blockBytes > Self.batchByteLimit) { break }
                // A block left partly published goes alone, as it went before the restart (whatever
                // the limits are now), so that its published part is skipped.
                let isPartial = partial?.number == blocks[end].0.number
                if isPartial && end > start { break }
                count += blockCount
                bytes += blockBytes
                end += 1
                if isPartial { break }
            }
            try publishGroup(blocks[start..<end], head: head)
            start = end
        }
    }

    /// At most this many bytes per `publish_batch_checkpoint` call (the host takes 64 MiB; a batch
    /// may pass this bound by one record).
    static let batchByteLimit = 48 << 20

    private func publishGroup(_ blocks: ArraySlice<(Header, [KeptRecord])>, head: UInt64) throws {
        batch.removeAll()
        var kept: [KeptBlock] = []
        kept.reserveCapacity(blocks.count)
        for (header, records) in blocks {
            let logCount = records.withUnsafeBufferPointer { records in records.reduce(0) { $0 + ($1.kind == .log ? 1 : 0) } }
            let confirmed = head >= header.number + settings.confirmations
            let payload = Array(#"{"number":"\#(Hex.quantity(header.number))","hash":"\#(header.hash)","parentHash":"\#(header.parentHash)","timestamp":"\#(Hex.quantity(header.timestamp))","logCount":\#(logCount),"confirmed":\#(confirmed)}"#.utf8)
            // Only a block within `reorg_window` of the head keeps its records (for reverts); the
            // others are published straight from the answers parsed, marked on the way into the batch.
            let payloadsKept = head - header.number < UInt64(settings.reorgWindow)
            kept.append(KeptBlock(number: header.number, hash: header.hash, timestamp: header.timestamp,
                                  blockPublished: settings.emitBlocks, payloadsKept: payloadsKept, blockPayload: payload,
                                  records: payloadsKept ? records.map { $0.marked(confirmed: confirmed) } : []))
        }
        // Only a block too large for one call is alone in its group and split (`publish` never splits a
        // group of several): its progress goes into the checkpoints of the calls before its last
        // (`flushIfFull`), and after a crash the records already committed are skipped.
        let single = blocks.count == 1 ? blocks.first.map { block in
            SplitBlock(header: block.0, kept: kept[0], records: block.1, confirmed: head >= block.0.number + settings.confirmations)
        } : nil
        var skip = 0
        if let single, let partial, partial.number == single.header.number, partial.hash == single.header.hash {
            skip = partial.published
            host.log(.info, "block \(partial.number): \(partial.published) of its records were published before the restart; publishing the rest")
        }
        var position = 0 // records of the group handed on, in publishing order (including those skipped)
        var counts: [KeptRecord.Kind: Int] = [:]
        for kind in [KeptRecord.Kind.transaction, .receipt, .log] {
            let topicName = topic(kind)
            var count = 0
            for (header, records) in blocks {
                let timeNs = Int64(header.timestamp) * 1_000_000_000
                let confirmed = head >= header.number + settings.confirmations
                try records.withUnsafeBufferPointer { records in
                    for record in records where record.kind == kind {
                        if position < skip { position += 1; continue }
                        try flushIfFull(progress: single.map { ($0, position) })
                        position += 1
                        record.key.withUnsafeBytes { key in
                            record.payload.withUnsafeBytes { payload in
                                KeptRecord.withMarkedParts(payload, confirmed: confirmed) { front, ending in
                                    batch.append(topic: topicName, key: key, eventTimeNs: timeNs) { out in
                                        out.append(front)
                                        out.append(ending)
                                    }
                                }
                            }
                        }
                        count += 1
                    }
                }
            }
            counts[kind] = count
        }
        if settings.emitBlocks {
            for block in kept {
                try flushIfFull(progress: single.map { ($0, position) })
                batch.append(topic: settings.topicBlocks, key: String(block.number).utf8, payload: block.blockPayload,
                             eventTimeNs: Int64(block.timestamp) * 1_000_000_000)
            }
        }
        for block in kept where block.payloadsKept { try keptBlocks.store(block, chainID: settings.chainID) } // before the checkpoint that refers to them
        // Deep blocks keep only number and hash (see `KeptBlock.payloadsKept`): no memory either.
        window += kept.map { block in
            guard !block.payloadsKept else { return block }
            var slim = block
            slim.blockPayload = []
            slim.records = []
            return slim
        }
        var evicted: ArraySlice<KeptBlock> = []
        if window.count > settings.reorgWindow {
            evicted = window.prefix(window.count - settings.reorgWindow)
            window.removeFirst(window.count - settings.reorgWindow)
        }
        // The block split across calls is whole with this one: the checkpoint no longer mentions it.
        let finishing = single.flatMap { block in partial?.number == block.header.number ? partial : nil }
        if finishing != nil { partial = nil }
        try publishWithCheckpoint()
        if let finishing, let block = kept.first, !block.payloadsKept { try keptBlocks.delete(number: finishing.number) }
        logsPublished.add(UInt64(counts[.log] ?? 0))
        transactionsPublished.add(UInt64(counts[.transaction] ?? 0))
        receiptsPublished.add(UInt64(counts[.receipt] ?? 0))
        if settings.emitBlocks { blocksPublished.add(UInt64(kept.count)) }
        for block in evicted where block.payloadsKept { try keptBlocks.delete(number: block.number) }
        if let tip = window.last { cursorGauge.set(Double(tip.number)) }
    }

    /// Publishes what `batch` holds once it reaches the per-call limit (`max_records_per_call` or 48
    /// MiB): only a single block (or a reorg's reverts) that large is published in several calls.
    /// `progress`: the single block being split and how many of its records precede the next one;
    /// in exactly-once mode the call's checkpoint records that (`PartialBlock`), and before the first
    /// such call the block's records are stored so that a restart can revert them if it was orphaned.
    private func flushIfFull(progress: (block: SplitBlock, published: Int)? = nil) throws {
        if batch.count >= settings.maxRecordsPerCall || batch.byteCount >= Self.batchByteLimit {
            // Transactional too (with the unchanged window), so that it stays behind the previous
            // range's records, which may still be appending.
            if settings.exactlyOnce {
                var candidate = partial
                if let progress {
                    let block = progress.block, header = block.header
                    if partial?.number != header.number || partial?.hash != header.hash {
                        var whole = block.kept
                        whole.records = block.records.map { $0.marked(confirmed: block.confirmed) } // as published
                        whole.payloadsKept = true
                        try keptBlocks.store(whole, chainID: settings.chainID)
                    }
                    candidate = PartialBlock(number: header.number, hash: header.hash, published: progress.published)
                }
                // Progress is taken only once committed; any failure ends the run, so the restart
                // resumes from the checkpoint as committed.
                try publishWithCheckpoint(currentCheckpoint(partial: candidate))
                partial = candidate
            } else {
                try host.publish(batch)
                batch.removeAll()
            }
        }
    }

    /// A block left partly published was orphaned: revert what was published of it (newest first,
    /// as `handleReorg` does) with a checkpoint that no longer mentions it.
    @discardableResult
    private func revertPartial(_ orphan: PartialBlock) throws -> Bool {
        guard let stored = try keptBlocks.load(number: orphan.number, hash: orphan.hash, chainID: settings.chainID) else {
            let message = "block \(orphan.number) (\(orphan.hash)) was partly published and then orphaned, but its stored records are missing: its \(orphan.published) published records cannot be reverted; re-sync with a new instance"
            host.log(.error, message)
            box.mutex.withLock { $0.degraded = message }
            return false
        }
        host.log(.warning, "block \(orphan.number) (\(orphan.hash)) was orphaned after \(orphan.published) of its records were published: reverting them")
        let order = [KeptRecord.Kind.transaction, .receipt, .log].flatMap { kind in stored.records.filter { $0.kind == kind } }
        let published = order.prefix(orphan.published)
        let timeNs = Int64(stored.timestamp) * 1_000_000_000
        batch.removeAll()
        for record in published.reversed() {
            try flushIfFull()
            appendRevert(record, timeNs: timeNs)
        }
        partial = nil
        try publishWithCheckpoint()
        reorgs.add()
        revertedLogs.add(UInt64(published.count { $0.kind == .log }))
        try keptBlocks.delete(number: orphan.number)
        return true
    }

    /// A block published in several calls (see `flushIfFull`).
    private struct SplitBlock {
        let header: Header
        let kept: KeptBlock
        let records: [KeptRecord]
        let confirmed: Bool
    }

    private static let revertHeaders: [(String, [UInt8])] = [("starbloom-revert", Array("1".utf8))]

    /// Appends the revert record of a published record: its payload with `"removed":true`.
    private func appendRevert(_ record: KeptRecord, timeNs: Int64) {
        let suffix = KeptRecord.removedSuffix
        var payload = record.payload
        if payload.count >= suffix.count, payload.suffix(suffix.count).elementsEqual(suffix) {
            payload.removeLast(suffix.count)
            payload += KeptRecord.removedTrueSuffix
        }
        batch.append(topic: topic(record.kind), key: record.key, payload: payload, headers: Self.revertHeaders, eventTimeNs: timeNs)
    }

    /// Publishes `batch` and the checkpoint of the current window as one transaction (with
    /// `exactly_once = false`: publish, then save the checkpoint). The window already holds the
    /// batch's blocks, so any failure ends the run (`TransactionInterrupted`; a record too large
    /// keeps its own message): the restart resumes from the checkpoint as saved — for a committed
    /// transaction the host completes the records first.
    private func publishWithCheckpoint(_ given: [UInt8]? = nil) throws {
        let checkpoint = given ?? currentCheckpoint(partial: partial)
        do throws(PluginError) {
            if settings.exactlyOnce {
                try host.publish(batch, checkpoint: checkpoint)
            } else {
                try host.publish(batch)
                try host.saveCheckpoint(checkpoint)
            }
        } catch {
            if error.status == SB_ERR_TOO_LARGE { throw error }
            throw TransactionInterrupted(reason: error.message)
        }
        batch.removeAll()
    }

    /// Numbers and hashes of the window only: the payloads are in `keptBlocks` (see `CheckpointCodec`).
    private func currentCheckpoint(partial: PartialBlock?) -> [UInt8] {
        CheckpointCodec.encode(chainID: settings.chainID, window: window[...], slim: true, partial: partial)
    }

    private var keptBlocks: KeptBlockStore { KeptBlockStore(host: host) }

    /// The tip is no longer canonical: find the newest kept block that still is, and revert every
    /// published block above it (newest first: its logs newest first, then the block).
    private func handleReorg() throws {
        guard let tip = window.last, let oldest = window.first else { return }
        var k = tip.number
        var ancestor: KeptBlock?
        while k >= oldest.number {
            guard let canonical = try blockByNumber(k) else { return } // the node is behind: try again later
            let kept = window[Int(k - oldest.number)]
            if canonical.hash == kept.hash { ancestor = kept; break }
            if k == oldest.number { break }
            k -= 1
        }
        if let ancestor, ancestor.number == tip.number { return } // the tip is canonical: the next block moved meanwhile, read again
        guard let ancestor else {
            let message = "reorg deeper than reorg_window (\(settings.reorgWindow) blocks): none of the kept blocks \(oldest.number)...\(tip.number) is canonical any more; stopped at block \(tip.number). Records after it would be wrong; raise reorg_window and re-sync with a new instance"
            host.log(.error, message)
            box.mutex.withLock { $0.degraded = message }
            return
        }
        if let deep = window.first(where: { $0.number > ancestor.number && !$0.payloadsKept }) {
            let message = "reorg deeper than reorg_window (\(settings.reorgWindow) blocks): it orphans block \(deep.number), which was published more than reorg_window blocks below the head, so its records were not kept for reverts; stopped at block \(tip.number). Raise reorg_window and re-sync with a new instance"
            host.log(.error, message)
            box.mutex.withLock { $0.degraded = message }
            return
        }
        reorgs.add()
        let depth = tip.number - ancestor.number
        host.log(.warning, "reorg at block \(tip.number): reverting \(depth) blocks back to \(ancestor.number) (\(ancestor.hash))")
        // Every orphaned block, newest first: its logs newest first, then its receipts, then its
        // transactions, then the block. One batch, grouped by topic (logs, receipts, transactions,
        // blocks), then the window and one checkpoint.
        let orphans = window.filter { $0.number > ancestor.number }.reversed()
        batch.removeAll()
        for kind in [KeptRecord.Kind.log, .receipt, .transaction] {
            for orphan in orphans {
                let timeNs = Int64(orphan.timestamp) * 1_000_000_000
                for record in orphan.records.reversed() where record.kind == kind {
                    try flushIfFull()
                    appendRevert(record, timeNs: timeNs)
                }
            }
        }
        for orphan in orphans where orphan.blockPublished {
            try flushIfFull()
            batch.append(topic: settings.topicBlocks, key: String(orphan.number).utf8, payload: orphan.blockPayload,
                         headers: Self.revertHeaders, eventTimeNs: Int64(orphan.timestamp) * 1_000_000_000)
        }
        window.removeLast(orphans.count)
        try publishWithCheckpoint()
        revertedLogs.add(UInt64(orphans.reduce(0) { $0 + $1.records.count { $0.kind == .log } }))
        revertedBlocks.add(UInt64(orphans.count))
        for orphan in orphans where orphan.payloadsKept { try keptBlocks.delete(number: orphan.number) }
        cursorGauge.set(Double(ancestor.number))
    }
}

/// An answer that is valid JSON but not what the method returns.
struct Malformed: Error, CustomStringConvertible {
    let description: String
}

@_cdecl("starbloom_plugin_entry")
public func starbloomPluginEntry() -> UnsafeRawPointer {
    PluginExport.source(EthRPCSource.self)
}

/// A transactional publish failed after the host may have committed it: the run must end so that
/// the host completes it before the next start (see `publishWithCheckpoint`).
struct TransactionInterrupted: Error, CustomStringConvertible {
    let reason: String
    var description: String { "publishing a range failed half-way: \(reason); restarting to resume from the checkpoint the host completes" }
}
