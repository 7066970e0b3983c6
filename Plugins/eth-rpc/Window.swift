import StarbloomPluginSDK

/// A published block kept for reorg handling: its hash, and the exact payloads published for it so
/// that revert records repeat them byte for byte.
struct KeptBlock: Equatable {
    var number: UInt64
    var hash: String
    var timestamp: UInt64
    var blockPublished: Bool
    /// False for a block published more than `reorg_window` blocks below the head (during a
    /// backfill): a reorg reaching it is deeper than the window, so its payloads are not kept
    /// (neither here nor in `KeptBlockStore`) and its number and hash serve for detection only.
    var payloadsKept: Bool = true
    var blockPayload: [UInt8]
    /// The block's transactions, receipts and logs as published (each kind in chain order).
    var records: [KeptRecord]
}

/// A published record of a block other than the block record itself.
///
/// Key and payload are slices: the logs of one `eth_getLogs` answer share one buffer (`LogReader`),
/// so a range of 20,000 logs costs one allocation instead of 40,000, and publishing copies from
/// contiguous memory.
struct KeptRecord: Equatable {
    enum Kind: UInt8 { case log = 0, transaction = 1, receipt = 2 }
    var kind: Kind
    var key: ArraySlice<UInt8>
    /// The exact payload published; it ends with `"removed":false}`.
    var payload: ArraySlice<UInt8>

    /// The payload with `"confirmed":true|false` before its closing `"removed":false}`: whether the
    /// block was at least `confirmations` below the head when published.
    func marked(confirmed: Bool) -> KeptRecord {
        var marked: [UInt8] = [] // one allocation and one copy (editing the shared array would copy, then grow)
        payload.withUnsafeBytes { payload in
            Self.withMarkedParts(payload, confirmed: confirmed) { front, ending in
                marked.reserveCapacity(front.count + ending.count)
                marked += front
                marked += ending
            }
        }
        // Copies of its own: a record kept for reverts must not hold its whole answer's buffer.
        return KeptRecord(kind: kind, key: Array(key), payload: marked)
    }

    static let removedSuffix = Array(#""removed":false}"#.utf8)
    static let removedTrueSuffix = Array(#""removed":true}"#.utf8)
    static let confirmedEnding = Array(#""confirmed":true,"removed":false}"#.utf8)
    static let unconfirmedEnding = Array(#""confirmed":false,"removed":false}"#.utf8)

    /// The two parts of a marked payload (see `marked(confirmed:)`) without building it: what comes
    /// before the closing `"removed":false}`, and the new ending (the whole payload and nothing if
    /// it does not end so).
    static func withMarkedParts<R>(_ payload: UnsafeRawBufferPointer, confirmed: Bool,
                                   _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let suffix = removedSuffix
        let cut = payload.count - suffix.count
        guard cut >= 0, suffix.withUnsafeBytes({ $0.elementsEqual(payload[cut...]) }) else {
            return try body(payload, UnsafeRawBufferPointer(start: nil, count: 0))
        }
        return try (confirmed ? confirmedEnding : unconfirmedEnding).withUnsafeBytes { ending in
            try body(UnsafeRawBufferPointer(rebasing: payload[..<cut]), ending)
        }
    }
}

extension KeptRecord {
    init(kind: Kind, key: [UInt8], payload: [UInt8]) {
        self.init(kind: kind, key: key[...], payload: payload[...])
    }
}

/// A block too large for one publish call of which the first `published` records — in publishing
/// order: transactions, receipts, logs; never the block record, which goes with the last call — are
/// committed, but not the block. Kept in the checkpoint so that a restart publishes only the rest
/// (or, if the block was orphaned meanwhile, reverts what was published of it).
struct PartialBlock: Equatable {
    var number: UInt64
    var hash: String
    var published: Int
}

/// The checkpoint: chain id and the window of the last `reorg_window` published blocks, oldest
/// first; the cursor is its last entry. Binary, length-prefixed, little-endian.
///
/// Format 2 (`slim`) leaves the payloads out: with hundreds of logs a block, 128 blocks of payloads
/// exceed what one checkpoint may hold (1 MiB), so each block's payloads live in the instance's
/// key-value namespace (`KeptBlockStore`) and the checkpoint keeps numbers and hashes; format 4 is
/// format 2 followed by a `PartialBlock` (number, hash, published count). Format 3
/// (payloads inline, each record with its kind: log, transaction, receipt) is what
/// `KeptBlockStore` writes; format 1 (logs only) is still read.
enum CheckpointCodec {
    static let magic = Array("ETHRPC1\n".utf8)
    static let slimMagic = Array("ETHRPC2\n".utf8)
    static let kindsMagic = Array("ETHRPC3\n".utf8)
    static let partialMagic = Array("ETHRPC4\n".utf8)

    static func encode(chainID: UInt64, window: ArraySlice<KeptBlock>, slim: Bool = false, partial: PartialBlock? = nil) -> [UInt8] {
        var out = slim ? (partial == nil ? slimMagic : partialMagic) : kindsMagic
        out.reserveCapacity(256 * window.count + 32)
        put64(&out, chainID)
        put32(&out, UInt32(window.count))
        for block in window {
            put64(&out, block.number)
            put64(&out, block.timestamp)
            out.append((block.blockPublished ? 1 : 0) | (block.payloadsKept ? 0 : 2)) // bit 1 is new: old checkpoints read as kept
            putBytes(&out, Array(block.hash.utf8))
            if slim { continue }
            putBytes(&out, block.blockPayload)
            put32(&out, UInt32(block.records.count))
            for record in block.records {
                out.append(record.kind.rawValue)
                putBytes(&out, record.key)
                putBytes(&out, record.payload)
            }
        }
        if slim, let partial {
            put64(&out, partial.number)
            putBytes(&out, Array(partial.hash.utf8))
            put32(&out, UInt32(partial.published))
        }
        return out
    }

    /// The window; `slim` when the payloads are left out (to be read from `KeptBlockStore`).
    static func decode(_ bytes: [UInt8]) -> (chainID: UInt64, window: [KeptBlock], slim: Bool, partial: PartialBlock?)? {
        var reader = Reader(bytes: bytes)
        guard let head = reader.take(magic.count), head == magic || head == slimMagic || head == kindsMagic || head == partialMagic,
              let chainID = reader.u64(), let count = reader.u32() else { return nil }
        let slim = head == slimMagic || head == partialMagic
        let kinds = head == kindsMagic
        var window: [KeptBlock] = []
        for _ in 0..<count {
            guard let number = reader.u64(), let timestamp = reader.u64(), let flag = reader.take(1),
                  let hash = reader.chunk() else { return nil }
            var payload: [UInt8] = []
            var records: [KeptRecord] = []
            if !slim {
                guard let blockPayload = reader.chunk(), let recordCount = reader.u32() else { return nil }
                payload = blockPayload
                for _ in 0..<recordCount {
                    var kind = KeptRecord.Kind.log
                    if kinds {
                        guard let byte = reader.take(1), let known = KeptRecord.Kind(rawValue: byte[0]) else { return nil }
                        kind = known
                    }
                    guard let key = reader.chunk(), let recordPayload = reader.chunk() else { return nil }
                    records.append(KeptRecord(kind: kind, key: key, payload: recordPayload))
                }
            }
            if let last = window.last, last.number + 1 != number { return nil }
            window.append(KeptBlock(number: number, hash: String(decoding: hash, as: UTF8.self), timestamp: timestamp,
                                    blockPublished: flag[0] & 1 != 0, payloadsKept: flag[0] & 2 == 0, blockPayload: payload, records: records))
        }
        var partial: PartialBlock?
        if head == partialMagic {
            guard let number = reader.u64(), let hash = reader.chunk(), let published = reader.u32() else { return nil }
            partial = PartialBlock(number: number, hash: String(decoding: hash, as: UTF8.self), published: Int(published))
        }
        guard reader.index == bytes.count else { return nil }
        return (chainID, window, slim, partial)
    }

    private static func put32(_ out: inout [UInt8], _ v: UInt32) { for i in 0..<4 { out.append(UInt8(truncatingIfNeeded: v >> (8 * i))) } }
    private static func put64(_ out: inout [UInt8], _ v: UInt64) { for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: v >> (8 * i))) } }
    private static func putBytes(_ out: inout [UInt8], _ b: some Collection<UInt8>) { put32(&out, UInt32(b.count)); out += b }

    private struct Reader {
        let bytes: [UInt8]
        var index = 0
        mutating func take(_ n: Int) -> [UInt8]? {
            guard n >= 0, index + n <= bytes.count else { return nil }
            defer { index += n }
            return Array(bytes[index..<(index + n)])
        }
        mutating func u32() -> UInt32? { take(4).map { b in (0..<4).reduce(UInt32(0)) { $0 | UInt32(b[$1]) << (8 * $1) } } }
        mutating func u64() -> UInt64? { take(8).map { b in (0..<8).reduce(UInt64(0)) { $0 | UInt64(b[$1]) << (8 * $1) } } }
        mutating func chunk() -> [UInt8]? { u32().flatMap { take(Int($0)) } }
    }
}

/// Hex text in settings and requests (answers are read by `InPlace`).
enum Hex {
    static func isHex(_ text: String, digits: Int? = nil) -> Bool {
        let utf8 = text.utf8
        guard utf8.count >= 2, text.hasPrefix("0x") else { return false }
        if let digits, utf8.count != digits + 2 { return false }
        return utf8.dropFirst(2).allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) || ($0 >= 65 && $0 <= 70) }
    }

    static func quantity(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }
}

/// Each kept block's payloads in the instance's key-value namespace: `kept/<number>` holds the
/// chunk count and the block hash, `kept/<number>/<i>` the encoded block in chunks of 512 KiB (a
/// value may hold 1 MiB; a block with thousands of logs needs several).
struct KeptBlockStore {
    let host: Host
    private static let chunkBytes = 512 << 10

    private func key(_ number: UInt64, _ chunk: Int? = nil) -> [UInt8] {
        Array((chunk.map { "kept/\(number)/\($0)" } ?? "kept/\(number)").utf8)
    }

    func store(_ block: KeptBlock, chainID: UInt64) throws(PluginError) {
        let bytes = CheckpointCodec.encode(chainID: chainID, window: [block][...])
        let chunks = stride(from: 0, to: bytes.count, by: Self.chunkBytes).map { Array(bytes[$0..<min($0 + Self.chunkBytes, bytes.count)]) }
        for (index, chunk) in chunks.enumerated() { try host.put(key(block.number, index), chunk) }
        var header = withUnsafeBytes(of: UInt32(chunks.count).littleEndian) { Array($0) }
        header += Array(block.hash.utf8)
        try host.put(key(block.number), header) // last: a header is never seen without its chunks
    }

    /// The block stored under `number` if it is the one with `hash`.
    func load(number: UInt64, hash: String, chainID: UInt64) throws(PluginError) -> KeptBlock? {
        guard let header = try host.get(key(number))?.value, header.count >= 4,
              String(decoding: header[4...], as: UTF8.self) == hash else { return nil }
        let count = Int(header[0]) | Int(header[1]) << 8 | Int(header[2]) << 16 | Int(header[3]) << 24
        var bytes: [UInt8] = []
        for index in 0..<count {
            guard let chunk = try host.get(key(number, index))?.value else { return nil }
            bytes += chunk
        }
        guard let decoded = CheckpointCodec.decode(bytes), decoded.chainID == chainID, decoded.window.count == 1,
              decoded.window[0].hash == hash else { return nil }
        return decoded.window[0]
    }

    func delete(number: UInt64) throws(PluginError) {
        guard let header = try host.get(key(number))?.value, header.count >= 4 else { return }
        let count = Int(header[0]) | Int(header[1]) << 8 | Int(header[2]) << 16 | Int(header[3]) << 24
        try host.delete(key(number))
        for index in 0..<count { try host.delete(key(number, index)) }
    }
}
