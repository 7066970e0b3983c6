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
        // Deleting a topic drops its records for every reader: admin, not any writer.
        if method == .delete && path.hasPrefix("/v1/topics/") && !path.dropFirst(11).contains("/") { return .admin }
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
        if let header = request.headers[.authorization] { return bearerToken(header) }
        return request.headers[.apiKey]
    }

    /// The token of `Bearer <token>` (scheme in any case, spaces or tabs around the token), else nil.
    /// Byte-wise: the Foundation version (lowercased, trimmingCharacters) was 7% of a key-value GET.
    static func bearerToken(_ header: String) -> String? {
        let utf8 = header.utf8
        let scheme = "bearer ".utf8
        guard utf8.count > scheme.count,
              zip(utf8, scheme).allSatisfy({ $0 == $1 || ($1 != UInt8(ascii: " ") && $0 | 0x20 == $1) }) else { return nil }
        let blank: (UInt8) -> Bool = { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
        var start = utf8.index(utf8.startIndex, offsetBy: scheme.count)
        var end = utf8.endIndex
        while start < end, blank(utf8[start]) { utf8.formIndex(after: &start) }
        while start < end, blank(utf8[utf8.index(before: end)]) { utf8.formIndex(before: &end) }
        guard start < end else { return nil }
        return String(Substring(utf8[start..<end]))
    }
}

import Foundation

extension HTTPField.Name {
    /// `X-API-Key`: the alternative to `Authorization: Bearer`.
    static let apiKey = HTTPField.Name("X-API-Key")!
}
