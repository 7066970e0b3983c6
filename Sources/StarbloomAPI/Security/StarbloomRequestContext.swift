import Hummingbird
import StarbloomCore

/// A request context that carries the API key the request authenticated with (nil when
/// authentication is off or the route is open). HTTP routes and the WebSocket upgrade both use it.
public protocol AuthenticatedContext: RequestContext {
    var key: APIKey? { get set }
}

extension AuthenticatedContext {
    /// Throws 403 unless the key may use `topic`.
    func authorize(topic: String) throws {
        if let key, !key.allows(topic: topic) {
            throw Problem(.forbidden, "Forbidden", detail: "key '\(key.name)' may not use topic '\(topic)' (its patterns: \(key.topics.joined(separator: ", ")))")
        }
    }

    /// Whether the key (if any) may see `topic`.
    func mayUse(topic: String) -> Bool { key?.allows(topic: topic) ?? true }
}

/// The request context of every HTTP route.
public struct StarbloomRequestContext: AuthenticatedContext {
    public var coreContext: CoreRequestContextStorage
    public var key: APIKey?

    public init(source: Source) {
        coreContext = .init(source: source)
    }
}
