/// Decodes EVM logs into JSON with a set of events: those given, then (unless disabled) the
/// built-in ERC-20 Transfer and Approval and ERC-721 Transfer.
///
/// Selection: events whose topic0 is `topics[0]` and whose topic count equals the log's (this is
/// how an ERC-721 Transfer, 4 topics, is told from an ERC-20 Transfer, 3 topics), in order; then
/// anonymous events with as many indexed inputs as the log has topics, in order. The first that
/// decodes wins; when none does, the error of the first one tried is thrown.
public struct EventDecoder: Sendable {
    /// Every event known, in selection order (given events first, then the built-ins).
    public let events: [EventABI]
    private let byTopic0: [Word256: [CompiledEvent]]
    private let anonymousEvents: [CompiledEvent]

    public init(events: [EventABI] = [], includeBuiltins: Bool = true) {
        let all = events + (includeBuiltins ? EventABI.builtins : [])
        self.events = all
        var byTopic0: [Word256: [CompiledEvent]] = [:]
        var anonymousEvents: [CompiledEvent] = []
        for event in all {
            let compiled = CompiledEvent(event)
            if event.anonymous {
                anonymousEvents.append(compiled)
            } else {
                byTopic0[Word256(event.topic0, at: 0), default: []].append(compiled)
            }
        }
        self.byTopic0 = byTopic0
        self.anonymousEvents = anonymousEvents
    }

    /// The events of a JSON ABI (see `EventABI.parse(json:)`), then the built-ins.
    public init(abiJSON: String, includeBuiltins: Bool = true) throws(ABIError) {
        self.init(events: try EventABI.parse(json: abiJSON), includeBuiltins: includeBuiltins)
    }

    /// Decodes a log into `{"event":…,"signature":…,"args":{…}}` (UTF-8 JSON).
    public func decode(topics: [[UInt8]], data: [UInt8]) throws(DecodeError) -> DecodedLog {
        var writer = JSONWriter(capacity: 128 + data.count * 2)
        let event = try decode(topics: topics, data: data, into: &writer)
        return DecodedLog(event: event, json: writer.bytes)
    }

    /// Appends the decoded object to `writer` (to embed it in a larger document) and returns the
    /// event used. On error, `writer` is left as it was.
    @discardableResult
    public func decode(topics: [[UInt8]], data: [UInt8], into writer: inout JSONWriter) throws(DecodeError) -> EventABI {
        for (index, topic) in topics.enumerated() where topic.count != 32 {
            throw DecodeError(.topicSize, "topic \(index) has \(topic.count) bytes, not 32")
        }
        var firstError: DecodeError?
        var topicMatched: [CompiledEvent] = []
        if let first = topics.first, let candidates = byTopic0[Word256(first, at: 0)] {
            topicMatched = candidates
            for compiled in candidates where compiled.topicCount == topics.count {
                do {
                    try EventDecoder.decode(compiled, topics: topics, data: data, into: &writer)
                    return compiled.event
                } catch {
                    if firstError == nil { firstError = error }
                }
            }
        }
        for compiled in anonymousEvents where compiled.topicCount == topics.count {
            do {
                try EventDecoder.decode(compiled, topics: topics, data: data, into: &writer)
                return compiled.event
            } catch {
                if firstError == nil { firstError = error }
            }
        }
        if let firstError { throw firstError }
        if let matched = topicMatched.first {
            let expected = Array(Set(topicMatched.map(\.topicCount))).sorted().map(String.init).joined(separator: " or ")
            throw DecodeError(.topicCount, event: matched.event.name,
                              "log has \(topics.count) topics, expected \(expected)")
        }
        if topics.isEmpty {
            throw DecodeError(.unknownEvent, "log has no topics and no anonymous event has no indexed inputs")
        }
        var hex = JSONWriter(capacity: 70)
        hex.hexString(topics[0])
        throw DecodeError(.unknownEvent, "no event has topic0 \(hex.text.dropFirst().dropLast()) and \(topics.count) topics")
    }

    /// Decodes a log as `event`, appending the JSON object to `writer`; on error `writer` is
    /// restored.
    static func decode(_ compiled: CompiledEvent, topics: [[UInt8]], data: [UInt8], into writer: inout JSONWriter) throws(DecodeError) {
        let start = writer.bytes.count
        do {
            try decodeUnchecked(compiled, topics: topics, data: data, into: &writer)
        } catch {
            writer.bytes.removeSubrange(start...)
            var located = error
            located.event = compiled.event.name
            throw located
        }
    }

    private static func decodeUnchecked(_ compiled: CompiledEvent, topics: [[UInt8]], data: [UInt8], into writer: inout JSONWriter) throws(DecodeError) {
        let event = compiled.event
        guard topics.count == compiled.topicCount else {
            throw DecodeError(.topicCount, "log has \(topics.count) topics, expected \(compiled.topicCount)")
        }
        var decoding = LogDecoding(data: data)
        writer.bytes.append(contentsOf: compiled.header)
        var topicIndex = event.anonymous ? 0 : 1
        var head = 0
        for (index, input) in event.inputs.enumerated() {
            let name = event.argumentNames[index]
            writer.bytes.append(contentsOf: compiled.keys[index])
            do {
                if input.indexed {
                    let topic = topics[topicIndex]
                    topicIndex += 1
                    if input.type.isValueType {
                        try LogDecoding.writeWord(input.type, topic, at: 0, into: &writer)
                    } else {
                        // Reference types are indexed by the keccak-256 hash of their encoding.
                        writer.hexString(topic)
                    }
                } else {
                    try decoding.decodeHead(input.type, at: head, base: 0, into: &writer)
                    head += input.type.headSize
                }
            } catch {
                throw error.inside(name)
            }
        }
        writer.raw("}}")
    }
}

/// An event with the constant parts of its JSON output prepared.
struct CompiledEvent: Sendable {
    let event: EventABI
    let topicCount: Int
    /// `{"event":"…","signature":"…","args":{`
    let header: [UInt8]
    /// `"name":`, with a leading comma after the first.
    let keys: [[UInt8]]

    init(_ event: EventABI) {
        self.event = event
        topicCount = event.topicCount
        var writer = JSONWriter()
        writer.raw("{\"event\":")
        writer.string(event.name)
        writer.raw(",\"signature\":")
        writer.string(event.signature)
        writer.raw(",\"args\":{")
        header = writer.bytes
        keys = event.argumentNames.enumerated().map { index, name in
            var key = JSONWriter()
            if index > 0 { key.raw(",") }
            key.key(name)
            return key.bytes
        }
    }
}

/// A decoded log: the event it was decoded as and the JSON object (UTF-8).
public struct DecodedLog: Sendable {
    public let event: EventABI
    public let json: [UInt8]
    public var text: String { String(decoding: json, as: UTF8.self) }
}
