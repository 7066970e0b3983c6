import Hummingbird
import HTTPTypes
import StarbloomCore

/// Authenticates every request but the open ones (`/healthz`, `/readyz`, `/openapi.json`) with
/// `Authorization: Bearer <key>` (or `X-API-Key`), checks the route's role, then the key's rate.
/// 401 without a valid key, 403 for a role too low, 429 with `Retry-After` past the rate.
/// Keys are never logged: problems name the key by its name, never its token.
struct AuthMiddleware<Context: AuthenticatedContext>: RouterMiddleware {
    let keys: APIKeyStore
    let limiter: RateLimiter

    static func requiredRole(_ method: HTTPRequest.Method, _ path: String) -> APIRole? {
        if path == "/healthz" || path == "/readyz" || path == "/openapi.json" { return nil }
        for prefix in ["/v1/plugins", "/v1/instances", "/v1/keys", "/v1/pipelines"] where path == prefix || path.hasPrefix(prefix + "/") {
            return .admin
        }
        return method == .get || method == .head ? .reader : .writer
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let role = Self.requiredRole(request.method, request.uri.path) else { return try await next(request, context) }
        guard let token = Self.token(request) else {
            throw Problem(.unauthorized, "Unauthorized", detail: "this route needs an API key: send Authorization: Bearer <key>")
                .with(header: .wwwAuthenticate, "Bearer")
        }
        guard let key = keys.verify(token: token) else {
            throw Problem(.unauthorized, "Unauthorized", detail: "the API key is unknown, revoked or malformed")
                .with(header: .wwwAuthenticate, "Bearer error=\"invalid_token\"")
        }
        guard key.role >= role else {
            throw Problem(.forbidden, "Forbidden", detail: "key '\(key.name)' has role \(key.role.rawValue); \(request.method) \(request.uri.path) needs \(role.rawValue)")
        }
        if let wait = limiter.take(key: key.id, ratePerSecond: key.ratePerSecond, burst: key.burst) {
            throw Problem(.tooManyRequests, "Too many requests", detail: "key '\(key.name)' is limited to \(key.ratePerSecond) requests/s (burst \(key.burst)); retry in \(wait) s")
                .with(header: .retryAfter, String(wait))
        }
        var context = context
        context.key = key
        return try await next(request, context)
    }

    static func token(_ request: Request) -> String? {
        if let header = request.headers[.authorization] {
            let parts = header.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "bearer" { return String(parts[1]).trimmingCharacters(in: .whitespaces) }
            return nil
        }
        return request.headers[HTTPField.Name("X-API-Key")!]
    }
}

import Foundation
