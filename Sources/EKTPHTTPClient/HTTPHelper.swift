#if canImport(Glibc)
import Glibc
#endif
import EKTPModel
import EKTPPlatform
import Synchronization

/// The daemon's HTTP requests made from a process of its own (issue 17, item 6): `ektpd run` never
/// loads libcurl, libssl or OpenSSL's state; a helper (`ektpd http-helper`, the same binary started
/// again through `/proc/self/exe`) makes the requests and ends when the client releases its
/// connection, or after `idleLimit` with none. The design is systemd-journal-upload's (journald's
/// uploads from a separate process) and fwupd's helpers: the TLS stack, which parses what the
/// network sends, runs in a process that holds no device and no outbox.
///
/// Measured (Benchmarks/footprint.py, 2 cores): a station delivering over HTTPS idled at 8.7 MB PSS
/// against 7.7 MB without a registry; OpenSSL keeps about 320 KB of global state after one request
/// that no call frees (a C program on the same libcurl showed it), and the heap stayed 0.5 MB
/// larger. With the helper, an idle station is the 7.7 MB one. A helper's start costs an exec of
/// ektpd (2-3 ms) and a full TLS handshake (no session resumption across helpers); a station's
/// uplink starts one at most once per round after an idle spell (its heartbeat is 5 minutes).
///
/// The wire between client and helper (a socketpair, the helper's stdin): frames of a 4-byte
/// big-endian length and a payload, the payload's fields in the order `Request.encode` writes them.
/// Both ends are the same binary; a frame that does not decode ends the helper with status 2 and a
/// message on its stderr (the journal).
public enum HTTPHelper {
    /// How to start a helper: the program and its arguments.
    public struct Command: Sendable, Equatable {
        public var executable: String
        public var argv: [String]
        /// `ektpd http-helper` from the running binary (`/proc/self/exe`).
        public static let ektpd = Command(executable: "/proc/self/exe", argv: ["ektpd", "http-helper"])
        public init(executable: String, argv: [String]) {
            self.executable = executable
            self.argv = argv
        }
    }

    private static let defaultCommand = Mutex<Command?>(nil)

    /// The helper new `HTTPClient`s use when none is given: nil (the default) makes requests in
    /// the calling process. `ektpd run` sets `.ektpd` before it starts anything.
    public static var defaultForNewClients: Command? {
        get { defaultCommand.withLock { $0 } }
        set { defaultCommand.withLock { $0 = newValue } }
    }

    /// A helper with no request for this long exits (status 0), so a client that never releases
    /// its connection (the alerts' webhooks) does not keep one for ever; the client's waiter
    /// thread reaps it at once (no zombie), and its next request starts another.
    public static let idleLimit: Duration = .seconds(60)

    /// Largest frame either way: a request body or answer of `maxResponse` (at most 64 MiB here)
    /// plus its fields.
    static let maxFrame = 80 << 20

    // MARK: The helper process

    /// The helper's main: answers requests read from `fd` until it is closed (status 0), `idle`
    /// passes with none (status 0), or a frame does not decode (status 2, message on stderr).
    public static func serve(fd: Int32 = 0, idle: Duration = idleLimit) -> Int32 {
        // A peer that closed its end is an error return, never a death by SIGPIPE (as in the daemon).
        signal(SIGPIPE, SIG_IGN)
        var clients: [HTTPClientSettings: HTTPClient] = [:]
        while true {
            switch readFrame(fd, timeout: idle) {
            case .failure(.timedOut), .failure(.closed):
                return 0
            case .failure(let e):
                say("ektpd http-helper: \(e)")
                return 2
            case .success(let payload):
                var r = FrameReader(payload)
                let answer: [UInt8]
                do {
                    switch try r.u8() {
                    case Kind.check:
                        var w = FrameWriter()
                        w.optString(HTTPClient.unavailableHere())
                        answer = w.bytes
                    case Kind.request:
                        let q = try Request.decode(&r)
                        let client: HTTPClient
                        if let c = clients[q.settings] { client = c } else {
                            client = HTTPClient(settings: q.settings, helper: nil)
                            clients[q.settings] = client
                        }
                        answer = Reply(client.request(q.method, q.url, path: q.path, headers: q.headers, body: q.body,
                                                      timeout: .milliseconds(q.timeoutMillis), maxResponse: q.maxResponse)).encode()
                    case let k:
                        throw FrameError.malformed("unknown frame kind \(k)")
                    }
                } catch {
                    say("ektpd http-helper: \(error)")
                    return 2
                }
                if case .failure(let e) = writeFrame(fd, answer) {
                    say("ektpd http-helper: cannot answer: \(e)")
                    return 0
                }
            }
        }
    }

    /// A line on stderr (the journal, under systemd).
    static func say(_ line: String) { writeStandardError(line + "\n") }

    enum Kind {
        static let request: UInt8 = 0x52  // "R"
        static let check: UInt8 = 0x43    // "C"
    }

    // MARK: The client's end

    /// One running helper and the client's end of its socket. Used under the client's lock.
    final class Connection {
        let child: ChildProcess
        let fd: Int32

        init(_ command: Command) throws(NetError) {
            var fds: [Int32] = [0, 0]
            guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0 else {
                throw NetError("cannot start the HTTP helper: socketpair: \(String(cString: strerror(errno)))")
            }
            do {
                child = try ChildProcess(argv: command.argv, executable: command.executable, stdin: fds[1])
            } catch {
                close(fds[0]); close(fds[1])
                throw NetError("cannot start the HTTP helper (\(command.executable)): \(error)")
            }
            close(fds[1])
            fd = fds[0]
            // A thread of its own waits for the helper, so one that exits on its own (idle) is
            // reaped at once, not left a zombie until the client's next use; it is the only
            // caller of waitpid for this child (no pid reused under a kill).
            let child = self.child
            reaper = startThread { _ = child.waitBlocking() }
        }

        /// Whether the waiter thread runs (else this connection reaps the helper itself).
        private var reaper = false

        /// The helper's wait status once it has ended (an idle exit, or a crash between requests).
        var ended: Int32? { reaper ? child.exited : child.tryWait() }

        /// Sends `frame` and reads the answer of at most `maxAnswer` bytes, all within `timeout`.
        func exchange(_ frame: [UInt8], timeout: Duration, maxAnswer: Int = HTTPHelper.maxFrame) -> Result<[UInt8], FrameError> {
            let deadline = monotonicMillis() + Int64(timeout.wholeMilliseconds)
            if case .failure(let e) = writeFrame(fd, frame, deadline: deadline) { return .failure(e) }
            return readFrame(fd, deadline: deadline, max: maxAnswer)
        }

        /// Closes the socket (the helper reads its end and exits) and waits until it has been
        /// reaped: at most a second, then SIGKILL (a helper between requests holds nothing to lose,
        /// and one that stopped answering is stopped). Returns its wait status.
        func end() -> Int32 {
            close(fd)
            for _ in 0..<100 {
                if let s = ended { return s }
                _ = poll(nil, 0, 10)
            }
            child.signal(SIGKILL)
            if !reaper { return child.waitBlocking() }
            while true {
                if let s = ended { return s }
                _ = poll(nil, 0, 5)
            }
        }
    }

    // MARK: Frames

    enum FrameError: Error, CustomStringConvertible {
        case closed, timedOut
        case io(String)
        case malformed(String)
        var description: String {
            switch self {
            case .closed: return "the other end closed the connection"
            case .timedOut: return "no frame in time"
            case .io(let s): return s
            case .malformed(let s): return "malformed frame: \(s)"
            }
        }
    }

    /// Writes one frame; nil `deadline` (a `monotonicMillis` time): as long as it takes.
    static func writeFrame(_ fd: Int32, _ payload: [UInt8], deadline: Int64? = nil) -> Result<Void, FrameError> {
        var frame = [UInt8]()
        frame.reserveCapacity(payload.count + 4)
        let n = UInt32(payload.count)
        frame += [UInt8(n >> 24), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)]
        frame += payload
        var sent = 0
        while sent < frame.count {
            let r = frame.withUnsafeBytes { send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
            if r < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK {
                    // The other end is not reading yet: wait for room, until the deadline.
                    var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                    let left = deadline.map { $0 - monotonicMillis() } ?? -1
                    if deadline != nil && left <= 0 { return .failure(.timedOut) }
                    if poll(&p, 1, Int32(clamping: left)) == 0 { return .failure(.timedOut) }
                    continue
                }
                return .failure(errno == EPIPE || errno == ECONNRESET ? .closed : .io("send: \(String(cString: strerror(errno)))"))
            }
            sent += r
        }
        return .success(())
    }

    /// Reads one frame of at most `max` bytes, waiting until `deadline` (a `monotonicMillis` time).
    static func readFrame(_ fd: Int32, timeout: Duration, max: Int = maxFrame) -> Result<[UInt8], FrameError> {
        readFrame(fd, deadline: monotonicMillis() + Int64(timeout.wholeMilliseconds), max: max)
    }

    static func readFrame(_ fd: Int32, deadline: Int64, max: Int) -> Result<[UInt8], FrameError> {
        func readExactly(_ count: Int, first: Bool) -> Result<[UInt8], FrameError> {
            var out = [UInt8](repeating: 0, count: count)
            var got = 0
            while got < count {
                var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                let left = deadline - monotonicMillis()
                if left <= 0 { return .failure(.timedOut) }
                let pr = poll(&p, 1, Int32(min(left, Int64(Int32.max))))
                if pr < 0 { if errno == EINTR { continue }; return .failure(.io("poll: \(String(cString: strerror(errno)))")) }
                if pr == 0 { return .failure(.timedOut) }
                let r = out.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + got, count - got) }
                if r < 0 {
                    if errno == EINTR || errno == EAGAIN { continue }
                    return .failure(errno == ECONNRESET ? .closed : .io("read: \(String(cString: strerror(errno)))"))
                }
                if r == 0 { return .failure(first && got == 0 ? .closed : .malformed("cut short after \(got) of \(count) bytes")) }
                got += r
            }
            return .success(out)
        }
        let head: [UInt8]
        switch readExactly(4, first: true) { case .success(let h): head = h; case .failure(let e): return .failure(e) }
        let n = Int(head[0]) << 24 | Int(head[1]) << 16 | Int(head[2]) << 8 | Int(head[3])
        guard n <= max else { return .failure(.malformed("\(n) bytes, more than \(max)")) }
        return readExactly(n, first: false)
    }

    /// One request as it crosses to the helper.
    struct Request {
        var settings: HTTPClientSettings
        var method: String
        var url: HTTPURL
        var path: String
        var headers: [(String, String)]
        var body: [UInt8]
        var timeoutMillis: Int
        var maxResponse: Int

        func encode() -> [UInt8] {
            var w = FrameWriter()
            w.u8(Kind.request)
            w.optString(settings.caFile)
            w.optString(settings.pinnedPublicKey)
            w.optString(settings.clientCert)
            w.optString(settings.clientKey)
            w.optString(settings.proxy)
            w.u8(settings.gzip ? 1 : 0)
            w.string(settings.section)
            w.string(method)
            w.string(url.scheme)
            w.string(url.host)
            w.int(Int(url.port))
            w.string(url.prefix)
            w.string(path)
            w.int(headers.count)
            for (k, v) in headers { w.string(k); w.string(v) }
            w.int(timeoutMillis)
            w.int(maxResponse)
            w.blob(body)
            return w.bytes
        }

        /// After the kind byte.
        static func decode(_ r: inout FrameReader) throws(FrameError) -> Request {
            var s = HTTPClientSettings(section: "")
            s.caFile = try r.optString()
            s.pinnedPublicKey = try r.optString()
            s.clientCert = try r.optString()
            s.clientKey = try r.optString()
            s.proxy = try r.optString()
            s.gzip = try r.u8() != 0
            s.section = try r.string()
            let method = try r.string()
            let scheme = try r.string(), host = try r.string()
            let port = try r.int()
            guard (0...65535).contains(port) else { throw .malformed("port \(port)") }
            let prefix = try r.string()
            let path = try r.string()
            let count = try r.int()
            guard (0...1000).contains(count) else { throw .malformed("\(count) headers") }
            var headers: [(String, String)] = []
            for _ in 0..<count { headers.append((try r.string(), try r.string())) }
            let timeout = try r.int(), maxResponse = try r.int()
            guard timeout >= 0, maxResponse >= 0 else { throw .malformed("negative timeout or size") }
            let body = try r.blob()
            return Request(settings: s, method: method, url: HTTPURL(scheme: scheme, host: host, port: UInt16(port), prefix: prefix),
                           path: path, headers: headers, body: body, timeoutMillis: timeout, maxResponse: maxResponse)
        }
    }

    /// A request's outcome as it crosses back.
    struct Reply {
        var result: Result<HTTPExchange, NetError>
        init(_ result: Result<HTTPExchange, NetError>) { self.result = result }

        func encode() -> [UInt8] {
            var w = FrameWriter()
            switch result {
            case .success(let x):
                w.u8(0)
                w.int(x.status)
                w.int(Int(x.uploaded))
                w.u8(x.newConnection ? 1 : 0)
                w.int(x.retryAfter ?? -1)
                w.blob(x.body)
            case .failure(let e):
                w.u8(1)
                w.string(e.description)
            }
            return w.bytes
        }

        /// Checks what the helper says as the daemon's own client would have (the helper parses
        /// what the network sent: a status outside 100-599, a Retry-After past a day or a body past
        /// `maxResponse` is a malformed frame, never a value the daemon computes with).
        static func decode(_ payload: [UInt8], maxResponse: Int) throws(FrameError) -> Reply {
            var r = FrameReader(payload)
            switch try r.u8() {
            case 0:
                let status = try r.int(), uploaded = try r.int()
                let fresh = try r.u8() != 0
                let retry = try r.int()
                let body = try r.blob()
                guard (100...599).contains(status) else { throw .malformed("HTTP status \(status)") }
                guard uploaded >= 0, retry == -1 || (0...86_400).contains(retry) else { throw .malformed("uploaded \(uploaded), Retry-After \(retry)") }
                guard body.count <= maxResponse else { throw .malformed("a body of \(body.count) bytes, more than \(maxResponse)") }
                return Reply(.success(HTTPExchange(status: status, body: body, uploaded: Int64(uploaded), newConnection: fresh,
                                                   retryAfter: retry >= 0 ? retry : nil)))
            case 1:
                return Reply(.failure(NetError(try r.string())))
            case let t:
                throw .malformed("unknown reply \(t)")
            }
        }
    }
}

/// Writes a frame's fields: integers as 8 bytes big-endian, strings and blobs with a 4-byte length.
struct FrameWriter {
    var bytes: [UInt8] = []
    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func int(_ v: Int) {
        let u = UInt64(bitPattern: Int64(v))
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: u >> UInt64(shift))) }
    }
    mutating func blob(_ b: [UInt8]) {
        let n = UInt32(b.count)
        bytes += [UInt8(n >> 24), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)]
        bytes += b
    }
    mutating func string(_ s: String) { blob(Array(s.utf8)) }
    mutating func optString(_ s: String?) {
        if let s { u8(1); string(s) } else { u8(0) }
    }
}

/// Reads what `FrameWriter` wrote; a field past the end is a malformed frame.
struct FrameReader {
    let bytes: [UInt8]
    var at = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }
    mutating func take(_ n: Int) throws(HTTPHelper.FrameError) -> ArraySlice<UInt8> {
        guard n >= 0, bytes.count - at >= n else { throw .malformed("a field at byte \(at) runs past the end (\(bytes.count) bytes)") }
        defer { at += n }
        return bytes[at..<at + n]
    }
    mutating func u8() throws(HTTPHelper.FrameError) -> UInt8 { try take(1).first! }
    mutating func int() throws(HTTPHelper.FrameError) -> Int {
        var u: UInt64 = 0
        for b in try take(8) { u = u << 8 | UInt64(b) }
        return Int(Int64(bitPattern: u))
    }
    mutating func blob() throws(HTTPHelper.FrameError) -> [UInt8] {
        var n = 0
        for b in try take(4) { n = n << 8 | Int(b) }
        return Array(try take(n))
    }
    mutating func string() throws(HTTPHelper.FrameError) -> String { String(decoding: try blob(), as: UTF8.self) }
    mutating func optString() throws(HTTPHelper.FrameError) -> String? { try u8() == 0 ? nil : try string() }
}
