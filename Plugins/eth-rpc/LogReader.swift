import StarbloomJSON

/// Turns an `eth_getLogs` answer over blocks `first...` into the log payloads eth-rpc publishes,
/// grouped by block and ordered by log index, reading the answer in place:
///
///     {"address":"0x…","topics":["0x…",…],"data":"0x…","blockNumber":"0x…","blockHash":"0x…",
///      "blockTimestamp":"0x…","transactionHash":"0x…","transactionIndex":"0x…","logIndex":"0x…",
///      "removed":false}
///
/// Addresses and hashes lowercased, quantities without leading zeros, `blockTimestamp` from the
/// block's header.
struct LogReader {
    enum Outcome {
        case logs([[KeptRecord]])                 // per block of the range
        /// A log of `block` belongs to another hash, or is `removed`: the chain moved between the calls.
        case moved(block: UInt64, hash: String)
    }

    /// `headers[i]` is block `first + i`.
    static func read(_ response: RawResponse, headers: [Header]) throws(Malformed) -> Outcome {
        guard let first = headers.first?.number else { return .logs([]) }
        guard response.results[0].kind == .array else { throw Malformed(description: "eth_getLogs: the result is not an array") }
        let hashes = headers.map { Array($0.hash.utf8) }
        return try response.bytes.withUnsafeBytes { buffer -> Result<Outcome, Malformed> in
            let reader = InPlace(buffer: buffer)
            var members: [JSONField] = []
            var topics: [JSONField] = []
            var walk = JSONScanner.elementWalk(of: buffer, array: response.results[0])!
            // Every payload goes into one buffer; the records are slices of it (made at the end,
            // once the buffer no longer grows).
            var bytes: [UInt8] = []
            bytes.reserveCapacity(buffer.count + buffer.count / 8)
            var spans = [[(key: Range<Int>, payload: Range<Int>)]](repeating: [], count: headers.count)
            var indexes = [[UInt64]](repeating: [], count: headers.count)
            while let log = walk.next(members: &members) {
                guard log.kind == .object else { return .failure(Malformed(description: "eth_getLogs: an element of the result is not an object")) }
                var address, topicsField, data, blockNumber, blockHash, txHash, txIndex, logIndex, removed: JSONField?
                for member in members {
                    switch member.keyEnd - member.keyStart {
                    case 4 where reader.key(member, is: "data"): data = member
                    case 6 where reader.key(member, is: "topics"): topicsField = member
                    case 7 where reader.key(member, is: "address"): address = member
                    case 7 where reader.key(member, is: "removed"): removed = member
                    case 8 where reader.key(member, is: "logIndex"): logIndex = member
                    case 9 where reader.key(member, is: "blockHash"): blockHash = member
                    case 11 where reader.key(member, is: "blockNumber"): blockNumber = member
                    case 15 where reader.key(member, is: "transactionHash"): txHash = member
                    case 16 where reader.key(member, is: "transactionIndex"): txIndex = member
                    default: break
                    }
                }
                guard let blockNumber, let number = reader.quantity(blockNumber), number >= first, number - first < UInt64(headers.count),
                      let blockHash else {
                    return .failure(Malformed(description: "eth_getLogs: a log outside \(first)...\(first + UInt64(headers.count) - 1) or without a block"))
                }
                let offset = Int(number - first)
                if !reader.hexEquals(blockHash, hashes[offset]) || removed?.kind == .trueValue {
                    guard reader.hexDigits(blockHash)?.count == 64 else {
                        return .failure(Malformed(description: "eth_getLogs: malformed blockHash in block \(number)"))
                    }
                    return .success(.moved(block: number, hash: JSONScanner.decodeString(buffer, blockHash).lowercased()))
                }
                let start = bytes.count
                bytes.append(#"{"address":"#)
                guard let address, reader.appendHex(address, digits: 40, to: &bytes) else {
                    return .failure(Malformed(description: "eth_getLogs: malformed address in block \(number)"))
                }
                let key = (start + 12)..<(start + 54) // the address's 0x and 40 digits, lowercased
                bytes.append(#","topics":["#)
                guard let topicsField, topicsField.kind == .array else {
                    return .failure(Malformed(description: "eth_getLogs: malformed topics in block \(number)"))
                }
                JSONScanner.elements(of: buffer, array: topicsField, into: &topics)
                guard topics.count <= 4 else { return .failure(Malformed(description: "eth_getLogs: more than 4 topics in block \(number)")) }
                for (position, topic) in topics.enumerated() {
                    if position > 0 { bytes.append(UInt8(ascii: ",")) }
                    guard reader.appendHex(topic, digits: 64, to: &bytes) else {
                        return .failure(Malformed(description: "eth_getLogs: malformed topic in block \(number)"))
                    }
                }
                bytes.append(#"],"data":"#)
                guard let data, reader.appendHex(data, digits: nil, to: &bytes) else {
                    return .failure(Malformed(description: "eth_getLogs: malformed data in block \(number)"))
                }
                bytes.append(#","blockNumber":"#)
                bytes.appendQuantity(number)
                bytes.append(#","blockHash":""#)
                bytes += hashes[offset]
                bytes.append(UInt8(ascii: "\""))
                bytes.append(#","blockTimestamp":"#)
                bytes.appendQuantity(headers[offset].timestamp)
                bytes.append(#","transactionHash":"#)
                guard let txHash, reader.appendHex(txHash, digits: 64, to: &bytes),
                      let txIndex, let transactionIndex = reader.quantity(txIndex),
                      let logIndex, let index = reader.quantity(logIndex) else {
                    return .failure(Malformed(description: "eth_getLogs: malformed log in block \(number)"))
                }
                bytes.append(#","transactionIndex":"#)
                bytes.appendQuantity(transactionIndex)
                bytes.append(#","logIndex":"#)
                bytes.appendQuantity(index)
                bytes.append(#","removed":false}"#)
                spans[offset].append((key, start..<bytes.count))
                indexes[offset].append(index)
            }
            // Nodes answer in (block, log index) order; sort only a block that is not.
            for offset in spans.indices where zip(indexes[offset], indexes[offset].dropFirst()).contains(where: { $0 > $1 }) {
                spans[offset] = zip(indexes[offset], spans[offset]).sorted { $0.0 < $1.0 }.map(\.1)
            }
            let shared = bytes
            return .success(.logs(spans.map { block in
                block.map { KeptRecord(kind: .log, key: shared[$0.key], payload: shared[$0.payload]) }
            }))
        }.get()
    }
}
