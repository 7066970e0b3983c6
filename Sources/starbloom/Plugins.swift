import ArgumentParser
import Foundation
import StarbloomCore

/// Shared by every admin subcommand.
struct AdminOptions: ParsableArguments {
    @Option(name: .customLong("admin-url"), help: "Admin API of a running host (env STARBLOOM_ADMIN_URL).")
    var adminURL: String = ProcessInfo.processInfo.environment["STARBLOOM_ADMIN_URL"] ?? "http://127.0.0.1:8080"

    @Option(name: .customLong("api-key"), help: "API key (env STARBLOOM_API_KEY; default: the contents of ./data/admin.key when present).")
    var apiKey: String?

    @Flag(help: "Print the raw JSON answer.")
    var json = false

    var client: AdminClient {
        AdminClient(baseURL: adminURL.hasSuffix("/") ? String(adminURL.dropLast()) : adminURL, apiKey: resolvedKey)
    }

    /// --api-key, else STARBLOOM_API_KEY, else the key the host wrote at its first start.
    var resolvedKey: String? {
        if let apiKey { return apiKey }
        if let fromEnvironment = ProcessInfo.processInfo.environment["STARBLOOM_API_KEY"], !fromEnvironment.isEmpty { return fromEnvironment }
        guard let data = FileManager.default.contents(atPath: "data/admin.key") else { return nil }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func validate() throws {
        guard let url = URL(string: adminURL), url.scheme == "http" || url.scheme == "https", url.host != nil else {
            throw ValidationError("--admin-url must be an http(s) URL such as http://127.0.0.1:8080, got '\(adminURL)'")
        }
    }
}

/// Runs an admin call, printing a one-line error and exiting non-zero on failure.
func adminCall(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let failure as AdminClient.Failure {
        FileHandle.standardError.write(Data("error: \(failure.message)\n".utf8))
        throw ExitCode(1)
    }
}

func printJSON(_ data: Data) {
    print(String(decoding: data, as: UTF8.self))
}

extension Starbloom {
    struct Plugins: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Inspect and control plugins and their instances on a running host.",
            subcommands: [List.self, Info.self, Enable.self, Disable.self, Restart.self, Validate.self, Call.self, Rescan.self])
    }
}

extension Starbloom.Plugins {
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List loaded plugins, refused files and instances with their state.")
        @OptionGroup var admin: AdminOptions

        func run() async throws {
            try await adminCall {
                let pluginsData = try await admin.client.request("GET", "/v1/plugins")
                let instancesData = try await admin.client.request("GET", "/v1/instances")
                if admin.json {
                    printJSON(pluginsData)
                    printJSON(instancesData)
                    return
                }
                let plugins = try AdminClient.decoder.decode(PluginListView.self, from: pluginsData)
                let instances = try AdminClient.decoder.decode([InstanceStatus].self, from: instancesData)
                print("PLUGINS")
                for plugin in plugins.plugins {
                    print("  \(plugin.name.padding(24)) \(plugin.version.padding(10)) \(plugin.kind.padding(10)) \(plugin.description)")
                }
                if !plugins.refused.isEmpty {
                    print("REFUSED")
                    for refusal in plugins.refused { print("  \(refusal.message)") }
                }
                print("INSTANCES")
                for instance in instances {
                    let error = instance.lastError.map { "  last error: \($0)" } ?? ""
                    print("  \(instance.name.padding(24)) \(instance.plugin.padding(20)) \(instance.state.rawValue.padding(11)) in=\(instance.recordsIn) out=\(instance.recordsOut) restarts=\(instance.restarts)\(error)")
                }
            }
        }
    }

    struct Info: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a plugin (settings, commands) or an instance (state, settings, logs).")
        @OptionGroup var admin: AdminOptions
        @Argument(help: "A plugin or instance name.") var name: String

        func run() async throws {
            try await adminCall {
                if let data = try? await admin.client.request("GET", "/v1/instances/\(name)") {
                    if admin.json { return printJSON(data) }
                    let detail = try AdminClient.decoder.decode(InstanceDetailView.self, from: data)
                    print("instance \(detail.status.name) (plugin \(detail.status.plugin) \(detail.status.pluginVersion ?? "?"))")
                    print("  state:    \(detail.status.state.rawValue) since \(detail.status.stateSince)")
                    print("  enabled:  \(detail.status.enabled)")
                    print("  restarts: \(detail.status.restarts)  in: \(detail.status.recordsIn)  out: \(detail.status.recordsOut)  errors: \(detail.status.errors)")
                    if let error = detail.status.lastError { print("  last error: \(error)") }
                    print("  settings:")
                    for (key, value) in detail.spec.settings.sorted(by: { $0.key < $1.key }) { print("    \(key) = \(value)") }
                    if !detail.logs.isEmpty {
                        print("  recent logs:")
                        for line in detail.logs.suffix(10) { print("    \(line)") }
                    }
                    return
                }
                let data = try await admin.client.request("GET", "/v1/plugins/\(name)")
                if admin.json { return printJSON(data) }
                let plugin = try AdminClient.decoder.decode(PluginView.self, from: data)
                print("plugin \(plugin.name) \(plugin.version) (\(plugin.kind), ABI \(plugin.abi))")
                print("  \(plugin.description)")
                print("  file: \(plugin.path)")
                print("  settings:")
                for field in plugin.fields {
                    let requirement = field.required ? "required" : "default \(field.defaultText.map { "'\($0)'" } ?? "none")"
                    print("    \(field.name.padding(20)) \(field.type.rawValue.padding(12)) \(requirement.padding(20)) \(field.doc)")
                }
                if !plugin.commands.isEmpty {
                    print("  commands:")
                    for command in plugin.commands { print("    \(command.usage.padding(40)) \(command.doc)") }
                }
            }
        }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enable (start) an instance.")
        @OptionGroup var admin: AdminOptions
        @Argument(help: "Instance name.") var instance: String
        func run() async throws { try await control(admin, instance, "enable") }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disable (stop) an instance.")
        @OptionGroup var admin: AdminOptions
        @Argument(help: "Instance name.") var instance: String
        func run() async throws { try await control(admin, instance, "disable") }
    }

    struct Restart: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Restart an instance (picks up a replaced .so).")
        @OptionGroup var admin: AdminOptions
        @Argument(help: "Instance name.") var instance: String
        func run() async throws { try await control(admin, instance, "restart") }
    }

    struct Validate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check settings against a plugin's declared fields without creating anything.",
            discussion: "Values are typed by the plugin's fields: key=value, lists as a,b,c.")
        @OptionGroup var admin: AdminOptions
        @Argument(help: "Plugin name.") var plugin: String
        @Argument(help: "Settings as key=value.") var settings: [String] = []

        func run() async throws {
            try await adminCall {
                let info = try await admin.client.get("/v1/plugins/\(plugin)", as: PluginView.self)
                var typed: [String: SettingValue] = [:]
                for pair in settings {
                    guard let equals = pair.firstIndex(of: "=") else {
                        throw AdminClient.Failure(message: "setting '\(pair)' must be key=value")
                    }
                    let key = String(pair[..<equals]), text = String(pair[pair.index(after: equals)...])
                    // Typed by the declared field; unknown keys are sent as text so the host names them.
                    let type = info.fields.first { $0.name == key }?.type
                    switch type {
                    case .int: typed[key] = Int64(text).map(SettingValue.int) ?? .string(text)
                    case .float: typed[key] = Double(text).map(SettingValue.float) ?? .string(text)
                    case .bool: typed[key] = ["true", "false"].contains(text) ? .bool(text == "true") : .string(text)
                    case .stringList: typed[key] = .list(text.split(separator: ",").map { .string(String($0)) })
                    default: typed[key] = .string(text)
                    }
                }
                _ = try await admin.client.request("POST", "/v1/plugins/\(plugin)/validate", body: ["settings": typed])
                print("valid: settings fit plugin '\(plugin)'")
            }
        }
    }

    struct Call: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Call a command a plugin declares, on a running instance.")
        @OptionGroup var admin: AdminOptions
        @Argument(help: "Instance name.") var instance: String
        @Argument(help: "Command name.") var command: String
        @Argument(parsing: .allUnrecognized, help: "Arguments, converted by the command's declared types.") var arguments: [String] = []

        func run() async throws {
            try await adminCall {
                let reply = try await admin.client.send(
                    "POST", "/v1/instances/\(instance)/commands/\(command)", body: ["args": arguments], as: CommandReplyView.self)
                print(reply.reply)
            }
        }
    }

    struct Rescan: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Look for new or replaced .so files in the plugins directory.")
        @OptionGroup var admin: AdminOptions

        func run() async throws {
            try await adminCall {
                let scan = try await admin.client.send("POST", "/v1/plugins/rescan", as: ScanView.self)
                print("loaded: \(scan.loaded.isEmpty ? "-" : scan.loaded.joined(separator: ", "))")
                print("replaced: \(scan.replaced.isEmpty ? "-" : scan.replaced.joined(separator: ", "))")
                for refusal in scan.refused { print("refused: \(refusal.message)") }
            }
        }
    }
}

func control(_ admin: AdminOptions, _ instance: String, _ action: String) async throws {
    try await adminCall {
        let status = try await admin.client.send("POST", "/v1/instances/\(instance)/\(action)", as: InstanceStatus.self)
        print("\(status.name): \(status.state.rawValue)\(status.lastError.map { " (last error: \($0))" } ?? "")")
    }
}

// What the CLI reads from the admin API.
struct PluginView: Decodable {
    let name: String
    let version: String
    let kind: String
    let description: String
    let abi: String
    let path: String
    let fields: [ConfigField]
    let commands: [CommandSpec]
}
struct RefusalView: Decodable { let path: String; let message: String }
struct PluginListView: Decodable { let plugins: [PluginView]; let refused: [RefusalView] }
struct InstanceDetailView: Decodable { let status: InstanceStatus; let spec: InstanceSpec; let logs: [String] }
struct CommandReplyView: Decodable { let reply: String }
struct ScanView: Decodable { let loaded: [String]; let replaced: [String]; let refused: [RefusalView] }

extension String {
    func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
