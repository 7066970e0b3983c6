import Hummingbird
import Logging
import StarbloomCore

/// Runs the admin HTTP server until SIGINT/SIGTERM, then stops the host's instances.
public enum AdminServer {
    public static func run(host: StarbloomHost, logger: Logger) async throws {
        let router = AdminRoutes.makeRouter(host: host)
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(host.configuration.adminHost, port: host.configuration.adminPort),
                                 serverName: "starbloom"),
            onServerRunning: { channel in
                logger.info("admin API listening", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
            },
            logger: logger)
        try await app.runService()
    }
}
