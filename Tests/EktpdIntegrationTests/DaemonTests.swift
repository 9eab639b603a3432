import EKTPModel
import EKTPPlatform
import Foundation
import Glibc
import EKTPTesting
import Testing

/// The real `ektpd` binary, driven only through its socket, its files, its exit codes and signals.
@Suite(.serialized) struct DaemonTests {
    @Test func scenarioUnplugIsSeenOverTheSocketAndTheKitBreaks() throws {
        let daemon = try RunningDaemon(scenario: standardKit + """

            timeline:
              - {at: 3s, device: fingerprint, fault: unplug}
        """)
        try daemon.waitReady()
        // Ready before the unplug: exit 0.
        let (first, ready) = try daemon.status()
        #expect(first.status == 0, "\(first.stderr)")
        #expect(ready?.kit.state == .ready)
        #expect(ready?.devices.count == 6)
        #expect(daemon.notifications.joined().contains("STATUS=kit ready"))

        let broken = try daemon.waitForStatus { $0.kit.state == .broken }
        let fp = try #require(broken.devices.first { $0.device.kind == .fingerprint })
        #expect(fp.health == .missing)
        #expect(fp.device.id.rawValue == "1-1:05ba:000a")
        #expect(broken.kit.problems.map(\.reason) == ["fingerprint scanner DigitalPersona U.are.U 4000B/4500 at 1-1 is unplugged: plug it back into port 1-1"])
        let (r, _) = try daemon.status()
        #expect(r.status == 2)
        // The answer names the kit's state in a header field too: `status --json` takes its exit code from it.
        let reply = try ControlClient(socketPath: daemon.socket).exchange("GET", "/v1/status")
        #expect(reply.headers["ektpd-kit-state"] == "broken")
        #expect(try JSONStyle.decode(StationStatus.self, from: reply.body).kit.state == .broken)

        // The human summary says the same for an operator.
        let human = try ektpd(["status", "--socket", daemon.socket])
        #expect(human.status == 2)
        #expect(human.stdout.contains("BROKEN: this station cannot enrol"))
        #expect(human.stdout.contains("missing"))

        // events --since gives the transitions in order
        let ev = try ektpd(["events", "--json", "--since", "0", "--socket", daemon.socket])
        let events = try JSONStyle.decode([Event].self, from: Array(ev.stdout.utf8))
        #expect(events.map(\.sequence) == Array(1...Int64(events.count)))
        let types = events.map(\.type)
        #expect(types.contains(.deviceRemoved))
        #expect(events.last { $0.type == .kitStatus }?.to == "broken")
        let later = try ektpd(["events", "--json", "--since", "\(events.count - 1)", "--socket", daemon.socket])
        #expect(try JSONStyle.decode([Event].self, from: Array(later.stdout.utf8)).count == 1)

        // SIGTERM: graceful, exit 0, socket removed, STOPPING sent.
        #expect(daemon.terminate() == 0)
        #expect(!FileManager.default.fileExists(atPath: daemon.socket))
        let stderr = daemon.stopAndReadStderr()
        #expect(stderr.contains("stopped"))
        while daemon.nextNotification(seconds: 2) != nil {}
        #expect(daemon.notifications.contains { $0.contains("STATUS=kit broken") })
        #expect(daemon.notifications.last?.contains("STOPPING=1") == true, "\(daemon.notifications)")
    }

    /// A daemon from before the `Ektpd-Kit-State` field (a station part-way through an upgrade): the
    /// exit code comes from the body, and an answer that is not a status exits 4 with a message.
    @Test func statusJSONReadsAnOlderDaemonsStateFromItsBody() throws {
        let dir = TempDir()
        let path = dir.path + "/old.sock"
        let degraded = try JSONStyle.encode(StationStatus(station: "old-01", site: Site(province: "P", regency: "R", district: "D"), backend: "simulated",
                                                          kit: KitStatus(state: .degraded, problems: [], since: Timestamp(millis: 0)),
                                                          devices: [], lastSequence: 0, startedAt: Timestamp(millis: 0),
                                                          now: Timestamp(millis: 0), version: "0.9"))
        for (body, code) in [(degraded, Int32(1)), (Array("{\"hello\": 1}".utf8), Int32(4))] {
            let server = try OneAnswerServer(path: path, body: body)
            let r = try ektpd(["status", "--json", "--socket", path])
            server.wait()
            #expect(r.status == code, "\(r.stderr)")
            if code == 4 { #expect(r.stderr.contains("not a status")) } else { #expect(r.stdout.utf8.elementsEqual(body)) }
        }
    }

    @Test func injectedFaultsDegradeAndRecoverWithExitCodes() throws {
        let daemon = try RunningDaemon(scenario: standardKit, config: """
        probes: {interval: 300ms, retry_interval: 100ms, timeout: 100ms, fail_after: 2, recover_after: 2}
        """)
        try daemon.waitReady()
        let inj = try ektpd(["inject", "--socket", daemon.socket, "camera", "slow_link", "--speed", "full"])
        #expect(inj.status == 0, "\(inj.stderr)")
        let degraded = try daemon.waitForStatus { $0.kit.state == .degraded }
        let cam = try #require(degraded.devices.first { $0.device.kind == .camera })
        #expect(cam.health == .degraded)
        #expect(cam.reason?.contains("480 Mbit/s") == true)
        #expect(try daemon.status().0.status == 1)

        _ = try ektpd(["inject", "--socket", daemon.socket, "camera", "recover"])
        _ = try daemon.waitForStatus { $0.kit.state == .ready }
        #expect(try daemon.status().0.status == 0)

        // unknown device and unknown fault: 4xx with a message, daemon unaffected
        let bad = try ektpd(["inject", "--socket", daemon.socket, "toaster", "unplug"])
        #expect(bad.status == 4)
        #expect(bad.stderr.contains("no simulated device 'toaster'"))
        let badFault = try ektpd(["inject", "--socket", daemon.socket, "camera", "explode"])
        #expect(badFault.stderr.contains("unknown fault 'explode'"))
        #expect(try daemon.status().0.status == 0)
        #expect(daemon.terminate() == 0)
    }

    /// Regression: on a new machine the demo's state directory had no parent and the daemon did not start.
    @Test func stateDirectoryAndItsParentsAreCreated() throws {
        let daemon = try RunningDaemon(scenario: standardKit, config: "state_directory: /tmp/ektpd-parents-\(getpid())/a/b/state")
        defer { try? FileManager.default.removeItem(atPath: "/tmp/ektpd-parents-\(getpid())") }
        try daemon.waitReady()
        #expect(FileManager.default.fileExists(atPath: "/tmp/ektpd-parents-\(getpid())/a/b/state/outbox.sqlite3"))
        #expect(daemon.terminate() == 0)
    }

    @Test func statusWithoutADaemonExits3AndNamesTheSocket() throws {
        let r = try ektpd(["status", "--socket", "/tmp/nowhere-\(getpid())/control.sock"])
        #expect(r.status == 3)
        #expect(r.stderr.contains("/tmp/nowhere-\(getpid())/control.sock"))
        let env = try ektpd(["status"], environment: ["EKTPD_SOCKET": "/tmp/elsewhere.sock"])
        #expect(env.status == 3)
        #expect(env.stderr.contains("/tmp/elsewhere.sock"))
    }

    @Test func badConfigIsReportedWithLinesAndNothingStarts() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ektpd-bad-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cfg = dir + "/ektpd.yaml"
        try """
        station:
          id: x
          site: {province: P, regency: R, district: D}
        backend:
          type: simulated
          scenario: missing.yaml
        kit:
          fingerprint: lots
        control:
          socket: \(dir)/control.sock
        """.write(toFile: cfg, atomically: true, encoding: .utf8)
        let check = try ektpd(["check-config", cfg])
        #expect(check.status == 4)
        #expect(check.stderr.contains("\(cfg):8:16: kit.fingerprint: expected a whole number, got 'lots'"))
        #expect(check.stderr.contains("missing.yaml:0:0: cannot read the scenario file"))
        let run = try ektpd(["run", "--config", cfg])
        #expect(run.status == 4)
        #expect(run.stderr.contains("not starting"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/control.sock"))
        let good = try ektpd(["check-config", repoRoot + "/examples/ektpd-demo.yaml"])
        #expect(good.status == 0, "\(good.stderr)")
    }

    @Test func aSecondDaemonOnTheSameSocketRefusesAndTheFirstKeepsServing() throws {
        let daemon = try RunningDaemon(scenario: standardKit)
        try daemon.waitReady()
        let second = try ektpd(["run", "--config", daemon.dir + "/ektpd.yaml"])
        #expect(second.status == 1)
        #expect(second.stderr.contains("another ektpd is already listening on \(daemon.socket)"))
        #expect(try daemon.status().0.status == 0)
        #expect(daemon.terminate() == 0)
    }

    @Test func logsInJournaldFormatUnderSystemd() throws {
        let daemon = try RunningDaemon(scenario: standardKit, environment: ["JOURNAL_STREAM": "8:12345"])
        try daemon.waitReady()
        #expect(daemon.terminate() == 0)
        let lines = daemon.stopAndReadStderr().split(separator: "\n")
        #expect(!lines.isEmpty)
        #expect(lines.allSatisfy { $0.hasPrefix("<") && $0.dropFirst().first?.isNumber == true && $0.dropFirst(2).first == ">" }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("<5>ready: kit ready") })
    }
}

/// The daemon as systemd runs it: READY, STATUS and WATCHDOG over NOTIFY_SOCKET, and the recording
/// server it supervises, seen through `ektpd status`.
@Suite(.serialized) struct SystemdIntegrationTests {
    @Test func watchdogPingsComeFromTheLoopAtHalfTheInterval() throws {
        // WatchdogSec=0.6s: pings due every 300 ms.
        let daemon = try RunningDaemon(scenario: standardKit, environment: ["WATCHDOG_USEC": "600000"])
        try daemon.waitReady()
        var stamps: [Date] = []
        let deadline = Date().addingTimeInterval(3)
        while Date() < deadline, let n = daemon.nextNotification(seconds: 2) {
            if n.contains("WATCHDOG=1") { stamps.append(Date()) }
        }
        #expect(daemon.terminate() == 0)
        #expect(stamps.count >= 6, "\(stamps.count) pings in 3 s")
        let gaps = zip(stamps.dropFirst(), stamps).map { $0.timeIntervalSince($1) }
        // never later than the watchdog itself, never a burst
        #expect(gaps.allSatisfy { $0 < 0.6 }, "\(gaps)")
        #expect(gaps.allSatisfy { $0 > 0.2 }, "\(gaps)")
    }

    @Test func supervisedServerAndWatchersShowInStatus() throws {
        let port = freeLoopbackPort()
        let daemonDir = FileManager.default.temporaryDirectory.appendingPathComponent("ektpd-pull-\(getpid())").path
        try FileManager.default.createDirectory(atPath: daemonDir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: daemonDir) }
        let daemon = try RunningDaemon(scenario: standardKit, config: """
        server:
          name: recording server
          command: [/usr/bin/python3, -m, http.server, "\(port)", --bind, 127.0.0.1]
          liveness: {http: "http://127.0.0.1:\(port)/", interval: 200ms, timeout: 1s}
          restart: {start_grace: 10s, initial_backoff: 100ms}
        centre_pull:
          file: \(daemonDir)/last-pull
          interval: 200ms
        uplink:
          targets:
            - {name: recording-server, address: "127.0.0.1:\(port)"}
          interval: 200ms
          timeout: 500ms
        """)
        try daemon.waitReady()
        let s = try daemon.waitForStatus { $0.server?.state == .up && $0.sync != nil && $0.uplink?.targets.first?.reachable == true }
        #expect(s.server?.name == "recording server")
        #expect(s.server?.pid != nil)
        #expect(s.sync?.state == .never)
        let human = try ektpd(["status", "--socket", daemon.socket])
        #expect(human.stdout.contains("Server:  recording server up since"))
        #expect(human.stdout.contains("Centre:  NEVER: the centre has never pulled this station's data"))
        #expect(human.stdout.contains("recording-server reachable"))
        // the server crashes: the supervisor restarts it and the status says so
        let pid = try #require(s.server?.pid)
        kill(pid, SIGKILL)
        // Restarted, and the uplink probe has seen its port answer again (it probes on its own schedule).
        let restarted = try daemon.waitForStatus {
            ($0.server?.restarts ?? 0) >= 1 && $0.server?.state == .up && $0.server?.pid != pid && $0.uplink?.targets.first?.reachable == true
        }
        #expect(restarted.server?.lastReason?.contains("killed by signal 9") == true)
        // ...and so do the metrics, counted from the supervisor's own tally.
        let metrics = try ektpd(["metrics", "--socket", daemon.socket]).stdout
        #expect(sample(metrics, "ektp_server_restarts_total{server=\"recording server\"}") == Double(restarted.server!.restarts))
        #expect(sample(metrics, "ektp_server_up{server=\"recording server\"}") == 1)
        #expect(sample(metrics, "ektp_uplink_target_up{target=\"recording-server\"}") == 1)
        #expect(sample(metrics, "ektp_sync_fresh") == 0)
        #expect(metrics.contains("ektp_server_availability_ratio{server=\"recording server\",window=\"24h\"}"))
        let serverPid = restarted.server!.pid!
        #expect(daemon.terminate() == 0)
        #expect(kill(serverPid, 0) != 0, "the daemon left its recording server running")
    }
}


@Suite(.serialized) struct SequenceContinuityTests {
    /// Event sequence numbers are never reused: a restarted daemon continues past the last run's.
    @Test func aRestartedDaemonNeverReusesSequenceNumbers() throws {
        let first = try RunningDaemon(scenario: standardKit)
        try first.waitReady()
        let ev1 = try JSONStyle.decode([Event].self, from: Array(try ektpd(["events", "--json", "--socket", first.socket]).stdout.utf8))
        let last1 = try #require(ev1.last?.sequence)
        #expect(first.terminate() == 0)
        // the same state directory, a new process
        let second = try RunningDaemon(scenario: standardKit, reuse: first.dir)
        try second.waitReady()
        let ev2 = try JSONStyle.decode([Event].self, from: Array(try ektpd(["events", "--json", "--socket", second.socket]).stdout.utf8))
        let first2 = try #require(ev2.first?.sequence)
        #expect(first2 > last1 + 1)  // the stop event took last1 + 1 at most
        #expect(ev2.map(\.sequence) == Array(first2..<(first2 + Int64(ev2.count))))
        #expect(second.terminate() == 0)
    }
}

import EKTPStation
import EKTPPlatform
import EKTPCore

@Suite(.serialized) struct OutboxDurabilityTests {
    /// kill -9 while events are being written: the outbox opens clean, its events are a gap-free run,
    /// and the restarted daemon continues the sequence after them.
    @Test func killNineLeavesAConsistentOutboxAndTheSequenceContinues() throws {
        let flapping = standardKit + """

            timeline:
              - {at: 0s, device: signature, fault: intermittent, fail_ratio: 0.5}
        """
        let fast = "probes: {interval: 100ms, retry_interval: 50ms, timeout: 20ms, fail_after: 1, recover_after: 1}"
        let first = try RunningDaemon(scenario: flapping, config: fast)
        try first.waitReady()
        let path = first.dir + "/state/outbox.sqlite3"
        // wait until a good number of events are durable (WAL lets us read while it writes)
        let deadline = Date().addingTimeInterval(20)
        var stored = 0
        while Date() < deadline {
            stored = (try? Outbox(path: path).pending(limit: 100_000).count) ?? 0
            if stored >= 20 { break }
            usleep(200_000)
        }
        #expect(stored >= 20)
        kill(first.process.processIdentifier, SIGKILL)
        first.process.waitUntilExit()
        #expect(first.process.terminationReason == .uncaughtSignal)

        let outbox = try Outbox(path: path)  // quick_check runs on open
        let seqs = try outbox.pending(limit: 100_000).map(\.sequence)
        #expect(seqs.count >= stored)
        #expect(seqs == Array(1...Int64(seqs.count)), "events form a gap-free run")
        let last = outbox.lastSequence

        let second = try RunningDaemon(scenario: standardKit, reuse: first.dir)
        try second.waitReady()
        let ev = try JSONStyle.decode([Event].self, from: Array(try ektpd(["events", "--json", "--socket", second.socket]).stdout.utf8))
        #expect(ev.first?.sequence == last + 1)
        #expect(second.terminate() == 0)
        // a clean stop stores everything, the stop event included
        let after = try Outbox(path: path)
        #expect(after.lastSequence == (ev.last?.sequence ?? 0) + 1)
        #expect(try after.pending(limit: 100_000).last.map { try JSONStyle.decode(Event.self, from: $0.body).to } == "stopped")
    }
}


/// A Unix socket that answers one HTTP request with `body` and no further header fields, as ektpd
/// before `Ektpd-Kit-State` did.
final class OneAnswerServer: @unchecked Sendable {
    private let fd: Int32
    private let done = DispatchSemaphore(value: 0)

    init(path: String, body: [UInt8]) throws {
        unlink(path)
        let listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        fd = listener
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in path.utf8.enumerated() where i < raw.count - 1 { raw[i] = b }
        }
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        guard rc == 0, listen(listener, 1) == 0 else { throw HarnessError("cannot listen on \(path): errno \(errno)") }
        let done = self.done
        Thread.detachNewThread {
            let c = accept(listener, nil, nil)
            var request: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 4096)
            while !request.suffix(4).elementsEqual(Array("\r\n\r\n".utf8)) {
                let n = read(c, &chunk, chunk.count)
                if n <= 0 { break }
                request += chunk[0..<n]
            }
            let answer = Array("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n".utf8) + body
            _ = answer.withUnsafeBytes { write(c, $0.baseAddress, $0.count) }
            close(c)
            done.signal()
        }
    }

    /// Waits until the one answer is sent, then closes the socket.
    func wait() {
        done.wait()
        close(fd)
    }
}
