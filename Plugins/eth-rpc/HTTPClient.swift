import COpenSSL
#if canImport(Glibc)
import Glibc
#endif

/// A minimal HTTP/1.1 client over POSIX sockets for JSON-RPC: `POST` with a `Content-Length` body,
/// responses with `Content-Length`, chunked transfer coding or read-to-close; keep-alive reuse;
/// connect and request timeouts; `https://` through OpenSSL (`TLSContext`: certificate and host name
/// verified). Not thread-safe: one connection per endpoint, used by the source's run thread. Waits are sliced (100 ms) so that a stop request is
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
    let tls: Bool

    /// `http://host[:port][/path]` or `https://…`; IPv6 literals in brackets.
    init?(_ text: String) {
        if text.hasPrefix("http://") {
            tls = false
        } else if text.hasPrefix("https://") {
            tls = true
        } else {
            return nil
        }
        self.text = text
        var rest = Substring(text.dropFirst(tls ? "https://".count : "http://".count))
        var path = "/"
        if let slash = rest.firstIndex(of: "/") {
            path = String(rest[slash...])
            rest = rest[..<slash]
        }
        var host: Substring
        var port = tls ? "443" : "80"
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

/// The TLS settings of an instance's https endpoints: an OpenSSL client context (TLS 1.2 or later,
/// peer certificate verified against the system's trust store or `caFile`), shared by its connections.
final class TLSContext {
    let context: OpaquePointer

    /// `caFile`: PEM certificates to trust instead of the system store (a private CA, a self-signed node).
    init(caFile: String?) throws(HTTPError) {
        guard let context = SSL_CTX_new(TLS_client_method()) else { throw HTTPError(.connect, "TLS: \(Self.lastError())") }
        self.context = context
        guard sb_ssl_ctx_configure(context) != 0 else { throw HTTPError(.connect, "TLS: cannot require TLS 1.2: \(Self.lastError())") }
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
        if let caFile {
            guard SSL_CTX_load_verify_locations(context, caFile, nil) == 1 else {
                throw HTTPError(.connect, "tls_ca_file '\(caFile)' has no readable PEM certificate: \(Self.lastError())")
            }
        } else {
            SSL_CTX_set_default_verify_paths(context)
        }
    }

    deinit { SSL_CTX_free(context) }

    /// The oldest queued OpenSSL error as text (and clears the queue).
    static func lastError() -> String {
        let code = ERR_get_error()
        ERR_clear_error()
        if code == 0 { return "unknown error" }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

final class HTTPConnection {
    let url: EndpointURL
    private let tls: TLSContext?
    private var fd: Int32 = -1
    private var ssl: OpaquePointer? // the TLS session over `fd` (https)
    private var pending: [UInt8] = []   // bytes read past the previous response
    private var scratch = [UInt8](repeating: 0, count: 65536) // recv buffer, reused
    private let shouldStop: () -> Bool
    static let maxBody = 256 << 20
    static let maxHeader = 64 << 10

    init(url: EndpointURL, tls: TLSContext?, shouldStop: @escaping () -> Bool) {
        self.url = url
        self.tls = url.tls ? tls : nil
        self.shouldStop = shouldStop
    }

    deinit { close() }

    func close() {
        if let ssl { SSL_free(ssl) }
        ssl = nil
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
        if fd < 0 {
            try connect(deadline: deadline)
            if let tls {
                do throws(HTTPError) { try handshake(tls, deadline: deadline) } catch { close(); throw error }
            }
        }
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
        var failure: HTTPError?
        bytes.withUnsafeBytes { raw in
            while sent < raw.count {
                do throws(HTTPError) { sent += try transmit(raw.baseAddress! + sent, raw.count - sent, deadline: deadline) } catch {
                    failure = error
                    return
                }
            }
        }
        if let failure { throw failure }
    }

    /// Sends some of `count` bytes (waiting until the socket takes any); returns how many.
    private func transmit(_ bytes: UnsafeRawPointer, _ count: Int, deadline: Int64) throws(HTTPError) -> Int {
        while true {
            if let ssl {
                ERR_clear_error() // SSL_get_error reads this thread's queue: no stale entries
                let n = SSL_write(ssl, bytes, Int32(min(count, 1 << 30)))
                if n > 0 { return Int(n) }
                try waitForTLS(ssl, n, deadline: deadline, what: "sending")
                continue
            }
            let n = Glibc.send(fd, bytes, count, Int32(MSG_NOSIGNAL))
            if n > 0 { return n }
            if n < 0, errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR {
                try waitFor(Int32(POLLOUT), deadline: deadline, what: "sending")
                continue
            }
            throw HTTPError(.io, "\(url.text): send: \(String(cString: strerror(errno)))")
        }
    }

    /// Receives up to `count` bytes (waiting until any arrive); 0 at the end of the stream.
    private func receive(_ buffer: UnsafeMutableRawPointer, _ count: Int, deadline: Int64) throws(HTTPError) -> Int {
        while true {
            if let ssl {
                ERR_clear_error()
                let n = SSL_read(ssl, buffer, Int32(min(count, 1 << 30)))
                if n > 0 { return Int(n) }
                if SSL_get_error(ssl, n) == SSL_ERROR_ZERO_RETURN { return 0 }
                try waitForTLS(ssl, n, deadline: deadline, what: "waiting for the response")
                continue
            }
            let n = recv(fd, buffer, count, 0)
            if n >= 0 { return n }
            if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR {
                try waitFor(Int32(POLLIN), deadline: deadline, what: "waiting for the response")
                continue
            }
            throw HTTPError(.io, "\(url.text): recv: \(String(cString: strerror(errno)))")
        }
    }

    /// After a TLS call returned `result` ≤ 0: waits for what OpenSSL needs, or throws its error.
    private func waitForTLS(_ ssl: OpaquePointer, _ result: Int32, deadline: Int64, what: String) throws(HTTPError) {
        switch SSL_get_error(ssl, result) {
        case SSL_ERROR_WANT_READ:
            try waitFor(Int32(POLLIN), deadline: deadline, what: what)
        case SSL_ERROR_WANT_WRITE:
            try waitFor(Int32(POLLOUT), deadline: deadline, what: what)
        case SSL_ERROR_SYSCALL:
            let code = errno
            ERR_clear_error()
            throw HTTPError(.io, "\(url.text): TLS: connection failed: \(code == 0 ? "closed by the peer" : String(cString: strerror(code)))")
        default:
            throw HTTPError(.io, "\(url.text): TLS: \(TLSContext.lastError())")
        }
    }

    /// The TLS handshake over the connected socket: SNI, then the certificate checked against the
    /// trust store and the endpoint's host name (or IP address).
    private func handshake(_ tls: TLSContext, deadline: Int64) throws(HTTPError) {
        guard let session = SSL_new(tls.context) else { throw HTTPError(.connect, "\(url.text): TLS: \(TLSContext.lastError())") }
        ssl = session
        SSL_set_fd(session, fd)
        var address = in6_addr()
        let isAddress = inet_pton(AF_INET, url.host, &address) == 1 || inet_pton(AF_INET6, url.host, &address) == 1
        let expected = isAddress ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(session), url.host) : SSL_set1_host(session, url.host)
        guard expected == 1 else { throw HTTPError(.connect, "\(url.text): TLS: cannot set the name to verify: \(TLSContext.lastError())") }
        if !isAddress { _ = sb_ssl_set_sni(session, url.host) }
        while true {
            ERR_clear_error()
            let result = SSL_connect(session)
            if result == 1 { return }
            let error = SSL_get_error(session, result)
            if error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE {
                do throws(HTTPError) {
                    try waitFor(Int32(error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT), deadline: deadline, what: "in the TLS handshake")
                } catch {
                    if error.kind == .timeout { throw HTTPError(.connect, "\(url.text): TLS handshake timed out") }
                    throw error
                }
                continue
            }
            let verify = SSL_get_verify_result(session)
            if verify != X509_V_OK {
                ERR_clear_error()
                throw HTTPError(.connect, "\(url.text): TLS certificate not trusted: \(String(cString: X509_verify_cert_error_string(verify))) (tls_ca_file names a PEM file of certificates to trust)")
            }
            let reason = error == SSL_ERROR_SYSCALL ? "connection closed during the handshake" : TLSContext.lastError()
            throw HTTPError(.connect, "\(url.text): TLS handshake failed: \(reason)")
        }
    }

    /// Reads more bytes into `pending`; returns false at end of stream.
    private func fill(deadline: Int64) throws(HTTPError) -> Bool {
        let outcome = scratch.withUnsafeMutableBytes { raw -> Result<Int, HTTPError> in
            do throws(HTTPError) { return .success(try receive(raw.baseAddress!, raw.count, deadline: deadline)) } catch { return .failure(error) }
        }
        let n = try outcome.get()
        if n == 0 { return false }
        pending.append(contentsOf: scratch[0..<n])
        return true
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
                do throws(HTTPError) {
                    let n = try receive(buffer.baseAddress! + initialized, count - initialized, deadline: deadline)
                    if n == 0 { failure = HTTPError(.io, "\(url.text): connection closed mid-body"); return }
                    initialized += n
                } catch {
                    failure = error
                    return
                }
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
