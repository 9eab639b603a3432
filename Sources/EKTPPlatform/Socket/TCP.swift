#if canImport(Glibc)
import Glibc
#endif
import EKTPModel

/// Connects to an IPv4 or IPv6 literal or a name (resolved with getaddrinfo) within `timeout`.
public func tcpConnect(host: String, port: UInt16, timeout: Duration) -> Result<Int32, NetError> {
    let deadline = monotonicMillis() + timeout.wholeMilliseconds
    return eachAddress(host: host, port: port, passive: false) { fd, a in
        if connect(fd, a.ai_addr, a.ai_addrlen) == 0 { return nil }
        if errno != EINPROGRESS { return String(cString: strerror(errno)) }
        var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        let left = max(0, deadline - monotonicMillis())
        if poll(&p, 1, Int32(left)) <= 0 { return "did not accept a connection within \(spokenDuration(timeout))" }
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
        return err == 0 ? nil : String(cString: strerror(err))
    }.mapError { NetError("cannot connect to \(host):\(port): \($0.description)") }
}

/// A non-blocking listening TCP socket on an address literal or name (the first that binds).
public func tcpListen(host: String, port: UInt16) -> Result<Int32, NetError> {
    eachAddress(host: host, port: port, passive: true) { fd, a in
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(4))
        if bind(fd, a.ai_addr, a.ai_addrlen) == 0 && listen(fd, 64) == 0 { return nil }
        return String(cString: strerror(errno))
    }
}

/// Resolves `host` (getaddrinfo) and tries `body` on a fresh non-blocking socket for each address
/// until one works (`body` returns nil, or why not); returns that socket, or the last reason none did.
func eachAddress(host: String, port: UInt16, passive: Bool,
                 _ body: (Int32, addrinfo) -> String?) -> Result<Int32, NetError> {
    var hints = addrinfo()
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    if passive { hints.ai_flags = AI_PASSIVE }
    var res: UnsafeMutablePointer<addrinfo>?
    let gai = getaddrinfo(host, String(port), &hints, &res)
    guard gai == 0, let first = res else { return .failure(NetError("cannot resolve \(host): \(String(cString: gai_strerror(gai)))")) }
    defer { freeaddrinfo(res) }
    var lastError = "no address for \(host)"
    var ai: UnsafeMutablePointer<addrinfo>? = first
    while let a = ai {
        ai = a.pointee.ai_next
        let fd = socket(a.pointee.ai_family, a.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), a.pointee.ai_protocol)
        if fd < 0 { continue }
        guard let why = body(fd, a.pointee) else { return .success(fd) }
        lastError = why
        close(fd)
    }
    return .failure(NetError(lastError))
}
