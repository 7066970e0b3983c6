import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A small client for the admin API. Errors come back as the server's problem detail.
struct AdminClient {
    let baseURL: String
    var apiKey: String?

    struct Failure: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }

    func request(_ method: String, _ path: String, body: (any Encodable)? = nil, rawJSON: Data? = nil) async throws -> Data {
        guard let url = URL(string: baseURL + path) else { throw Failure(message: "invalid admin URL '\(baseURL + path)'") }
        var request = URLRequest(url: url)
        request.httpMethod = method
        request.timeoutInterval = 60
        if let apiKey { request.setValue("Bearer \(apiKey)", forHTTPHeaderField: "Authorization") }
        if let body {
            request.httpBody = try JSONEncoder().encode(body)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        } else if let rawJSON {
            request.httpBody = rawJSON
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let (data, response): (Data, URLResponse)
        do {
            (data, response) = try await URLSession.shared.data(for: request)
        } catch {
            throw Failure(message: "cannot reach the admin API at \(baseURL) (is `starbloom serve` running?): \(error.localizedDescription)")
        }
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard (200..<300).contains(status) else {
            if let problem = try? JSONDecoder().decode(ProblemBody.self, from: data) {
                throw Failure(message: problem.detail)
            }
            throw Failure(message: "HTTP \(status) from \(method) \(path)")
        }
        return data
    }

    func get<T: Decodable>(_ path: String, as type: T.Type) async throws -> T {
        try Self.decoder.decode(T.self, from: try await request("GET", path))
    }

    func send<T: Decodable>(_ method: String, _ path: String, body: (any Encodable)? = nil, as type: T.Type) async throws -> T {
        try Self.decoder.decode(T.self, from: try await request(method, path, body: body))
    }

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()

    struct ProblemBody: Decodable {
        let title: String
        let detail: String
    }
}
