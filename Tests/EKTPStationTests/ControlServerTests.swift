import EKTPModel
@testable import EKTPPlatform
import Foundation
import Glibc
import EKTPTesting
import Testing
@testable import EKTPStation
@testable import EKTPCore

/// The control socket over a real Unix socket, as `curl --unix-socket` and `ektpd status` use it.
@Suite struct ControlServerTests {
    func withServer(_ body: (String) throws -> Void) throws {
        let dir = TempDir()
        let path = dir.path + "/control.sock"
        let server = try ControlServer(path: path, group: nil) { r in
            switch r.path {
            case "/v1/ping": return .json(["ok": true])
            case "/echo": return ControlResponse(status: 200, contentType: "text/plain", body: r.body)
            case "/uid": return .json(["uid": Int(r.peerUID)])
            default: return .error(404, "no such endpoint: \(r.path)")
            }
        }
        server.start()
        defer { server.stop() }
        try body(path)
    }

    /// Sends raw bytes and returns the raw answer.
    func raw(_ path: String, _ bytes: [UInt8]) throws -> String {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        defer { close(fd) }
        var addr = unixAddress(path)
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        try #require(rc == 0)
        writeAll(fd, bytes)
        shutdown(fd, Int32(SHUT_WR))
        var out: [UInt8] = []
        while readSome(fd, into: &out, deadline: monotonicMillis() + 3000) {}
        return String(decoding: out, as: UTF8.self)
    }

    @Test func answersRequestsAndReportsThePeerUID() throws {
        try withServer { path in
            let c = ControlClient(socketPath: path)
            let r = try c.request("GET", "/v1/ping")
            #expect(r.status == 200)
            #expect(String(decoding: r.body, as: UTF8.self).contains("\"ok\" : true"))
            let echo = try c.request("POST", "/echo", body: Array("hello".utf8))
            #expect(String(decoding: echo.body, as: UTF8.self) == "hello")
            let uid = try c.request("GET", "/uid")
            #expect(String(decoding: uid.body, as: UTF8.self).contains("\"uid\" : \(getuid())"))
            #expect(try c.request("GET", "/nope").status == 404)
        }
    }

    @Test func malformedAndOversizedRequestsGetA4xxAndTheServerKeepsServing() throws {
        try withServer { path in
            #expect(try raw(path, Array("garbage\r\n\r\n".utf8)).hasPrefix("HTTP/1.1 400"))
            #expect(try raw(path, Array("GET /v1/ping HTTP/1.1\r\nContent-Length: 999999\r\n\r\n".utf8)).hasPrefix("HTTP/1.1 413"))
            #expect(try raw(path, Array("GET /v1/ping HTTP/1.1\r\nContent-Length: -3\r\n\r\n".utf8)).hasPrefix("HTTP/1.1 400"))
            #expect(try raw(path, Array("GET /v1/ping HTTP/1.1\r\nX: \(String(repeating: "a", count: 20000))".utf8)).hasPrefix("HTTP/1.1 431"))
            #expect(try raw(path, Array("GET /v1/ping HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)).hasPrefix("HTTP/1.1 400"))
            // a client that sends half a request and goes away
            _ = try raw(path, Array("GET /v1/pi".utf8))
            #expect(try ControlClient(socketPath: path).request("GET", "/v1/ping").status == 200)
        }
    }

    @Test func replacesAStaleSocketButRefusesWhenADaemonListens() throws {
        let dir = TempDir()
        let path = dir.path + "/control.sock"
        // a stale socket file, as a crash leaves it
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var addr = unixAddress(path)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        close(fd)
        let first = try ControlServer(path: path, group: nil) { _ in .json(["ok": true]) }
        first.start()
        defer { first.stop() }
        do {
            _ = try ControlServer(path: path, group: nil) { _ in .json(["ok": true]) }
            Issue.record("a second server took the socket")
        } catch {
            #expect(error.description.contains("another ektpd is already listening on \(path)"))
        }
        #expect(try ControlClient(socketPath: path).request("GET", "/v1/ping").status == 200)
    }

    @Test func refusesAPathThatIsNotASocket() throws {
        let dir = TempDir()
        let path = dir.write("control.sock", "not a socket")
        #expect(throws: ControlSocketError.self) { try ControlServer(path: path, group: nil) { _ in .json(["ok": true]) } }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "not a socket")
    }

    @Test func clientNamesTheSocketWhenNoDaemonRuns() {
        do {
            _ = try ControlClient(socketPath: "/nonexistent/control.sock").request("GET", "/v1/status")
            Issue.record("reached a daemon that does not exist")
        } catch {
            #expect(error.description.contains("/nonexistent/control.sock"))
            #expect(error.description.contains("is ektpd running"))
        }
    }
}

@Suite struct SystemdNotifierTests {
    @Test func sendsDatagramsToNotifySocket() throws {
        let dir = TempDir()
        let path = dir.path + "/notify"
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var addr = unixAddress(path)
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        try #require(rc == 0)
        let n = SystemdNotifier(environment: ["NOTIFY_SOCKET": path, "WATCHDOG_USEC": "20000000"])
        #expect(n.watchdogInterval == .seconds(10))
        #expect(n.notify(["READY": "1", "STATUS": "kit ready\nsecond line"]))
        var buf = [UInt8](repeating: 0, count: 512)
        let got = recv(fd, &buf, 512, 0)
        #expect(String(decoding: buf[0..<max(0, got)], as: UTF8.self) == "READY=1\nSTATUS=kit ready second line")
        #expect(!SystemdNotifier(environment: [:]).notify(["READY": "1"]))
    }
}

/// Regression: the control thread once blocked in accept(2) on a blocking listening socket after a
/// client connected and left, and SIGTERM then hung in the join. Clients that come and go at once
/// must not stop the server from serving or from stopping.
@Suite struct ControlServerShutdownRegression {
    @Test func clientsThatLeaveAtOnceDoNotBlockServingOrShutdown() throws {
        let dir = TempDir()
        let path = dir.path + "/control.sock"
        let server = try ControlServer(path: path, group: nil) { _ in .json(["ok": true]) }
        server.start()
        for _ in 0..<200 {
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            var addr = unixAddress(path)
            _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
            var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
            close(fd)
        }
        #expect(try ControlClient(socketPath: path).request("GET", "/v1/ping").status == 200)
        // stop() joins the thread: it must return.
        let stopped = DispatchSemaphore(value: 0)
        Thread.detachNewThread { server.stop(); stopped.signal() }
        #expect(stopped.wait(timeout: .now() + 10) == .success, "stop() did not return")
        #expect(!FileManager.default.fileExists(atPath: path))
    }
}

/// Requests a careless or hostile client sends get a prompt 400 that says why (found by a helper).
@Suite struct ControlServerRefusalTests {
    @Test func conflictingLengthsAndBareLFAreRefusedAtOnce() throws {
        let dir = TempDir()
        let path = dir.path + "/control.sock"
        let server = try ControlServer(path: path, group: nil) { _ in .json(["ok": true]) }
        server.start()
        defer { server.stop() }
        let tests = ControlServerTests()
        let t0 = monotonicMillis()
        let twoLengths = try tests.raw(path, Array("POST /v1/stock HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 30\r\n\r\n{}".utf8))
        #expect(twoLengths.hasPrefix("HTTP/1.1 400") && twoLengths.contains("two different Content-Length"), "\(twoLengths)")
        let bareLF = try tests.raw(path, Array("GET /v1/status HTTP/1.1\nHost: x\n\n".utf8))
        #expect(bareLF.hasPrefix("HTTP/1.1 400") && bareLF.contains("CRLF"), "\(bareLF)")
        #expect(monotonicMillis() - t0 < 1500, "answered before the 2 s deadline")
    }
}

/// Issue 12: many clients at once, each on its own deadline; started once, stopped cleanly.
@Suite struct ControlServerConcurrencyTests {
    func connectIdle(_ path: String) -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var addr = unixAddress(path)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        return fd
    }

    /// Threads named ektpd-control in this process (the server names its thread).
    func threadCount() -> Int {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.filter { t in
            (try? String(contentsOfFile: "/proc/self/task/\(t)/comm", encoding: .utf8))?.hasPrefix("ektpd-control") == true
        }.count
    }

    @Test func aHundredIdleAndHalfSentRequestsDelayNoOne() throws {
        let dir = TempDir()
        let path = dir.path + "/control.sock"
        let server = try ControlServer(path: path, group: nil) { _ in .json(["ok": true]) }
        server.start()
        defer { server.stop() }
        var idle: [Int32] = []
        defer { for fd in idle { close(fd) } }
        for i in 0..<100 {
            let fd = connectIdle(path)
            // Some send half a request head and stop (slowloris), the rest send nothing.
            if i % 3 == 0 { writeAll(fd, Array("GET /v1/status HTTP/1.1\r\nHost: x\r\n".utf8)) }
            idle.append(fd)
        }
        // Well inside the 2 s an idle client is given: nobody waited behind them.
        for _ in 0..<10 {
            let r = try ControlClient(socketPath: path, timeoutMillis: 1000).request("GET", "/v1/ping")
            #expect(r.status == 200)
        }
        // The half-sent ones are answered 408 at their own deadline, the silent ones closed.
        var buf: [UInt8] = []
        while readSome(idle[0], into: &buf, deadline: monotonicMillis() + 5000) {}
        #expect(String(decoding: buf, as: UTF8.self).hasPrefix("HTTP/1.1 408"))
        var silent: [UInt8] = []
        while readSome(idle[1], into: &silent, deadline: monotonicMillis() + 5000) {}
        #expect(silent.isEmpty)
    }

    @Test func startingTwiceServesOnOneThreadAndStopIsPrompt() throws {
        let dir = TempDir()
        let path = dir.path + "/control.sock"
        let server = try ControlServer(path: path, group: nil) { _ in .json(["ok": true]) }
        let before = threadCount()
        server.start()
        server.start()
        // The thread names itself as it starts: wait for that, then count.
        var named = 0
        for _ in 0..<200 where named == 0 { named = threadCount() - before; if named == 0 { usleep(5000) } }
        #expect(threadCount() == before + 1)
        var idle: [Int32] = []
        for _ in 0..<20 { idle.append(connectIdle(path)) }
        let t0 = monotonicMillis()
        server.stop()
        server.stop()
        #expect(monotonicMillis() - t0 < 1000, "stop waits for no client")
        #expect(threadCount() == before)
        #expect(access(path, F_OK) != 0, "the socket file is removed")
        for fd in idle { close(fd) }
    }
}
