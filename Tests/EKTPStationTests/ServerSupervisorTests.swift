import EKTPModel
@testable import EKTPPlatform
import Foundation
import Glibc
import Logging
import EKTPTesting
import Testing
@testable import EKTPStation
@testable import EKTPCore




func makeEngine() -> StationEngine {
    StationEngine(stationID: "t", site: Site(province: "P", regency: "R", district: "D"), backendName: "none",
                  profile: KitProfile(requirements: []), policy: HealthPolicy(), now: wallClockNow())
}

func fastPolicy() -> SupervisorPolicy {
    var p = SupervisorPolicy()
    p.failAfter = 2
    p.startGrace = .zero
    p.initialBackoff = .milliseconds(50)
    p.maxBackoff = .milliseconds(400)
    p.crashLoopRestarts = 4
    p.crashLoopWindow = .seconds(60)
    return p
}

@Suite(.serialized) struct ServerSupervisorTests {
    let logger = Logger(label: "test")

    @Test func restartsACrashingServerThenEscalatesTheCrashLoop() async throws {
        let engine = makeEngine()
        var config = ServerConfig(name: "recording server", mode: .command(["/bin/sh", "-c", "exit 3"]), probe: .tcp(host: "127.0.0.1", port: freeLoopbackPort()))
        config.interval = .milliseconds(100)
        config.policy = fastPolicy()
        let sup = ServerSupervisor(config: config, engine: engine, logger: logger, now: wallClockNow)
        let task = Task { try await sup.run() }
        defer { task.cancel() }
        try waitFor("crash loop", seconds: 20) { sup.status().state == .crashLoop }
        let events = engine.events(sinceSequence: 0)
        let restarts = events.filter { $0.type == .serverRestart }
        #expect(restarts.count >= 4)
        let loop = try #require(events.first { $0.type == .serverState && $0.to == "crash_loop" })
        #expect(loop.reason?.contains("4 restarts within 1 min") == true)
        #expect(loop.reason?.contains("exited with status 3") == true)
        // the backoff doubles: 50 ms, 100 ms, 200 ms, then the crash loop's slowest rate
        let delays = restarts.prefix(3).map { $0.reason ?? "" }
        #expect(delays == ["recording server: restart 1 in 50 ms", "recording server: restart 2 in 100 ms",
                           "recording server: restart 3 in 200 ms"])
        #expect(sup.status().restarts >= 3)
    }

    @Test func restartsAServerThatHangsWhileItsProcessLives() async throws {
        let port = freeLoopbackPort()
        let engine = makeEngine()
        // The process lives but never listens: the TCP probe fails, the supervisor stops and restarts it.
        var config = ServerConfig(name: "recording server", mode: .command(["/bin/sleep", "1000"]), probe: .tcp(host: "127.0.0.1", port: port))
        config.interval = .milliseconds(100)
        config.stopGrace = .milliseconds(500)
        config.policy = fastPolicy()
        let sup = ServerSupervisor(config: config, engine: engine, logger: logger, now: wallClockNow)
        let task = Task { try await sup.run() }
        try waitFor("first pid", seconds: 10) { sup.status().pid != nil }
        let firstPid = try #require(sup.status().pid)
        try waitFor("restarted with a new pid", seconds: 10) { (sup.status().pid ?? firstPid) != firstPid && sup.status().restarts >= 1 }
        #expect(kill(firstPid, 0) != 0, "the hung process was not killed")
        let unhealthy = try #require(engine.events(sinceSequence: 0).first { $0.to == "unhealthy" })
        #expect(unhealthy.reason?.contains("no answer to 2 liveness probes in a row") == true)
        #expect(unhealthy.reason?.contains("127.0.0.1:\(port)") == true)
        let last = sup.status().pid!
        task.cancel()
        _ = await task.result
        // shutdown stops the child it owns
        #expect(kill(last, 0) != 0)
    }

    @Test func aHealthyServerIsUpAndCountsAvailability() async throws {
        let port = freeLoopbackPort()
        let engine = makeEngine()
        var config = ServerConfig(name: "recording server",
                                  mode: .command(["/usr/bin/python3", "-m", "http.server", "\(port)", "--bind", "127.0.0.1"]),
                                  probe: .http(host: "127.0.0.1", port: port, path: "/", expectStatus: 200))
        config.interval = .milliseconds(100)
        config.policy = fastPolicy()
        let sup = ServerSupervisor(config: config, engine: engine, logger: logger, now: wallClockNow)
        let task = Task { try await sup.run() }
        defer { task.cancel() }
        try waitFor("server up", seconds: 15) { sup.status().state == .up }
        try await Task.sleep(for: .milliseconds(300))
        let s = sup.status()
        #expect(s.restarts == 0)
        #expect(s.availability.last24h > 0.3)  // up for most of the short time watched (start-up counts as down)
        #expect(s.availability.observed24hSeconds <= 60)
        // probe expecting another status: answered 200, expected 204 -> unhealthy reason names both
        let wrong = LivenessProbe.http(host: "127.0.0.1", port: port, path: "/", expectStatus: 204)
        #expect(await wrong.check(timeout: .seconds(2)) == "HTTP GET / answered 200, expected 204")
        #expect(await LivenessProbe.command(["/bin/true"]).check(timeout: .seconds(2)) == nil)
        #expect(await LivenessProbe.command(["/bin/false"]).check(timeout: .seconds(2)) == "/bin/false exited with status 1")
        #expect(await LivenessProbe.command(["/bin/sleep", "5"]).check(timeout: .milliseconds(200))?.contains("did not finish within 200 ms") == true)
    }

    @Test func unitModeStartsAndStopsThroughSystemctl() async throws {
        let dir = TempDir()
        let calls = dir.path + "/calls"
        let systemctl = dir.write("systemctl", "#!/bin/sh\necho \"$@\" >> \(calls)\n")
        chmod(systemctl, 0o755)
        let engine = makeEngine()
        var config = ServerConfig(name: "sirs", mode: .unit("sirs.service"), probe: .tcp(host: "127.0.0.1", port: freeLoopbackPort()))
        config.interval = .milliseconds(100)
        config.policy = fastPolicy()
        config.systemctl = systemctl
        let sup = ServerSupervisor(config: config, engine: engine, logger: logger, now: wallClockNow)
        let task = Task { try await sup.run() }
        defer { task.cancel() }
        try waitFor("stop and start again", seconds: 10) {
            let lines = (try? String(contentsOfFile: calls, encoding: .utf8))?.split(separator: "\n") ?? []
            return lines.count >= 3
        }
        let lines = try String(contentsOfFile: calls, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(Array(lines.prefix(3)) == ["start sirs.service", "stop sirs.service", "start sirs.service"])
    }
}

@Suite struct WatcherTests {
    @Test func centrePullFreshStaleAndNever() async throws {
        let dir = TempDir()
        let path = dir.path + "/last-pull"
        let engine = makeEngine()
        var config = SyncConfig(source: .file(path))
        config.limit = .seconds(24 * 3600)
        let watch = SyncWatch(config: config, engine: engine)
        let now = wallClockNow()
        await watch.check(now: now)
        #expect(engine.status(now: now).sync?.state == .never)
        #expect(engine.status(now: now).sync?.reason?.contains("never pulled") == true)

        FileManager.default.createFile(atPath: path, contents: Data())
        var times = [timespec(tv_sec: Int(now.millis / 1000) - 3 * 86400, tv_nsec: 0), timespec(tv_sec: Int(now.millis / 1000) - 3 * 86400, tv_nsec: 0)]
        utimensat(AT_FDCWD, path, &times, 0)
        await watch.check(now: now)
        let stale = try #require(engine.status(now: now).sync)
        #expect(stale.state == .stale)
        #expect(stale.reason?.contains("72 h ago") == true)

        times = [timespec(tv_sec: Int(now.millis / 1000) - 60, tv_nsec: 0), timespec(tv_sec: Int(now.millis / 1000) - 60, tv_nsec: 0)]
        utimensat(AT_FDCWD, path, &times, 0)
        await watch.check(now: now)
        #expect(engine.status(now: now).sync?.state == .fresh)
        let transitions = engine.events(sinceSequence: 0).filter { $0.type == .syncState }.map { $0.to ?? "" }
        #expect(transitions == ["never", "stale", "fresh"])
    }

    @Test func centrePullFromACommand() async {
        #expect(try! await SyncWatch.read(.command(["/bin/echo", "2026-11-20T10:00:00Z"])).get() == Timestamp(rfc3339: "2026-11-20T10:00:00Z"))
        #expect(try! await SyncWatch.read(.command(["/bin/echo", "never"])).get() == nil)
        if case .failure(let e) = await SyncWatch.read(.command(["/bin/echo", "yesterday"])) {
            #expect(e.description.contains("not an RFC 3339 time"))
        } else { Issue.record("accepted 'yesterday'") }
    }

    @Test func uplinkFollowsLoopbackServersThatComeAndGoAndTheDefaultRoute() async throws {
        let dir = TempDir()
        try FileManager.default.createDirectory(atPath: dir.path + "/net", withIntermediateDirectories: true)
        let header = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
        _ = dir.write("net/route", header + "eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n")
        // a listening loopback server
        let port = freeLoopbackPort()
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = port.bigEndian
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(4))
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        listen(fd, 16)

        let engine = makeEngine()
        var config = UplinkConfig(targets: [.init(name: "registry", host: "127.0.0.1", port: port)])
        config.failAfter = 2
        config.timeout = .milliseconds(500)
        config.procRoot = dir.path
        let monitor = UplinkMonitor(config: config, engine: engine, now: wallClockNow())
        await monitor.check(now: wallClockNow)
        var s = try #require(engine.status(now: wallClockNow()).uplink)
        #expect(s.defaultInterface == "eth0")
        #expect(s.targets[0].reachable == true)
        #expect(s.targets[0].latencyMillis != nil)

        close(fd)  // the server goes away
        await monitor.check(now: wallClockNow)
        #expect(engine.status(now: wallClockNow()).uplink?.targets[0].reachable == true)  // one failure: not yet
        // carrier switch: the default route moves to the modem
        _ = dir.write("net/route", header + "wwan0\t00000000\t00000000\t0001\t0\t0\t50\t00000000\t0\t0\t0\neth0\t0001A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n")
        await monitor.check(now: wallClockNow)
        s = try #require(engine.status(now: wallClockNow()).uplink)
        #expect(s.targets[0].reachable == false)
        #expect(s.defaultInterface == "wwan0")
        let events = engine.events(sinceSequence: 0)
        #expect(events.filter { $0.type == .uplinkReachability }.map { $0.to ?? "" } == ["reachable", "unreachable"])
        let route = try #require(events.first { $0.type == .uplinkRoute })
        #expect(route.from == "eth0" && route.to == "wwan0")
    }

    @Test func powerFromAFakeSysfsTree() throws {
        let dir = TempDir()
        for d in ["AC", "BAT0"] { try FileManager.default.createDirectory(atPath: dir.path + "/" + d, withIntermediateDirectories: true) }
        _ = dir.write("AC/type", "Mains\n")
        _ = dir.write("AC/online", "1\n")
        _ = dir.write("BAT0/type", "Battery\n")
        _ = dir.write("BAT0/capacity", "80\n")
        _ = dir.write("BAT0/status", "Charging\n")
        let engine = makeEngine()
        var config = PowerConfig()
        config.root = dir.path
        config.lowBattery = 20
        let monitor = PowerMonitor(config: config, engine: engine)
        monitor.check(now: wallClockNow())
        #expect(engine.status(now: wallClockNow()).power == PowerStatus(onMains: true, batteryPercent: 80, batteryLow: false,
                                                                        since: engine.status(now: wallClockNow()).power!.since))
        _ = dir.write("AC/online", "0\n")
        _ = dir.write("BAT0/status", "Discharging\n")
        _ = dir.write("BAT0/capacity", "64\n")
        monitor.check(now: wallClockNow())
        _ = dir.write("BAT0/capacity", "15\n")
        monitor.check(now: wallClockNow())
        _ = dir.write("AC/online", "1\n")
        monitor.check(now: wallClockNow())
        let events = engine.events(sinceSequence: 0)
        #expect(events.filter { $0.type == .powerSource }.map { "\($0.from!)>\($0.to!)" } == ["mains>battery", "battery>mains"])
        #expect(events.first { $0.type == .powerSource }?.reason == "mains power lost: running on battery (64%)")
        #expect(events.filter { $0.type == .powerBattery }.map { $0.to ?? "" } == ["low", "ok"])
        #expect(PowerMonitor.read(root: dir.path + "/none") == (nil, nil))
    }
}
