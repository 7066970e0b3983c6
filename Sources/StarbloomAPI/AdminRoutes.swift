import Foundation
import Hummingbird
import StarbloomCore

/// The HTTP API: plugins, instances, commands, health and metrics here; topics, key-value and series
/// in their own files. The CLI (`starbloom plugins …`) is a client of these routes.
public enum AdminRoutes {
    /// `keys`: the API key store; nil serves every route without authentication (`[admin] auth = "none"`).
    public static func makeRouter(host: StarbloomHost, keys: APIKeyStore?, limiter: RateLimiter = RateLimiter()) -> Router<StarbloomRequestContext> {
        makeRouter(host: host, keys: keys, limiter: limiter, feed: LiveFeed(queue: host.services.queue, metrics: host.services.metrics))
    }

    /// `feed`: the live feed SSE streams share (the server shares it with WebSocket subscriptions).
    static func makeRouter(host: StarbloomHost, keys: APIKeyStore?, limiter: RateLimiter, feed: LiveFeed) -> Router<StarbloomRequestContext> {
        let router = Router(context: StarbloomRequestContext.self)
        router.add(middleware: APIMetricsMiddleware(registry: host.services.metrics))
        router.add(middleware: ProblemMiddleware())
        if let keys {
            router.add(middleware: AuthMiddleware(keys: keys, limiter: limiter))
            KeyRoutes.add(to: router, keys: keys)
        }
        PipelineRoutes.add(to: router, host: host)

        router.get("/openapi.json") { _, _ -> Response in
            var headers = HTTPFields()
            headers[.contentType] = "application/json"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.json)))
        }
        router.get("/healthz") { _, _ in
            try json(["status": "ok"])
        }
        router.get("/readyz") { _, _ -> Response in
            var states: [String: String] = [:]
            var ready = true
            for instance in host.allInstances {
                let status = instance.status
                guard status.enabled else { continue }
                states[status.name] = status.state.rawValue
                if status.state != .running && status.state != .degraded { ready = false }
            }
            // A pipeline waiting after an error (its last_error says why) makes the host not ready.
            var pipelines: [String: String] = [:]
            for runner in host.pipelines?.all ?? [] {
                let status = runner.status
                pipelines[runner.definition.name] = status.state
                if status.state == "failed" { ready = false }
            }
            let failed = (host.services.queue as? DurableQueue)?.failedPartitions ?? []
            let queue = failed.isEmpty ? "ok" : failed.joined(separator: "; ")
            let storageProblem = (host.services.keyValue as? SQLiteStateStore)?.probe()
            if !failed.isEmpty || storageProblem != nil { ready = false }
            var response = try json(Readiness(ready: ready, queue: queue, storage: storageProblem ?? "ok",
                                              instances: states, pipelines: pipelines))
            if !ready { response.status = .serviceUnavailable }
            return response
        }
        router.get("/metrics") { _, _ -> Response in
            let body = host.services.metrics.renderPrometheus()
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
        }

        // Plugins
        router.get("/v1/plugins") { _, _ in
            try json(PluginList(plugins: host.catalog.plugins.map(PluginSummary.init), refused: host.catalog.refused))
        }
        router.post("/v1/plugins/rescan") { _, _ in
            let scan = await offload { host.rescan() }
            return try json(ScanResult(loaded: scan.loaded, replaced: scan.replaced, refused: scan.refused))
        }
        router.get("/v1/plugins/:plugin") { _, context in
            let name = try context.parameters.require("plugin")
            guard let plugin = host.catalog.plugin(named: name) else { throw Problem.notFound("plugin '\(name)' is not loaded") }
            return try json(PluginSummary(plugin))
        }
        router.post("/v1/plugins/:plugin/validate") { request, context in
            let name = try context.parameters.require("plugin")
            guard host.catalog.plugin(named: name) != nil else { throw Problem.notFound("plugin '\(name)' is not loaded") }
            let body = try await decode(SettingsBody.self, from: request)
            do throws(ConfigError) {
                try host.validate(plugin: name, settings: body.settings)
            } catch {
                throw Problem.unprocessable(error.description)
            }
            return try json(["valid": true])
        }

        // Instances
        router.get("/v1/instances") { _, _ in
            try json(host.allInstances.map(\.status))
        }
        router.post("/v1/instances") { request, _ -> Response in
            let input = try await decode(InstanceInput.self, from: request)
            let spec = input.spec
            do throws(ConfigError) {
                try await offload { () throws(ConfigError) in try host.addInstance(spec) }
            } catch {
                if error.problem == "an instance with this name already exists" { throw Problem.conflict(error.description) }
                throw Problem.unprocessable(error.description)
            }
            var response = try json(host.instance(named: spec.name)!.status)
            response.status = .created
            return response
        }
        router.get("/v1/instances/:instance") { _, context in
            let instance = try lookup(host, context)
            return try json(InstanceDetail(status: instance.status, spec: instance.currentSpec, logs: instance.logs))
        }
        router.delete("/v1/instances/:instance") { _, context -> Response in
            let instance = try lookup(host, context)
            _ = await offload { host.removeInstance(named: instance.name) }
            return Response(status: .noContent)
        }
        router.post("/v1/instances/:instance/enable") { _, context in
            let instance = try lookup(host, context)
            await offload { instance.enable() }
            return try json(instance.status)
        }
        router.post("/v1/instances/:instance/disable") { _, context in
            let instance = try lookup(host, context)
            await offload { instance.disable() }
            return try json(instance.status)
        }
        router.post("/v1/instances/:instance/restart") { _, context in
            let instance = try lookup(host, context)
            await offload { instance.restart() }
            return try json(instance.status)
        }
        router.put("/v1/instances/:instance/settings") { request, context in
            let instance = try lookup(host, context)
            let body = try await decode(SettingsBody.self, from: request)
            var spec = instance.currentSpec
            spec.settings = body.settings
            let newSpec = spec
            do throws(ConfigError) {
                try await offload { () throws(ConfigError) in try instance.reconfigure(newSpec) }
            } catch {
                throw Problem.unprocessable(error.description)
            }
            return try json(instance.status)
        }
        router.post("/v1/instances/:instance/commands/:command") { request, context in
            let instance = try lookup(host, context)
            let command = try context.parameters.require("command")
            let body = try await decode(CommandBody.self, from: request)
            let reply: String
            do throws(CommandError) {
                reply = try await offload { () throws(CommandError) in try instance.call(command: command, arguments: body.args) }
            } catch {
                throw Problem(.unprocessableContent, "Command failed", detail: error.message)
            }
            return try json(CommandReply(reply: reply))
        }

        TopicRoutes.add(to: router, host: host)
        KeyValueRoutes.add(to: router, host: host)
        SeriesRoutes.add(to: router, host: host)
        EventStreamRoutes.add(to: router, host: host, feed: feed)
        WebSocketRoutes.add(to: router)
        return router
    }

    static func lookup(_ host: StarbloomHost, _ context: StarbloomRequestContext) throws -> PluginInstance {
        let name = try context.parameters.require("instance")
        guard let instance = host.instance(named: name) else { throw Problem.notFound("instance '\(name)' does not exist") }
        return instance
    }

    static func query(_ request: Request, _ name: String, default value: UInt64, range: ClosedRange<UInt64>) throws -> UInt64 {
        guard let text = request.uri.queryParameters[name[...]] else { return value }
        guard let number = UInt64(text), range.contains(number) else {
            throw Problem.badRequest("query parameter '\(name)' must be an integer in \(range.lowerBound)...\(range.upperBound), got '\(text)'")
        }
        return number
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }()

    static func json<T: Encodable>(_ value: T) throws -> Response {
        let data = try encoder.encode(value)
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// The raw request body, refused with 413 past `limit` bytes.
    static func body(of request: Request, limit: Int) async throws -> [UInt8] {
        do {
            let buffer = try await request.body.collect(upTo: limit)
            return Array(buffer.readableBytesView)
        } catch {
            throw Problem(.contentTooLarge, "Body too large", detail: "request body exceeds \(limit) bytes")
        }
    }

    /// Reads a JSON body (at most `limit` bytes, 1 MiB by default) and decodes it, answering 400 with what is wrong.
    static func decode<T: Decodable>(_ type: T.Type, from request: Request, limit: Int = 1 << 20) async throws -> T {
        let bytes = try await body(of: request, limit: limit)
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch let DecodingError.keyNotFound(key, _) {
            throw Problem.badRequest("JSON body is missing '\(key.stringValue)'")
        } catch let DecodingError.typeMismatch(_, context) {
            throw Problem.badRequest("JSON body: wrong type at '\(context.codingPath.map(\.stringValue).joined(separator: "."))': \(context.debugDescription)")
        } catch {
            throw Problem.badRequest("JSON body is not valid: \(error)")
        }
    }

    /// Runs blocking host work (it may wait for a plugin's stop timeout) off the async executor.
    static func offload<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: body()) }
        }
    }

    static func offload<T: Sendable, E: Error>(_ body: @escaping @Sendable () throws(E) -> T) async throws(E) -> T {
        let result: Result<T, E> = await offload { () -> Result<T, E> in
            do throws(E) { return .success(try body()) } catch { return .failure(error) }
        }
        return try result.get()
    }
}

/// POST /v1/instances body: only name and plugin are required.
struct InstanceInput: Decodable {
    let name: String
    let plugin: String
    let enabled: Bool?
    let restart: String?
    let settings: [String: SettingValue]?
    let inputs: [String]?
    let output: String?
    let stopTimeoutMs: Int?

    var spec: InstanceSpec {
        var spec = InstanceSpec(name: name, plugin: plugin)
        spec.enabled = enabled ?? true
        if let restart, let mode = RestartPolicy.Mode(rawValue: restart) { spec.restart.mode = mode }
        spec.settings = settings ?? [:]
        spec.inputs = inputs ?? []
        spec.output = output
        if let stopTimeoutMs { spec.stopTimeoutMs = stopTimeoutMs }
        return spec
    }
}
