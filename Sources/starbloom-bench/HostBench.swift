import CBenchSupport
import CStarbloomABI
import Foundation
import Logging
import StarbloomCore

/// `starbloom-bench host`: ABI call costs and a C source's throughput through the host API (issue 2).
enum HostBench {
    static func run() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("starbloom-bench-\(getpid())").path
        try FileManager.default.createDirectory(atPath: "\(work)/plugins", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }

        func shell(_ arguments: [String]) throws {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = arguments
            try process.run()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else { throw ChainBench.BenchError("command failed: \(arguments.joined(separator: " "))") }
        }

        // The call-cost fixture, built as a third party would: one cc line against the header.
        try shell(["cc", "-std=c99", "-shared", "-fPIC", "-O2", "-fvisibility=hidden", "-I", "\(root)/SDK/include",
                   "\(root)/Tests/Fixtures/plugins/bench_calls.c", "-o", "\(work)/plugins/libbench_calls.so"])

        let host = StarbloomHost(configuration: ChainBench.benchConfiguration(work: work), services: HostServices(logger: ChainBench.benchLogger()))
        try host.start()
        defer { host.shutdown() }

        func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
        func format(_ value: Double) -> String { String(format: "%.2f", value) }

        // MARK: Call costs
        try host.addInstance(InstanceSpec(name: "bench", plugin: "bench-calls", inputs: ["bench.none"]))
        let instance = host.instance(named: "bench")!
        let iterations: UInt64 = 100_000_000
        var direct: [Double] = [], hostToPlugin: [Double] = [], swiftHostToPlugin: [Double] = []
        var pluginToHost: [Double] = [], pluginDirect: [Double] = [], hostToSwiftPlugin: [Double] = []
        // A Swift plugin built with the SDK: its health goes through the SDK's box with _withUnsafeGuaranteedRef.
        try host.addInstance(InstanceSpec(name: "bench-swift", plugin: "swift-stamp", inputs: ["bench.none"]))
        let swiftInstance = host.instance(named: "bench-swift")!
        func replyValue(_ reply: String) -> Double {
            Double(reply.split(separator: " ")[0].split(separator: "=")[1])!
        }
        for _ in 0..<5 {
            direct.append(sb_bench_direct_ns(iterations))
            instance.withLiveHandles { plugin, pointer in
                hostToPlugin.append(sb_bench_indirect_ns(plugin.health, pointer, iterations))
                // The host's own path: a Swift loop calling the plugin's function pointer.
                let health = plugin.health!
                var message = sb_message()
                var sink = 0
                let start = DispatchTime.now().uptimeNanoseconds
                for _ in 0..<iterations { sink &+= Int(health(pointer, &message).rawValue) }
                let elapsed = DispatchTime.now().uptimeNanoseconds - start
                if sink == 42 { print("") }
                swiftHostToPlugin.append(Double(elapsed) / Double(iterations))
            }
            swiftInstance.withLiveHandles { plugin, pointer in
                hostToSwiftPlugin.append(sb_bench_indirect_ns(plugin.health, pointer, iterations))
            }
            pluginToHost.append(replyValue(try instance.call(command: "callback-loop", arguments: [String(iterations)])))
            pluginDirect.append(replyValue(try instance.call(command: "direct-loop", arguments: [String(iterations)])))
        }

        print("## ABI call cost (median of 5 runs × \(iterations) calls)\n")
        print("| path | ns/call | added by the ABI boundary |")
        print("|---|---|---|")
        print("| direct call in the host binary (C, baseline) | \(format(median(direct))) | — |")
        print("| host → plugin (C loop, function pointer into the .so) | \(format(median(hostToPlugin))) | \(format(median(hostToPlugin) - median(direct))) |")
        print("| host → plugin (Swift loop, as the supervisor calls) | \(format(median(swiftHostToPlugin))) | \(format(median(swiftHostToPlugin) - median(direct))) |")
        print("| host → Swift plugin (SDK protocol method, C loop) | \(format(median(hostToSwiftPlugin))) | \(format(median(hostToSwiftPlugin) - median(direct))) |")
        print("| direct call inside the plugin (C, baseline) | \(format(median(pluginDirect))) | — |")
        print("| plugin → host callback (`should_stop`, Swift host) | \(format(median(pluginToHost))) | \(format(median(pluginToHost) - median(pluginDirect))) |")
        print("")

        // MARK: Throughput
        func throughput(batch: Int, payload: Int, seconds: Double) throws -> Double {
            let name = "synth-\(batch)-\(payload)"
            try host.addInstance(InstanceSpec(name: name, plugin: "synthetic-source", settings: [
                "topic": .string("bench.\(name)"), "rate": .int(0), "payload_size": .int(Int64(payload)), "batch_size": .int(Int64(batch)),
            ]))
            let source = host.instance(named: name)!
            Thread.sleep(forTimeInterval: 0.5) // warm up
            let startCount = source.status.recordsOut
            let start = DispatchTime.now().uptimeNanoseconds
            Thread.sleep(forTimeInterval: seconds)
            let count = source.status.recordsOut - startCount
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            host.removeInstance(named: name)
            return Double(count) / elapsed
        }

        print("## C source → host API → in-memory queue (200-byte payloads, 3 runs of 3 s)\n")
        print("| publish_batch size | records/s (median) | MB/s of payload |")
        print("|---|---|---|")
        for batch in [1, 16, 256] {
            var rates: [Double] = []
            for _ in 0..<3 { rates.append(try throughput(batch: batch, payload: 200, seconds: 3)) }
            let rate = median(rates)
            print("| \(batch) | \(String(format: "%.2f", rate / 1e6))M | \(Int(rate * 200 / 1e6)) |")
        }
    }
}
