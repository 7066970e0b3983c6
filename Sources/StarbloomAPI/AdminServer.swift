import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import StarbloomCore

/// Runs the HTTP server until SIGINT/SIGTERM, then stops the host's instances.
public enum AdminServer {
    public static func run(host: StarbloomHost, logger: Logger) async throws {
        let keys = try keyStore(host: host, logger: logger)
        let limiter = RateLimiter()
        let feed = LiveFeed(queue: host.services.queue, metrics: host.services.metrics)
        let router = AdminRoutes.makeRouter(host: host, keys: keys, limiter: limiter, feed: feed)
        let webSocketRouter = WebSocketRoutes.makeRouter(host: host, keys: keys, limiter: limiter, feed: feed)
        let limits = host.configuration.apiLimits
        // Headers past these sizes are refused by the HTTP parser before any route runs.
        let decoder = HTTP1Channel.Configuration.DecoderConfiguration(
            maxHeaderFieldSize: limits.maxHeaderBytes, maxHeaderListSize: limits.maxHeaderBytes, maxHeaderFieldCount: 100)
        let connections = ConnectionLimiter(limit: limits.maxConnections)
        host.services.metrics.addCollector { [connections] in
            """
            # HELP starbloom_api_connections Open API connections (HTTP and WebSocket).
            # TYPE starbloom_api_connections gauge
            starbloom_api_connections \(connections.open.load(ordering: .relaxed))
            # HELP starbloom_api_connections_refused_total Connections closed because max_connections were open.
            # TYPE starbloom_api_connections_refused_total counter
            starbloom_api_connections_refused_total \(connections.refused.load(ordering: .relaxed))

            """
        }
        let app = Application(
            router: router,
            server: .http1WebSocketUpgrade(
                webSocketRouter: webSocketRouter,
                configuration: .init(http1: .init(idleTimeout: .seconds(300), httpDecoderConfiguration: decoder),
                                     ws: .init(maxFrameSize: 1 << 20, autoPing: .enabled(timePeriod: .seconds(20))))),
            configuration: .init(address: .hostname(host.configuration.adminHost, port: host.configuration.adminPort),
                                 serverName: "starbloom"),
            onServerRunning: { channel in
                do {
                    try await channel.pipeline.addHandler(connections, position: .first).get()
                } catch {
                    logger.error("cannot install the connection limit", metadata: ["error": "\(error)"])
                }
                logger.info("API listening", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
            },
            logger: logger)
        try await app.runService()
    }

    /// The key store, after making sure an admin can get in: with no key yet, one admin key is
    /// created, printed once on stderr (never through the logger) and written to
    /// `<data>/admin.key` (mode 0600) for the CLI and scripts on this machine.
    static func keyStore(host: StarbloomHost, logger: Logger) throws -> APIKeyStore? {
        guard host.configuration.apiAuthentication else {
            logger.warning("API authentication is off ([admin] auth = \"none\"): anyone who can reach the port controls the host")
            return nil
        }
        guard let state = host.services.keyValue as? SQLiteStateStore else {
            throw StoreError(code: .invalid, message: "API keys need the SQLite state store")
        }
        let keys = APIKeyStore(stateStore: state)
        guard keys.isEmpty else { return keys }
        let (_, token) = try keys.create(name: "initial-admin", role: .admin)
        let path = "\(host.configuration.dataDirectory)/admin.key"
        if !FileManager.default.createFile(atPath: path, contents: Data((token + "\n").utf8), attributes: [.posixPermissions: 0o600]) {
            logger.warning("could not write the admin key file; the key is only in the message below", metadata: ["path": "\(path)"])
        }
        FileHandle.standardError.write(Data("""

            ==> First start: created an admin API key. It is shown only now; it is also in \(path) (mode 0600).
                \(token)
                Use it as 'Authorization: Bearer <key>'; the CLI reads \(path) by itself. Create others
                with 'starbloom keys create', then delete that file.

            """.utf8))
        return keys
    }
}
