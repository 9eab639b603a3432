#if canImport(Glibc)
import Glibc
#endif
import CEKTPSys
import EKTPModel
import Synchronization

/// A problem setting up the control socket, saying what to do.
public struct ControlSocketError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ d: String) { description = d }
}

/// HTTP/1.1 over a Unix socket, so `curl --unix-socket` works and the daemon needs no HTTP stack.
///
/// One thread, woken by poll(2) on the listening socket, a wake pipe and every open connection: no
/// busy polling, and an idle daemon uses no CPU here. Connections are served **at once**, each with
/// its own deadline (`readLimitMillis` to send the request, the same to take the answer): a client
/// that connects and sends nothing, or reads slowly, never delays another (issue 12; field case 11
/// and hardening r8: six idle clients made `ektpd status` fail). At most `maxConnections` are open;
/// past that the one idle longest is closed. One `Connection: close` request per connection.
/// Handlers answer from memory and run on this thread.
public final class ControlServer: Sendable {
    public typealias Handler = @Sendable (ControlRequest) -> ControlResponse

    /// The Unix socket's path (nil when listening on TCP).
    public var path: String { unixPath ?? "" }
    private let unixPath: String?
    private let listenFD: Int32
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let handler: Handler
    enum ThreadState { case idle, starting, running(pthread_t), stopped }
    private let thread = Mutex<ThreadState>(.idle)

    static let maxHead = 16 * 1024
    static let maxBody = 64 * 1024

    /// Binds the socket (replacing a stale one left by a crash, refusing if a daemon is listening).
    public convenience init(path: String, group: String?, handler: @escaping Handler) throws(ControlSocketError) {
        guard path.utf8.count < 108 else { throw ControlSocketError("socket path \(path) is too long (Unix sockets allow 107 bytes)") }
        try ControlServer.prepareDirectory(of: path)
        try ControlServer.removeStale(path)
        // Non-blocking: poll(2) may report a connection that is gone by the time accept runs, and a
        // blocking accept would then hang the thread (and shutdown, which joins it).
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw ControlSocketError("cannot create a Unix socket: \(errnoText())") }
        var addr = unixAddress(path)
        let old = umask(0o117)  // the socket is created 0660
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        umask(old)
        guard bound == 0 else {
            let e = errnoText()
            close(fd)
            throw ControlSocketError("cannot bind the control socket at \(path): \(e)")
        }
        if let group {
            guard let gr = getgrnam(group) else {
                close(fd)
                unlink(path)
                throw ControlSocketError("control.group '\(group)' does not exist: create it (groupadd --system \(group)) or remove the setting")
            }
            if chown(path, uid_t.max, gr.pointee.gr_gid) != 0 {
                let e = errnoText()
                close(fd)
                unlink(path)
                throw ControlSocketError("cannot give \(path) to group \(group): \(e)")
            }
        }
        guard listen(fd, 64) == 0 else {
            let e = errnoText()
            close(fd)
            throw ControlSocketError("cannot listen on \(path): \(e)")
        }
        try self.init(listening: fd, path: path, handler: handler)
    }

    /// Listens on TCP (for Prometheus: the handler should serve /metrics only). Port 0 picks a free
    /// one (see `port`). No peer credentials on TCP: root-only actions are refused.
    public convenience init(host: String, port: UInt16, handler: @escaping Handler) throws(ControlSocketError) {
        let fd: Int32
        switch tcpListen(host: host, port: port) {
        case .success(let f): fd = f
        case .failure(let e): throw ControlSocketError("cannot listen on \(host):\(port) for metrics: \(e.description)")
        }
        try self.init(listening: fd, path: nil, handler: handler)
    }

    private init(listening fd: Int32, path: String?, handler: @escaping Handler) throws(ControlSocketError) {
        var fds: [Int32] = [0, 0]
        guard ektp_pipe_cloexec(&fds) == 0 else {
            close(fd)
            throw ControlSocketError("cannot create a pipe: \(errnoText())")
        }
        self.unixPath = path
        self.handler = handler
        listenFD = fd
        wakeRead = fds[0]
        wakeWrite = fds[1]
    }

    /// The TCP port listened on (nil for the Unix socket).
    public var port: UInt16? {
        guard unixPath == nil else { return nil }
        var addr = sockaddr_in6()
        var len = socklen_t(MemoryLayout<sockaddr_in6>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listenFD, $0, &len) } }
        guard ok == 0 else { return nil }
        return UInt16(bigEndian: addr.sin6_port)  // sin_port sits at the same offset in sockaddr_in
    }

    /// Starts serving on a thread of its own. Idempotent: a second call does nothing (hardening r9:
    /// two threads once served one socket and shutdown joined only one).
    public func start() {
        let first = thread.withLock { t -> Bool in
            guard case .idle = t else { return false }
            t = .starting
            return true
        }
        guard first else { return }
        let box = Unmanaged.passRetained(self)
        var tid = pthread_t()
        let rc = pthread_create(&tid, nil, { arg in
            let server = Unmanaged<ControlServer>.fromOpaque(arg!).takeRetainedValue()
            server.serve()
            return nil
        }, box.toOpaque())
        if rc == 0 { thread.withLock { $0 = .running(tid) } } else { box.release(); thread.withLock { $0 = .idle } }
    }

    /// Stops serving, waits for the thread, closes every connection, removes the socket file.
    /// Idempotent.
    public func stop() {
        let was = thread.withLock { t -> ThreadState in defer { t = .stopped }; return t }
        if case .stopped = was { return }
        var one: UInt8 = 1
        _ = write(wakeWrite, &one, 1)
        if case .running(let tid) = was { pthread_join(tid, nil) }
        close(listenFD)
        close(wakeRead)
        close(wakeWrite)
        if let unixPath { unlink(unixPath) }
    }

    /// Connections open at most; past it the one idle longest is closed.
    static let maxConnections = 512
    /// Connections accepted in one round of the loop, at most.
    static let acceptBurst = 32
    /// A client has this long to send its request, and again to take the answer.
    static let readLimitMillis: Int64 = 2000

    /// One connection's progress.
    final class Connection {
        let fd: Int32
        let uid: UInt32
        var deadline: Int64
        var input: [UInt8] = []
        var output: [UInt8] = []
        var written = 0
        var answering: Bool { !output.isEmpty }
        init(fd: Int32, uid: UInt32, deadline: Int64) {
            self.fd = fd
            self.uid = uid
            self.deadline = deadline
        }
    }

    private func serve() {
        _ = ektp_set_thread_name(unixPath != nil ? "ektpd-control" : "ektpd-metrics")
        var connections: [Connection] = []
        defer { for c in connections { close(c.fd) } }
        while true {
            var fds = [pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0), pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
            for c in connections { fds.append(pollfd(fd: c.fd, events: Int16(c.answering ? POLLOUT : POLLIN), revents: 0)) }
            let t0 = monotonicMillis()
            let soonest = connections.map(\.deadline).min()
            let timeout = soonest.map { Int32(clamping: max(0, $0 - t0)) } ?? -1
            let n = poll(&fds, nfds_t(fds.count), timeout)
            if n < 0 && errno != EINTR { return }
            if fds[1].revents != 0 { return }
            let t = monotonicMillis()
            var keep: [Connection] = []
            keep.reserveCapacity(connections.count)
            for (i, c) in connections.enumerated() {
                let ev = n > 0 ? fds[i + 2].revents : 0
                if step(c, events: ev, now: t) { keep.append(c) } else { close(c.fd) }
            }
            connections = keep
            if n > 0, fds[0].revents & Int16(POLLIN) != 0 {
                // Accept what is queued, at most `acceptBurst` a round: under a stream of clients the
                // loop must come back to poll (and see the stop pipe: r9, SIGTERM under load).
                var accepted = 0
                while accepted < ControlServer.acceptBurst, case let fd = ektp_accept_cloexec(listenFD), fd >= 0 {
                    accepted += 1
                    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
                    var cred = PeerCredentials()
                    var len = socklen_t(MemoryLayout<PeerCredentials>.size)
                    let uid: UInt32 = unixPath != nil && getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 ? cred.uid : UInt32.max
                    if connections.count >= ControlServer.maxConnections {
                        // Close the one that has waited longest without finishing its request.
                        let victim = connections.indices.filter { !connections[$0].answering }.min { connections[$0].deadline < connections[$1].deadline } ?? 0
                        close(connections[victim].fd)
                        connections.remove(at: victim)
                    }
                    let c = Connection(fd: fd, uid: uid, deadline: t + ControlServer.readLimitMillis)
                    // A request is often already there: read it now rather than after another poll.
                    if step(c, events: Int16(POLLIN), now: t) { connections.append(c) } else { close(fd) }
                }
            }
        }
    }

    /// Advances one connection; false when it is finished (to be closed).
    private func step(_ c: Connection, events: Int16, now t: Int64) -> Bool {
        if c.answering {
            if events & Int16(POLLOUT | POLLERR | POLLHUP) != 0 {
                while c.written < c.output.count {
                    let k = c.output.withUnsafeBytes { Glibc.send(c.fd, $0.baseAddress! + c.written, c.output.count - c.written, Int32(MSG_NOSIGNAL)) }
                    if k > 0 { c.written += k; continue }
                    if k < 0 && errno == EINTR { continue }
                    if k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { break }
                    return false
                }
                if c.written >= c.output.count { return false }
            }
            return t < c.deadline
        }
        if events & Int16(POLLIN | POLLERR | POLLHUP) != 0 {
            var chunk = [UInt8](repeating: 0, count: 8192)
            var ended = false
            while true {
                let got = chunk.withUnsafeMutableBytes { read(c.fd, $0.baseAddress, 8192) }
                if got > 0 {
                    c.input.append(contentsOf: chunk[0..<got])
                    if c.input.count > ControlServer.maxHead + ControlServer.maxBody + 8 { break }
                    continue
                }
                if got < 0 && errno == EINTR { continue }
                if got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { break }
                ended = true  // EOF (the client shut its side) or an error
                break
            }
            if let response = parse(c) {
                answer(c, response, now: t)
                return step(c, events: Int16(POLLOUT), now: t)
            }
            // Ended before a whole request: nothing to answer.
            if ended { return false }
        }
        if t >= c.deadline {
            if c.input.isEmpty { return false }
            answer(c, .error(408, "request not complete within \(ControlServer.readLimitMillis / 1000) s"), now: t)
            return step(c, events: Int16(POLLOUT), now: t)
        }
        return true
    }

    /// The answer once the request is whole (or wrong); nil while more is to come.
    private func parse(_ c: Connection) -> ControlResponse? {
        guard let headEnd = findHeadEnd(c.input) else {
            if c.input.count > ControlServer.maxHead { return .error(431, "request head larger than \(ControlServer.maxHead) bytes") }
            // Bare LF line ends: say so now rather than time out (HTTP/1.1 lines end in CRLF).
            if c.input.count >= 2, zip(c.input, c.input.dropFirst()).contains(where: { $0 == 10 && $1 == 10 }) {
                return .error(400, "request lines must end in CRLF (\\r\\n), not a bare LF")
            }
            return nil
        }
        let parsed: (method: String, target: String, headers: [String: String])
        switch RequestHead.parse(Array(c.input[0..<headEnd])) {
        case .success(let p): parsed = p
        case .failure(let f): return .error(400, f.message)
        }
        var expected = 0
        if let cl = parsed.headers["content-length"] {
            guard let n = Int(cl), n >= 0 else { return .error(400, "bad Content-Length '\(cl)'") }
            guard n <= ControlServer.maxBody else { return .error(413, "body of \(n) bytes is larger than \(ControlServer.maxBody)") }
            expected = n
        } else if parsed.headers["transfer-encoding"] != nil {
            return .error(400, "chunked bodies are not supported: send Content-Length")
        }
        let have = c.input.count - (headEnd + 4)
        guard have >= expected else { return nil }
        let body = Array(c.input[(headEnd + 4)..<(headEnd + 4 + expected)])
        let (path, query) = splitTarget(parsed.target)
        return handler(ControlRequest(method: parsed.method, path: path, query: query, headers: parsed.headers, body: body, peerUID: c.uid))
    }

    private func answer(_ c: Connection, _ r: ControlResponse, now t: Int64) {
        var head = "HTTP/1.1 \(r.status) \(ControlResponse.reason(r.status))\r\nContent-Type: \(r.contentType)\r\nContent-Length: \(r.body.count)\r\n"
        for h in r.headers { head += "\(h.name): \(h.value)\r\n" }
        head += "Connection: close\r\n\r\n"
        c.output = Array(head.utf8) + r.body
        c.input = []
        c.deadline = t + ControlServer.readLimitMillis
    }

    /// Creates a directory and its missing parents (`mkdir -p`), for the daemon's state.
    public static func prepareDirectoryOrFail(_ dir: String) throws(StartupError) {
        if let why = makeDirectories(dir, mode: 0o750) {
            throw StartupError("cannot create the state directory \(dir): \(why) (set state_directory, or run under systemd's StateDirectory=)")
        }
    }

    static func prepareDirectory(of path: String) throws(ControlSocketError) {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return }
        let dir = String(path[..<slash])
        if let why = makeDirectories(dir, mode: 0o755) {
            throw ControlSocketError("cannot create \(dir) for the control socket: \(why)")
        }
    }

    /// `mkdir -p`: nil on success, else why not.
    static func makeDirectories(_ dir: String, mode: mode_t) -> String? {
        var st = stat()
        if stat(dir, &st) == 0 { return (st.st_mode & S_IFMT) == S_IFDIR ? nil : "it exists and is not a directory" }
        var path = ""
        for part in dir.split(separator: "/", omittingEmptySubsequences: true) {
            path += "/" + part
            if mkdir(path, mode) != 0 && errno != EEXIST { return errnoText() }
        }
        return nil
    }

    static func removeStale(_ path: String) throws(ControlSocketError) {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        guard (st.st_mode & S_IFMT) == S_IFSOCK else {
            throw ControlSocketError("\(path) exists and is not a socket: remove it or choose another control.socket")
        }
        if (try? ControlClient(socketPath: path, timeoutMillis: 500).request("GET", "/v1/ping")) != nil {
            throw ControlSocketError("another ektpd is already listening on \(path): stop it first, or give this one another control.socket")
        }
        unlink(path)
    }
}

func findHeadEnd(_ b: [UInt8]) -> Int? {
    guard b.count >= 4 else { return nil }
    for i in 0...(b.count - 4) where b[i] == 13 && b[i + 1] == 10 && b[i + 2] == 13 && b[i + 3] == 10 { return i }
    return nil
}

/// Reads what is available before the deadline; false on EOF, error or timeout.
func readSome(_ fd: Int32, into buffer: inout [UInt8], deadline: Int64) -> Bool {
    var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
    while true {
        let left = deadline - monotonicMillis()
        if left <= 0 { return false }
        let n = poll(&p, 1, Int32(left))
        if n < 0 { if errno == EINTR { continue }; return false }
        if n == 0 { return false }
        var chunk = [UInt8](repeating: 0, count: 8192)
        let got = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, 8192) }
        if got < 0 { if errno == EINTR || errno == EAGAIN { continue }; return false }
        if got == 0 { return false }
        buffer.append(contentsOf: chunk[0..<got])
        return true
    }
}

func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
    var off = 0
    while off < bytes.count {
        let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + off, bytes.count - off, Int32(MSG_NOSIGNAL)) }
        if n < 0 { if errno == EINTR { continue }; return }
        off += n
    }
}

func unixAddress(_ path: String) -> sockaddr_un {
    var addr = sockaddr_un()
    addr.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &addr.sun_path) { raw in
        let bytes = Array(path.utf8.prefix(107))
        for (i, b) in bytes.enumerated() { raw[i] = b }
        raw[bytes.count] = 0
    }
    return addr
}


public func errnoText() -> String { String(cString: strerror(errno)) }

/// `struct ucred` from <sys/socket.h> (hidden from Swift without _GNU_SOURCE): pid, uid, gid.
struct PeerCredentials {
    var pid: Int32 = 0
    var uid: UInt32 = .max
    var gid: UInt32 = .max
}
