import Foundation
import Hummingbird
import StarbloomCore

/// `/v1/kv/{namespace}/{key}`: values are the raw request and response bodies; the version is the
/// ETag. `If-Match: "<version>"` makes a PUT a compare-and-swap (412 when the version moved; `"0"`
/// means "must be absent"), `If-None-Match: *` a put-if-absent; `?ttl_ms=` expires the entry.
enum KeyValueRoutes {
    static let maxNamespaceBytes = 128

    static func add(to router: Router<StarbloomRequestContext>, host: StarbloomHost) {
        router.get("/v1/kv/:namespace") { request, context in
            let (store, namespace) = try target(host, context, withKey: false)
            let prefix = Array((request.uri.queryParameters["prefix"].map(String.init) ?? "").utf8)
            let limit = try AdminRoutes.query(request, "limit", default: 100, range: 1...1000)
            var after: [UInt8]?
            if let cursor = request.uri.queryParameters["cursor"] {
                guard let decoded = Cursor.decode(String(cursor)) else { throw Problem.badRequest("cursor '\(cursor)' is not one this API returned") }
                after = decoded
            }
            let page: [(key: [UInt8], value: VersionedValue)]
            do throws(StoreError) {
                page = try store.list(namespace: namespace, prefix: prefix, after: after, limit: Int(limit) + 1)
            } catch {
                throw Problem(error)
            }
            let entries = page.prefix(Int(limit)).map { KeyValueEntry(key: $0.key, value: $0.value) }
            let next = page.count > Int(limit) ? page[Int(limit) - 1].key : nil
            return try AdminRoutes.json(KeyValuePage(entries: Array(entries), next: next.map(Cursor.encode)))
        }

        router.get("/v1/kv/:namespace/:key") { _, context in
            let (store, namespace, key) = try targetWithKey(host, context)
            guard let found = store.get(namespace: namespace, key: key) else {
                throw Problem.notFound("key '\(String(decoding: key, as: UTF8.self))' does not exist in namespace '\(namespace)'")
            }
            var headers = HTTPFields()
            headers[.contentType] = "application/octet-stream"
            headers[.eTag] = etag(found.version)
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: found.value)))
        }

        router.put("/v1/kv/:namespace/:key") { request, context -> Response in
            let (store, namespace, key) = try targetWithKey(host, context)
            let value = try await AdminRoutes.body(of: request, limit: StoreLimits.maxValueBytes)
            var ttl: Int64?
            if request.uri.queryParameters["ttl_ms"] != nil {
                ttl = Int64(try AdminRoutes.query(request, "ttl_ms", default: 0, range: 1...(366 * 86_400_000)))
            }
            let ifMatch = request.headers[.ifMatch]
            let ifNoneMatch = request.headers[.ifNoneMatch]
            let version: UInt64
            do throws(StoreError) {
                if let ifMatch {
                    guard ttl == nil else { throw StoreError(code: .invalid, message: "ttl_ms cannot be combined with If-Match") }
                    guard let expected = parseETag(ifMatch) else {
                        throw StoreError(code: .invalid, message: "If-Match must be a version in quotes, like \"42\"; got \(ifMatch)")
                    }
                    version = try store.compareAndSwap(namespace: namespace, key: key, expectedVersion: expected, value: value)
                } else if let ifNoneMatch {
                    guard ifNoneMatch.trimmingCharacters(in: .whitespaces) == "*" else {
                        throw StoreError(code: .invalid, message: "If-None-Match supports only *; got \(ifNoneMatch)")
                    }
                    guard let created = try store.putIfAbsent(namespace: namespace, key: key, value: value, ttlMs: ttl) else {
                        throw StoreError(code: .conflict, message: "key '\(String(decoding: key, as: UTF8.self))' already exists")
                    }
                    version = created
                } else {
                    version = try store.put(namespace: namespace, key: key, value: value, ttlMs: ttl)
                }
            } catch {
                throw Problem(error)
            }
            var response = try AdminRoutes.json(KeyValueWrite(version: version))
            response.headers[.eTag] = etag(version)
            return response
        }

        router.delete("/v1/kv/:namespace/:key") { _, context -> Response in
            let (store, namespace, key) = try targetWithKey(host, context)
            do throws(StoreError) {
                try store.delete(namespace: namespace, key: key)
            } catch {
                throw Problem(error)
            }
            return Response(status: .noContent)
        }

        router.post("/v1/kv/:namespace/:key/increment") { request, context in
            let (store, namespace, key) = try targetWithKey(host, context)
            let body = try await AdminRoutes.decode(IncrementBody.self, from: request)
            let result: (value: Int64, version: UInt64)
            do throws(StoreError) {
                result = try store.increment(namespace: namespace, key: key, by: body.by)
            } catch {
                throw Problem(error)
            }
            var response = try AdminRoutes.json(IncrementResult(value: result.value, version: result.version))
            response.headers[.eTag] = etag(result.version)
            return response
        }
    }

    static func etag(_ version: UInt64) -> String { "\"\(version)\"" }

    /// `"42"` or `W/"42"` → 42.
    static func parseETag(_ text: String) -> UInt64? {
        var trimmed = Substring(text.trimmingCharacters(in: .whitespaces))
        if trimmed.hasPrefix("W/") { trimmed = trimmed.dropFirst(2) }
        guard trimmed.count >= 3, trimmed.first == "\"", trimmed.last == "\"" else { return nil }
        return UInt64(trimmed.dropFirst().dropLast())
    }


    private static func target(_ host: StarbloomHost, _ context: StarbloomRequestContext, withKey: Bool) throws -> (SQLiteStateStore, String) {
        guard let store = host.services.keyValue as? SQLiteStateStore else {
            throw Problem(.serviceUnavailable, "Not available", detail: "the key-value API needs the SQLite state store (starbloom serve uses it)")
        }
        let raw = try context.parameters.require("namespace")
        guard let namespace = PercentDecoding.string(raw[...]), !namespace.isEmpty, namespace.utf8.count <= maxNamespaceBytes,
              namespace.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }) else {
            throw Problem.badRequest("namespace '\(raw)' must be 1-\(maxNamespaceBytes) characters of A-Z, a-z, 0-9, '.', '_' or '-'")
        }
        return (store, namespace)
    }

    private static func targetWithKey(_ host: StarbloomHost, _ context: StarbloomRequestContext) throws -> (SQLiteStateStore, String, [UInt8]) {
        let (store, namespace) = try target(host, context, withKey: true)
        let raw = try context.parameters.require("key")
        guard let key = PercentDecoding.string(raw[...]), !key.isEmpty else {
            throw Problem.badRequest("key '\(raw)' is not a valid percent-encoded path segment")
        }
        guard key.utf8.count <= StoreLimits.maxKeyBytes else {
            throw Problem(.badRequest, "Bad request", detail: "key of \(key.utf8.count) bytes exceeds \(StoreLimits.maxKeyBytes) bytes")
        }
        return (store, namespace, Array(key.utf8))
    }
}

/// Opaque page cursors and stream positions: unpadded base64url, byte-wise (Foundation's base64 plus
/// three `replacingOccurrences` was a third of the CPU of an SSE stream, which encodes one per event).
enum Cursor {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
    private static let values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, byte) in alphabet.enumerated() { table[Int(byte)] = UInt8(index) }
        return table
    }()

    static func encode(_ bytes: [UInt8]) -> String {
        String(unsafeUninitializedCapacity: (bytes.count * 4 + 2) / 3) { output in
            var written = 0
            var index = 0
            while index + 3 <= bytes.count {
                let group = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
                for shift in [18, 12, 6, 0] { output[written] = alphabet[Int(group >> UInt32(shift) & 63)]; written += 1 }
                index += 3
            }
            let rest = bytes.count - index
            if rest > 0 {
                let group = UInt32(bytes[index]) << 16 | (rest == 2 ? UInt32(bytes[index + 1]) << 8 : 0)
                for shift in [18, 12, 6].prefix(rest + 1) { output[written] = alphabet[Int(group >> UInt32(shift) & 63)]; written += 1 }
            }
            return written
        }
    }

    /// The bytes, or nil for anything that is not unpadded base64url (`=` padding is tolerated).
    static func decode(_ text: String) -> [UInt8]? {
        var digits = Array(text.utf8)
        while digits.last == UInt8(ascii: "=") { digits.removeLast() }
        guard digits.count % 4 != 1 else { return nil }
        var result: [UInt8] = []
        result.reserveCapacity(digits.count * 3 / 4)
        var group: UInt32 = 0
        var count = 0
        for digit in digits {
            let value = values[Int(digit)]
            guard value != 0xFF else { return nil }
            group = group << 6 | UInt32(value)
            count += 1
            if count == 4 {
                result.append(UInt8(group >> 16 & 0xFF)); result.append(UInt8(group >> 8 & 0xFF)); result.append(UInt8(group & 0xFF))
                (group, count) = (0, 0)
            }
        }
        if count == 2 { result.append(UInt8(group >> 4 & 0xFF)) }
        if count == 3 { result.append(UInt8(group >> 10 & 0xFF)); result.append(UInt8(group >> 2 & 0xFF)) }
        return result
    }
}

struct KeyValueEntry: Encodable {
    let key: String
    let version: UInt64
    /// The value as text when it is UTF-8, else absent.
    let value: String?
    let valueBase64: String

    init(key: [UInt8], value: VersionedValue) {
        self.key = String(decoding: key, as: UTF8.self)
        version = value.version
        self.value = String(validating: value.value, as: UTF8.self)
        valueBase64 = Data(value.value).base64EncodedString()
    }

    enum CodingKeys: String, CodingKey { case key, version, value, valueBase64 = "value_base64" }
}

struct KeyValuePage: Encodable {
    let entries: [KeyValueEntry]
    /// Pass as `cursor` for the next page; absent on the last page.
    let next: String?
}

struct KeyValueWrite: Encodable {
    let version: UInt64
}

struct IncrementBody: Decodable {
    let by: Int64
}

struct IncrementResult: Encodable {
    let value: Int64
    let version: UInt64
}
