import EKTPHardware
import EKTPModel
import EKTPStation
import EKTPTesting
import Foundation
import Glibc
import Testing

/// Issue 17, item 4: several `ektp-registry serve` on one PostgreSQL behind a load balancer
/// (Debian's HAProxy), a simulated regency delivering through it, one registry killed (SIGKILL)
/// mid-run: every report the stations delivered is stored exactly once, with no gap.
@Suite(.serialized) struct ScaleOutTests {
    /// Whether HAProxy is there; if not, says so loudly (and fails when EKTP_REQUIRE_HAPROXY=1, as in CI).
    static func haproxy() -> String? {
        let path = "/usr/sbin/haproxy"
        if FileManager.default.isExecutableFile(atPath: path) { return path }
        let message = "SKIPPED: \(path) is missing (apt-get install haproxy); the scale-out test did not run"
        if ProcessInfo.processInfo.environment["EKTP_REQUIRE_HAPROXY"] == "1" { Issue.record(Comment(rawValue: message)) }
        print("\n**** \(message) ****\n")
        return nil
    }

    @Test func twoRegistriesBehindHAProxyOneKilledMidRunLoseAndDuplicateNothing() throws {
        guard let haproxyPath = Self.haproxy() else { return }
        guard let pg = PostgresCluster.shared else {
            if ProcessInfo.processInfo.environment["EKTP_REQUIRE_POSTGRES"] == "1" { Issue.record("PostgreSQL is required") }
            return
        }
        let database = try pg.newDatabase()
        // One starts (and migrates) first; the second finds the schema in place.
        let a = try RunningRegistry(database: database)
        let b = try RunningRegistry(database: database)
        let dir = TempDir()

        // HAProxy: round robin over both, health-checked on /healthz every 200 ms.
        let front = freeLoopbackPort()
        let cfg = dir.write("haproxy.cfg", """
            global
              maxconn 2048
            defaults
              mode http
              timeout connect 2s
              timeout client 30s
              timeout server 30s
              retries 1
              option redispatch
            frontend registry
              bind 127.0.0.1:\(front)
              default_backend registries
            backend registries
              balance roundrobin
              option httpchk GET /healthz
              server a 127.0.0.1:\(a.port) check inter 200ms fall 2 rise 1
              server b 127.0.0.1:\(b.port) check inter 200ms fall 2 rise 1

            """)  // HAProxy refuses a last line without its LF
        let lb = Process()
        lb.executableURL = URL(fileURLWithPath: haproxyPath)
        lb.arguments = ["-f", cfg, "-db"]
        let lbLog = dir.path + "/haproxy.log"
        _ = FileManager.default.createFile(atPath: lbLog, contents: nil)
        lb.standardOutput = FileHandle(forWritingAtPath: lbLog)
        lb.standardError = FileHandle(forWritingAtPath: lbLog)
        try lb.run()
        defer { lb.terminate(); lb.waitUntilExit() }
        var last = ""
        do {
            try waitFor("HAProxy answers /healthz") {
                switch httpGet(host: "127.0.0.1", port: front, path: "/healthz", timeout: .seconds(2)) {
                case .success(let r): last = "\(r.status) \(r.body.prefix(200))"; return r.status == 200
                case .failure(let e): last = e.description; return false
                }
            }
        } catch {
            throw HarnessError("\(error); last answer: \(last); running: \(lb.isRunning); config: \((try? String(contentsOfFile: cfg, encoding: .utf8)) ?? ""); haproxy: \((try? String(contentsOfFile: lbLog, encoding: .utf8)) ?? "")")
        }

        // Sintang's 15 stations for two days, each with its token, delivering through HAProxy.
        let scenario = try Scenario.load(path: repoRoot + "/scenarios/sintang-2018.yaml")
        var tokens = ""
        for s in scenario.stations { tokens += "\(s.id) \(try a.token(s.id))\n" }
        let tokenFile = dir.write("tokens", tokens)
        let viewer = dir.write("viewer", a.viewerToken)
        let out = Pipe(), err = Pipe()
        let sim = Process()
        sim.executableURL = URL(fileURLWithPath: ektpdBinary)
        sim.arguments = ["simulate", repoRoot + "/scenarios/sintang-2018.yaml", "--duration", "2d", "--json",
                         "--registry", "http://127.0.0.1:\(front)", "--tokens", tokenFile, "--viewer-token", viewer]
        sim.standardOutput = out
        sim.standardError = err
        try sim.run()
        // Registry a dies (SIGKILL, mid-request or not) once a third of the run has been stored.
        try waitFor("200 reports stored through the balancer", seconds: 120) { Self.stored(pg, database) >= 200 || !sim.isRunning }
        #expect(sim.isRunning, "the simulation ended before registry a could be killed")
        let killedAt = Self.stored(pg, database)
        kill(a.process.processIdentifier, SIGKILL)
        a.process.waitUntilExit()
        let report = out.fileHandleForReading.readDataToEndOfFile()
        let log = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        sim.waitUntilExit()
        #expect(sim.terminationStatus == 0, "\(log.suffix(2000))")
        struct Report: Decodable { var delivered: Int; var pending: Int }
        let r = try JSONStyle.decode(Report.self, from: Array(report))

        // Everything left the stations; the database holds each (station, sequence) once, 1...n
        // per station with no gap, and exactly what the stations were told was stored.
        #expect(r.pending == 0)
        let rows = try pg.psql(database, "SELECT station, count(*), min(seq), max(seq), count(DISTINCT seq) FROM reports GROUP BY station ORDER BY station")
        #expect(rows.count == scenario.stations.count, "\(rows)")
        var total = 0
        for row in rows {
            let f = row.split(separator: "|").map(String.init)
            guard f.count == 5, let n = Int(f[1]), let lo = Int(f[2]), let hi = Int(f[3]), let distinct = Int(f[4]) else {
                Issue.record("unreadable row \(row)"); continue
            }
            #expect(lo == 1 && hi == n && distinct == n, "station \(f[0]): \(n) reports, \(lo)...\(hi)")
            total += n
        }
        #expect(total == r.delivered, "stored \(total), the stations were told \(r.delivered)")
        #expect(total > killedAt, "deliveries went on through registry b after a died")
        // b alone still answers through the balancer.
        if case .success(let h) = httpGet(host: "127.0.0.1", port: front, path: "/healthz", timeout: .seconds(2)) {
            #expect(h.status == 200)
        } else {
            Issue.record("HAProxy stopped answering after registry a died")
        }
        _ = b
    }

    static func stored(_ pg: PostgresCluster, _ database: String) -> Int {
        (try? pg.psql(database, "SELECT count(*) FROM reports")).flatMap { $0.first.flatMap { Int($0) } } ?? 0
    }
}
