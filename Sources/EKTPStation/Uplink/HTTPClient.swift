#if canImport(Glibc)
import Glibc
#endif
import EKTPModel

/// One plain HTTP/1.0 request over TCP with a deadline for the whole exchange: what the daemon
/// needs to probe a local server and to deliver reports, with no HTTP library in the daemon.
public struct HTTPExchange: Sendable {
    public var status: Int
    public var body: [UInt8]
}

public func httpRequest(method: String, host: String, port: UInt16, path: String, headers: [(String, String)] = [],
                        body: [UInt8] = [], timeout: Duration, maxResponse: Int = 1 << 20) -> Result<HTTPExchange, NetError> {
    let url = "http://\(host):\(port)\(path)"
    let fd: Int32
    switch tcpConnect(host: host, port: port, timeout: timeout) {
    case .success(let f): fd = f
    case .failure(let e): return .failure(e)
    }
    defer { close(fd) }
    // The answer gets at least a second (as the liveness probe always had), whatever the timeout.
    let deadline = monotonicMillis() + max(1000, timeout.wholeMilliseconds)
    var head = "\(method) \(path) HTTP/1.0\r\nHost: \(host)\r\nUser-Agent: ektpd/\(ektpVersion)\r\nConnection: close\r\n"
    for (k, v) in headers { head += "\(k): \(v)\r\n" }
    if !body.isEmpty || method == "POST" || method == "PUT" { head += "Content-Length: \(body.count)\r\n" }
    head += "\r\n"
    let sent = sendAll(fd, Array(head.utf8), deadline: deadline) && sendAll(fd, body, deadline: deadline)
    let sendError = sent ? "" : String(cString: strerror(errno))
    // Read the answer even when sending failed: a server may refuse (413) before taking the whole body.
    var buf: [UInt8] = []
    while buf.count < maxResponse && readSome(fd, into: &buf, deadline: sent ? deadline : min(deadline, monotonicMillis() + 2000)) {}
    if !sent && findHeadEnd(buf) == nil {
        return .failure(NetError("\(url): the connection failed while sending (\(sendError))"))
    }
    guard let end = findHeadEnd(buf) else {
        if monotonicMillis() >= deadline { return .failure(NetError("\(url) sent no answer within \(spokenDuration(timeout))")) }
        return .failure(NetError(buf.isEmpty ? "\(url) closed the connection without answering" : "\(url) did not answer HTTP"))
    }
    let line = String(decoding: buf[0..<end], as: UTF8.self).split(separator: "\r\n").first ?? ""
    let parts = line.split(separator: " ")
    guard parts.count >= 2, parts[0].hasPrefix("HTTP/"), let status = Int(parts[1]) else {
        return .failure(NetError("\(url) did not answer HTTP"))
    }
    return .success(HTTPExchange(status: status, body: end + 4 <= buf.count ? Array(buf[(end + 4)...]) : []))
}

/// Writes everything to a non-blocking socket, waiting for room until the deadline. Stops early
/// (false) when the peer answers before taking everything: a server refusing a body (413).
func sendAll(_ fd: Int32, _ bytes: [UInt8], deadline: Int64) -> Bool {
    var off = 0
    while off < bytes.count {
        let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + off, bytes.count - off, Int32(MSG_NOSIGNAL)) }
        if n >= 0 { off += n; continue }
        if errno == EINTR { continue }
        guard errno == EAGAIN || errno == EWOULDBLOCK else { return false }
        let left = deadline - monotonicMillis()
        if left <= 0 { return false }
        var p = pollfd(fd: fd, events: Int16(POLLOUT | POLLIN), revents: 0)
        _ = poll(&p, 1, Int32(left))
        if p.revents & Int16(POLLIN) != 0 { errno = EPIPE; return false }
    }
    return true
}

/// An `http://HOST:PORT/PREFIX` URL split up (the registry's address in ektpd.yaml).
public struct PlainHTTPURL: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: UInt16
    public var prefix: String

    public init?(_ s: String) {
        guard s.hasPrefix("http://") else { return nil }
        let rest = s.dropFirst("http://".count)
        let hostport = rest.prefix { $0 != "/" }
        var p = String(rest.dropFirst(hostport.count))
        while p.hasSuffix("/") { p.removeLast() }
        prefix = p
        if hostport.hasPrefix("[") {
            guard let close = hostport.firstIndex(of: "]") else { return nil }
            host = String(hostport[hostport.index(after: hostport.startIndex)..<close])
            let after = hostport[hostport.index(after: close)...]
            if after.isEmpty { port = 80 } else {
                guard after.hasPrefix(":"), let v = UInt16(after.dropFirst()) else { return nil }
                port = v
            }
        } else if let c = hostport.lastIndex(of: ":") {
            host = String(hostport[..<c])
            guard let v = UInt16(hostport[hostport.index(after: c)...]) else { return nil }
            port = v
        } else {
            host = String(hostport)
            port = 80
        }
        if host.isEmpty { return nil }
    }

    public var description: String { "http://\(host.contains(":") ? "[\(host)]" : host):\(port)\(prefix)" }
}
