import Hummingbird
import StarbloomCore

/// The request context of every route: Hummingbird's core storage plus the API key the request
/// authenticated with (nil when authentication is off or the route is open).
public struct StarbloomRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var key: APIKey?

    public init(source: Source) {
        coreContext = .init(source: source)
    }

    /// Throws 403 unless the key may use `topic`.
    func authorize(topic: String) throws {
        if let key, !key.allows(topic: topic) {
            throw Problem(.forbidden, "Forbidden", detail: "key '\(key.name)' may not use topic '\(topic)' (its patterns: \(key.topics.joined(separator: ", ")))")
        }
    }

    /// Whether the key (if any) may see `topic`.
    func mayUse(topic: String) -> Bool { key?.allows(topic: topic) ?? true }
}
