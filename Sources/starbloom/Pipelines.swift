import ArgumentParser
import Foundation
import StarbloomCore

extension Starbloom {
    struct Pipelines: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List, apply, validate and delete pipelines on a running host (needs an admin key).",
            subcommands: [List.self, Show.self, Apply.self, Validate.self, Delete.self])
    }
}

/// Reads `[[pipelines]]` tables from a TOML file (the same syntax as starbloom.toml), checking them
/// here first so that mistakes are reported with the file's line numbers before anything is sent.
private func definitions(in file: String) throws -> [PipelineDefinition] {
    let configuration: HostConfiguration
    do {
        configuration = try HostConfiguration.load(file: file)
    } catch {
        throw ValidationError(error.description)
    }
    guard !configuration.pipelines.isEmpty else { throw ValidationError("\(file) has no [[pipelines]] table") }
    return configuration.pipelines
}

/// Sends each definition (as JSON) with the request `route` gives, printing its message on success.
private func send(_ pipelines: [PipelineDefinition], _ admin: AdminOptions,
                  route: (PipelineDefinition) -> (method: String, path: String, done: String)) async throws {
    try await adminCall {
        for definition in pipelines {
            let (method, path, done) = route(definition)
            _ = try await admin.client.request(method, path, rawJSON: Data(definition.sourceJSON))
            print(done)
        }
    }
}

extension Starbloom.Pipelines {
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List pipelines with their state and counters.")
        @OptionGroup var admin: AdminOptions

        func run() async throws {
            try await adminCall {
                let data = try await admin.client.request("GET", "/v1/pipelines")
                if admin.json { return printJSON(data) }
                let list = try AdminClient.decoder.decode(PipelineList.self, from: data)
                for pipeline in list.pipelines {
                    let status = pipeline.status
                    print("\(pipeline.name)  \(status.state)  processed=\(status.processed) emitted=\(status.emitted) dead_lettered=\(status.deadLettered) late=\(status.late) checkpoints=\(status.checkpoints)"
                          + (status.lastError.map { "  error: \($0)" } ?? ""))
                }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print one pipeline's definition and status as JSON.")
        @OptionGroup var admin: AdminOptions
        @Argument(help: "The pipeline's name.") var name: String

        func run() async throws {
            try await adminCall { printJSON(try await admin.client.request("GET", "/v1/pipelines/\(name)")) }
        }
    }

    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create or replace the pipelines of a TOML file ([[pipelines]] tables) on the running host.")
        @OptionGroup var admin: AdminOptions
        @Argument(help: "A TOML file with [[pipelines]] tables.") var file: String

        func run() async throws {
            try await send(definitions(in: file), admin) { ("PUT", "/v1/pipelines/\($0.name)", "applied \($0.name)") }
        }
    }

    struct Validate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check the pipelines of a TOML file with the running host, changing nothing.")
        @OptionGroup var admin: AdminOptions
        @Argument(help: "A TOML file with [[pipelines]] tables.") var file: String

        func run() async throws {
            try await send(definitions(in: file), admin) { ("POST", "/v1/pipelines/validate", "\($0.name): valid") }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop a pipeline and forget its definition, state and offsets.")
        @OptionGroup var admin: AdminOptions
        @Argument(help: "The pipeline's name.") var name: String

        func run() async throws {
            try await adminCall {
                _ = try await admin.client.request("DELETE", "/v1/pipelines/\(name)")
                print("deleted \(name)")
            }
        }
    }
}

/// `GET /v1/pipelines`, decoded with the host's own status type.
struct PipelineList: Decodable {
    struct Item: Decodable {
        let name: String
        let status: PipelineStatus
    }
    let pipelines: [Item]
}
