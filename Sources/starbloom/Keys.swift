import ArgumentParser
import Foundation
import StarbloomCore

extension Starbloom {
    struct Keys: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create, list and revoke API keys on a running host (needs an admin key).",
            subcommands: [Create.self, List.self, Revoke.self])
    }
}

extension Starbloom.Keys {
    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a key and print its token (shown only this once).")
        @OptionGroup var admin: AdminOptions
        @Argument(help: "A name for the key (who or what uses it).") var name: String
        @Option(help: "reader, writer or admin.") var role: String = "reader"
        @Option(help: "Topic patterns the key may use, comma-separated ('>' for all).") var topics: String = ">"
        @Option(help: "Sustained requests per second.") var rate: Double = APIKeyStore.defaultRate
        @Option(help: "Requests allowed in a burst.") var burst: Int = APIKeyStore.defaultBurst

        func validate() throws {
            guard APIRole(rawValue: role) != nil else { throw ValidationError("--role must be reader, writer or admin; got '\(role)'") }
        }

        func run() async throws {
            try await adminCall {
                let body = KeyRequest(name: name, role: role, topics: topics.split(separator: ",").map(String.init), rate_per_s: rate, burst: burst)
                let data = try await admin.client.request("POST", "/v1/keys", body: body)
                if admin.json { return printJSON(data) }
                let created = try AdminClient.decoder.decode(CreatedKeyView.self, from: data)
                print(created.token)
                FileHandle.standardError.write(Data("created key \(created.key.id) '\(created.key.name)' (\(created.key.role.rawValue), topics \(created.key.topics.joined(separator: ","))); the token above is not shown again\n".utf8))
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List live keys (never their tokens).")
        @OptionGroup var admin: AdminOptions

        func run() async throws {
            try await adminCall {
                let data = try await admin.client.request("GET", "/v1/keys")
                if admin.json { return printJSON(data) }
                for key in try AdminClient.decoder.decode([APIKey].self, from: data) {
                    print("\(key.id)  \(key.role.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0))  \(key.name)  topics=\(key.topics.joined(separator: ","))  rate=\(key.ratePerSecond)/s burst=\(key.burst)")
                }
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key by its id: it is refused from the next request on.")
        @OptionGroup var admin: AdminOptions
        @Argument(help: "The key's id (from 'keys list').") var id: String

        func run() async throws {
            try await adminCall {
                _ = try await admin.client.request("DELETE", "/v1/keys/\(id)")
                print("revoked \(id)")
            }
        }
    }
}

struct KeyRequest: Encodable {
    let name: String
    let role: String
    let topics: [String]
    let rate_per_s: Double
    let burst: Int
}

struct CreatedKeyView: Decodable {
    let key: APIKey
    let token: String
}
