import Foundation
import Hummingbird
import StarbloomCore
import StarbloomJSON

/// `/v1/pipelines` (admin): list, show, create or replace (`PUT`, the body is the definition as JSON —
/// the same keys as a `[[pipelines]]` table), delete, and a dry-run validation.
enum PipelineRoutes {
    static func add(to router: Router<StarbloomRequestContext>, host: StarbloomHost) {
        router.get("/v1/pipelines") { _, _ -> Response in
            let manager = try manager(host)
            return jsonResponse(.ok, "{\"pipelines\":[" + manager.all.map(describe).joined(separator: ",") + "]}")
        }
        router.post("/v1/pipelines/validate") { request, _ -> Response in
            let definition = try await parse(request, name: nil)
            return jsonResponse(.ok, "{\"valid\":true,\"name\":" + quoted(definition.name) + ",\"steps\":\(definition.steps.count),\"outputs\":\(definition.outputs.count)}")
        }
        router.get("/v1/pipelines/:name") { _, context -> Response in
            let name = try pipelineName(context)
            guard let runner = try manager(host).pipeline(named: name) else { throw Problem.notFound("pipeline '\(name)' does not exist") }
            return jsonResponse(.ok, describe(runner))
        }
        router.put("/v1/pipelines/:name") { request, context -> Response in
            let name = try pipelineName(context)
            let manager = try manager(host)
            let definition = try await parse(request, name: name)
            if manager.pipeline(named: name) == nil && manager.all.count >= PipelineManager.maxPipelines {
                throw Problem.unprocessable("at most \(PipelineManager.maxPipelines) pipelines run on one host (each has two threads); delete one first")
            }
            let created = try await AdminRoutes.offload { () throws(StoreError) -> Bool in try manager.apply(definition) }
            guard let runner = manager.pipeline(named: name) else { throw Problem.notFound("pipeline '\(name)' was removed meanwhile") }
            return jsonResponse(created ? .created : .ok, describe(runner))
        }
        router.delete("/v1/pipelines/:name") { _, context -> Response in
            let name = try pipelineName(context)
            let manager = try manager(host)
            let removed: Bool
            do throws(StoreError) {
                removed = try await AdminRoutes.offload { () throws(StoreError) -> Bool in try manager.remove(name: name) }
            } catch {
                throw Problem(error)
            }
            guard removed else { throw Problem.notFound("pipeline '\(name)' does not exist") }
            return Response(status: .noContent)
        }
    }

    /// The `{name}` path segment, percent-decoded.
    private static func pipelineName(_ context: StarbloomRequestContext) throws -> String {
        let raw = try context.parameters.require("name")
        let name = PercentDecoding.string(raw[...]) ?? raw
        if let problem = PipelineDefinition.nameProblem(name) { throw Problem.badRequest(problem) }
        return name
    }

    private static func manager(_ host: StarbloomHost) throws -> PipelineManager {
        guard let manager = host.pipelines else {
            throw Problem(.serviceUnavailable, "Pipelines unavailable", detail: "pipelines need the SQLite state store, which this host runs without")
        }
        return manager
    }

    private static func parse(_ request: Request, name: String?) async throws -> PipelineDefinition {
        let body = try await AdminRoutes.body(of: request, limit: 1 << 20)
        do throws(PipelineConfigError) {
            return try PipelineDefinition.parse(try PipelineDefinition.table(fromJSON: body), name: name)
        } catch {
            throw Problem.unprocessable(error.message)
        }
    }

    private static func describe(_ runner: PipelineRunner) -> String {
        let status = (try? AdminRoutes.encoder.encode(runner.status)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        return "{\"name\":" + quoted(runner.definition.name) + ",\"definition\":" + String(decoding: runner.definition.sourceJSON, as: UTF8.self)
            + ",\"status\":" + status + "}"
    }

    private static func quoted(_ text: String) -> String {
        var writer = JSONWriter()
        writer.string(text)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    private static func jsonResponse(_ status: HTTPResponse.Status, _ body: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}
