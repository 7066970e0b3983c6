import Foundation
import Hummingbird
import StarbloomCore

/// `/v1/topics`: list with statistics, create with settings, publish one record or a batch, and
/// read a partition from an offset with a `next` cursor.
enum TopicRoutes {
    static let maxRecordsPerPublish = 1_000

    static func add(to router: Router<StarbloomRequestContext>, host: StarbloomHost) {
        router.get("/v1/topics") { _, context in
            try AdminRoutes.json(host.services.queue.topics().filter { context.mayUse(topic: $0.name) })
        }

        // Admin only (AuthMiddleware): a topic's records go with it.
        router.delete("/v1/topics/:topic") { _, context -> Response in
            let topic = try name(context)
            try context.authorize(topic: topic)
            do throws(QueueError) {
                try host.services.queue.deleteTopic(topic)
            } catch {
                throw Problem(error)
            }
            return Response(status: .noContent)
        }
        router.put("/v1/topics/:topic") { request, context -> Response in
            let topic = try name(context)
            try context.authorize(topic: topic)
            let body = try await AdminRoutes.decode(TopicSettingsBody.self, from: request)
            let settings = try body.settings(defaults: host.configuration.queueDefaults)
            do throws(QueueError) {
                try host.services.queue.createTopic(topic, settings: settings)
            } catch {
                throw Problem(error)
            }
            var response = try AdminRoutes.json(host.services.queue.topics().first { $0.name == topic })
            response.status = .created
            return response
        }

        router.post("/v1/topics/:topic/records") { request, context in
            let topic = try name(context)
            try context.authorize(topic: topic)
            let body = try await AdminRoutes.decode(PublishBody.self, from: request, limit: 16 << 20)
            let inputs = body.records ?? body.record.map { [$0] } ?? []
            guard !inputs.isEmpty, inputs.count <= maxRecordsPerPublish else {
                throw Problem.badRequest("send one record as {\"record\": {...}} or 1-\(maxRecordsPerPublish) as {\"records\": [...]}; got \(inputs.count)")
            }
            var records: [QueueRecord] = []
            for (index, input) in inputs.enumerated() { records.append(try input.record(topic: topic, index: index)) }
            let positions: [RecordPosition]
            do throws(QueueError) {
                positions = try await host.services.queue.publish(topic: topic, records: records)
            } catch {
                throw Problem(error)
            }
            return try AdminRoutes.json(PublishResult(positions: positions.map { .init(partition: $0.partition, offset: $0.offset) }))
        }

        router.get("/v1/topics/:topic/records") { request, context in
            let topic = try name(context)
            try context.authorize(topic: topic)
            let from = try AdminRoutes.query(request, "from", default: 0, range: 0...UInt64.max)
            let limit = try AdminRoutes.query(request, "limit", default: 100, range: 1...1000)
            let partition = try AdminRoutes.query(request, "partition", default: 0, range: 0...255)
            let filter = try filter(request)
            // Without filters a page is `limit` records; with them, matches among at most
            // `maxScanned` records, and `next` is where the scan stopped.
            var matches: [QueueRecord] = []
            var next = from
            var scanned = 0
            repeat {
                let page: [QueueRecord]
                do throws(QueueError) {
                    page = try host.services.queue.read(topic: topic, partition: Int(partition), from: next, limit: filter.isEmpty ? Int(limit) : 1_000)
                } catch {
                    if scanned > 0 && error.code == .invalidOffset { break } // reached the end
                    throw Problem(error)
                }
                if page.isEmpty { break }
                for record in page {
                    scanned += 1
                    next = record.offset + 1
                    if filter.matches(record) { matches.append(record) }
                    if matches.count == Int(limit) { break }
                }
            } while !filter.isEmpty && matches.count < Int(limit) && scanned < maxScanned
            var headers = HTTPFields()
            headers[.contentType] = "application/json"
            let body = JSONText.recordPage(matches.map(RecordView.init), next: next) // the hot path: no JSONEncoder
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
        }
    }

    static let maxScanned = 10_000

    /// `key=`, `header.NAME=`, `where=` (repeatable) from the query string.
    static func filter(_ request: Request) throws -> RecordFilter {
        var filter = RecordFilter()
        let parameters = request.uri.queryParameters
        if let key = parameters["key"] { filter.key = Array(key.utf8) }
        for (name, value) in parameters where name.hasPrefix("header.") {
            filter.headers.append((String(name.dropFirst(7)), Array(value.utf8)))
        }
        for text in parameters[values: "where"] {
            switch RecordFilter.condition(String(text)) {
            case .success(let condition): filter.conditions.append(condition)
            case .failure(let problem): throw problem
            }
        }
        return filter
    }

    static func name(_ context: StarbloomRequestContext) throws -> String {
        let raw = try context.parameters.require("topic")
        let topic = PercentDecoding.string(raw[...]) ?? raw
        if let problem = TopicName.problem(with: topic) { throw Problem.badRequest(problem) }
        return topic
    }

}

struct TopicSettingsBody: Decodable {
    let partitions: Int?
    let durability: String?
    let maxRecordBytes: Int?
    let segmentBytes: Int?
    let retentionSeconds: Double?
    let retentionBytes: Int?
    let compact: Bool?

    enum CodingKeys: String, CodingKey {
        case partitions, durability, compact
        case maxRecordBytes = "max_record_bytes", segmentBytes = "segment_bytes"
        case retentionSeconds = "retention_seconds", retentionBytes = "retention_bytes"
    }

    func settings(defaults: TopicSettings) throws -> TopicSettings {
        var settings = defaults
        if let partitions { settings.partitions = partitions }
        if let durability {
            guard let parsed = TopicSettings.Durability(text: durability) else {
                throw Problem.badRequest("durability must be always, none or interval:<ms>; got '\(durability)'")
            }
            settings.durability = parsed
        }
        if let maxRecordBytes { settings.maxRecordBytes = maxRecordBytes }
        if let segmentBytes { settings.segmentBytes = segmentBytes }
        if let retentionSeconds { settings.retentionSeconds = retentionSeconds }
        if let retentionBytes { settings.retentionBytes = retentionBytes }
        if let compact { settings.compact = compact }
        if let problem = settings.problem { throw Problem.badRequest(problem) }
        // Segments are preallocated: through the API a topic may claim at most 1 GiB up front.
        if settings.partitions * settings.segmentBytes > 1 << 30 {
            throw Problem.badRequest("partitions × segment_bytes must be at most 1 GiB through the API, got \(settings.partitions) × \(settings.segmentBytes)")
        }
        return settings
    }
}

struct PublishBody: Decodable {
    struct Record: Decodable {
        let key: String?
        let payload: String?
        let payloadBase64: String?
        let headers: [String: String]?
        let eventTimeNs: Int64?

        enum CodingKeys: String, CodingKey {
            case key, payload, headers
            case payloadBase64 = "payload_base64", eventTimeNs = "event_time_ns"
        }

        func record(topic: String, index: Int) throws -> QueueRecord {
            let bytes: [UInt8]
            switch (payload, payloadBase64) {
            case (let text?, nil): bytes = Array(text.utf8)
            case (nil, let encoded?):
                guard let data = Data(base64Encoded: encoded) else { throw Problem.badRequest("record \(index): payload_base64 is not valid base64") }
                bytes = Array(data)
            default: throw Problem.badRequest("record \(index): give exactly one of payload (text) and payload_base64")
            }
            if let eventTimeNs, eventTimeNs < 0 { throw Problem.badRequest("record \(index): event_time_ns must not be negative") }
            let headerList = (headers ?? [:]).sorted { $0.key < $1.key }.map { QueueRecord.Header(name: $0.key, value: Array($0.value.utf8)) }
            return QueueRecord(topic: topic, offset: 0, key: Array((key ?? "").utf8), payload: bytes, headers: headerList, eventTimeNs: eventTimeNs ?? 0)
        }
    }
    let record: Record?
    let records: [Record]?
}

struct PublishResult: Encodable {
    struct Position: Encodable {
        let partition: Int
        let offset: UInt64
    }
    let positions: [Position]
}
