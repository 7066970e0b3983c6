import EVMABI
import StarbloomPluginSDK

/// Decodes EVM logs (`eth_getLogs` entries, as published by sim-chain and eth-rpc) into JSON with
/// the events of a Solidity ABI given in the settings, plus the built-in ERC-20 Transfer/Approval
/// and ERC-721 Transfer. A log that cannot be read or decoded is rejected with the reason (the host
/// dead-letters it after its retries). See README.md.
final class EVMDecodeProcessor: StarbloomProcessor {
    static let metadata = PluginMetadata(
        name: "evm-decode",
        version: "1.0.0",
        description: "Decodes EVM logs (eth_getLogs JSON) into named event arguments with a Solidity ABI",
        settings: [
            .string("abi", default: "", doc: "Solidity JSON ABI (an array of entries, or a Hardhat/Truffle artifact with an 'abi' array) whose events are decoded; empty = built-ins only"),
            .bool("builtins", default: true, doc: "Also decode ERC-20 Transfer/Approval and ERC-721 Transfer (after the ABI's events)"),
        ])

    let host: Host
    let decoder: EventDecoder
    let decoded: Host.Metric
    let rejected: Host.Metric

    // Scratch reused by every `process` call (one call at a time per instance).
    /// `topicSets[n]`: n topics of 32 bytes, handed to the decoder for a log with n topics.
    private var topicSets: [[[UInt8]]]
    private let topicBytes = UnsafeMutablePointer<UInt8>.allocate(capacity: LogScanner.maxTopics * 32)
    private var data: [UInt8] = []
    private var writer = JSONWriter(capacity: 1024)

    init(host: Host, config: Config) throws(PluginError) {
        self.host = host
        let abi = config.string("abi") ?? ""
        let builtins = config.bool("builtins") ?? true
        if abi.allSatisfy(\.isWhitespace) {
            decoder = EventDecoder(events: [], includeBuiltins: builtins)
        } else {
            do {
                decoder = try EventDecoder(abiJSON: abi, includeBuiltins: builtins)
            } catch {
                throw PluginError("abi: \(error.description)")
            }
        }
        if decoder.events.isEmpty {
            throw PluginError(abi.allSatisfy(\.isWhitespace)
                ? "nothing to decode: abi is empty and builtins = false"
                : "nothing to decode: abi has no events and builtins = false")
        }
        topicSets = (0...LogScanner.maxTopics).map { count in (0..<count).map { _ in [UInt8](repeating: 0, count: 32) } }
        topicBytes.initialize(repeating: 0, count: LogScanner.maxTopics * 32)
        decoded = try host.counter("decoded_total", help: "Logs decoded")
        rejected = try host.counter("rejected_total", help: "Logs rejected (unreadable or undecodable)")
        let given = decoder.events.count - (builtins ? EventABI.builtins.count : 0)
        host.log(.info, "evm-decode: \(given) event(s) from the ABI\(builtins ? " + 3 built-in" : "")")
    }

    deinit {
        topicBytes.deallocate()
    }

    func process(_ batch: RecordBatch, emitter: Emitter) throws(PluginError) {
        var decodedCount: UInt64 = 0
        var rejectedCount: UInt64 = 0
        defer {
            if decodedCount > 0 { decoded.add(decodedCount) }
            if rejectedCount > 0 { rejected.add(rejectedCount) }
        }
        for index in batch.indices {
            let record = batch[index]
            do throws(LogError) {
                try decode(record.payload)
            } catch {
                rejectedCount += 1
                try emitter.reject(index, reason: error.reason)
                continue
            }
            // The source's transaction tag names records of the source's topic, not ours.
            let headers = record.headers(excluding: "starbloom-txn")
            try emitter.emit(key: record.key, payload: writer.bytes, headers: headers, eventTimeNs: record.eventTimeNs)
            decodedCount += 1
        }
    }

    /// Reads and decodes one log into `writer.bytes`.
    private func decode(_ payload: UnsafeRawBufferPointer) throws(LogError) {
        var scanner = LogScanner(payload)
        let fields = try scanner.scan(topics: topicBytes, data: &data)
        let topicCount = fields.topicCount
        for topic in 0..<topicCount {
            topicSets[topicCount][topic].withUnsafeMutableBufferPointer { word in
                word.baseAddress!.update(from: topicBytes + topic * 32, count: 32)
            }
        }
        let text = scanner.bytes

        writer.bytes.removeAll(keepingCapacity: true)
        writer.raw("{\"address\":\"0x")
        appendLowercase(text + fields.address, 40)
        writer.raw("\"")
        let objectStart = writer.bytes.count
        do {
            try decoder.decode(topics: topicSets[topicCount], data: data, into: &writer)
        } catch {
            switch error.kind {
            case .unknownEvent: throw LogError("unknown event: \(error.reason)")
            default: throw LogError(error.reason)
            }
        }
        // The decoder wrote `{"event":…,"signature":…,"args":{…}}`: splice it into this object.
        writer.bytes[objectStart] = UInt8(ascii: ",")
        writer.bytes.removeLast()
        writer.raw(",\"block\":")
        appendNumber(fields.blockNumber)
        writer.raw(",\"blockHash\":")
        appendHash(text, fields.blockHash)
        writer.raw(",\"timestamp\":")
        appendNumber(fields.blockTimestamp)
        writer.raw(",\"tx\":")
        appendHash(text, fields.transactionHash)
        writer.raw(",\"logIndex\":")
        appendNumber(fields.logIndex)
        writer.raw(fields.removed ? ",\"removed\":true}" : ",\"removed\":false}")
    }

    /// Appends validated hex digits lower-cased (`| 0x20` maps A-F to a-f and keeps 0-9).
    @inline(__always)
    private func appendLowercase(_ digits: UnsafePointer<UInt8>, _ count: Int) {
        let start = writer.bytes.count
        writer.bytes.append(contentsOf: UnsafeBufferPointer(start: digits, count: count))
        writer.bytes.withUnsafeMutableBufferPointer { buffer in
            for i in start..<(start + count) { buffer[i] |= 0x20 }
        }
    }

    private func appendNumber(_ value: UInt64?) {
        if let value { writer.decimal(value) } else { writer.raw("null") }
    }

    private func appendHash(_ text: UnsafePointer<UInt8>, _ offset: Int) {
        guard offset >= 0 else {
            writer.raw("null")
            return
        }
        writer.raw("\"0x")
        appendLowercase(text + offset, 64)
        writer.raw("\"")
    }
}

@_cdecl("starbloom_plugin_entry")
public func starbloomPluginEntry() -> UnsafeRawPointer {
    PluginExport.processor(EVMDecodeProcessor.self)
}
