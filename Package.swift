// swift-tools-version:6.1
// Starbloom: one package builds the host, the plugin SDK, the bundled plugins and the tests.
import PackageDescription

let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "starbloom",
    products: [
        .executable(name: "starbloom", targets: ["starbloom"]),
        .executable(name: "starbloom-bench", targets: ["starbloom-bench"]),
        .executable(name: "starbloom-queue-tool", targets: ["starbloom-queue-tool"]),
        // Bundled plugins: every product named `sbplugin_*` is a runtime plugin (lib<name>.so)
        // that the host finds next to its own executable (see PluginDirectories).
        .library(name: "sbplugin_synthetic_source", type: .dynamic, targets: ["SyntheticSourcePlugin"]),
        .library(name: "sbplugin_swift_stamp", type: .dynamic, targets: ["SwiftStampPlugin"]),
        .library(name: "sbplugin_sim_chain", type: .dynamic, targets: ["SimChainPlugin"]),
        .library(name: "sbplugin_evm_decode", type: .dynamic, targets: ["EVMDecodePlugin"]),
        .library(name: "sbplugin_eth_rpc", type: .dynamic, targets: ["EthRPCPlugin"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: []),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
    ],
    targets: [
        // The C ABI: one header set, no sources. Third parties use SDK/include directly.
        .target(
            name: "CStarbloomABI",
            path: "SDK",
            exclude: ["Swift", "examples", "README.md"],
            publicHeadersPath: "include"
        ),
        // Swift wrapper for plugin authors.
        .target(
            name: "StarbloomPluginSDK",
            dependencies: ["CStarbloomABI"],
            path: "SDK/Swift",
            swiftSettings: strictSettings
        ),
        .systemLibrary(
            name: "CSQLite",
            path: "Sources/CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        .systemLibrary(
            name: "COpenSSL",
            path: "Sources/COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
        .systemLibrary(
            name: "CFFI",
            path: "Sources/CFFI",
            pkgConfig: "libffi",
            providers: [.apt(["libffi-dev"])]
        ),
        // Small C helpers for the host: CRC-32C (SSE4.2 when present), fallocate.
        .target(
            name: "CStarbloomSupport",
            path: "Sources/CStarbloomSupport",
            cSettings: [.unsafeFlags(["-O2"])]
        ),
        // Reads and writes JSON in place, without a tree: pipelines' payloads, eth-rpc's responses.
        .target(
            name: "StarbloomJSON",
            path: "Sources/StarbloomJSON",
            swiftSettings: strictSettings + [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]
        ),
        // The host: plugin host, queue, storage, supervision, metrics.
        .target(
            name: "StarbloomCore",
            dependencies: [
                "StarbloomJSON",
                "CStarbloomABI",
                "CStarbloomSupport",
                "CFFI",
                "CSQLite",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/StarbloomCore",
            // Release builds skip the runtime exclusivity checks: on the pipeline hot path (class
            // properties of steps mutated per event) they cost about a tenth of the time. Debug
            // builds, which every test runs, keep them.
            swiftSettings: strictSettings + [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]
        ),
        // HTTP admin API (Hummingbird).
        .target(
            name: "StarbloomAPI",
            dependencies: [
                "StarbloomCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/StarbloomAPI",
            swiftSettings: strictSettings
        ),
        // The CLI: `starbloom serve | plugins … | version`.
        .executableTarget(
            name: "starbloom",
            dependencies: [
                "StarbloomCore",
                "StarbloomAPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/starbloom",
            swiftSettings: strictSettings
        ),
        // Benchmarks (release builds; see docs/BENCHMARKS.md and scripts/bench).
        .target(
            name: "CBenchSupport",
            dependencies: ["CStarbloomABI"],
            path: "Sources/CBenchSupport",
            cSettings: [.unsafeFlags(["-O2"])]
        ),
        .executableTarget(
            name: "starbloom-bench",
            dependencies: ["StarbloomCore", "CBenchSupport", "CStarbloomABI", "CSQLite"],
            path: "Sources/starbloom-bench",
            swiftSettings: strictSettings
        ),
        // A separate process that publishes to the durable queue, for kill -9 tests.
        .executableTarget(
            name: "starbloom-queue-tool",
            dependencies: ["StarbloomCore", "CStarbloomABI"],
            path: "Sources/starbloom-queue-tool",
            swiftSettings: strictSettings
        ),
        // Bundled plugins (runtime plugins, not SwiftPM package plugins: each has an explicit path).
        .target(
            name: "SyntheticSourcePlugin",
            dependencies: ["CStarbloomABI"],
            path: "Plugins/synthetic-source",
            exclude: ["README.md", "sample.toml"],
            sources: ["synthetic_source.c"],
            publicHeadersPath: ".",
            cSettings: [.unsafeFlags(["-fvisibility=hidden", "-O2"])]
        ),
        .target(
            name: "SwiftStampPlugin",
            dependencies: ["StarbloomPluginSDK"],
            path: "Plugins/swift-stamp",
            exclude: ["README.md", "sample.toml"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "SimChainPlugin",
            dependencies: ["CStarbloomABI"],
            path: "Plugins/sim-chain",
            exclude: ["README.md", "sample.toml"],
            sources: ["sim_chain.c"],
            publicHeadersPath: ".",
            cSettings: [.unsafeFlags(["-fvisibility=hidden", "-O2"])]
        ),
        // Pure-Swift EVM ABI decoding (keccak-256, event ABIs, log decoding) for Plugins/evm-decode.
        .target(name: "EVMABI", path: "Sources/EVMABI", swiftSettings: strictSettings),
        // Ethereum JSON-RPC source (own HTTP/1.1 client over POSIX sockets, OpenSSL for https; no Foundation).
        .target(
            name: "EthRPCPlugin",
            dependencies: ["StarbloomPluginSDK", "StarbloomJSON", "COpenSSL"],
            path: "Plugins/eth-rpc",
            exclude: ["README.md", "sample.toml"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "EVMDecodePlugin",
            dependencies: ["StarbloomPluginSDK", "EVMABI"],
            path: "Plugins/evm-decode",
            exclude: ["README.md", "sample.toml"],
            // As for StarbloomCore: the per-log scratch lives in class properties, whose runtime
            // exclusivity checks cost about 5% of release decoding time. Debug builds keep them.
            swiftSettings: strictSettings + [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]
        ),
        .testTarget(
            name: "StarbloomCoreTests",
            dependencies: ["StarbloomCore", "StarbloomJSON"],
            path: "Tests/StarbloomCoreTests",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "StarbloomAPITests",
            dependencies: [
                "StarbloomAPI",
                "StarbloomCore",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            path: "Tests/StarbloomAPITests",
            swiftSettings: strictSettings
        ),
        .testTarget(name: "EVMABITests", dependencies: ["EVMABI"], path: "Tests/EVMABITests"),
    ]
)
