#if canImport(Glibc)
import Glibc
#endif
import CEKTPCurl
import EKTPModel
import EKTPPlatform
import Synchronization

/// One HTTP answer: the status and the body (at most the request's `maxResponse` bytes).
public struct HTTPExchange: Sendable {
    public var status: Int
    public var body: [UInt8]
    /// Request body bytes that went on the wire (after gzip).
    public var uploaded: Int64 = 0
    /// Whether this request opened a new connection (false: one was reused).
    public var newConnection = true
    /// The answer's `Retry-After`, in seconds (a 429 or 503 from a busy server); nil: none.
    public var retryAfter: Int?
}

/// How the daemon's HTTP client reaches a host: the TLS and proxy settings of one section of
/// ektpd.yaml (`registry:`, `alerts:`). Issue 14: the system CA store unless `ca_file` names the
/// centre's CA (then only it is trusted); `pinned_public_key` as curl spells it (`sha256//BASE64`);
/// a client certificate for mutual TLS; TLS 1.2 at least and the name always checked.
public struct HTTPClientSettings: Sendable, Hashable {
    /// PEM file of the CAs to trust instead of the system's store.
    public var caFile: String?
    /// `sha256//BASE64` of the server's SubjectPublicKeyInfo; several joined by `;`.
    public var pinnedPublicKey: String?
    public var clientCert: String?
    public var clientKey: String?
    /// `http://HOST:PORT` of a proxy; nil: `https_proxy`, `http_proxy` and `no_proxy` from the environment.
    public var proxy: String?
    /// Send request bodies gzip'd (`Content-Encoding: gzip`).
    public var gzip = false
    /// The config section these came from, for the hint in an error ("set registry.ca_file ...");
    /// a command-line tool gives its option instead (`--ca-file`).
    public var section = "registry"

    public init(section: String = "registry") { self.section = section }
}

/// The daemon's one HTTP client, on libcurl (issue 14): registry delivery, webhooks, the `http:`
/// liveness probe and the `http:` centre-pull source. One client keeps one connection cache
/// (curl's easy handle), so a registry's connection is reused batch after batch; requests on one
/// client run one at a time. libcurl is loaded at the first request (see ektp_curl.h for why).
///
/// Errors name the host and port, the cause, and the setting that fixes it, for example
/// `registry.example.id:443: certificate is not trusted (unable to get local issuer certificate):
/// set registry.ca_file to the centre's CA`.
public final class HTTPClient: Sendable {
    public let settings: HTTPClientSettings
    /// The helper process requests go through, or nil: this process (see `HTTPHelper`).
    public let helper: HTTPHelper.Command?
    private struct Session: @unchecked Sendable {
        var handle: UnsafeMutableRawPointer?
        var connection: HTTPHelper.Connection?
    }
    private let session = Mutex(Session(handle: nil, connection: nil))

    /// - Parameter helper: where requests are made; by default `HTTPHelper.defaultForNewClients`
    ///   (nil, this process, unless `ektpd run` set it).
    public init(settings: HTTPClientSettings = HTTPClientSettings(section: "probe"),
                helper: HTTPHelper.Command? = HTTPHelper.defaultForNewClients) {
        self.settings = settings
        self.helper = helper
    }

    deinit {
        session.withLock { s in
            if let h = s.handle { ektp_curl_session_free(h) }
            s.handle = nil
            _ = s.connection?.end()
            s.connection = nil
        }
    }

    /// Closes this client's connection and frees what libcurl holds for it (the handle, its TLS
    /// context and CA store: about 0.6 MB once delivery over HTTPS ran; Benchmarks/footprint.py),
    /// keeping the TLS session IDs so the next request resumes TLS. With a helper, the helper
    /// process ends instead, and everything libcurl and OpenSSL held goes with it. For a client
    /// that will sit idle longer than its server keeps a connection: the registry closes one after
    /// 60 s (`ektp-registry serve --idle-timeout`), a station's heartbeat is every 5 minutes.
    public func releaseConnection() {
        session.withLock { s in
            if let h = s.handle { ektp_curl_session_idle(h) }
            _ = s.connection?.end()
            s.connection = nil
        }
    }

    /// The helper process's ID while one runs for this client (for tests and diagnostics).
    public var helperProcessID: pid_t? { session.withLock { $0.connection?.child.pid } }

    /// Whether libcurl can be loaded; nil when it can, else why (for check-config and `run`).
    /// With `HTTPHelper.defaultForNewClients` set, a helper is asked (this process loads nothing).
    public static func unavailable() -> String? {
        guard let command = HTTPHelper.defaultForNewClients else { return unavailableHere() }
        let connection: HTTPHelper.Connection
        do { connection = try HTTPHelper.Connection(command) } catch { return error.description }  // "cannot start the HTTP helper ..."
        defer { _ = connection.end() }
        switch connection.exchange([HTTPHelper.Kind.check], timeout: .seconds(10)) {
        case .success(let payload):
            var r = FrameReader(payload)
            do { return try r.optString() } catch { return "the HTTP helper answered a malformed frame: \(error)" }
        case .failure(let e):
            return "the HTTP helper (\(command.executable) \(command.argv.dropFirst().joined(separator: " "))) did not answer whether libcurl loads: \(e)"
        }
    }

    /// `unavailable()` in this process.
    static func unavailableHere() -> String? {
        var why = [CChar](repeating: 0, count: 256)
        return ektp_curl_load(&why, why.count) == 0 ? nil : String(cString: why)
    }

    /// The loaded libcurl's version line, or nil before the first request in this process.
    public static var libraryVersion: String? { ektp_curl_version().map { String(cString: $0) } }

    /// One request, blocking until it completes or `timeout` (the whole exchange) passes.
    /// - Parameters:
    ///   - url: the whole URL, `http://` or `https://`.
    ///   - headers: extra request headers; `User-Agent` is always `ektpd/VERSION`.
    ///   - maxResponse: bytes of body accepted; a longer answer is an error.
    /// - Returns: the answer whatever its status, or a `NetError` worded for a person.
    public func request(_ method: String, _ url: HTTPURL, path: String, headers: [(String, String)] = [], body: [UInt8] = [],
                        timeout: Duration, maxResponse: Int = 1 << 20) -> Result<HTTPExchange, NetError> {
        if let helper {
            return session.withLock { s in
                viaHelper(helper, &s.connection, HTTPHelper.Request(settings: settings, method: method, url: url, path: path, headers: headers,
                                                                    body: body, timeoutMillis: Int(timeout.wholeMilliseconds), maxResponse: maxResponse),
                          timeout: timeout)
            }
        }
        let full = url.withPath(path)
        return session.withLock { s -> Result<HTTPExchange, NetError> in
            if s.handle == nil { s.handle = ektp_curl_session_new() }
            var resp = ektp_http_response()
            let lines = headers.map { "\($0.0): \($0.1)" }
            let cLines = lines.map { strdup($0) }
            defer { cLines.forEach { free($0) } }
            let settings = self.settings
            let code: Int32 = full.withCString { cURL in
                method.withCString { cMethod in
                    withOptionalCString(settings.caFile) { ca in
                    withOptionalCString(settings.pinnedPublicKey) { pin in
                    withOptionalCString(settings.clientCert) { cert in
                    withOptionalCString(settings.clientKey) { key in
                    withOptionalCString(settings.proxy) { proxy in
                    "ektpd/\(ektpVersion)".withCString { ua in
                        cLines.map { UnsafePointer<CChar>($0) }.withUnsafeBufferPointer { hp in
                            body.withUnsafeBufferPointer { bp in
                                var req = ektp_http_request()
                                req.url = cURL
                                req.method = cMethod
                                req.headers = hp.baseAddress
                                req.header_count = Int32(hp.count)
                                req.body = bp.baseAddress
                                req.body_len = bp.count
                                req.gzip_body = settings.gzip ? 1 : 0
                                // The answer gets at least a second (as the liveness probe always had).
                                req.timeout_ms = max(1000, Int(timeout.wholeMilliseconds))
                                req.connect_timeout_ms = max(100, Int(timeout.wholeMilliseconds))
                                req.ca_file = ca
                                req.pinned_public_key = pin
                                req.client_cert = cert
                                req.client_key = key
                                req.proxy = proxy
                                req.user_agent = ua
                                req.max_response = maxResponse
                                return ektp_curl_perform(s.handle, &req, &resp)
                            }
                        }
                    }}}}}}
                }
            }
            defer { ektp_http_response_free(&resp) }
            let body = resp.body.map { Array(UnsafeBufferPointer(start: $0, count: resp.body_len)) } ?? []
            if code == 0 {
                return .success(HTTPExchange(status: resp.status, body: body, uploaded: resp.uploaded, newConnection: resp.connects > 0,
                                             retryAfter: resp.retry_after > 0 ? Int(min(resp.retry_after, 86_400)) : nil))
            }
            let error = withUnsafeBytes(of: resp.error) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            return .failure(NetError(Self.describe(code: Int(code), error: error, verifyResult: resp.ssl_verify_result, truncated: resp.truncated != 0,
                                                   url: url, timeout: timeout, maxResponse: maxResponse, settings: settings,
                                                   expiry: { Self.peerExpiry(url, settings: settings, timeout: timeout) })))
        }
    }

    /// One request through the helper, starting one when none runs or the last one ended. A
    /// helper that ended before it read the request (its idle exit, status 0) is replaced and the
    /// request sent again, once; one that fails after reading it is reported, never retried here
    /// (the caller's retry decides, as for any failed exchange). The helper's answer is checked as
    /// this client's own would be (`HTTPHelper.Reply.decode`).
    private func viaHelper(_ command: HTTPHelper.Command, _ connection: inout HTTPHelper.Connection?, _ request: HTTPHelper.Request,
                           timeout: Duration) -> Result<HTTPExchange, NetError> {
        let frame = request.encode()
        // The request's own limit is enforced in the helper; this one covers its start-up too.
        let limit = timeout + .seconds(15)
        for attempt in 0..<2 {
            if let c = connection, c.ended != nil {
                _ = c.end()
                connection = nil
            }
            if connection == nil {
                do { connection = try HTTPHelper.Connection(command) } catch { return .failure(error) }
            }
            let c = connection!
            switch c.exchange(frame, timeout: limit, maxAnswer: request.maxResponse + 65_536) {
            case .success(let payload):
                do { return try HTTPHelper.Reply.decode(payload, maxResponse: request.maxResponse).result } catch {
                    connection = nil
                    _ = c.end()
                    return .failure(NetError("\(request.url.hostPort): the HTTP helper's answer was refused: \(error)"))
                }
            case .failure(.timedOut):
                connection = nil
                _ = c.end()
                return .failure(NetError("\(request.url.hostPort): the HTTP helper did not answer within \(spokenDuration(limit)), the request's \(spokenDuration(timeout)) and its start (it was stopped)"))
            case .failure(.closed):
                connection = nil
                let status = c.end()
                if attempt == 0, ChildProcess.exitCode(status) == 0 { continue }
                return .failure(NetError("\(request.url.hostPort): the HTTP helper \(ChildProcess.describe(status)) before answering"))
            case .failure(let e):
                connection = nil
                _ = c.end()
                return .failure(NetError("\(request.url.hostPort): the HTTP helper's answer was refused: \(e)"))
            }
        }
        return .failure(NetError("\(request.url.hostPort): the HTTP helper exited twice before reading the request"))
    }

    /// The peer's certificate end date, read by a handshake that sends nothing; nil if unknown.
    static func peerExpiry(_ url: HTTPURL, settings: HTTPClientSettings, timeout: Duration) -> Timestamp? {
        var out = [CChar](repeating: 0, count: 96)
        let rc = withOptionalCString(settings.proxy) { proxy in
            ektp_curl_peer_expiry(url.description, max(1000, Int(timeout.wholeMilliseconds)), proxy, &out, out.count)
        }
        return rc == 0 ? parseOpenSSLTime(String(cString: out)) : nil
    }

    /// OpenSSL's printed time ("Nov  1 00:00:00 2026 GMT", as curl's certinfo gives it) as a Timestamp.
    static func parseOpenSSLTime(_ s: String) -> Timestamp? {
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let parts = s.split(separator: " ")
        guard parts.count >= 4, let m = months.firstIndex(of: String(parts[0])), let d = Int(parts[1]), let y = Int(parts[3]) else { return nil }
        let hms = parts[2].split(separator: ":").compactMap { Int($0) }
        guard hms.count == 3 else { return nil }
        let text = String(format4: y) + "-" + String(format2: m + 1) + "-" + String(format2: d) + "T" +
            String(format2: hms[0]) + ":" + String(format2: hms[1]) + ":" + String(format2: hms[2]) + "Z"
        return Timestamp(rfc3339: text)
    }

    // libcurl's CURLcode values this client words (curl/curl.h).
    enum Code {
        static let unsupportedProtocol = 1, badURL = 3, cannotResolveProxy = 5, cannotResolveHost = 6, cannotConnect = 7
        static let writeError = 23, timedOut = 28, sslConnect = 35, gotNothing = 52, sendError = 55, receiveError = 56
        static let clientCertificate = 58, peerVerification = 60, caFile = 77, pinnedKey = 90
    }

    /// A failed exchange in words a person acts on: where, what, and which setting fixes it.
    static func describe(code: Int, error: String, verifyResult: Int, truncated: Bool, url: HTTPURL, timeout: Duration,
                         maxResponse: Int, settings: HTTPClientSettings, expiry: () -> Timestamp?) -> String {
        let at = url.hostPort
        let key = settings.section
        let lower = error.lowercased()
        switch code {
        case Code.peerVerification:
            // OpenSSL's X509_V_ERR_*: 10 expired, 9 not yet valid, 62 host name mismatch.
            if verifyResult == 10 || lower.contains("expired") {
                if let end = expiry() { return "\(at): certificate expired on \(end.rfc3339.prefix(10)): the server must renew it" }
                return "\(at): certificate has expired: the server must renew it"
            }
            if verifyResult == 9 || lower.contains("not yet valid") {
                return "\(at): certificate is not valid yet: is this station's clock right?"
            }
            if verifyResult == 62 || lower.contains("subject name") || lower.contains("does not match") {
                return "\(at): the certificate's name does not match \(url.host) (\(error))"
            }
            let why = error.dropping(prefix: "SSL certificate problem: ")
            let caSetting = key.hasPrefix("-") ? key : "\(key).ca_file"
            return "\(at): certificate is not trusted (\(why)): set \(caSetting) to the centre's CA"
        case Code.pinnedKey:
            return "\(at): the server's public key does not match \(key).pinned_public_key: nothing was sent"
        case Code.caFile:
            return "\(key).ca_file \(settings.caFile ?? ""): cannot be read as PEM certificates (\(error))"
        case Code.clientCertificate:
            return "\(key).client_cert/client_key: cannot be used (\(error))"
        case Code.sslConnect, Code.receiveError, Code.sendError, Code.gotNothing:
            if url.scheme == "https" && (lower.contains("certificate required") || lower.contains("alert bad certificate")
                                          || lower.contains("alert handshake failure") || lower.contains("alert unknown ca")) {
                if settings.clientCert == nil {
                    return "\(at) requires a client certificate: set \(key).client_cert and \(key).client_key"
                }
                return "\(at) refused this station's client certificate (\(error))"
            }
            if code == Code.gotNothing {
                return "\(at) closed the connection without answering" + (url.scheme == "http" ? " (does it speak HTTPS? then the URL is https://)" : "")
            }
            if code == Code.sslConnect {
                if lower.contains("wrong version number") { return "\(at) does not speak TLS: is the URL http://, not https://?" }
                return "\(at): TLS handshake failed (\(error))"
            }
            return "\(at): the connection failed (\(error))"
        case Code.timedOut:
            return "\(url.withPath("")) sent no answer within \(spokenDuration(timeout))"
        case Code.cannotResolveHost:
            return "cannot resolve \(url.host) (\(error))"
        case Code.cannotResolveProxy:
            return "cannot resolve the proxy (\(error)): check \(key).proxy or https_proxy"
        case Code.cannotConnect:
            return "cannot connect to \(at): \(error)"
        case Code.writeError where truncated:
            return "\(at) answered with more than \(maxResponse) bytes"
        case Code.unsupportedProtocol, Code.badURL:
            return "\(url): \(error)"
        default:
            return "\(at): \(error)"
        }
    }
}

private func withOptionalCString<R>(_ s: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let s else { return body(nil) }
    return s.withCString { body($0) }
}

private extension String {
    init(format2 v: Int) { self = v < 10 ? "0\(v)" : "\(v)" }
    init(format4 v: Int) {
        let digits = "\(v)"
        self = String(repeating: "0", count: Swift.max(0, 4 - digits.count)) + digits
    }
    /// Without a leading `prefix`, if it has one.
    func dropping(prefix: String) -> String { hasPrefix(prefix) ? String(dropFirst(prefix.count)) : self }
}

/// An `http://` or `https://` `HOST[:PORT][/PREFIX]` URL split up (the registry's address and the
/// webhooks in ektpd.yaml). The port defaults to 80 or 443.
public struct HTTPURL: Sendable, Equatable, CustomStringConvertible {
    public var scheme: String
    public var host: String
    public var port: UInt16
    public var prefix: String

    public init?(_ s: String) {
        let scheme: String
        if s.hasPrefix("http://") { scheme = "http" } else if s.hasPrefix("https://") { scheme = "https" } else { return nil }
        self.scheme = scheme
        let defaultPort: UInt16 = scheme == "https" ? 443 : 80
        let rest = s.dropFirst(scheme.count + 3)
        let hostport = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        var p = String(rest.dropFirst(hostport.count))
        // Nothing curl would read as a user, a query or a fragment, and no spaces or controls.
        if hostport.contains("@") || p.contains("?") || p.contains("#") { return nil }
        if s.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7f }) { return nil }
        while p.hasSuffix("/") { p.removeLast() }
        prefix = p
        if hostport.hasPrefix("[") {
            guard let close = hostport.firstIndex(of: "]") else { return nil }
            host = String(hostport[hostport.index(after: hostport.startIndex)..<close])
            let after = hostport[hostport.index(after: close)...]
            if after.isEmpty { port = defaultPort } else {
                guard after.hasPrefix(":"), let v = UInt16(after.dropFirst()) else { return nil }
                port = v
            }
        } else if let c = hostport.lastIndex(of: ":") {
            host = String(hostport[..<c])
            guard let v = UInt16(hostport[hostport.index(after: c)...]) else { return nil }
            port = v
        } else {
            host = String(hostport)
            port = defaultPort
        }
        if host.isEmpty { return nil }
    }

    /// The parts as they are (the HTTP helper's side of a request: they were checked where it was made).
    init(scheme: String, host: String, port: UInt16, prefix: String) {
        self.scheme = scheme
        self.host = host
        self.port = port
        self.prefix = prefix
    }

    /// `HOST:PORT`, as errors name the peer.
    public var hostPort: String { "\(host.contains(":") ? "[\(host)]" : host):\(port)" }

    public var description: String { "\(scheme)://\(hostPort)\(prefix)" }

    /// The URL with the prefix and then `path` (which starts with `/`, or is empty).
    public func withPath(_ path: String) -> String { description + path }
}

/// `GET path` over plain HTTP on the station's own network (the liveness probe, a centre-pull
/// source); status and body (64 kB at most). A new connection each time.
public func httpGet(host: String, port: UInt16, path: String, timeout: Duration) -> Result<(status: Int, body: String), NetError> {
    guard let url = HTTPURL("http://\(host.contains(":") ? "[\(host)]" : host):\(port)") else {
        return .failure(NetError("http://\(host):\(port)\(path) is not a URL"))
    }
    return HTTPClient().request("GET", url, path: path, timeout: timeout, maxResponse: 65536)
        .map { ($0.status, String(decoding: $0.body, as: UTF8.self)) }
}

/// `GET path`'s status code.
public func httpStatus(host: String, port: UInt16, path: String, timeout: Duration) -> Result<Int, NetError> {
    httpGet(host: host, port: port, path: path, timeout: timeout).map(\.status)
}

