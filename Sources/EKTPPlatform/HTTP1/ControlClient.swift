#if canImport(Glibc)
import Glibc
#endif
import EKTPModel

/// Why the daemon could not be reached, naming the socket.
public struct ControlClientError: Error, CustomStringConvertible, Sendable {
    public var description: String
}

/// Talks to a running daemon over its control socket (the CLI's half of `ControlServer`).
public struct ControlClient: Sendable {
    public var socketPath: String
    public var timeoutMillis: Int64

    public init(socketPath: String, timeoutMillis: Int64 = 5000) {
        self.socketPath = socketPath
        self.timeoutMillis = timeoutMillis
    }

    /// An answer: the HTTP status, the header fields (names in lower case) and the body.
    public struct Reply: Sendable {
        public var status: Int
        public var headers: [String: String]
        public var body: [UInt8]
    }

    /// Sends one request; returns the status and the body.
    public func request(_ method: String, _ target: String, body: [UInt8] = []) throws(ControlClientError) -> (status: Int, body: [UInt8]) {
        let r = try exchange(method, target, body: body)
        return (r.status, r.body)
    }

    /// Sends one request; returns the whole answer, header fields included.
    /// - Throws: `ControlClientError` naming the socket when it cannot be reached, does not answer
    ///   within `timeoutMillis`, or answers with something that is not an HTTP/1.1 response.
    public func exchange(_ method: String, _ target: String, body: [UInt8] = []) throws(ControlClientError) -> Reply {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ControlClientError(description: "cannot create a socket: \(errnoText())") }
        defer { close(fd) }
        var addr = unixAddress(socketPath)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else {
            let why = errno == ENOENT ? N_("no socket there (is ektpd running? is --socket right?)")
                : errno == EACCES ? N_("permission denied (are you in the socket's group?)")
                : errno == ECONNREFUSED ? N_("connection refused (ektpd is not running; a stale socket file was left)")
                : errnoText()
            throw ControlClientError(description: "cannot reach ektpd at \(socketPath): \(why)")
        }
        var head = "\(method) \(target) HTTP/1.1\r\nHost: ektpd\r\nConnection: close\r\n"
        if !body.isEmpty || method == "POST" { head += "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n" }
        head += "\r\n"
        writeAll(fd, Array(head.utf8) + body)
        let deadline = monotonicMillis() + timeoutMillis
        var buffer: [UInt8] = []
        while readSome(fd, into: &buffer, deadline: deadline) {}
        guard let end = findHeadEnd(buffer) else {
            throw ControlClientError(description: buffer.isEmpty
                ? "ektpd at \(socketPath) did not answer within \(timeoutMillis) ms"
                : "ektpd at \(socketPath) sent a malformed answer")
        }
        let lines = String(decoding: buffer[0..<end], as: UTF8.self).split(separator: "\r\n")
        let parts = (lines.first ?? "").split(separator: " ")
        guard parts.count >= 2, let status = Int(parts[1]) else {
            throw ControlClientError(description: "ektpd at \(socketPath) sent a malformed status line")
        }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = String(line[line.index(after: colon)...].drop { $0 == " " || $0 == "\t" })
        }
        return Reply(status: status, headers: headers, body: Array(buffer[(end + 4)...]))
    }
}
