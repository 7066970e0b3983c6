import StarbloomJSON

/// A block header as eth-rpc needs it.
struct Header {
    let number: UInt64
    let hash: String
    let parentHash: String
    let timestamp: UInt64
}

/// A block read from an `eth_getBlockByNumber` answer: its header, its transaction hashes, and
/// (when asked for) its transactions as records.
struct ReadBlock {
    var header: Header
    var transactionHashes: [[UInt8]]
    var transactions: [KeptRecord]
}

/// Reads blocks and receipts out of answers scanned in place (`RawResponse`). Transactions and
/// receipts are published as the node sent them (validated JSON, its own formatting), with
/// `"blockTimestamp"` and `"removed":false` added at the end; their key is the transaction hash.
enum BlockReader {
    /// Blocks `first`, `first + 1`, … from a batch of `eth_getBlockByNumber` answers, stopping at the
    /// first `null` (past the node's head) or at a block whose parent is not the one before it (the
    /// chain changed while the batch was read: the rest is read next round).
    static func blocks(_ response: RawResponse, first: UInt64, transactionObjects: Bool) throws(Malformed) -> [ReadBlock] {
        try response.bytes.withUnsafeBytes { buffer -> Result<[ReadBlock], Malformed> in
            let reader = InPlace(buffer: buffer)
            var members: [JSONField] = []
            var elements: [JSONField] = []
            var txMembers: [JSONField] = []
            var blocks: [ReadBlock] = []
            for (offset, result) in response.results.enumerated() {
                let expected = first + UInt64(offset)
                if result.kind == .null { break }
                guard result.kind == .object else { return .failure(Malformed(description: "block \(expected): the answer is not an object")) }
                JSONScanner.members(of: buffer, object: result, into: &members)
                var number, hash, parentHash, timestamp, transactions: JSONField?
                for member in members {
                    switch member.keyEnd - member.keyStart {
                    case 4 where reader.key(member, is: "hash"): hash = member
                    case 6 where reader.key(member, is: "number"): number = member
                    case 9 where reader.key(member, is: "timestamp"): timestamp = member
                    case 10 where reader.key(member, is: "parentHash"): parentHash = member
                    case 12 where reader.key(member, is: "transactions"): transactions = member
                    default: break
                    }
                }
                guard let number, reader.quantity(number) == expected, let hash, let hashText = reader.hash(hash),
                      let parentHash, let parentText = reader.hash(parentHash),
                      let timestamp, let time = reader.quantity(timestamp), time < 9_000_000_000 else {
                    return .failure(Malformed(description: "block \(expected): malformed header"))
                }
                if let previous = blocks.last, previous.header.hash != parentText { break }
                var block = ReadBlock(header: Header(number: expected, hash: hashText, parentHash: parentText, timestamp: time),
                                      transactionHashes: [], transactions: [])
                if let transactions {
                    guard transactions.kind == .array else { return .failure(Malformed(description: "block \(expected): transactions is not an array")) }
                    JSONScanner.elements(of: buffer, array: transactions, into: &elements)
                    for transaction in elements {
                        if transactionObjects {
                            guard transaction.kind == .object else {
                                return .failure(Malformed(description: "block \(expected): a transaction is not an object"))
                            }
                            JSONScanner.members(of: buffer, object: transaction, into: &txMembers)
                            guard let txHash = txMembers.last(where: { reader.key($0, is: "hash") }), let text = reader.hash(txHash) else {
                                return .failure(Malformed(description: "block \(expected): a transaction without a hash"))
                            }
                            let key = Array(text.utf8)
                            block.transactionHashes.append(key)
                            block.transactions.append(KeptRecord(kind: .transaction, key: key,
                                                                 payload: annotated(buffer, transaction, timestamp: time)))
                        } else {
                            guard let text = reader.hash(transaction) else {
                                return .failure(Malformed(description: "block \(expected): a transaction hash is malformed"))
                            }
                            block.transactionHashes.append(Array(text.utf8))
                        }
                    }
                }
                blocks.append(block)
            }
            return .success(blocks)
        }.get()
    }

    /// The receipts of `transactions` (answers to a batch of `eth_getTransactionReceipt`, in that order),
    /// nil when one is missing or belongs to another block hash than `blockHashes` says (the chain
    /// moved, or the node has not indexed them yet: read again later).
    static func receipts(_ response: RawResponse, transactions: [[UInt8]], blockHashes: [[UInt8]], timestamps: [UInt64]) throws(Malformed) -> [KeptRecord]? {
        try response.bytes.withUnsafeBytes { buffer -> Result<[KeptRecord]?, Malformed> in
            let reader = InPlace(buffer: buffer)
            var members: [JSONField] = []
            var receipts: [KeptRecord] = []
            for (index, result) in response.results.enumerated() {
                if result.kind == .null { return .success(nil) }
                guard result.kind == .object else { return .failure(Malformed(description: "eth_getTransactionReceipt: the answer is not an object")) }
                JSONScanner.members(of: buffer, object: result, into: &members)
                guard let blockHash = members.last(where: { reader.key($0, is: "blockHash") }),
                      let txHash = members.last(where: { reader.key($0, is: "transactionHash") }), let text = reader.hash(txHash) else {
                    return .failure(Malformed(description: "eth_getTransactionReceipt: a receipt without blockHash or transactionHash"))
                }
                if !reader.hexEquals(blockHash, blockHashes[index]) { return .success(nil) }
                guard Array(text.utf8) == transactions[index] else {
                    return .failure(Malformed(description: "eth_getTransactionReceipt: asked for \(String(decoding: transactions[index], as: UTF8.self)), answered the receipt of \(text)"))
                }
                receipts.append(KeptRecord(kind: .receipt, key: Array(text.utf8), payload: annotated(buffer, result, timestamp: timestamps[index])))
            }
            return .success(receipts)
        }.get()
    }

    /// The object's JSON text with `,"blockTimestamp":"0x…","removed":false` before its closing brace.
    private static func annotated(_ buffer: UnsafeRawBufferPointer, _ object: JSONField, timestamp: UInt64) -> [UInt8] {
        var payload: [UInt8] = []
        payload.reserveCapacity(Int(object.valueEnd - object.valueStart) + 48)
        payload += buffer[Int(object.valueStart)..<(Int(object.valueEnd) - 1)]
        while let last = payload.last, last == 0x20 || last == 0x0A || last == 0x0D || last == 0x09 { payload.removeLast() }
        if payload.last != UInt8(ascii: "{") { payload.append(UInt8(ascii: ",")) }
        payload.append(#""blockTimestamp":"#)
        payload.appendQuantity(timestamp)
        payload.append(#","removed":false}"#)
        return payload
    }
}

extension InPlace {
    /// A 32-byte hash as a lowercase "0x…" String.
    func hash(_ field: JSONField) -> String? {
        var out: [UInt8] = []
        out.reserveCapacity(68)
        guard appendHex(field, digits: 64, to: &out) else { return nil }
        return String(decoding: out[1..<(out.count - 1)], as: UTF8.self)
    }
}
