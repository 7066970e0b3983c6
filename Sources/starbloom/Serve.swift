import ArgumentParser
import Foundation
import Logging
import StarbloomAPI
import StarbloomCore

extension Starbloom {
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the host: load plugins, start instances, serve the admin API.",
            discussion: """
                With no starbloom.toml in the working directory and no --config, runs the built-in demo: \
                a simulated chain (sim-chain) whose ERC-20 logs are decoded (evm-decode) into \
                'erc20.transfers' and counted per token in 10 s windows into 'erc20.volume'.
                """)

        @Option(help: "Config file (default: ./starbloom.toml if it exists, else the built-in demo).")
        var config: String?

        @Option(help: "Data directory (overrides data_dir).")
        var dataDir: String?

        @Option(help: "Plugins directory (overrides plugins_dir).")
        var pluginsDir: String?

        @Option(help: "Admin API address (overrides admin.host).")
        var host: String?

        @Option(help: "Admin API port (overrides admin.port; 0 picks a free port).")
        var port: Int?

        @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
        var logLevel: String = "info"

        func validate() throws {
            if let port, !(0...65535).contains(port) {
                throw ValidationError("--port must be 0-65535, got \(port)")
            }
            if Logger.Level(rawValue: logLevel) == nil {
                throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical; got '\(logLevel)'")
            }
            if let config, !FileManager.default.fileExists(atPath: config) {
                throw ValidationError("config file '\(config)' does not exist")
            }
        }

        func run() async throws {
            let level = Logger.Level(rawValue: logLevel)!
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
            let logger = Logger(label: "starbloom")

            var configuration: HostConfiguration
            let file = config ?? (FileManager.default.fileExists(atPath: "starbloom.toml") ? "starbloom.toml" : nil)
            if let file {
                do {
                    configuration = try HostConfiguration.load(file: file)
                } catch {
                    throw ServeError(message: error.description)
                }
                logger.info("configuration loaded", metadata: ["file": "\(file)"])
            } else {
                configuration = try DemoConfiguration.make()
                logger.info("no starbloom.toml: running the built-in demo (sim-chain → evm-decode → erc20.transfers, erc20.volume)")
            }
            if let dataDir { configuration.dataDirectory = dataDir }
            if let pluginsDir { configuration.pluginsDirectory = pluginsDir }
            if let host { configuration.adminHost = host }
            if let port { configuration.adminPort = port }
            if configuration.bundledPluginDirectories.isEmpty {
                configuration.bundledPluginDirectories = [Self.executableDirectory]
            }

            let services: HostServices
            do {
                services = try HostServices.embedded(configuration: configuration, logger: logger)
            } catch {
                throw ServeError(message: "cannot open the data directory \(configuration.dataDirectory): \(error)")
            }
            let starbloom = StarbloomHost(configuration: configuration, services: services)
            do {
                try starbloom.start()
            } catch {
                starbloom.shutdown()
                throw ServeError(message: error.description)
            }
            for refusal in starbloom.catalog.refused {
                logger.warning("refused plugin file", metadata: ["path": "\(refusal.path)", "reason": "\(refusal.message)"])
            }
            defer { starbloom.shutdown() }
            try await AdminServer.run(host: starbloom, logger: logger)
            logger.info("shutting down")
        }

        /// Bundled plugins are built next to the executable (`.build/<config>/libsbplugin_*.so`).
        static var executableDirectory: String {
            let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
            return URL(fileURLWithPath: executable).deletingLastPathComponent().path
        }
    }
}

struct ServeError: Error, CustomStringConvertible {
    let message: String
    var description: String { "error: \(message)" }
}
