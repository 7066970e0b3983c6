// swift-tools-version:6.1
// A bare Hummingbird 2 server with one static route: the framework's floor on this machine,
// measured by Benchmarks/api/run.sh next to nginx and `starbloom serve` (issue 5).
import PackageDescription

let package = Package(
    name: "hello",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: []),
    ],
    targets: [
        .executableTarget(name: "hello", dependencies: [.product(name: "Hummingbird", package: "hummingbird")]),
    ]
)
