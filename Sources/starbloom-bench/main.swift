// starbloom-bench: benchmarks, run with `scripts/bench` (release build). Prints Markdown tables for
// docs/BENCHMARKS.md.
//   starbloom-bench host       ABI call costs and source throughput through the host API (issue 2)
//   starbloom-bench queue      durable queue throughput and latency (issue 3)
//   starbloom-bench queue-rss  peak RSS while publishing 10M records (own process)
//   starbloom-bench storage [kv|series|cache|all]  key-value and time-series store (issue 4)
//   starbloom-bench pipeline [EVENTS]  filter + tumbling window count and uint256 sum vs a plain loop (issue 6)
//   starbloom-bench chain [LOGS]       eth-rpc + evm-decode from a fast JSON-RPC fixture; blocks/s against eth-tester (issue 7)
import Foundation

let mode = CommandLine.arguments.dropFirst().first ?? "host"
// A failed run names its mode and the error (a missing plugin, a refused instance), with no backtrace.
do {
    switch mode {
    case "queue":
        try await QueueBench.run()
    case "storage":
        try StorageBench.run(CommandLine.arguments.dropFirst(2).first ?? "all")
    case "queue-rss":
        try QueueBench.runPeakRSS()
    case "pipeline":
        try await PipelineBench.run(events: Int(CommandLine.arguments.dropFirst(2).first ?? "") ?? 1_000_000)
    case "chain":
        try ChainBench.run(logs: Int(CommandLine.arguments.dropFirst(2).first ?? "") ?? 200_000)
    case "host":
        try HostBench.run()
    default:
        FileHandle.standardError.write(Data("usage: starbloom-bench [host|queue|queue-rss|storage [kv|series|cache|all]|pipeline [EVENTS]|chain [LOGS]]\n".utf8))
        exit(2)
    }
    exit(0)
} catch {
    FileHandle.standardError.write(Data("starbloom-bench \(mode): \(error)\n".utf8))
    exit(1)
}
