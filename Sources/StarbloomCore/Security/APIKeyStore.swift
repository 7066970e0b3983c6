import Foundation
import Synchronization

/// What a key may do. Each role includes the ones before it.
public enum APIRole: String, Sendable, Codable, CaseIterable, Comparable {
    /// Read topics, key-value entries, series, event streams and metrics.
    case reader
    /// Also publish, create topics, write key-value entries and points.
    case writer
    /// Also plugins, instances and keys.
    case admin

    public static func < (a: APIRole, b: APIRole) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// An API key as stored: never its secret, only the secret's SHA-256.
public struct APIKey: Sendable, Codable, Equatable {
    public let id: String
    public let name: String
    public let role: APIRole
    /// Topic patterns this key may read and write (`>`: all).
    public let topics: [String]
    /// Token bucket: sustained requests per second and burst size.
    public let ratePerSecond: Double
    public let burst: Int
    public let createdAt: Date

    /// Whether `topic` is inside this key's patterns.
    public func allows(topic: String) -> Bool {
        topics.contains { TopicName.matches(pattern: $0, topic: topic) }
    }
}

/// API keys in `state.db` (table `api_keys`). A key reads `sbk_<id>_<secret>`: the id finds the row,
/// the secret is checked against its stored SHA-256 in constant time. Secrets exist only in the
/// answer to `create`.
public final class APIKeyStore: Sendable {
    let database: SQLiteDatabase
    /// Tokens already verified, so a request costs a dictionary lookup instead of a SHA-256 and a
    /// SQLite read. In memory only (never logged or written); emptied by every revocation, and this
    /// process is the only writer of the keys (the database is held exclusively), so it is never stale.
    private let verified = Mutex<[String: APIKey]>([:])
    public static let defaultRate = 1_000.0
    public static let defaultBurst = 2_000

    public init(stateStore: SQLiteStateStore) {
        database = stateStore.database
    }

    /// Creates a key; returns it and the token to hand to its user (shown once, never stored).
    public func create(name: String, role: APIRole, topics: [String] = [">"], ratePerSecond: Double = APIKeyStore.defaultRate,
                       burst: Int = APIKeyStore.defaultBurst) throws(StoreError) -> (key: APIKey, token: String) {
        guard !name.isEmpty, name.utf8.count <= 100 else { throw StoreError(code: .invalid, message: "key name must be 1-100 bytes") }
        guard !topics.isEmpty else { throw StoreError(code: .invalid, message: "a key needs at least one topic pattern ('>' for all)") }
        for pattern in topics {
            if let problem = TopicName.patternProblem(pattern) { throw StoreError(code: .invalid, message: problem) }
        }
        guard ratePerSecond.isFinite, ratePerSecond > 0, ratePerSecond <= 1e7 else {
            throw StoreError(code: .invalid, message: "rate must be between 0 and 10,000,000 requests per second, got \(ratePerSecond)")
        }
        guard burst >= 1, burst <= 10_000_000 else { throw StoreError(code: .invalid, message: "burst must be 1-10,000,000, got \(burst)") }
        var generator = SystemRandomNumberGenerator()
        let id = String((0..<8).map { _ in "0123456789abcdef".randomElement(using: &generator)! })
        let secret = Data((0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        let key = APIKey(id: id, name: name, role: role, topics: topics, ratePerSecond: ratePerSecond, burst: burst,
                         createdAt: Date(timeIntervalSince1970: Double(Int64(Date().timeIntervalSince1970))))
        let topicsJSON = String(decoding: (try? JSONEncoder().encode(topics)) ?? Data("[]".utf8), as: UTF8.self)
        do {
            try database.write { connection in
                let insert = try connection.statement("""
                    INSERT INTO api_keys (id, name, secret_sha256, role, topics, rate_per_s, burst, created_at)
                    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                    """)
                try insert.bind(1, id)
                try insert.bind(2, name)
                try insert.bind(3, SHA256.hash(Array(secret.utf8)))
                try insert.bind(4, role.rawValue)
                try insert.bind(5, topicsJSON)
                try insert.bind(6, ratePerSecond)
                try insert.bind(7, Int64(burst))
                try insert.bind(8, Int64(key.createdAt.timeIntervalSince1970))
                try insert.run()
            }
        } catch {
            throw StoreError(code: .invalid, message: "cannot store the key: \(error)")
        }
        return (key, "sbk_\(id)_\(secret)")
    }

    /// Every live key, oldest first.
    public func list() -> [APIKey] {
        (try? database.read { connection in
            let statement = try connection.statement(
                "SELECT id, name, role, topics, rate_per_s, burst, created_at FROM api_keys WHERE revoked_at IS NULL ORDER BY created_at, id")
            var keys: [APIKey] = []
            while try statement.step() { keys.append(Self.key(statement)) }
            return keys
        }) ?? []
    }

    /// Revokes a key: every later request with it is refused. Throws `.notFound` for an unknown id and
    /// `.conflict` for the last admin key (revoking it would lock every operator out).
    public func revoke(id: String) throws(StoreError) {
        let live = list()
        if let key = live.first(where: { $0.id == id }), key.role == .admin, live.filter({ $0.role == .admin }).count == 1 {
            throw StoreError(code: .conflict, message: "key '\(key.name)' is the last admin key; create another admin key before revoking it")
        }
        let changed: Int32
        do {
            changed = try database.write { connection in
                let update = try connection.statement("UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL")
                try update.bind(1, id)
                try update.bind(2, Int64(Date().timeIntervalSince1970))
                try update.run()
                return sqlite3_changes_count(connection)
            }
        } catch {
            throw StoreError(code: .invalid, message: "cannot revoke the key: \(error)")
        }
        verified.withLock { $0.removeAll() }
        if changed == 0 { throw StoreError(code: .notFound, message: "no live key with id '\(id)'") }
    }

    /// The live key a token belongs to, or nil (malformed, unknown, revoked or wrong secret).
    public func verify(token: String) -> APIKey? {
        if let known = verified.withLock({ $0[token] }) { return known }
        guard let key = verifyStored(token: token) else { return nil }
        verified.withLock { cache in
            if cache.count >= 10_000 { cache.removeAll() } // bounded: a flood of distinct valid tokens only costs re-verification
            cache[token] = key
        }
        return key
    }

    private func verifyStored(token: String) -> APIKey? {
        let parts = token.split(separator: "_", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "sbk", parts[1].count == 8, !parts[2].isEmpty, parts[2].utf8.count <= 64 else { return nil }
        let presented = SHA256.hash(Array(parts[2].utf8))
        return try? database.read { connection -> APIKey? in
            let statement = try connection.statement("""
                SELECT id, name, role, topics, rate_per_s, burst, created_at, secret_sha256 FROM api_keys
                WHERE id = ?1 AND revoked_at IS NULL
                """)
            try statement.bind(1, String(parts[1]))
            guard try statement.step() else { return nil }
            let stored = statement.blob(7)
            guard stored.count == presented.count else { return nil }
            var difference: UInt8 = 0 // constant time: no early exit on the first differing byte
            for (a, b) in zip(stored, presented) { difference |= a ^ b }
            return difference == 0 ? Self.key(statement) : nil
        }
    }

    public var isEmpty: Bool { list().isEmpty }

    private static func key(_ statement: SQLiteStatement) -> APIKey {
        let topics = (try? JSONDecoder().decode([String].self, from: Data(statement.text(3).utf8))) ?? []
        return APIKey(id: statement.text(0), name: statement.text(1), role: APIRole(rawValue: statement.text(2)) ?? .reader,
                      topics: topics, ratePerSecond: statement.double(4), burst: Int(statement.int64(5)),
                      createdAt: Date(timeIntervalSince1970: Double(statement.int64(6))))
    }
}
