import Foundation

/// Runs `starbloom-queue-tool` with `arguments`, reads its "ack N" lines until at least `killAfter`
/// writes were acknowledged, kills it with SIGKILL and returns the highest N it printed (including any
/// line still in the pipe) and whether it died by the signal.
func runAndKill(arguments: [String], killAfter: Int) throws -> (acknowledged: Int, killedBySignal: Bool) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: TestPaths.queueTool)
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    var acknowledged = 0
    var buffer = ""
    let handle = output.fileHandleForReading
    func scan() {
        while let newline = buffer.firstIndex(of: "\n") {
            let line = buffer[..<newline]
            if line.hasPrefix("ack "), let n = Int(line.dropFirst(4)) { acknowledged = max(acknowledged, n) }
            buffer = String(buffer[buffer.index(after: newline)...])
        }
    }
    while acknowledged < killAfter {
        let data = handle.availableData
        if data.isEmpty { break }
        buffer += String(decoding: data, as: UTF8.self)
        scan()
    }
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    // Anything printed before the kill was acknowledged too.
    buffer += String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
    scan()
    return (acknowledged, process.terminationReason == .uncaughtSignal)
}

/// Runs `starbloom-queue-tool` with `arguments` (and extra environment) until it exits; returns its
/// standard output and how it ended.
func runQueueTool(_ arguments: [String], environment: [String: String] = [:]) throws -> (output: String, status: Int32, killedBySignal: Bool) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: TestPaths.queueTool)
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return (text, process.terminationStatus, process.terminationReason == .uncaughtSignal)
}

extension TestPaths {
    static var queueTool: String { "\(buildDirectory)/starbloom-queue-tool" }
}
