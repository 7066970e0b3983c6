import Foundation
import HTTPTypes
import Hummingbird
import StarbloomCore

/// An RFC 9457 problem: every error the API returns is one of these, as application/problem+json.
public struct Problem: HTTPResponseError, Encodable {
    public let status: HTTPResponse.Status
    public let title: String
    public let detail: String
    /// Sent with the problem (WWW-Authenticate, Retry-After); not part of the JSON.
    var headers = HTTPFields()

    public init(_ status: HTTPResponse.Status, _ title: String, detail: String) {
        self.status = status
        self.title = title
        self.detail = detail
    }

    enum CodingKeys: String, CodingKey { case type, title, status, detail }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode("about:blank", forKey: .type)
        try container.encode(title, forKey: .title)
        try container.encode(status.code, forKey: .status)
        try container.encode(detail, forKey: .detail)
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let data = (try? AdminRoutes.encoder.encode(self)) ?? Data("{}".utf8)
        var headers = self.headers
        headers[.contentType] = "application/problem+json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    func with(header name: HTTPField.Name, _ value: String) -> Problem {
        var copy = self
        copy.headers[name] = value
        return copy
    }

    /// The answer for a store's refusal.
    init(_ error: StoreError) {
        switch error.code {
        case .notFound: self = Problem.notFound(error.message)
        case .conflict: self = Problem(.preconditionFailed, "Precondition failed", detail: error.message)
        case .tooLarge: self = Problem(.contentTooLarge, "Too large", detail: error.message)
        case .invalid: self = Problem.badRequest(error.message)
        }
    }

    /// The answer for the queue's refusal.
    init(_ error: QueueError) {
        switch error.code {
        case .invalidTopic, .invalidOffset, .invalidSettings: self = Problem.badRequest(error.message)
        case .unknownTopic: self = Problem.notFound(error.message)
        case .tooLarge: self = Problem(.contentTooLarge, "Too large", detail: error.message)
        case .full: self = Problem(.serviceUnavailable, "Queue full", detail: error.message)
        case .io, .corrupt: self = Problem(.internalServerError, "Storage failure", detail: error.message)
        }
    }

    static func notFound(_ what: String) -> Problem { Problem(.notFound, "Not found", detail: what) }
    static func badRequest(_ detail: String) -> Problem { Problem(.badRequest, "Bad request", detail: detail) }
    static func unprocessable(_ detail: String) -> Problem { Problem(.unprocessableContent, "Invalid settings", detail: detail) }
    static func conflict(_ detail: String) -> Problem { Problem(.conflict, "Conflict", detail: detail) }
}

extension ProblemMiddleware {
    /// 405 with `Allow` when the path is documented for other methods, else 404.
    static func noRoute(_ request: Request) -> Problem {
        if let methods = OpenAPIDocument.methods(for: request.uri.path), !methods.contains(request.method.rawValue) {
            return Problem(.methodNotAllowed, "Method not allowed", detail: "\(request.uri.path) accepts \(methods.joined(separator: ", "))")
                .with(header: .allow, methods.joined(separator: ", "))
        }
        return Problem.notFound("no route for \(request.method) \(request.uri.path)")
    }
}

/// Turns any error a route did not map (including Hummingbird's own HTTPError) into a problem.
struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            let response = try await next(request, context)
            if response.status == .notFound, response.headers[.contentType] == nil {
                return try Self.noRoute(request).response(from: request, context: context)
            }
            return response
        } catch let error as HTTPError where error.status == .notFound {
            return try Self.noRoute(request).response(from: request, context: context)
        } catch let problem as Problem {
            return try problem.response(from: request, context: context)
        } catch let error as HTTPError {
            return try Problem(error.status, error.status.reasonPhrase, detail: error.body ?? error.status.reasonPhrase)
                .response(from: request, context: context)
        } catch {
            return try Problem(.internalServerError, "Internal error", detail: "\(error)").response(from: request, context: context)
        }
    }
}
