import Foundation
import Hummingbird
import HummingbirdWebSocket
import StarbloomCore
import Synchronization

/// The context of the WebSocket upgrade router: authenticated like every HTTP route.
public struct StarbloomWebSocketContext: WebSocketRequestContext, AuthenticatedContext {
    public var coreContext: CoreRequestContextStorage
    public let webSocket: WebSocketHandlerReference<Self>
    public var key: APIKey?

    public init(source: Source) {
        coreContext = .init(source: source)
        webSocket = .init()
    }
}

/// `/v1/ws`: JSON messages over one WebSocket.
///
/// Client → server: `{"op":"subscribe","id":"s1","topics":"orders.>","from":"latest"|"earliest",
/// "position":"v1…"}`, `{"op":"unsubscribe","id":"s1"}`, `{"op":"ping"}`.
/// Server → client: `subscribed`, `unsubscribed`, `pong`, `error` (with `id` when it concerns a
/// subscription, and a `detail`), and `record` messages carrying the subscription id, topic,
/// partition, offset, key, headers, payload and the `position` to resume from.
///
/// Slow consumers: every connection has a send buffer of at most `maxPendingMessages` messages.
/// Subscriptions read the log only while it has room. When it stays full for `slowConsumerSeconds`
/// (the client stopped reading and the socket's buffers filled) the connection is closed with code
/// 1008 (policy violation) and the reason "slow consumer". Memory per connection is bounded, and
/// other connections never wait.
/// The server pings every 20 s and closes a connection whose pongs stop (swift-websocket auto-ping).
enum WebSocketRoutes {
    static let maxPendingMessages = 1_000
    static let slowConsumerSeconds: UInt64 = 2
    static let maxSubscriptions = 64
    static let maxMessageBytes = 1 << 16

    static func makeRouter(host: StarbloomHost, keys: APIKeyStore?, limiter: RateLimiter, feed: LiveFeed) -> Router<StarbloomWebSocketContext> {
        let router = Router(context: StarbloomWebSocketContext.self)
        router.add(middleware: ProblemMiddleware())
        if let keys { router.add(middleware: AuthMiddleware(keys: keys, limiter: limiter)) }
        router.ws("/v1/ws") { inbound, outbound, context in
            let session = WebSocketSession(queue: host.services.queue, feed: feed, key: context.requestContext.key)
            await session.run(inbound: inbound, outbound: outbound)
        }
        return router
    }

    /// On the HTTP router: a GET that was not a valid upgrade (the upgrade router answers real ones).
    static func add(to router: Router<StarbloomRequestContext>) {
        router.get("/v1/ws") { _, _ -> Response in
            throw Problem(.upgradeRequired, "Upgrade required", detail: "/v1/ws speaks WebSocket: send Connection: Upgrade and Upgrade: websocket")
        }
    }
}

/// One WebSocket connection: its subscriptions and its bounded send buffer.
final class WebSocketSession: Sendable {
    private let queue: any MessageQueue
    private let feed: LiveFeed
    private let key: APIKey?
    private let outgoing: AsyncStream<String>
    private let continuation: AsyncStream<String>.Continuation
    private let pending = Atomic<Int>(0)
    private let overflowed = Atomic<Bool>(false)
    private let stopped = Atomic<Bool>(false)
    private let subscriptions = Mutex<[String: Task<Void, Never>]>([:])

    init(queue: any MessageQueue, feed: LiveFeed, key: APIKey?) {
        self.queue = queue
        self.feed = feed
        self.key = key
        (outgoing, continuation) = AsyncStream<String>.makeStream()
    }

    func run(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { // the only writer: drains the buffer into the socket
                for await text in self.outgoing {
                    do {
                        try await outbound.write(.text(text))
                    } catch {
                        break
                    }
                    self.pending.subtract(1, ordering: .relaxed)
                }
            }
            group.addTask { // the reader of client messages
                do {
                    for try await message in inbound.messages(maxSize: WebSocketRoutes.maxMessageBytes) {
                        guard case .text(let text) = message else {
                            self.send(["op": "error", "detail": "send JSON text messages; binary messages are not understood"])
                            continue
                        }
                        self.handle(text)
                    }
                } catch {
                    // a closed or failed connection ends the session
                }
                self.stop()
            }
            await group.next()
            stop()
            group.cancelAll()
        }
        if overflowed.load(ordering: .relaxed) {
            try? await outbound.close(.policyViolation, reason: "slow consumer: \(WebSocketRoutes.maxPendingMessages) messages waited over \(WebSocketRoutes.slowConsumerSeconds) s")
        }
    }

    /// Ends every subscription and the writer.
    func stop() {
        stopped.store(true, ordering: .relaxed)
        let tasks = subscriptions.withLock { subscriptions in
            defer { subscriptions.removeAll() }
            return Array(subscriptions.values)
        }
        tasks.forEach { $0.cancel() }
        continuation.finish()
    }

    /// Queues a message; false (and the connection is being closed) when the buffer is full.
    @discardableResult
    func send(_ message: [String: any Sendable]) -> Bool {
        guard let data = try? JSONSerialization.data(withJSONObject: message, options: [.sortedKeys, .withoutEscapingSlashes]) else { return true }
        return send(text: String(decoding: data, as: UTF8.self))
    }

    private func send(text: String) -> Bool {
        // Subscriptions stop reading at the bound; replies to the client's own messages may go a
        // little past it, never past twice.
        if pending.add(1, ordering: .relaxed).newValue > 2 * WebSocketRoutes.maxPendingMessages {
            overflowed.store(true, ordering: .relaxed)
            stop()
            return false
        }
        continuation.yield(text)
        return true
    }

    private var hasRoom: Bool { pending.load(ordering: .relaxed) < WebSocketRoutes.maxPendingMessages }

    func handle(_ text: String) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], let op = object["op"] as? String else {
            send(["op": "error", "detail": "messages are JSON objects with an \"op\": subscribe, unsubscribe or ping"])
            return
        }
        let id = object["id"] as? String
        switch op {
        case "ping":
            send(["op": "pong"])
        case "subscribe":
            subscribe(id: id, object)
        case "unsubscribe":
            guard let id else { return error(nil, "unsubscribe needs the subscription's \"id\"") }
            let task = subscriptions.withLock { $0.removeValue(forKey: id) }
            guard let task else { return error(id, "no subscription with id '\(id)'") }
            task.cancel()
            send(["op": "unsubscribed", "id": id])
        default:
            error(id, "unknown op '\(op)': use subscribe, unsubscribe or ping")
        }
    }

    private func error(_ id: String?, _ detail: String) {
        var message: [String: any Sendable] = ["op": "error", "detail": detail]
        if let id { message["id"] = id }
        send(message)
    }

    private func subscribe(id: String?, _ object: [String: Any]) {
        guard let id, !id.isEmpty, id.utf8.count <= 100 else { return error(nil, "subscribe needs an \"id\" of 1-100 bytes") }
        guard let topics = object["topics"] as? String, !topics.isEmpty else {
            return error(id, "subscribe needs \"topics\": one or more topic patterns, comma-separated")
        }
        let follows: @Sendable (String) -> Bool
        switch TopicFollower.selection(topics, key: key) {
        case .success(let selection): follows = selection
        case .failure(let problem): return error(id, problem.detail)
        }
        let from = object["from"] as? String ?? "latest"
        guard from == "latest" || from == "earliest" else { return error(id, "from must be latest or earliest; got '\(from)'") }
        var resume: StreamPosition?
        if let text = object["position"] as? String {
            do {
                resume = try StreamPosition.resume(from: text, queue: queue, key: key)
            } catch let problem as Problem {
                return error(id, problem.detail)
            } catch let other {
                return error(id, "\(other)")
            }
        }
        let follower = TopicFollower(queue: queue, follows: follows, resumeAt: resume, fromEarliest: from == "earliest")
        let reserved: Bool = subscriptions.withLock { subscriptions in
            guard subscriptions[id] == nil, subscriptions.count < WebSocketRoutes.maxSubscriptions else { return false }
            subscriptions[id] = Task {} // holds the id until the follower starts
            return true
        }
        guard reserved else { return error(id, "id '\(id)' is in use, or the connection has \(WebSocketRoutes.maxSubscriptions) subscriptions") }
        send(["op": "subscribed", "id": id]) // before any of its records
        let task = Task { [self] in await self.follow(id: id, follower: follower) }
        let kept = subscriptions.withLock { subscriptions in
            guard subscriptions[id] != nil, !stopped.load(ordering: .relaxed) else { return false }
            subscriptions[id] = task
            return true
        }
        if !kept { task.cancel() }
    }

    private func follow(id: String, follower: TopicFollower) async {
        var tail = LiveTail(queue: queue, feed: feed, follower: follower)
        defer { tail.close() }
        var fullSince: UInt64?
        while !Task.isCancelled {
            // Read the log only while the send buffer has room: a stalled client stops its reads,
            // and one that stays stalled is disconnected.
            guard hasRoom else {
                let now = DispatchTime.now().uptimeNanoseconds
                if let since = fullSince, now - since > WebSocketRoutes.slowConsumerSeconds * 1_000_000_000 {
                    overflowed.store(true, ordering: .relaxed)
                    stop()
                    return
                }
                fullSince = fullSince ?? now
                try? await Task.sleep(nanoseconds: 5_000_000)
                continue
            }
            fullSince = nil
            // Up to a second without records: then the buffer and cancellation are checked again.
            // Each subscription takes at most its share of the buffer's room: a burst from the feed
            // (a mailbox holds up to 2,048 records) must not push a reading client over the limit.
            let sharing = max(subscriptions.withLock { $0.count }, 1)
            let room = max((WebSocketRoutes.maxPendingMessages - pending.load(ordering: .relaxed)) / sharing, 1)
            let batch = await tail.next(deadline: DispatchTime.now().uptimeNanoseconds + 1_000_000_000, maxItems: room)
            for (record, position, _) in batch {
                let view = RecordView(record)
                guard send([
                    "op": "record", "id": id, "topic": record.topic, "partition": record.partition, "offset": record.offset,
                    "key": view.key, "headers": view.headers, "payload": view.payload, "payloadEncoding": view.payloadEncoding,
                    "eventTimeNs": record.eventTimeNs, "position": position.id,
                ]) else { return }
            }
        }
    }
}
