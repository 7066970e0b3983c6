/// What a pipeline commits at each checkpoint, in one SQLite transaction with the outputs it produced.
struct PipelineCheckpoint {
    struct Position: Hashable, Comparable {
        var topic: String
        var partition: Int
        static func < (a: Position, b: Position) -> Bool { a.topic != b.topic ? a.topic < b.topic : a.partition < b.partition }
    }

    /// The next offset to read, per input topic-partition.
    var offsets: [Position: UInt64] = [:]
    /// The sequence number the next output gets (outputs are numbered 1, 2, …; never reused).
    var nextSequence: UInt64 = 1
    /// Where each output topic-partition ended before this checkpoint's outputs were published: after
    /// a crash the runner looks from there for the outputs that did get out, to publish only the rest.
    var scanStarts: [Position: UInt64] = [:]
    /// Each step's state, in step order.
    var stepStates: [[UInt8]] = []
    /// A hash of the steps' definition when the states were saved (0: unknown, format 1).
    var stepsFingerprint: UInt64 = 0

    static let formatVersion: UInt64 = 2

    func encoded() -> [UInt8] {
        var writer = StateWriter()
        writer.varint(Self.formatVersion)
        writer.varint(nextSequence)
        writer.varint(stepsFingerprint)
        for map in [offsets, scanStarts] {
            writer.varint(UInt64(map.count))
            for (position, offset) in map.sorted(by: { $0.key < $1.key }) {
                writer.string(position.topic); writer.varint(UInt64(position.partition)); writer.varint(offset)
            }
        }
        writer.varint(UInt64(stepStates.count))
        for state in stepStates { writer.bytes(state) }
        return writer.bytes
    }

    static func decode(_ bytes: [UInt8]) throws(StateDecodingError) -> PipelineCheckpoint {
        var reader = StateReader(bytes)
        let version = try reader.varint()
        guard version == 1 || version == formatVersion else { throw StateDecodingError(message: "format \(version) is not known to this version of Starbloom") }
        var checkpoint = PipelineCheckpoint()
        checkpoint.nextSequence = try reader.varint()
        if version >= 2 { checkpoint.stepsFingerprint = try reader.varint() }
        for index in 0..<2 {
            var map: [Position: UInt64] = [:]
            for _ in 0..<(try reader.count()) {
                let position = Position(topic: try reader.string(), partition: try reader.count(limit: 1 << 16))
                map[position] = try reader.varint()
            }
            if index == 0 { checkpoint.offsets = map } else { checkpoint.scanStarts = map }
        }
        for _ in 0..<(try reader.count(limit: 1 << 16)) { checkpoint.stepStates.append(try reader.bytes()) }
        return checkpoint
    }
}

/// An output committed with a checkpoint and delivered after it: a record for a topic, or one
/// checkpoint's time-series points (applied under a write mark, so at most once).
enum OutboxEntry: Equatable {
    case record(topic: String, key: [UInt8], payload: [UInt8], headers: [QueueRecord.Header], eventTimeNs: Int64)
    case series([TimeSeriesPoint])

    func encoded() -> [UInt8] {
        var writer = StateWriter()
        switch self {
        case .record(let topic, let key, let payload, let headers, let eventTimeNs):
            writer.varint(0)
            writer.string(topic); writer.bytes(key); writer.bytes(payload); writer.int(eventTimeNs)
            writer.varint(UInt64(headers.count))
            for header in headers { writer.string(header.name); writer.bytes(header.value) }
        case .series(let points):
            writer.varint(1)
            writer.varint(UInt64(points.count))
            for point in points {
                writer.string(point.metric); writer.int(point.timestampNs); writer.double(point.value)
                writer.varint(UInt64(point.tags.count))
                for (name, value) in point.tags.sorted(by: { $0.key < $1.key }) { writer.string(name); writer.string(value) }
            }
        }
        return writer.bytes
    }

    static func decode(_ bytes: [UInt8]) throws(StateDecodingError) -> OutboxEntry {
        var reader = StateReader(bytes)
        switch try reader.varint() {
        case 0:
            let topic = try reader.string(), key = try reader.bytes(), payload = try reader.bytes(), time = try reader.int()
            var headers: [QueueRecord.Header] = []
            for _ in 0..<(try reader.count(limit: 4096)) { headers.append(QueueRecord.Header(name: try reader.string(), value: try reader.bytes())) }
            return .record(topic: topic, key: key, payload: payload, headers: headers, eventTimeNs: time)
        case 1:
            var points: [TimeSeriesPoint] = []
            for _ in 0..<(try reader.count()) {
                let metric = try reader.string(), time = try reader.int(), value = try reader.double()
                var tags: [String: String] = [:]
                for _ in 0..<(try reader.count(limit: 4096)) { tags[try reader.string()] = try reader.string() }
                points.append(TimeSeriesPoint(metric: metric, tags: tags, timestampNs: time, value: value))
            }
            return .series(points)
        case let tag:
            throw StateDecodingError(message: "unknown outbox entry kind \(tag)")
        }
    }
}
