import EKTPModel
import EKTPStation
import EKTPPlatform
import EKTPCore
import Foundation
import Glibc
import EKTPTesting
import Testing

/// The built `ektp-registry`, beside ektpd.
let registryBinary: String = {
    let b = URL(fileURLWithPath: ektpdBinary).deletingLastPathComponent().appendingPathComponent("ektp-registry").path
    precondition(FileManager.default.isExecutableFile(atPath: b), "no ektp-registry at \(b): run `swift build` first")
    return b
}()

/// Runs a command to completion (no pipes left to descendants: output goes to files).
func run(_ argv: [String]) -> CommandResult {
    let dir = FileManager.default.temporaryDirectory.path
    let tag = UUID().uuidString.prefix(8)
    let out = "\(dir)/cmd-\(tag).out", err = "\(dir)/cmd-\(tag).err"
    defer { unlink(out); unlink(err) }
    let quoted = argv.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
    let status = system("timeout 300 \(quoted) >\(out) 2>\(err) </dev/null")
    return CommandResult(status: (status >> 8) & 0xff, stdout: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
                         stderr: (try? String(contentsOfFile: err, encoding: .utf8)) ?? "")
}

/// A running `ektp-registry serve` on a free loopback port, SQLite in a temp folder.
final class RunningRegistry {
    let dir: String
    let database: String
    let process = Process()
    let port: UInt16
    /// HTTPS (serve --tls-cert): then `url` is https://localhost:PORT and requests trust `clientSettings`.
    let tls: Bool
    var clientSettings = HTTPClientSettings(section: "test")

    init(extra: [String] = [], database: String? = nil) throws {
        tls = extra.contains("--tls-cert")
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("ektp-reg-it-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        self.database = database ?? "sqlite:\(dir)/registry.sqlite3"
        process.executableURL = URL(fileURLWithPath: registryBinary)
        process.arguments = ["serve", "--database", self.database, "--listen", "127.0.0.1:0", "--port-file", dir + "/port", "--log-level", "warning"] + extra
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        // Ready when it has written its port (it writes it once listening).
        let deadline = Date().addingTimeInterval(60)
        var port: UInt16?
        while port == nil && Date() < deadline && process.isRunning {
            port = (try? String(contentsOfFile: dir + "/port", encoding: .utf8)).flatMap { UInt16($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            if port == nil { usleep(20_000) }
        }
        guard let port else { throw HarnessError("ektp-registry did not start listening") }
        self.port = port
    }

    deinit {
        if process.isRunning { process.terminate(); process.waitUntilExit() }
        try? FileManager.default.removeItem(atPath: dir)
    }

    var url: String { tls ? "https://localhost:\(port)" : "http://127.0.0.1:\(port)" }

    /// A station's token in a file of its own (mode 0600), as ektpd's `registry.token_file` reads it.
    func tokenFile(_ station: String) throws -> String {
        let path = dir + "/token-\(station)"
        try (try token(station) + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o600)
        return path
    }

    func token(_ station: String) throws -> String {
        let r = run([registryBinary, "token", "issue", "--database", database, "--station", station])
        guard r.status == 0 else { throw HarnessError("token issue failed: \(r.stderr)") }
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A national viewer's token (issue 15: reads need one), issued at the first read.
    lazy var viewerToken: String = {
        let r = run([registryBinary, "token", "issue", "--database", database, "--viewer", "tests"])
        precondition(r.status == 0, "token issue --viewer failed: \(r.stderr)")
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }()

    /// A request; a GET with no `token` reads as the national viewer (`anonymous: true` sends none).
    func request(_ method: String, _ path: String, token: String? = nil, body: [UInt8] = [], anonymous: Bool = false) -> (status: Int, body: String) {
        var headers: [(String, String)] = [("Content-Type", "application/json")]
        if let token { headers.append(("Authorization", "Bearer \(token)")) }
        else if method == "GET" && !anonymous && !path.hasPrefix("/healthz") && !path.hasPrefix("/openapi") {
            headers.append(("Authorization", "Bearer \(viewerToken)"))
        }
        switch HTTPClient(settings: clientSettings).request(method, HTTPURL(url)!, path: path, headers: headers, body: body, timeout: .seconds(60), maxResponse: 16 << 20) {
        case .success(let x): return (x.status, String(decoding: x.body, as: UTF8.self))
        case .failure(let e): return (0, e.description)
        }
    }

    func get<T: Decodable>(_ type: T.Type, _ path: String) throws -> T {
        let r = request("GET", path)
        guard r.status == 200 else { throw HarnessError("GET \(path): \(r.status) \(r.body)") }
        return try JSONStyle.decode(T.self, from: Array(r.body.utf8))
    }
}

func batchJSON(_ station: String, _ seqs: ClosedRange<Int>, kind: String = "event") -> [UInt8] {
    let reports = seqs.map { s in
        """
        {"sequence":\(s),"kind":"\(kind)","time":"2026-11-23T08:00:00Z","event":{"sequence":\(s),"time":"2026-11-23T08:00:00Z","station":"\(station)","type":"device.health","subject":"1-1:05ba:000a","from":"ok","to":"failed","reason":"no response"}}
        """
    }
    return Array(#"{"station":"\#(station)","sent_at":"2026-11-23T08:00:01Z","reports":[\#(reports.joined(separator: ","))]}"#.utf8)
}

@Suite(.serialized) struct RegistryAPITests {
    @Test func refusesWithoutTheRightTokenAndStoresNothing() throws {
        let reg = try RunningRegistry()
        let t1 = try reg.token("s1"), t2 = try reg.token("s2")
        let body = batchJSON("s1", 1...3)
        let none = reg.request("POST", "/v1/reports", body: body)
        #expect(none.status == 401 && none.body.contains("Authorization"))
        #expect(reg.request("POST", "/v1/reports", token: "ektp_notatoken", body: body).status == 401)
        let other = reg.request("POST", "/v1/reports", token: t2, body: body)
        #expect(other.status == 403 && other.body.contains("s2") && other.body.contains("s1"))
        #expect(try reg.get(SitesReply.self, "/v1/sites").sites.isEmpty)
        #expect(try reg.get(EventsReply.self, "/v1/events?since=0").events.isEmpty)
        // The right token: stored once, however often it is sent.
        let ok = reg.request("POST", "/v1/reports", token: t1, body: body)
        #expect(ok.status == 200)
        let reply = try JSONStyle.decode(IngestReply.self, from: Array(ok.body.utf8))
        #expect(reply == IngestReply(station: "s1", storedThrough: 3, stored: 3, duplicates: 0))
        let again = try JSONStyle.decode(IngestReply.self, from: Array(reg.request("POST", "/v1/reports", token: t1, body: body).body.utf8))
        #expect(again.stored == 0 && again.duplicates == 3)
        #expect(try reg.get(EventsReply.self, "/v1/events?since=0").events.map(\.event.sequence) == [1, 2, 3])
    }

    @Test func badBodiesGetAMessageAndTheServerGoesOn() throws {
        let reg = try RunningRegistry()
        let t = try reg.token("s1")
        let notJSON = reg.request("POST", "/v1/reports", token: t, body: Array("hello".utf8))
        #expect(notJSON.status == 400 && notJSON.body.contains("not valid JSON"))
        let wrongType = reg.request("POST", "/v1/reports", token: t,
                                    body: Array(#"{"station":"s1","sent_at":"2026-11-23T08:00:01Z","reports":[{"sequence":"one","kind":"event","time":"2026-11-23T08:00:00Z"}]}"#.utf8))
        #expect(wrongType.status == 400 && wrongType.body.contains("reports[0].sequence"))
        let unknownKind = reg.request("POST", "/v1/reports", token: t, body: batchJSON("s1", 1...1, kind: "gossip"))
        #expect(unknownKind.status == 400 && unknownKind.body.contains("reports[0].kind"))
        let missing = reg.request("POST", "/v1/reports", token: t, body: Array(#"{"station":"s1","reports":[]}"#.utf8))
        #expect(missing.status == 400 && missing.body.contains("sent_at"))
        let huge = reg.request("POST", "/v1/reports", token: t, body: [UInt8](repeating: 0x20, count: 50 << 20))
        #expect(huge.status == 413, "50 MB body: \(huge.body)")
        let badQuery = reg.request("GET", "/v1/sites?status=borken")
        #expect(badQuery.status == 400 && badQuery.body.contains("borken"))
        #expect(reg.request("GET", "/v1/stations/nobody").status == 404)
        // Nothing was stored, and it still serves.
        #expect(try reg.get(EventsReply.self, "/v1/events").events.isEmpty)
        #expect(reg.request("GET", "/healthz").status == 200)
        #expect(reg.request("POST", "/v1/reports", token: t, body: batchJSON("s1", 1...2)).status == 200)
    }

    @Test func metricsCountIngestAndShowTheFleet() throws {
        let reg = try RunningRegistry()
        let t1 = try reg.token("s1")
        #expect(reg.request("POST", "/v1/reports", token: t1, body: batchJSON("s1", 1...3)).status == 200)
        #expect(reg.request("POST", "/v1/reports", token: t1, body: batchJSON("s1", 2...4)).status == 200)
        #expect(reg.request("POST", "/v1/reports", token: "ektp_wrong", body: batchJSON("s1", 5...5)).status == 401)
        let m = reg.request("GET", "/metrics")
        #expect(m.status == 200)
        #expect(m.body.contains("# HELP ektp_registry_reports_stored_total Reports stored (new ones)."))
        #expect(m.body.contains("# TYPE ektp_registry_reports_stored_total counter"))
        #expect(sample(m.body, "ektp_registry_ingest_requests_total{result=\"ok\"}") == 2)
        #expect(sample(m.body, "ektp_registry_ingest_requests_total{result=\"rejected\"}") == 1)
        #expect(sample(m.body, "ektp_registry_reports_stored_total") == 4)
        #expect(sample(m.body, "ektp_registry_reports_duplicate_total") == 2)
        let fleet = try reg.get(FleetSummary.self, "/v1/fleet")
        #expect(sample(m.body, "ektp_registry_stations{condition=\"unknown\"}") == Double(fleet.tally.unknown))
        #expect(sample(m.body, "ektp_registry_stations_silent") == Double(fleet.tally.silent))
        for t in m.body.split(separator: "\n").filter({ $0.hasPrefix("# TYPE ") }).map({ $0.split(separator: " ") }) {
            #expect(m.body.contains("# HELP \(t[2]) "), "no HELP for \(t[2])")
            #expect((t[3] == "counter") == t[2].hasSuffix("_total"), "\(t[2]) is a \(t[3])")
        }
    }

    @Test func servesItsOpenAPIDocumentWhichIsTheCommittedOne() throws {
        let reg = try RunningRegistry()
        let served = reg.request("GET", "/openapi.yaml")
        #expect(served.status == 200)
        let committed = try String(contentsOfFile: repoRoot + "/docs/openapi.yaml", encoding: .utf8)
        #expect(served.body == committed, "docs/openapi.yaml differs: run `ektp-registry openapi > docs/openapi.yaml`")
    }
}

@Suite(.serialized) struct DeliveryTests {
    /// The real daemon delivers to the real registry; kill -9 in the middle, restart: every report
    /// the outbox held reaches the registry, once.
    @Test func killNineDuringDeliveryThenRestartEveryReportArrivesOnce() throws {
        let reg = try RunningRegistry()
        let tokenFile = try reg.tokenFile("it-01")
        let config = """
            registry: {url: "\(reg.url)", token_file: \(tokenFile), snapshot_spacing: 0s, heartbeat: 1h, backoff_base: 50ms, backoff_max: 500ms, batch_size: 3}
            """
        let first = try RunningDaemon(scenario: standardKit, config: config)
        try first.waitReady()
        // A burst of events, delivered in small batches; kill -9 while they go.
        for fault in ["unplug", "replug", "unplug", "replug", "unplug", "replug"] {
            let r = try ektpd(["inject", "--socket", first.socket, "fingerprint", fault])
            #expect(r.status == 0, "\(r.stderr)")
        }
        kill(first.process.processIdentifier, SIGKILL)
        first.process.waitUntilExit()

        let second = try RunningDaemon(scenario: standardKit, config: config, reuse: first.dir)
        try second.waitReady()
        _ = try ektpd(["inject", "--socket", second.socket, "camera", "unplug"])
        let broken = try second.waitForStatus { $0.kit.state == .broken }
        // Wait until the registry holds everything the daemon has numbered and the outbox is empty.
        let deadline = Date().addingTimeInterval(30)
        var detail: StationDetail?
        var last = broken.lastSequence
        while Date() < deadline {
            let (_, status) = try second.status()
            last = status?.lastSequence ?? last
            detail = try? reg.get(StationDetail.self, "/v1/stations/it-01")
            if let d = detail, d.view.storedThrough == last, status?.delivery?.pending == 0, d.view.condition == .broken { break }
            usleep(100_000)
        }
        let d = try #require(detail)
        #expect(d.view.storedThrough == last, "registry holds through \(d.view.storedThrough), the daemon numbered \(last)")
        // Once each: the registry stores (station, sequence) once, and holds as many as it was sent.
        let events = try reg.get(EventsReply.self, "/v1/events?station=it-01&limit=5000").events.map(\.event)
        #expect(Set(events.map(\.sequence)).count == events.count)
        #expect(events.filter { $0.type == .daemon && $0.to == "running" }.count == 2, "both starts reached the registry")
        #expect(events.filter { $0.type == .deviceRemoved }.count >= 4)
        #expect(d.view.condition == .broken)
        let (_, status) = try second.status()
        #expect(status?.delivery?.failures == 0)
        #expect(status?.delivery?.registry == reg.url)
    }

    /// The centre's first view of a started station is its kit after the first probe round, not
    /// every device "not yet checked": no snapshot is taken before that round is recorded (seen:
    /// a healthy station shown degraded for 30 s after each start).
    @Test func theCentresFirstViewOfAStartedStationIsItsCheckedKit() throws {
        let reg = try RunningRegistry()
        let tokenFile = try reg.tokenFile("it-01")
        // The default snapshot spacing (30 s): a first snapshot taken too early would stay that long.
        let daemon = try RunningDaemon(scenario: standardKit, config: """
            registry: {url: "\(reg.url)", token_file: \(tokenFile), backoff_base: 50ms, backoff_max: 500ms}
            """)
        try daemon.waitReady()
        var first: StationDetail?
        try waitFor("the registry to hear from the station", seconds: 30) {
            first = try? reg.get(StationDetail.self, "/v1/stations/it-01")
            return first?.status != nil
        }
        let d = try #require(first)
        #expect(d.view.condition == .ready, "first seen as \(d.view.condition): \(d.view.reasons)")
        #expect(d.status?.devices.allSatisfy { $0.health == .ok } == true, "\(d.status?.devices.map { "\($0.device.name) \($0.health)" } ?? [])")
    }

    /// Issue 17, item 1: at most --max-connections open at once (Hummingbird stops accepting; the
    /// rest wait in the listen queue, costing the registry no memory), and an idle connection is
    /// closed after --idle-timeout so a waiting station gets its place.
    @Test func connectionsPastTheLimitWaitTheirTurnAndIdleOnesAreClosed() throws {
        let reg = try RunningRegistry(extra: ["--max-connections", "16", "--idle-timeout", "5"])
        func open() throws -> Int32 {
            let fd = try tcpConnect(host: "127.0.0.1", port: reg.port, timeout: .seconds(5)).get()
            var tv = timeval(tv_sec: 0, tv_usec: 100_000)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            let ask = "GET /healthz HTTP/1.1\r\nHost: registry\r\n\r\n"
            _ = ask.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
            return fd
        }
        /// What arrived within 100 ms: bytes, 0 at end of stream, -1 for nothing yet.
        func poll(_ fd: Int32) -> Int {
            var buf = [UInt8](repeating: 0, count: 4096)
            return recv(fd, &buf, buf.count, 0)
        }
        func answered(_ fd: Int32) throws { try waitFor("an answer", seconds: 10) { poll(fd) > 0 } }
        let held = try (0..<16).map { _ in try open() }
        for fd in held { try answered(fd) }  // all 16 accepted and answered; they stay open
        let waiting = try open()
        // Past the limit the connection waits in the listen queue: no answer while the 16 stay.
        for _ in 0..<5 { #expect(poll(waiting) == -1, "answered past the limit") }
        close(held[0])
        try answered(waiting)
        // Idle for --idle-timeout (5 s): the registry closes the connection (end of stream).
        try waitFor("the registry to close an idle connection", seconds: 20) { poll(waiting) == 0 }
        for fd in held.dropFirst() { close(fd) }
        close(waiting)
        // Past the limits of the options: a clear refusal.
        let bad = run([registryBinary, "serve", "--database", "sqlite:\(reg.dir)/x.sqlite3", "--max-connections", "3"])
        #expect(bad.status == 2 && bad.stderr.contains("--max-connections must be 16 or more"), "\(bad.stderr)")
    }

    @Test func registryConfigMistakesAreNamedWithTheirLine() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ektp-cfg-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try """
        station:
          id: s1
          site: {province: P, regency: R, district: D}
        backend: {type: simulated, scenario: \(repoRoot)/scenarios/demo-kit.yaml}
        registry:
          url: ftp://registry.example
          token_file: /nonexistent/token
          batch_size: 5000
        """.write(toFile: dir + "/ektpd.yaml", atomically: true, encoding: .utf8)
        let r = try ektpd(["check-config", dir + "/ektpd.yaml"])
        #expect(r.status != 0)
        let all = r.stdout + r.stderr
        #expect(all.contains("ektpd.yaml:6:") && all.contains("http://"))
        #expect(all.contains("ektpd.yaml:7:") && all.contains("/nonexistent/token"))
        #expect(all.contains("ektpd.yaml:8:") && all.contains("batch_size"))
    }
}

/// Issue 15: `/metrics` answers Prometheus only with a scrape token, given as Prometheus's own
/// `authorization: {credentials_file: ...}`; a scrape without it is refused (the target is down).
@Suite(.serialized) struct RegistryScrapeTests {
    @Test func prometheusScrapesTheRegistryWithItsTokenAndIsRefusedWithout() throws {
        let prometheus = "/usr/bin/prometheus"
        guard prometheusTool(prometheus, else: "the registry's scrape-token test did not run") else { return }
        let reg = try RunningRegistry()
        let token = try reg.token("sintang-01")
        #expect(reg.request("POST", "/v1/reports", token: token, body: batchJSON("sintang-01", 1...2)).status == 200)
        let scrape = run([registryBinary, "token", "issue", "--database", reg.database, "--scrape", "prometheus"])
        #expect(scrape.status == 0, "\(scrape.stderr)")
        try scrape.stdout.write(toFile: reg.dir + "/scrape-token", atomically: true, encoding: .utf8)
        let prom = try RunningPrometheus(dir: reg.dir, scrapeConfigs: """
          - job_name: registry
            static_configs: [{targets: ["127.0.0.1:\(reg.port)"]}]
            authorization: {credentials_file: \(reg.dir)/scrape-token}
          - job_name: anonymous
            static_configs: [{targets: ["127.0.0.1:\(reg.port)"]}]
        """)
        func query(_ q: String) -> [String: String] {
            var out: [String: String] = [:]
            for row in prom.query(q) { out[row.labels["job"] ?? ""] = row.value }
            return out
        }
        try waitFor("Prometheus to scrape both jobs", seconds: 60) { query("up").count == 2 }
        try waitFor("the registry's job to be up", seconds: 30) { query("up")["registry"] == "1" }
        #expect(query("up")["anonymous"] == "0", "a scrape without the token is refused")
        #expect(query("ektp_registry_reports_stored_total")["registry"] == "2")
    }
}
