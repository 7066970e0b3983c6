import Foundation
import HTTPTypes
import Hummingbird
import ServiceLifecycle
import StarbloomCore

/// `GET /v1/events?topics=PATTERN[,PATTERN…]`: Server-Sent Events of the records of every matching
/// topic, including topics created while the stream is open.
///
/// Each event's `id:` is the whole stream position (the next offset of every topic-partition the
/// stream follows), so a client that reconnects with `Last-Event-ID` (or `?last_event_id=`) resumes
/// exactly after the last event it saw: no gap, no duplicate. Without one the stream starts at the
/// end (`from=latest`, the default) or at the oldest retained record (`from=earliest`). `retry:` is
/// sent first; a comment line every `heartbeat_ms` (default 15 s) keeps proxies from closing an idle
/// stream. Records are read only as fast as the client takes them (each write awaits the socket),
/// and new records come from the server's one `LiveFeed` (read and encoded once for all streams)
/// into a bounded mailbox: a slow or stalled client costs at most that mailbox, then reads what it
/// missed from the log when it moves again (`LiveTail`). An idle stream sleeps until a record for
/// it arrives or its next heartbeat is due.
enum EventStreamRoutes {

    static func add(to router: Router<StarbloomRequestContext>, host: StarbloomHost, feed: LiveFeed) {
        router.get("/v1/events") { request, context -> Response in
            let parameters = request.uri.queryParameters
            guard let list = parameters["topics"], !list.isEmpty else {
                throw Problem.badRequest("topics is required: one or more topic patterns, comma-separated (e.g. topics=orders.>)")
            }
            // A key sees only its own topics: a topic must match a requested pattern and the key's.
            let key = context.key
            let follows = try TopicFollower.selection(String(list), key: key).get()
            let heartbeat = try AdminRoutes.query(request, "heartbeat_ms", default: 15_000, range: 100...300_000)
            let from = parameters["from"].map(String.init) ?? "latest"
            guard from == "latest" || from == "earliest" else { throw Problem.badRequest("from must be latest or earliest; got '\(from)'") }
            let queue = host.services.queue
            let resume = try (request.headers[HTTPField.Name("Last-Event-ID")!] ?? parameters["last_event_id"].map(String.init))
                .map { try StreamPosition.resume(from: $0, queue: queue, key: key) }
            let follower = TopicFollower(queue: queue, follows: follows, resumeAt: resume, fromEarliest: from == "earliest")
            var headers = HTTPFields()
            headers[.contentType] = "text/event-stream"
            headers[.cacheControl] = "no-cache"
            return Response(status: .ok, headers: headers, body: ResponseBody { writer in
                try await stream(queue: queue, feed: feed, follower: follower, heartbeatMs: heartbeat, writer: &writer)
            })
        }
    }

    private static func stream(queue: any MessageQueue, feed: LiveFeed, follower: TopicFollower, heartbeatMs: UInt64,
                               writer: inout any ResponseBodyWriter) async throws {
        var tail = LiveTail(queue: queue, feed: feed, follower: follower)
        defer { tail.close() }
        let subscription = tail.subscription
        // On SIGTERM the server waits for open responses: the stream ends (the client reconnects
        // elsewhere or later with Last-Event-ID) instead of holding the shutdown until a heartbeat.
        try await withGracefulShutdownHandler {
            try await writer.write(ByteBuffer(string: "retry: 2000\n\n"))
            let heartbeat = heartbeatMs * 1_000_000
            var lastWrite = DispatchTime.now().uptimeNanoseconds
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                let batch = await tail.next(deadline: lastWrite + heartbeat)
                if !batch.isEmpty {
                    var text = ""
                    for (record, position, data) in batch {
                        text += "id: \(position.id)\nevent: record\ndata: \(data ?? eventData(record))\n\n"
                    }
                    try await writer.write(ByteBuffer(string: text)) // awaits the client: a slow reader slows only itself
                    lastWrite = DispatchTime.now().uptimeNanoseconds
                } else if DispatchTime.now().uptimeNanoseconds - lastWrite >= heartbeat {
                    try await writer.write(ByteBuffer(string: ": keepalive\n\n"))
                    lastWrite = DispatchTime.now().uptimeNanoseconds
                }
            }
        } onGracefulShutdown: {
            subscription.interrupt()
        }
    }

    /// The record as `EventRecord` JSON, written by hand (JSONEncoder was the live feed's largest cost).
    static func eventData(_ record: QueueRecord) -> String {
        var json = JSONText(capacity: 200 + record.payload.count + record.key.count)
        json.record(RecordView(record), partition: record.partition)
        return String(decoding: json.bytes, as: UTF8.self) // JSON text has no raw newlines: one data line
    }
}

/// The SSE event payload: a record with its partition.
struct EventRecord: Encodable {
    let view: RecordView
    let partition: Int

    func encode(to encoder: any Encoder) throws {
        try view.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(partition, forKey: .partition)
    }

    enum CodingKeys: String, CodingKey { case partition }
}

/// Where a stream stands: the next offset of every topic-partition it follows. As an event id:
/// `v1.` + base64url of `topic NUL partition NUL offset` lines.
struct StreamPosition: Equatable {
    struct Key: Hashable {
        let topic: String
        let partition: Int
    }

    var next: [Key: UInt64] = [:]

    init() {}

    init?(id: String) {
        guard id.hasPrefix("v1."), let bytes = Cursor.decode(String(id.dropFirst(3))) else { return nil }
        let text = String(decoding: bytes, as: UTF8.self)
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: "\0", omittingEmptySubsequences: false)
            guard fields.count == 3, TopicName.problem(with: String(fields[0])) == nil,
                  let partition = Int(fields[1]), (0...255).contains(partition), let offset = UInt64(fields[2]) else { return nil }
            next[Key(topic: String(fields[0]), partition: partition)] = offset
        }
    }

    /// A position a client sent back to resume, checked: each topic must be the key's, and no
    /// offset may be ahead of its partition (that id was not ours, or the data directory changed).
    static func resume(from id: String, queue: any MessageQueue, key: APIKey?) throws -> StreamPosition {
        guard let position = StreamPosition(id: id) else {
            throw Problem.badRequest("resume position '\(id.prefix(80))' is not one this server sent")
        }
        let topics = queue.topics()
        for (entry, offset) in position.next {
            if let key, !key.allows(topic: entry.topic) {
                throw Problem(.forbidden, "Forbidden", detail: "key '\(key.name)' may not use topic '\(entry.topic)'")
            }
            let info = topics.first { $0.name == entry.topic }?.partitions.first { $0.partition == entry.partition }
            if let info, offset > info.nextOffset {
                throw Problem.badRequest("the resume position is ahead of topic '\(entry.topic)' partition \(entry.partition) (offset \(offset) > \(info.nextOffset))")
            }
        }
        return position
    }

    var id: String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(next.count * 32)
        let entries = next.count == 1 ? Array(next) : next.sorted { ($0.key.topic, $0.key.partition) < ($1.key.topic, $1.key.partition) }
        for (key, offset) in entries {
            if !bytes.isEmpty { bytes.append(UInt8(ascii: "\n")) }
            bytes.append(contentsOf: key.topic.utf8)
            bytes.append(0)
            bytes.append(contentsOf: String(key.partition).utf8)
            bytes.append(0)
            bytes.append(contentsOf: String(offset).utf8)
        }
        return "v1." + Cursor.encode(bytes)
    }
}
