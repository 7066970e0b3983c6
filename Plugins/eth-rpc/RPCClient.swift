import StarbloomJSON
import StarbloomPluginSDK

/// Why an RPC call gave up: the run loop was asked to stop, or the attempts allowed were used up.
enum RPCFailure: Error, CustomStringConvertible {
    case stopped
    /// The attempts the caller allowed were used up (it has a plan B, such as a smaller range).
    case exhausted(String)
    /// `max_retries` retries in a row failed: the instance gives up (its restart policy decides).
    case gaveUp(attempts: Int, String)
    var description: String {
        switch self {
        case .stopped: "stopped"
        case .exhausted(let why): why
        case .gaveUp(let attempts, let why): "gave up after \(attempts) failed attempts in a row (max_retries): \(why)"
        }
    }
}

/// One failed attempt, classified for the retry policy.
struct AttemptError: Error {
    let message: String
    var retryAfterMs: Int? = nil
}

/// JSON-RPC over `HTTPConnection` with retries and failover. Every failure (connection error,
/// timeout, HTTP 429 or 5xx or other non-2xx, malformed JSON, JSON-RPC error) is retried with
/// exponential backoff and equal jitter (half to all of the step, honouring `Retry-After` on 429);
/// after two consecutive failures on one endpoint the next endpoint is tried. Used by the run thread
/// only (and by `start`, before `run`).
final class RPCClient {
    struct Metrics {
        let requests: Host.Metric
        let errors: Host.Metric
        let retries: Host.Metric
        let failovers: Host.Metric
    }

    let host: Host
    let connections: [HTTPConnection]
    let timeoutMs: Int
    let metrics: Metrics
    private(set) var current = 0
    private var nextID: UInt64 = 1
    private var failuresOnCurrent = 0
    /// Consecutive failed attempts across calls; the source's health reads it (under its lock).
    private(set) var consecutiveFailures = 0
    private(set) var lastError = ""
    var onStateChange: ((Int, String) -> Void)?
    static let backoffMinMs = 100
    let backoffMaxMs: Int
    /// Retries of one request before giving up; nil = until it works or the instance stops.
    let maxRetries: Int?

    /// Minimum nanoseconds between two requests (0: no limit) and when the last one was sent.
    let requestSpacingNs: Int64
    private var lastRequestNs: Int64 = 0

    init(host: Host, endpoints: [EndpointURL], tls: TLSContext?, timeoutMs: Int, backoffMaxMs: Int, maxRetries: Int?, maxRequestsPerSecond: Int, metrics: Metrics) {
        self.host = host
        self.maxRetries = maxRetries
        self.requestSpacingNs = maxRequestsPerSecond > 0 ? 1_000_000_000 / Int64(maxRequestsPerSecond) : 0
        self.backoffMaxMs = backoffMaxMs
        self.connections = endpoints.map { HTTPConnection(url: $0, tls: tls, shouldStop: { host.shouldStop }) }
        self.timeoutMs = timeoutMs
        self.metrics = metrics
    }

    var currentEndpoint: String { connections[current].url.text }

    /// The response body of a 2xx answer (anything else is an `AttemptError`).
    private func sendBytes(_ body: String) throws(AttemptError) -> [UInt8] {
        let connection = connections[current]
        if requestSpacingNs > 0 {
            let now = host.monotonicNs
            let due = lastRequestNs + requestSpacingNs
            if now < due, host.wait(nanoseconds: UInt64(due - now)) { throw AttemptError(message: "stopped") }
            lastRequestNs = host.monotonicNs
        }
        metrics.requests.add()
        let response: HTTPResponse
        do {
            response = try connection.post(Array(body.utf8), timeoutMs: timeoutMs)
        } catch {
            if error.kind == .stopped { throw AttemptError(message: "stopped") }
            throw AttemptError(message: error.message)
        }
        guard (200..<300).contains(response.status) else {
            var retryAfter: Int?
            if response.status == 429 || response.status == 503, let text = response.headers["retry-after"], let seconds = Int(text.trimmingSpaces()) {
                retryAfter = min(max(seconds, 0), 60) * 1000
            }
            let snippet = String(decoding: response.body.prefix(120), as: UTF8.self)
            throw AttemptError(message: "\(connection.url.text): HTTP \(response.status) \(snippet)", retryAfterMs: retryAfter)
        }
        return response.body
    }

    // MARK: Calls

    private static func request(_ id: UInt64, _ method: String, _ params: String) -> String {
        #"{"jsonrpc":"2.0","id":\#(id),"method":"\#(method)","params":\#(params)}"#
    }

    /// One call; `params` is the JSON text of the params array. The answer is validated once and
    /// read in place (`RawResponse`: no tree, even for a range's logs). `maxAttempts` nil: until it
    /// works, `max_retries` runs out, or a stop is requested.
    func call(_ method: String, _ params: String, maxAttempts: Int? = nil, budgetMs: Int? = nil) throws(RPCFailure) -> RawResponse {
        try withRetries(maxAttempts: maxAttempts, budgetMs: budgetMs) { () throws(AttemptError) -> RawResponse in
            let id = nextID
            nextID += 1
            var response = RawResponse(bytes: try sendBytes(Self.request(id, method, params)))
            try response.index(calls: [method], firstID: id, batch: false, endpoint: connections[current].url.text)
            return response
        }
    }

    /// A batch of calls; `results[i]` answers call i (matched by id), read in place.
    func batch(_ calls: [(method: String, params: String)], maxAttempts: Int? = nil) throws(RPCFailure) -> RawResponse {
        if calls.isEmpty { return RawResponse(bytes: []) }
        return try withRetries(maxAttempts: maxAttempts) { () throws(AttemptError) -> RawResponse in
            let firstID = nextID
            nextID += UInt64(calls.count)
            let body = "[" + calls.enumerated().map { Self.request(firstID + UInt64($0.offset), $0.element.method, $0.element.params) }.joined(separator: ",") + "]"
            // The scanner indexes objects: the batch's array is wrapped as {"b":[...]}.
            var bytes = Array(#"{"b":"#.utf8)
            bytes += try sendBytes(body)
            bytes.append(UInt8(ascii: "}"))
            var response = RawResponse(bytes: bytes)
            try response.index(calls: calls.map(\.method), firstID: firstID, batch: true, endpoint: connections[current].url.text)
            return response
        }
    }

    /// A quantity that endpoint `index` answers `method` with, in one attempt (no retry, no
    /// failover, not counted in the failure streak that health reads), or nil with the reason.
    func probe(_ index: Int, _ method: String) -> (value: UInt64?, error: String) {
        let saved = current
        current = index
        defer { current = saved }
        do throws(AttemptError) {
            var response = RawResponse(bytes: try sendBytes(Self.request(0, method, "[]")))
            try response.index(calls: [method], firstID: 0, batch: false, endpoint: connections[index].url.text)
            guard let value = response.quantity(), value <= EthRPCSource.maxBlockNumber else {
                return (nil, "\(method) answered \(response.resultText), not a quantity up to 2^48")
            }
            return (value, "")
        } catch {
            metrics.errors.add()
            return (nil, error.message)
        }
    }

    /// Makes endpoint `index` the current one (a lagging endpoint is left for a fresher one).
    func switchTo(_ index: Int) {
        guard index != current, connections.indices.contains(index) else { return }
        connections[current].close()
        current = index
        failuresOnCurrent = 0
        metrics.failovers.add()
    }

    private func withRetries<T>(maxAttempts: Int?, budgetMs: Int? = nil, _ body: () throws(AttemptError) -> T) throws(RPCFailure) -> T {
        var attempt = 0
        let started = HTTPConnection.nowMs()
        while true {
            if host.shouldStop { throw .stopped }
            do {
                let value = try body()
                if consecutiveFailures > 0 { onStateChange?(0, "") }
                consecutiveFailures = 0
                failuresOnCurrent = 0
                return value
            } catch {
                if host.shouldStop { throw .stopped }
                attempt += 1
                consecutiveFailures += 1
                failuresOnCurrent += 1
                lastError = error.message
                metrics.errors.add()
                onStateChange?(consecutiveFailures, error.message)
                if consecutiveFailures == 1 || consecutiveFailures % 20 == 0 {
                    host.log(.warning, "request failed (\(consecutiveFailures) in a row): \(error.message)")
                }
                if let maxAttempts, attempt >= maxAttempts { throw .exhausted(error.message) }
                if let maxRetries, attempt > maxRetries { throw .gaveUp(attempts: attempt, error.message) }
                if failuresOnCurrent >= 2, connections.count > 1 {
                    connections[current].close()
                    current = (current + 1) % connections.count
                    failuresOnCurrent = 0
                    metrics.failovers.add()
                    host.log(.warning, "failing over to \(connections[current].url.text)")
                }
                let step = min(backoffMaxMs, Self.backoffMinMs << min(attempt - 1, 16))
                var delay = step / 2 + Int.random(in: 0...(step / 2))
                if let retryAfter = error.retryAfterMs { delay = max(delay, retryAfter) }
                if let budgetMs, HTTPConnection.nowMs() - started + Int64(delay + timeoutMs) > Int64(budgetMs) {
                    throw .exhausted(error.message)
                }
                metrics.retries.add()
                if host.wait(nanoseconds: UInt64(delay) * 1_000_000) { throw .stopped }
            }
        }
    }
}
