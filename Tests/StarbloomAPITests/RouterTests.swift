import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import StarbloomCore
import Testing
@testable import StarbloomAPI

/// Router-level tests (HummingbirdTesting, no socket): every route with a good request and its
/// bad-input cases, status and problem+json checked; keys, roles, topic patterns, 405 and 429.
@Suite("HTTP routes")
struct RouterTests {
    final class Fixture: @unchecked Sendable {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("starbloom-api-\(UUID().uuidString)").path
        let host: StarbloomHost
        let keys: APIKeyStore
        let admin: String, writer: String, reader: String, slow: String

        init() throws {
            try FileManager.default.createDirectory(atPath: "\(directory)/plugins", withIntermediateDirectories: true)
            var configuration = HostConfiguration()
            configuration.dataDirectory = "\(directory)/data"
            configuration.pluginsDirectory = "\(directory)/plugins"
            configuration.bundledPluginDirectories = []
            var logger = Logger(label: "api-tests")
            logger.logLevel = .critical
            host = StarbloomHost(configuration: configuration, services: try HostServices.embedded(configuration: configuration, logger: logger))
            try host.start()
            keys = APIKeyStore(stateStore: host.services.keyValue as! SQLiteStateStore)
            admin = try keys.create(name: "admin", role: .admin).token
            writer = try keys.create(name: "writer", role: .writer, topics: ["orders.>"]).token
            reader = try keys.create(name: "reader", role: .reader, topics: ["orders.>"]).token
            slow = try keys.create(name: "slow", role: .reader, ratePerSecond: 0.01, burst: 2).token
        }

        deinit {
            host.shutdown()
            try? FileManager.default.removeItem(atPath: directory)
        }

        var application: some ApplicationProtocol {
            Application(router: AdminRoutes.makeRouter(host: host, keys: keys))
        }
    }

    struct Case: CustomStringConvertible {
        let method: HTTPRequest.Method
        let uri: String
        var key: String? = nil
        var body: String? = nil
        var headers: [String: String] = [:]
        let status: HTTPResponse.Status
        var description: String { "\(method) \(uri) → \(status.code)" }
    }

    @Test("every route answers its good request and refuses bad input with the right 4xx as problem+json")
    func routeTable() async throws {
        let fixture = try Fixture()
        let a = fixture.admin, w = fixture.writer, r = fixture.reader
        let cases: [Case] = [
            // Open routes
            .init(method: .get, uri: "/healthz", status: .ok),
            .init(method: .get, uri: "/readyz", status: .ok),
            .init(method: .get, uri: "/openapi.json", status: .ok),
            .init(method: .get, uri: "/metrics", status: .unauthorized),
            .init(method: .get, uri: "/metrics", key: r, status: .ok),
            .init(method: .get, uri: "/v1/topics", key: "sbk_00000000_forged", status: .unauthorized),
            .init(method: .trace, uri: "/healthz", status: .methodNotAllowed),
            .init(method: .get, uri: "/v1/nothing", key: r, status: .notFound),
            // Topics
            .init(method: .put, uri: "/v1/topics/orders.created", key: w, body: #"{"partitions": 1, "durability": "always"}"#, status: .created),
            .init(method: .put, uri: "/v1/topics/orders.bad", key: w, body: #"{"durability": "sometimes"}"#, status: .badRequest),
            .init(method: .put, uri: "/v1/topics/orders.big", key: w, body: #"{"partitions": 256, "segment_bytes": 1073741824}"#, status: .badRequest),
            .init(method: .put, uri: "/v1/topics/users.created", key: w, body: "{}", status: .forbidden),
            .init(method: .put, uri: "/v1/topics/orders.r", key: r, body: "{}", status: .forbidden),
            .init(method: .post, uri: "/v1/topics/orders.created/records", key: w, body: #"{"records": [{"key": "a", "payload": "{\"amount\": \"5\"}"}, {"payload_base64": "AAE="}]}"#, status: .ok),
            .init(method: .post, uri: "/v1/topics/orders.created/records", key: w, body: #"{"records": []}"#, status: .badRequest),
            .init(method: .post, uri: "/v1/topics/orders.created/records", key: w, body: #"{"record": {"payload": "a", "payload_base64": "YQ=="}}"#, status: .badRequest),
            .init(method: .post, uri: "/v1/topics/orders.created/records", key: w, body: #"{"record": {"payload_base64": "%%%"}}"#, status: .badRequest),
            .init(method: .post, uri: "/v1/topics/orders.created/records", key: w, body: #"{"record": "#, status: .badRequest),
            .init(method: .post, uri: "/v1/topics/bad..name/records", key: a, body: #"{"record": {"payload": "a"}}"#, status: .badRequest),
            .init(method: .post, uri: "/v1/topics/users.x/records", key: w, body: #"{"record": {"payload": "a"}}"#, status: .forbidden),
            .init(method: .post, uri: "/v1/topics/orders.created/records", key: r, body: #"{"record": {"payload": "a"}}"#, status: .forbidden),
            .init(method: .get, uri: "/v1/topics", key: r, status: .ok),
            .init(method: .get, uri: "/v1/topics/orders.created/records?from=0&limit=10", key: r, status: .ok),
            .init(method: .get, uri: "/v1/topics/orders.created/records?where=amount%3E1", key: r, status: .ok),
            .init(method: .get, uri: "/v1/topics/orders.created/records?where=amount", key: r, status: .badRequest),
            .init(method: .get, uri: "/v1/topics/orders.created/records?from=99", key: r, status: .badRequest),
            .init(method: .get, uri: "/v1/topics/orders.created/records?limit=0", key: r, status: .badRequest),
            .init(method: .get, uri: "/v1/topics/orders.created/records?limit=x", key: r, status: .badRequest),
            .init(method: .get, uri: "/v1/topics/users.x/records", key: r, status: .forbidden),
            // Key-value
            .init(method: .put, uri: "/v1/kv/app/greeting", key: w, body: "hello", status: .ok),
            .init(method: .get, uri: "/v1/kv/app/greeting", key: r, status: .ok),
            .init(method: .get, uri: "/v1/kv/app/missing", key: r, status: .notFound),
            .init(method: .put, uri: "/v1/kv/app/greeting", key: w, body: "x", headers: ["If-Match": "\"999\""], status: .preconditionFailed),
            .init(method: .put, uri: "/v1/kv/app/greeting", key: w, body: "x", headers: ["If-Match": "7"], status: .badRequest),
            .init(method: .put, uri: "/v1/kv/app/greeting", key: w, body: "x", headers: ["If-None-Match": "*"], status: .preconditionFailed),
            .init(method: .put, uri: "/v1/kv/app/greeting", key: w, body: "x", headers: ["If-None-Match": "\"1\""], status: .badRequest),
            .init(method: .put, uri: "/v1/kv/app/t?ttl_ms=0", key: w, body: "x", status: .badRequest),
            .init(method: .put, uri: "/v1/kv/bad%20ns/k", key: w, body: "x", status: .badRequest),
            .init(method: .put, uri: "/v1/kv/app/\(String(repeating: "k", count: 1100))", key: w, body: "x", status: .badRequest),
            .init(method: .put, uri: "/v1/kv/app/k", key: r, body: "x", status: .forbidden),
            .init(method: .post, uri: "/v1/kv/app/counter/increment", key: w, body: #"{"by": 2}"#, status: .ok),
            .init(method: .post, uri: "/v1/kv/app/greeting/increment", key: w, body: #"{"by": 2}"#, status: .badRequest),
            .init(method: .post, uri: "/v1/kv/app/counter/increment", key: w, body: #"{"by": "two"}"#, status: .badRequest),
            .init(method: .get, uri: "/v1/kv/app?prefix=g&limit=5", key: r, status: .ok),
            .init(method: .get, uri: "/v1/kv/app?cursor=%25%25", key: r, status: .badRequest),
            .init(method: .delete, uri: "/v1/kv/app/greeting", key: w, status: .noContent),
            .init(method: .delete, uri: "/v1/kv/app/greeting", key: w, status: .notFound),
            // Series
            .init(method: .post, uri: "/v1/series/volume/points", key: w, body: #"{"points": [{"tags": {"token": "usdc"}, "ts_ns": 60000000000, "value": 2.5}]}"#, status: .ok),
            .init(method: .post, uri: "/v1/series/volume/points", key: w, body: #"{"points": []}"#, status: .badRequest),
            .init(method: .post, uri: "/v1/series/volume/points", key: w, body: #"{"points": [{"ts_ns": -1, "value": 1}]}"#, status: .badRequest),
            .init(method: .post, uri: "/v1/series/volume/points", key: w, body: #"{"points": [{"ts_ns": 1, "value": "NaN"}]}"#, status: .badRequest),
            .init(method: .get, uri: "/v1/series", key: r, status: .ok),
            .init(method: .get, uri: "/v1/series/volume?from=0&to=120000000000&step=60000000000&agg=sum", key: r, status: .ok),
            .init(method: .get, uri: "/v1/series/volume?from=0&to=10", key: r, status: .badRequest),
            .init(method: .get, uri: "/v1/series/volume?from=0&to=10&step=1&agg=median", key: r, status: .badRequest),
            .init(method: .get, uri: "/v1/series/volume?from=10&to=5&step=1", key: r, status: .badRequest),
            // Event streams and WebSocket (the streams themselves run in the e2e scripts)
            .init(method: .get, uri: "/v1/events", key: r, status: .badRequest),
            .init(method: .get, uri: "/v1/events?topics=bad..x", key: r, status: .badRequest),
            .init(method: .get, uri: "/v1/events?topics=orders.%3E&from=middle", key: r, status: .badRequest),
            .init(method: .get, uri: "/v1/events?topics=orders.%3E", key: r, headers: ["Last-Event-ID": "forged"], status: .badRequest),
            .init(method: .get, uri: "/v1/ws", key: r, status: .upgradeRequired),
            // Plugins and instances (admin)
            .init(method: .get, uri: "/v1/plugins", key: a, status: .ok),
            .init(method: .get, uri: "/v1/plugins", key: w, status: .forbidden),
            .init(method: .get, uri: "/v1/plugins/none", key: a, status: .notFound),
            .init(method: .post, uri: "/v1/plugins/none/validate", key: a, body: #"{"settings": {}}"#, status: .notFound),
            .init(method: .post, uri: "/v1/plugins/rescan", key: a, status: .ok),
            .init(method: .get, uri: "/v1/instances", key: a, status: .ok),
            .init(method: .post, uri: "/v1/instances", key: a, body: #"{"name": "x", "plugin": "none"}"#, status: .unprocessableContent),
            .init(method: .post, uri: "/v1/instances", key: a, body: #"{"name": "x"}"#, status: .badRequest),
            .init(method: .get, uri: "/v1/instances/none", key: a, status: .notFound),
            .init(method: .delete, uri: "/v1/instances/none", key: a, status: .notFound),
            .init(method: .post, uri: "/v1/instances/none/enable", key: a, status: .notFound),
            .init(method: .post, uri: "/v1/instances/none/disable", key: a, status: .notFound),
            .init(method: .post, uri: "/v1/instances/none/restart", key: a, status: .notFound),
            .init(method: .put, uri: "/v1/instances/none/settings", key: a, body: #"{"settings": {}}"#, status: .notFound),
            .init(method: .post, uri: "/v1/instances/none/commands/status", key: a, body: #"{"args": []}"#, status: .notFound),
            // Keys (admin)
            .init(method: .get, uri: "/v1/keys", key: a, status: .ok),
            .init(method: .get, uri: "/v1/keys", key: r, status: .forbidden),
            .init(method: .post, uri: "/v1/keys", key: a, body: #"{"name": "ci", "role": "reader", "topics": ["orders.>"]}"#, status: .created),
            .init(method: .post, uri: "/v1/keys", key: a, body: #"{"name": "ci", "role": "root"}"#, status: .badRequest),
            .init(method: .post, uri: "/v1/keys", key: a, body: #"{"name": "ci", "role": "reader", "topics": ["bad..x"]}"#, status: .badRequest),
            .init(method: .delete, uri: "/v1/keys/ffffffff", key: a, status: .notFound),
            // Pipelines (admin)
            .init(method: .put, uri: "/v1/pipelines/p1", key: a, body: #"{"inputs": ["orders.>"], "steps": [{"type": "filter", "where": "n > 1"}], "outputs": [{"topic": "p1.out"}]}"#, status: .created),
            .init(method: .put, uri: "/v1/pipelines/p1", key: a, body: #"{"inputs": ["orders.>"], "outputs": [{"topic": "p1.out"}]}"#, status: .ok),
            .init(method: .get, uri: "/v1/pipelines", key: a, status: .ok),
            .init(method: .get, uri: "/v1/pipelines/p1", key: a, status: .ok),
            .init(method: .get, uri: "/v1/pipelines", key: w, status: .forbidden),
            .init(method: .put, uri: "/v1/pipelines/p1", key: r, body: "{}", status: .forbidden),
            .init(method: .put, uri: "/v1/pipelines/bad%20name", key: a, body: #"{"inputs": ["x"], "outputs": [{"topic": "y"}]}"#, status: .badRequest),
            .init(method: .put, uri: "/v1/pipelines/p2", key: a, body: "not json", status: .unprocessableContent),
            .init(method: .put, uri: "/v1/pipelines/p2", key: a, body: #"{"inputs": ["x"]}"#, status: .unprocessableContent),
            .init(method: .put, uri: "/v1/pipelines/p2", key: a, body: #"{"inputs": ["x"], "outputs": [{"topic": "y"}], "colour": 1}"#, status: .unprocessableContent),
            .init(method: .put, uri: "/v1/pipelines/p2", key: a, body: #"{"name": "p3", "inputs": ["x"], "outputs": [{"topic": "y"}]}"#, status: .unprocessableContent),
            .init(method: .put, uri: "/v1/pipelines/p2", key: a, body: #"{"inputs": ["x"], "outputs": [{"topic": "y"}], "batch_size": 0}"#, status: .unprocessableContent),
            .init(method: .post, uri: "/v1/pipelines/validate", key: a, body: #"{"name": "v", "inputs": ["x"], "outputs": [{"topic": "y"}]}"#, status: .ok),
            .init(method: .post, uri: "/v1/pipelines/validate", key: a, body: #"{"name": "v", "inputs": ["x"], "steps": [{"type": "filter", "where": "n >"}], "outputs": [{"topic": "y"}]}"#, status: .unprocessableContent),
            .init(method: .get, uri: "/v1/pipelines/p2", key: a, status: .notFound),
            .init(method: .delete, uri: "/v1/pipelines/p1", key: a, status: .noContent),
            .init(method: .delete, uri: "/v1/pipelines/p1", key: a, status: .notFound),
        ]
        try await fixture.application.test(.router) { client in
            for test in cases {
                var headers = HTTPFields()
                if let key = test.key { headers[.authorization] = "Bearer \(key)" }
                for (name, value) in test.headers { headers[HTTPField.Name(name)!] = value }
                try await client.execute(uri: test.uri, method: test.method, headers: headers, body: test.body.map { ByteBuffer(string: $0) }) { response in
                    #expect(response.status == test.status, "\(test): got \(response.status.code) \(String(buffer: response.body).prefix(200))")
                    if response.status.code >= 400 {
                        #expect(response.headers[.contentType] == "application/problem+json", "\(test)")
                        let problem = try? JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]
                        #expect((problem?["detail"] as? String)?.isEmpty == false, "\(test): a problem names what to fix")
                    }
                }
            }
        }
    }

    @Test("the last admin key cannot be revoked; a revoked key is refused at once; 405 lists the methods")
    func keyLifecycleAndAllow() async throws {
        let fixture = try Fixture()
        let adminID = fixture.keys.list().first { $0.name == "admin" }!.id
        try await fixture.application.test(.router) { client in
            let admin: HTTPFields = [.authorization: "Bearer \(fixture.admin)"]
            try await client.execute(uri: "/v1/keys/\(adminID)", method: .delete, headers: admin) { #expect($0.status == .conflict) }
            let readerID = fixture.keys.list().first { $0.name == "reader" }!.id
            let reader: HTTPFields = [.authorization: "Bearer \(fixture.reader)"]
            try await client.execute(uri: "/v1/topics", method: .get, headers: reader) { #expect($0.status == .ok) }
            try await client.execute(uri: "/v1/keys/\(readerID)", method: .delete, headers: admin) { #expect($0.status == .noContent) }
            try await client.execute(uri: "/v1/topics", method: .get, headers: reader) { #expect($0.status == .unauthorized) }
            try await client.execute(uri: "/v1/plugins/rescan", method: .get, headers: admin) { response in
                #expect(response.status == .methodNotAllowed)
                #expect(response.headers[.allow] == "POST")
            }
        }
    }

    @Test("/metrics has a latency histogram and a response count per route template, method and status")
    func perRouteMetrics() async throws {
        let fixture = try Fixture()
        try await fixture.application.test(.router) { client in
            let writer: HTTPFields = [.authorization: "Bearer \(fixture.writer)"]
            let admin: HTTPFields = [.authorization: "Bearer \(fixture.admin)"]
            try await client.execute(uri: "/v1/kv/app/a%20b", method: .put, headers: writer, body: ByteBuffer(string: "1")) { #expect($0.status == .ok) }
            for _ in 0..<3 {
                try await client.execute(uri: "/v1/kv/app/a%20b", method: .get, headers: writer) { #expect($0.status == .ok) }
            }
            try await client.execute(uri: "/v1/kv/app/missing", method: .get, headers: writer) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/no/such/route/\(UUID())", method: .get, headers: writer) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/healthz", method: .init("BREW")!) { #expect($0.status.code >= 400) }
            try await client.execute(uri: "/metrics", method: .get, headers: admin) { response in
                let text = String(buffer: response.body)
                let route = text.split(separator: "\n").first { $0.hasPrefix("starbloom_api_request_duration_seconds_count{method=\"GET\",route=\"/v1/kv/") }
                    .map { String($0.split(separator: "\"")[3]) }
                #expect(route?.contains("namespace") == true, "labelled by the template, not the path: \(route ?? "none")")
                let labels = #"method="GET",route="\#(route ?? "")""#
                #expect(prometheusValue(text, "starbloom_api_request_duration_seconds_count{\(labels)}") == 4)
                #expect(prometheusValue(text, "starbloom_api_responses_total{\(labels),status=\"200\"}") == 3)
                #expect(prometheusValue(text, "starbloom_api_responses_total{\(labels),status=\"404\"}") == 1)
                #expect(prometheusValue(text, #"starbloom_api_responses_total{method="GET",route="NotFound",status="404"}"#) == 1)
                #expect(text.contains(#"method="OTHER""#), "a made-up method does not become a label value")
                #expect(!text.contains("BREW") && !text.contains("no/such"))
            }
        }
    }

    @Test("DELETE /v1/topics/{topic}: admin only; its records go; the name starts over at offset 0")
    func deleteTopic() async throws {
        let fixture = try Fixture()
        try await fixture.application.test(.router) { client in
            let admin: HTTPFields = [.authorization: "Bearer \(fixture.admin)"]
            let writer: HTTPFields = [.authorization: "Bearer \(fixture.writer)"]
            let batch = ByteBuffer(string: #"{"records": [{"payload": "a"}, {"payload": "b"}]}"#)
            try await client.execute(uri: "/v1/topics/orders.gone/records", method: .post, headers: writer, body: batch) { #expect($0.status == .ok) }
            try await client.execute(uri: "/v1/topics/orders.gone", method: .delete, headers: writer) { #expect($0.status == .forbidden) }
            try await client.execute(uri: "/v1/topics/orders.gone", method: .delete, headers: admin) { #expect($0.status == .noContent) }
            try await client.execute(uri: "/v1/topics/orders.gone", method: .delete, headers: admin) { response in
                #expect(response.status == .notFound)
                #expect(response.headers[.contentType] == "application/problem+json")
            }
            try await client.execute(uri: "/v1/topics/bad..name", method: .delete, headers: admin) { #expect($0.status == .badRequest) }
            try await client.execute(uri: "/v1/topics", method: .get, headers: admin) { #expect(!String(buffer: $0.body).contains("orders.gone")) }
            try await client.execute(uri: "/v1/topics/orders.gone/records", method: .post, headers: writer, body: ByteBuffer(string: #"{"record": {"payload": "c"}}"#)) {
                #expect($0.status == .ok)
            }
            try await client.execute(uri: "/v1/topics/orders.gone/records?limit=10", method: .get, headers: writer) { response in
                let text = String(buffer: response.body)
                #expect(text.contains(#""offset":0"#) && !text.contains(#""offset":1"#), "\(text)")
            }
        }
    }

    @Test("/readyz reports the queue and the storage; the storage probe answers")
    func readiness() async throws {
        let fixture = try Fixture()
        try await fixture.application.test(.router) { client in
            try await client.execute(uri: "/readyz", method: .get) { response in
                #expect(response.status == .ok)
                let text = String(buffer: response.body)
                #expect(text.contains(#""queue":"ok""#) && text.contains(#""storage":"ok""#), "\(text)")
            }
            let store = fixture.host.services.keyValue as! SQLiteStateStore
            #expect(store.probe() == nil)
        }
    }

    @Test("bearer tokens and percent-encoded segments are parsed byte-wise, bad ones refused")
    func parsing() {
        #expect(AuthMiddleware<StarbloomRequestContext>.bearerToken("Bearer abc") == "abc")
        #expect(AuthMiddleware<StarbloomRequestContext>.bearerToken("bEaReR \t abc \t") == "abc")
        #expect(AuthMiddleware<StarbloomRequestContext>.bearerToken("Bearer ") == nil)
        #expect(AuthMiddleware<StarbloomRequestContext>.bearerToken("Bearer    ") == nil)
        #expect(AuthMiddleware<StarbloomRequestContext>.bearerToken("Basic abc") == nil)
        #expect(AuthMiddleware<StarbloomRequestContext>.bearerToken("Bearerabc") == nil)
        #expect(AuthMiddleware<StarbloomRequestContext>.bearerToken("Bearér abc") == nil)
        #expect(PercentDecoding.string("plain") == "plain")
        #expect(PercentDecoding.string("a%20b%2Fc%e2%82%AC") == "a b/c€")
        #expect(PercentDecoding.string("bad%2") == nil)
        #expect(PercentDecoding.string("bad%zz") == nil)
        #expect(PercentDecoding.string("%ff%fe") == nil, "not UTF-8")
        #expect(PercentDecoding.bytes("%ff%00") == [0xFF, 0])
        // Cursors: unpadded base64url, the same text Foundation's base64 gives with the alphabet swapped.
        for length in 0..<48 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255) }
            let foundation = Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
                .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
            #expect(Cursor.encode(bytes) == foundation)
            #expect(Cursor.decode(foundation) == bytes)
        }
        #expect(Cursor.decode("a") == nil && Cursor.decode("ab!c") == nil && Cursor.decode("ab+/") == nil)
    }

    @Test("a key past its rate gets 429 with Retry-After")
    func rateLimit() async throws {
        let fixture = try Fixture()
        try await fixture.application.test(.router) { client in
            let headers: HTTPFields = [.authorization: "Bearer \(fixture.slow)"]
            var statuses: [HTTPResponse.Status] = []
            var retryAfter: String?
            for _ in 0..<4 {
                try await client.execute(uri: "/v1/topics", method: .get, headers: headers) { response in
                    statuses.append(response.status)
                    if response.status == .tooManyRequests { retryAfter = response.headers[.retryAfter] }
                }
            }
            #expect(statuses == [.ok, .ok, .tooManyRequests, .tooManyRequests], "burst 2")
            #expect(retryAfter.flatMap(Int.init).map { $0 >= 1 } == true)
        }
    }
}

@Suite("Hand-written JSON")
struct JSONTextTests {
    @Test("a record page written by hand equals what JSONEncoder writes, escapes included")
    func matchesEncoder() throws {
        let records = [
            QueueRecord(topic: "orders.created", offset: 7, key: Array("k\"1".utf8), payload: Array("{\"a\":\"x\\y\n\u{1}/é\"}".utf8),
                        headers: [.init(name: "b", value: Array("2".utf8)), .init(name: "a", value: Array("tab\there".utf8))], eventTimeNs: 123),
            QueueRecord(topic: "orders.created", offset: 8, key: [], payload: [0xFF, 0x00, 0x10], headers: [], eventTimeNs: -1),
        ].map(RecordView.init)
        let byHand = JSONText.recordPage(records, next: 9)
        let byEncoder = try AdminRoutes.encoder.encode(RecordPage(records: records, next: 9))
        #expect(String(decoding: byHand, as: UTF8.self) == String(decoding: byEncoder, as: UTF8.self))
        // And it parses back to the same values.
        let parsed = try JSONDecoder().decode(RecordPage.self, from: Data(byHand))
        #expect(parsed.records.map(\.payload) == records.map(\.payload) && parsed.next == 9)
        // An SSE event's data: the record plus its partition.
        for (view, partition) in zip(records, [0, 3]) {
            var json = JSONText()
            json.record(view, partition: partition)
            let encoded = try AdminRoutes.encoder.encode(EventRecord(view: view, partition: partition))
            #expect(String(decoding: json.bytes, as: UTF8.self) == String(decoding: encoded, as: UTF8.self))
        }
    }
}

/// The value of `series` (name plus rendered labels) in Prometheus text, or nil if absent.
private func prometheusValue(_ rendered: String, _ series: String) -> Double? {
    rendered.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.dropFirst(series.count + 1)) }
}
