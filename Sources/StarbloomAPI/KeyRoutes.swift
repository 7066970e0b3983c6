import Foundation
import Hummingbird
import StarbloomCore

/// `/v1/keys` (admin): create (the answer holds the token, the only time it is shown), list, revoke.
enum KeyRoutes {
    static func add(to router: Router<StarbloomRequestContext>, keys: APIKeyStore) {
        router.get("/v1/keys") { _, _ in
            try AdminRoutes.json(keys.list())
        }
        router.post("/v1/keys") { request, _ -> Response in
            let body = try await AdminRoutes.decode(KeyInput.self, from: request)
            guard let role = APIRole(rawValue: body.role) else {
                throw Problem.badRequest("role must be reader, writer or admin; got '\(body.role)'")
            }
            let created: (key: APIKey, token: String)
            do throws(StoreError) {
                created = try keys.create(name: body.name, role: role, topics: body.topics ?? [">"],
                                          ratePerSecond: body.ratePerSecond ?? APIKeyStore.defaultRate, burst: body.burst ?? APIKeyStore.defaultBurst)
            } catch {
                throw Problem(error)
            }
            var response = try AdminRoutes.json(CreatedKey(key: created.key, token: created.token))
            response.status = .created
            return response
        }
        router.delete("/v1/keys/:id") { _, context -> Response in
            let id = try context.parameters.require("id")
            do throws(StoreError) {
                try keys.revoke(id: id)
            } catch where error.code == .conflict {
                throw Problem.conflict(error.message)
            } catch {
                throw Problem(error)
            }
            return Response(status: .noContent)
        }
    }
}

struct KeyInput: Decodable {
    let name: String
    let role: String
    let topics: [String]?
    let ratePerSecond: Double?
    let burst: Int?
    enum CodingKeys: String, CodingKey { case name, role, topics, burst, ratePerSecond = "rate_per_s" }
}

struct CreatedKey: Encodable {
    let key: APIKey
    let token: String
}
