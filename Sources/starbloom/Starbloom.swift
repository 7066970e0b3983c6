import ArgumentParser

/// `starbloom`: the host (`serve`) and its operator tools.
@main
struct Starbloom: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "starbloom",
        abstract: "Self-hosted data platform for web3: plugin host, queue, storage and APIs.",
        version: StarbloomVersion.string,
        subcommands: [Serve.self, Plugins.self, Pipelines.self, Keys.self, Version.self],
        defaultSubcommand: nil)
}

enum StarbloomVersion {
    static let string = "0.1.0"
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the version and the plugin ABI this host implements.")
    func run() {
        print("starbloom \(StarbloomVersion.string) (plugin ABI \(HostABI.description))")
    }
}
