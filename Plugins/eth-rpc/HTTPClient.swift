#if canImport(Glibc)
import Glibc
#endif

/// A minimal HTTP/1.1 client over POSIX sockets for JSON-RPC: `POST` with a `Content-Length` body,
/// responses with `Content-Length`, chunked transfer coding or read-to-close; keep-alive reuse;
/// connect and request timeouts. Plain `http://` only (no TLS). Not thread-safe: one connection per
/// endpoint, used by the source's run thread. Waits are sliced (100 ms) so that a stop request is
/// noticed promptly.
struct HTTPError: Error, CustomStringConvertible {
    enum Kind { case connect, timeout, io, protocolError, stopped }
    let kind: Kind
    let message: String
    init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }
    var description: String { message }
}

struct HTTPResponse {
    let status: Int
    let headers: [String: String] // lowercased names
    let body: [UInt8]
}

struct EndpointURL {
    let text: String
    let host: String
    let port: String
    let path: String

    /// `http://host[:port][/path]`; IPv6 literals in brackets.
    init?(_ text: String) {
        guard text.hasPrefix("http://") else { return nil }
        self.text = text
        var rest = Substring(text.dropFirst("http://".count))
        var path = "/"
        if let slash = rest.firstIndex(of: "/") {
            path = String(rest[slash...])
            rest = rest[..<slash]
        }
        var host: Substring
        var port = "80"
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return nil }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if after.hasPrefix(":") { port = String(after.dropFirst()) } else if !after.isEmpty { return nil }
        } else if let colon = rest.lastIndex(of: ":") {
            host = rest[..<colon]
            port = String(rest[rest.index(after: colon)...])
        } else {
            host = rest
        }
        guard !host.isEmpty, let number = Int(port), (1...65535).contains(number) else { return nil }
        self.host = String(host)
        self.port = port
        self.path = path
    }
}

final class HTTPConnection {
    let url: EndpointURL
    private var fd: Int32 = -1
    private var pending: [UInt8] = []   // bytes read past the previous response
    private var scratch = [UInt8](repeating: 0, count: 65536) // recv buffer, reused
    private let shouldStop: () -> Bool
    static let maxBody = 256 << 20
    static let maxHeader = 64 << 10

    init(url: EndpointURL, shouldStop: @escaping () -> Bool) {
        self.url = url
        self.shouldStop = shouldStop
    }

    deinit { close() }

    func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
        pending.removeAll()
    }

    /// POSTs `body`; the whole exchange (connect included) must finish within `timeoutMs`.
    func post(_ body: [UInt8], timeoutMs: Int, extraHeaders: [(String, String)] = []) throws(HTTPError) -> HTTPResponse {
        let deadline = Self.nowMs() + Int64(timeoutMs)
        let reused = fd >= 0
        do {
            return try exchange(body, deadline: deadline, extraHeaders: extraHeaders)
        } catch let error where reused && error.kind == .io {
            // The server may have closed an idle keep-alive connection: one fresh attempt.
            close()
            return try exchange(body, deadline: deadline, extraHeaders: extraHeaders)
        }
    }

    private func exchange(_ body: [UInt8], deadline: Int64, extraHeaders: [(String, String)]) throws(HTTPError) -> HTTPResponse {
        if fd < 0 { try connect(deadline: deadline) }
        do {
            var head = "POST \(url.path) HTTP/1.1\r\nHost: \(url.host):\(url.port)\r\nContent-Type: application/json\r\n"
            head += "Accept: application/json\r\nConnection: keep-alive\r\nContent-Length: \(body.count)\r\n"
            for (name, value) in extraHeaders { head += "\(name): \(value)\r\n" }
            head += "\r\n"
            try send(Array(head.utf8) + body, deadline: deadline)
            let response = try readResponse(deadline: deadline)
            return response
        } catch {
            close()
            throw error
        }
    }

    // MARK: Socket

    static func nowMs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    /// Waits for `events` on the socket until the deadline, in slices that check for a stop.
    private func waitFor(_ events: Int32, deadline: Int64, what: String) throws(HTTPError) {
        while true {
            if shouldStop() { throw HTTPError(.stopped, "stopped") }
            let left = deadline - Self.nowMs()
            if left <= 0 { throw HTTPError(.timeout, "\(url.text): timed out \(what)") }
            var pfd = pollfd(fd: fd, events: Int16(events), revents: 0)
            let n = poll(&pfd, 1, Int32(min(left, 100)))
            if n > 0 { return }
            if n < 0, errno != EINTR { throw HTTPError(.io, "\(url.text): poll: \(String(cString: strerror(errno)))") }
        }
    }

    private func connect(deadline: Int64) throws(HTTPError) {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(url.host, url.port, &hints, &list)
        guard rc == 0, let first = list else {
            throw HTTPError(.connect, "\(url.text): cannot resolve \(url.host): \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(list) }
        var lastError = "no address"
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let info = entry {
            entry = info.pointee.ai_next
            let s = socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            if s < 0 { lastError = String(cString: strerror(errno)); continue }
            fd = s
            var one: Int32 = 1
            setsockopt(s, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            if Glibc.connect(s, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 { return }
            if errno != EINPROGRESS { lastError = String(cString: strerror(errno)); close(); continue }
            do {
                try waitFor(Int32(POLLOUT), deadline: deadline, what: "connecting")
            } catch {
                close()
                if error.kind == .timeout { throw HTTPError(.connect, "\(url.text): connect timed out") }
                throw error
            }
            var soError: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(s, SOL_SOCKET, SO_ERROR, &soError, &length)
            if soError == 0 { return }
            lastError = String(cString: strerror(soError))
            close()
        }
        throw HTTPError(.connect, "\(url.text): cannot connect: \(lastError)")
    }

    private func send(_ bytes: [UInt8], deadline: Int64) throws(HTTPError) {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { raw in
                Glibc.send(fd, raw.baseAddress! + sent, raw.count - sent, Int32(MSG_NOSIGNAL))
            }
            if n > 0 { sent += n; continue }
            if n < 0, errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR {
                try waitFor(Int32(POLLOUT), deadline: deadline, what: "sending")
                continue
            }
            throw HTTPError(.io, "\(url.text): send: \(String(cString: strerror(errno)))")
        }
    }

    /// Reads more bytes into `pending`; returns false at end of stream.
    private func fill(deadline: Int64) throws(HTTPError) -> Bool {
        while true {
            let n = scratch.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 { pending.append(contentsOf: scratch[0..<n]); return true }
            if n == 0 { return false }
            if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR {
                try waitFor(Int32(POLLIN), deadline: deadline, what: "waiting for the response")
                continue
            }
            throw HTTPError(.io, "\(url.text): recv: \(String(cString: strerror(errno)))")
        }
    }

    /// Index just past the first CRLF at or after `from` in `pending`, or nil.
    private func lineEnd(from: Int) -> Int? {
        var i = from
        while i + 1 < pending.count {
            if pending[i] == 0x0D, pending[i + 1] == 0x0A { return i + 2 }
            i += 1
        }
        return nil
    }

    private func readLine(deadline: Int64, limit: Int) throws(HTTPError) -> String {
        while true {
            if let end = lineEnd(from: 0) {
                let line = String(decoding: pending[0..<(end - 2)], as: UTF8.self)
                pending.removeFirst(end)
                return line
            }
            if pending.count > limit { throw HTTPError(.protocolError, "\(url.text): line longer than \(limit) bytes") }
            guard try fill(deadline: deadline) else { throw HTTPError(.io, "\(url.text): connection closed mid-response") }
        }
    }

    /// `count` bytes: what `pending` holds first, the rest received straight into the result (a
    /// large body is not staged in `pending`, grown and copied out again).
    private func readExactly(_ count: Int, deadline: Int64) throws(HTTPError) -> [UInt8] {
        if pending.count >= count {
            let out = Array(pending[0..<count])
            pending.removeFirst(count)
            return out
        }
        var failure: HTTPError?
        let out = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            initialized = pending.count
            _ = buffer.initialize(from: pending)
            while initialized < count {
                let n = recv(fd, buffer.baseAddress! + initialized, count - initialized, 0)
                if n > 0 { initialized += n; continue }
                if n == 0 { failure = HTTPError(.io, "\(url.text): connection closed mid-body"); return }
                if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR {
                    do throws(HTTPError) { try waitFor(Int32(POLLIN), deadline: deadline, what: "waiting for the response") } catch { failure = error; return }
                    continue
                }
                failure = HTTPError(.io, "\(url.text): recv: \(String(cString: strerror(errno)))")
                return
            }
        }
        pending.removeAll(keepingCapacity: true)
        if let failure { throw failure }
        return out
    }

    private func readResponse(deadline: Int64) throws(HTTPError) -> HTTPResponse {
        var status = 0
        var headers: [String: String] = [:]
        var http10 = false
        // Skip 1xx interim responses.
        repeat {
            let statusLine = try readLine(deadline: deadline, limit: Self.maxHeader)
            let parts = statusLine.split(separator: " ", maxSplits: 2)
            guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let code = Int(parts[1]), (100...599).contains(code) else {
                throw HTTPError(.protocolError, "\(url.text): bad status line '\(statusLine.prefix(80))'")
            }
            http10 = parts[0] == "HTTP/1.0"
            status = code
            headers = [:]
            var total = 0
            while true {
                let line = try readLine(deadline: deadline, limit: Self.maxHeader)
                if line.isEmpty { break }
                total += line.utf8.count
                if total > Self.maxHeader { throw HTTPError(.protocolError, "\(url.text): headers too large") }
                guard let colon = line.firstIndex(of: ":") else { throw HTTPError(.protocolError, "\(url.text): bad header line") }
                let name = line[..<colon].lowercased()
                let value = line[line.index(after: colon)...].trimmingSpaces()
                headers[name] = headers[name].map { "\($0), \(value)" } ?? value
            }
        } while status < 200

        var body: [UInt8] = []
        var closeAfter = http10 ? !(headers["connection"]?.lowercased().contains("keep-alive") ?? false)
                                : headers["connection"]?.lowercased().contains("close") ?? false
        if headers["transfer-encoding"]?.lowercased().contains("chunked") == true {
            while true {
                let sizeLine = try readLine(deadline: deadline, limit: 1024)
                let sizeText = sizeLine.split(separator: ";", maxSplits: 1).first.map { $0.trimmingSpaces() } ?? ""
                guard let size = Int(sizeText, radix: 16), size >= 0 else {
                    throw HTTPError(.protocolError, "\(url.text): bad chunk size '\(sizeLine.prefix(40))'")
                }
                if size == 0 {
                    while try !readLine(deadline: deadline, limit: Self.maxHeader).isEmpty {} // trailers
                    break
                }
                guard size <= Self.maxBody - body.count else { throw HTTPError(.protocolError, "\(url.text): body too large") } // no overflow on a huge size
                body += try readExactly(size, deadline: deadline)
                guard try readLine(deadline: deadline, limit: 2).isEmpty else {
                    throw HTTPError(.protocolError, "\(url.text): chunk not followed by CRLF")
                }
            }
        } else if let lengthText = headers["content-length"] {
            guard let length = Int(lengthText), length >= 0, length <= Self.maxBody else {
                throw HTTPError(.protocolError, "\(url.text): bad Content-Length '\(lengthText)'")
            }
            body = try readExactly(length, deadline: deadline)
        } else if status == 204 || status == 304 {
            body = []
        } else {
            while try fill(deadline: deadline) {
                if pending.count > Self.maxBody { throw HTTPError(.protocolError, "\(url.text): body too large") }
            }
            body = pending
            pending = []
            closeAfter = true
        }
        if closeAfter { close() }
        return HTTPResponse(status: status, headers: headers, body: body)
    }
}

extension StringProtocol {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}
