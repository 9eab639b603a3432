import ArgumentParser
import EKTPHardware
import EKTPModel
import EKTPStation
import EKTPPlatform
import EKTPYAML
#if canImport(Glibc)
import Glibc
#endif

/// `ektpd simulate`: a scenario's whole fleet against a registry, and what the centre then sees.
struct Simulate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a scenario's fleet against a registry and print what the centre sees.",
        discussion: """
            Every station runs its own health engine, outbox and registry uplink on the scenario's clock.
            Without --registry, an embedded registry (ektp-registry, SQLite in a temp folder) is started and
            stopped. With --registry URL, --tokens FILE gives each station's token ("STATION TOKEN" lines).
            The same scenario and seed give the same report.
            """)

    @Argument(help: "The scenario file (scenarios/*.yaml).") var scenario: String
    @Flag(name: .long, help: "Print JSON (the stable interface for scripts).") var json = false
    @Option(name: .long, help: "Override the scenario's seed.") var seed: UInt64?
    @Option(name: .long, help: "Override the scenario's duration (7d, 36h).") var duration: String?
    @Option(name: .long, help: "Deliver to this registry (http://HOST:PORT) instead of an embedded one.") var registry: String?
    @Option(name: .long, help: "With --registry: a file of \"STATION TOKEN\" lines.") var tokens: String?
    @Option(name: .long, help: "The embedded registry's database (default: SQLite in the temp folder; or postgres://...).") var registryDatabase: String?
    @Option(name: .long, help: "With --registry: a file holding a viewer's token (ektp-registry token issue --viewer NAME) to read the fleet with.") var viewerToken: String?
    @Flag(name: .long, help: "Keep the temp folder (outboxes, registry database) and say where it is.") var keep = false
    @Flag(name: .long, help: "Keep the embedded registry and its dashboard up after the simulation (until Ctrl-C), with a viewer login.") var serve = false
    @Option(name: .long, help: "With --serve: where the dashboard listens, HOST:PORT.") var serveOn: String = "127.0.0.1:8470"

    func run() async throws {
        var sc: Scenario
        do { sc = try Scenario.load(path: scenario) } catch {
            FileOut.err(error.description + "\n")
            throw ExitCode(4)
        }
        if let seed { sc.seed = seed }
        if let duration {
            guard let d = parseDuration(duration), d >= .seconds(60) else {
                FileOut.err("ektpd: --duration \(duration): " + tr("expected a duration of a minute or more, like 7d or 36h") + "\n")
                throw ExitCode(4)
            }
            sc.duration = d
        }
        var template = Array("\(ProcessEnv.get("TMPDIR") ?? "/tmp")/ektpd-simulate-XXXXXX".utf8CString)
        guard let dirPtr = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            FileOut.err("ektpd: cannot make a temp folder: \(String(cString: strerror(errno)))\n")
            throw ExitCode(1)
        }
        let work = String(cString: dirPtr)
        defer { if keep { FileOut.err("kept: \(work)\n") } else { removeTree(work) } }

        let progress = Progress(enabled: !json || isatty(2) != 0)
        var embedded: EmbeddedRegistry?
        var login: (user: String, password: String)?
        let url: HTTPURL
        var tokenMap: [String: String] = [:]
        var readToken = ""
        if serve && registry != nil {
            FileOut.err("ektpd: " + tr("--serve keeps the embedded registry up; with --registry, open your own registry's dashboard") + "\n")
            throw ExitCode(4)
        }
        if let registry {
            guard let u = HTTPURL(registry) else {
                FileOut.err("ektpd: --registry \(registry): " + tr("expected http://HOST:PORT") + "\n")
                throw ExitCode(4)
            }
            guard let tokens else {
                FileOut.err("ektpd: " + tr("--registry needs --tokens FILE (\"STATION TOKEN\" lines, from ektp-registry token issue)") + "\n")
                throw ExitCode(4)
            }
            tokenMap = try readTokens(tokens)
            guard let viewerToken, let t = readWholeFile(viewerToken)?.split(separator: "\n").first else {
                FileOut.err("ektpd: " + tr("--registry needs --viewer-token FILE to read the fleet (ektp-registry token issue --viewer NAME)") + "\n")
                throw ExitCode(4)
            }
            readToken = String(t)
            url = u
        } else {
            progress.line(tr("starting the embedded registry"))
            do {
                let e = try await EmbeddedRegistry.start(work: work, database: registryDatabase, stations: sc.stations.map(\.id),
                                                         listen: serve ? serveOn : "127.0.0.1:0") {
                    progress.line(tr("issuing registry tokens: {n} of {total}", ["n": "\($0)", "total": "\(sc.stations.count)"]))
                }
                embedded = e
                url = e.url
                tokenMap = e.tokens
                readToken = e.viewerToken
                if serve {
                    login = try await e.addViewer()
                    FileOut.err(tr("dashboard (live while it runs): {url}/  user: {user}  password: {password}",
                                   ["url": e.url.description, "user": login!.user, "password": login!.password]) + "\n")
                }
            } catch {
                FileOut.err("ektpd: \(error)\n")
                throw ExitCode(1)
            }
        }
        defer { embedded?.stop() }
        EmbeddedRegistry.current = embedded?.pid ?? 0
        signal(SIGINT) { _ in
            if EmbeddedRegistry.current > 0 { kill(EmbeddedRegistry.current, SIGTERM) }
            _exit(130)
        }

        let fleet: FleetSimulator
        do {
            fleet = try FleetSimulator(scenario: sc, registry: url, tokens: tokenMap, workDirectory: work)
            // The embedded registry lives on the scenario's clock too; a registry of your own keeps its own.
            if embedded != nil { fleet.onTime = { EmbeddedRegistry.setClock(work, $0) } }
            fleet.readToken = readToken
            // Courier stations never deliver online, so the registry learns their keys (and each
            // regency gets a courier token) before the first trip.
            if !fleet.courierStations.isEmpty {
                if let embedded {
                    progress.line(tr("registering {n} courier station key(s)", ["n": "\(fleet.courierStations.count)"]))
                    fleet.courierTokens = try await embedded.registerCouriers(fleet.courierStations, work: work)
                } else {
                    for c in fleet.courierStations { writeFile("\(work)/\(c.id).pub", c.publicKeyPEM) }
                    FileOut.err("ektpd: courier stations upload with their own tokens; register their keys at your registry first "
                                + "(ektp-registry station add ID --public-key \(work)/ID.pub; use --keep), else their bundles are held for review\n")
                }
            }
            try await fleet.boot()
        } catch {
            FileOut.err("ektpd: \(error)\n")
            throw ExitCode(1)
        }
        let days = max(1, Int((sc.duration.wholeMilliseconds + 86_399_999) / 86_400_000))
        var lastShown: Int64 = -1
        await fleet.run(until: fleet.end) { t in
            let hour = (t.millis - sc.start.millis) / 3_600_000
            guard hour != lastShown else { return }
            lastShown = hour
            let day = Int(hour / 24) + 1
            progress.update(tr("simulating {n} stations: day {day} of {days}, {time}, {delivered} reports delivered",
                               ["n": "\(sc.stations.count)", "day": "\(min(day, days))", "days": "\(days)", "time": "\(t.rfc3339.prefix(16))Z",
                                "delivered": L10n.count(fleet.delivered)]))
        }
        fleet.flush()
        progress.done(tr("simulated {n} stations for {duration}: {delivered} reports delivered, {pending} still in outboxes",
                         ["n": "\(sc.stations.count)", "duration": spokenDuration(sc.duration), "delivered": L10n.count(fleet.delivered),
                          "pending": L10n.count(fleet.pendingReports)]))

        let at = fleet.end.rfc3339
        do {
            let summary = try fetch(FleetSummary.self, url, "/v1/fleet?at=\(at)", token: readToken)
            let broken = try fetch(SitesReply.self, url, "/v1/sites?status=broken&at=\(at)", token: readToken)
            let unpulled = try fetch(SitesReply.self, url, "/v1/sites?status=unpulled&at=\(at)", token: readToken)
            let silent = try fetch(SitesReply.self, url, "/v1/sites?status=silent&at=\(at)", token: readToken)
            let report = SimulationReport(scenario: sc.name, description: sc.summary, seed: sc.seed, start: sc.start, end: fleet.end,
                                          stations: sc.stations.count, delivered: fleet.delivered, pending: fleet.pendingReports,
                                          registry: embedded == nil ? url.description : "embedded (\(embedded!.label))",
                                          fleet: summary, unableToEnrol: broken.sites, notPulled: unpulled.sites, silent: silent.sites,
                                          alerts: fleet.alerts,
                                          alertsFiring: fleet.firingAlerts.sorted { $0.key < $1.key }
                                              .map { .init(station: $0.key, alerts: $0.value.compactMap(FiringAlert.init)) },
                                          courier: fleet.courierTrips.isEmpty ? nil : fleet.courierTrips)
            if json {
                print(String(decoding: try JSONStyle.encode(report, pretty: true), as: UTF8.self))
            } else {
                print(report.text, terminator: "")
            }
        } catch {
            FileOut.err("ektpd: " + tr("reading the registry's view: {error}", ["error": "\(error)"]) + "\n")
            throw ExitCode(1)
        }
        if serve, let embedded, let login {
            // The page a person can open (issue 15): the registry stays up on the scenario's last
            // time until Ctrl-C (or SIGTERM); then everything stops and the temp folder goes.
            print("\ndashboard: \(embedded.url)/  user: \(login.user)  password: \(login.password)")
            print("database: \(embedded.database)  (Ctrl-C stops the registry)")
            fflush(nil)
            SimulateStop.wait()
        }
    }

    func fetch<T: Decodable>(_ type: T.Type, _ url: HTTPURL, _ path: String, token: String) throws -> T {
        switch HTTPClient().request("GET", url, path: path, headers: [("Authorization", "Bearer \(token)")], timeout: .seconds(30), maxResponse: 64 << 20) {
        case .failure(let e): throw e
        case .success(let x):
            guard x.status == 200 else { throw SimulationError("GET \(path): \(x.status) \(String(decoding: x.body.prefix(300), as: UTF8.self))") }
            return try JSONStyle.decode(T.self, from: x.body)
        }
    }

    func readTokens(_ path: String) throws -> [String: String] {
        guard let text = readWholeFile(path) else {
            FileOut.err("ektpd: " + tr("cannot read --tokens {path}", ["path": path]) + "\n")
            throw ExitCode(4)
        }
        var out: [String: String] = [:]
        for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            if parts.isEmpty || parts[0].hasPrefix("#") { continue }
            guard parts.count == 2 else {
                FileOut.err("\(path):\(n + 1): " + tr("expected \"STATION TOKEN\"") + "\n")
                throw ExitCode(4)
            }
            out[String(parts[0])] = String(parts[1])
        }
        return out
    }
}

/// What `ektpd simulate` prints: the registry's view at the scenario's end.
struct SimulationReport: Codable {
    /// The wire names: snake_case, written out (no key strategy: JSONStyle).
    enum CodingKeys: String, CodingKey {
        case scenario, description, seed, start, end, stations, delivered, pending, registry, fleet, silent, alerts, courier
        case unableToEnrol = "unable_to_enrol"
        case notPulled = "not_pulled"
        case alertsFiring = "alerts_firing"
    }

    var scenario: String
    var description: String?
    var seed: UInt64
    var start: Timestamp
    var end: Timestamp
    var stations: Int
    var delivered: Int
    var pending: Int
    var registry: String
    var fleet: FleetSummary
    var unableToEnrol: [SiteView]
    var notPulled: [SiteView]
    var silent: [SiteView]
    /// The alert notifications the stations' hooks and webhooks got, and what fires at the end.
    var alerts: AlertTally
    /// Stations with alerts firing at the end (a list: JSON's snake_case style would rewrite map keys).
    var alertsFiring: [StationAlerts]
    /// Courier trips of the stations that report by bundle (issue 16); absent when none do.
    var courier: [CourierTrip]?

    struct StationAlerts: Codable {
        var station: String
        var alerts: [FiringAlert]
    }

    /// The report as a person reads it, in their language (issue 18); `--json` never changes.
    var text: String {
        var o = ""
        o += "\(scenario)\n"
        if let description { o += description.split(separator: "\n").map { "  \($0)\n" }.joined() }
        o += "  " + tr("{n} stations, {start} to {end}, seed {seed}; registry: {registry}",
                       ["n": "\(stations)", "start": start.rfc3339, "end": end.rfc3339, "seed": "\(seed)", "registry": registry]) + "\n"
        o += "  " + tr("{n} reports delivered, {pending} still waiting in station outboxes",
                       ["n": L10n.count(delivered), "pending": L10n.count(pending)]) + "\n\n"
        let t = fleet.tally
        o += tr("THE REGISTRY'S VIEW at {time}", ["time": fleet.at.rfc3339]) + "\n"
        o += "  " + tr("{n} stations: {ready} ready, {degraded} degraded, {broken} cannot enrol, {unknown} unknown; {silent} not heard from; {unpulled} not pulled by the centre",
                       ["n": "\(t.stations)", "ready": "\(t.ready)", "degraded": "\(t.degraded)", "broken": "\(t.broken)", "unknown": "\(t.unknown)",
                        "silent": "\(t.silent)", "unpulled": "\(t.notPulled)"]) + "\n"
        for p in fleet.provinces {
            o += "  \(p.name)\n"
            for r in p.regencies {
                o += "    \(r.name): \(tallyLine(r.tally))\n"
                for d in r.districts { o += "      \(pad(d.name, 32)) \(tallyLine(d.tally))\n" }
            }
        }
        let none = "  " + tr("none") + "\n"
        o += "\n" + tr("UNABLE TO ENROL ({n})", ["n": "\(unableToEnrol.count)"]) + "\n"
        if unableToEnrol.isEmpty { o += none }
        for s in unableToEnrol {
            o += "  \(s.site.district) (\(s.station)): \(s.reasons.isEmpty ? tr("kit broken") : s.reasons.map(L10n.sentence).joined(separator: "; "))\n"
        }
        o += "\n" + tr("NOT PULLED BY THE CENTRE ({n})", ["n": "\(notPulled.count)"]) + "\n"
        if notPulled.isEmpty { o += none }
        for s in notPulled {
            let when = s.lastPull.map { tr("last pulled {time}", ["time": $0.rfc3339]) } ?? tr("never pulled")
            o += "  \(s.site.district) (\(s.station)): \(when)\n"
        }
        o += "\n" + tr("NOT HEARD FROM in {duration} ({n})", ["duration": spokenDuration(.seconds(fleet.silentAfterSeconds)), "n": "\(silent.count)"]) + "\n"
        if silent.isEmpty { o += none }
        for s in silent {
            let courier = s.lastCourier.map { tr(", by courier {time} (news until {until})", ["time": $0.rfc3339, "until": s.courierNewsUntil?.rfc3339 ?? "?"]) } ?? ""
            o += "  \(s.site.district) (\(s.station)): " + tr("last heard {time}", ["time": s.lastHeard?.rfc3339 ?? tr("never")]) + courier + "\n"
        }
        if let courier, !courier.isEmpty {
            o += "\n" + tr("BY COURIER: how the centre's view filled in, trip by trip") + "\n"
            for trip in courier {
                let what: String = switch trip.result {
                case .imported where trip.reports == 0: tr("nothing new to carry")
                case .imported: tr("{n} reports carried: {new} new, {known} already known", ["n": "\(trip.reports)", "new": "\(trip.stored)", "known": "\(trip.known)"])
                case .pending: tr("held for review: {reason}", ["reason": trip.reason ?? ""])
                case .refused: tr("refused: {reason}", ["reason": trip.reason ?? ""])
                }
                o += "  \(trip.time.rfc3339.prefix(16))Z \(pad(trip.station, 24)) \(what); "
                    + tr("sites known to be unable to enrol: {before} -> {after}", ["before": "\(trip.cannotEnrolBefore)", "after": "\(trip.cannotEnrolKnown)"]) + "\n"
            }
        }
        o += "\n" + tr("ALERTS the stations sent to their hooks and webhooks") + "\n"
        o += "  " + tr("{n} notification(s): {fired} alert(s) fired, {resolved} resolved, {repeats} repeat(s)",
                       ["n": "\(alerts.notifications)", "fired": "\(alerts.fired)", "resolved": "\(alerts.resolved)", "repeats": "\(alerts.repeats)"]) + "\n"
        if !alerts.firedByName.isEmpty {
            o += "  " + tr("fired: {list}", ["list": alerts.firedByName.map { "\($0.name) \($0.count)" }.joined(separator: ", ")]) + "\n"
        }
        let standing = alertsFiring.reduce(0) { $0 + $1.alerts.count }
        o += "  " + tr("firing at the end: {n} at {stations} station(s)", ["n": "\(standing)", "stations": "\(alertsFiring.count)"]) + "\n"
        if !fleet.stock.isEmpty {
            o += "\n" + tr("CARD BLANKS") + "\n"
            for s in fleet.stock {
                var line = "  \(s.site.district) (\(s.station)): " + tr("{n} left", ["n": L10n.count(s.blanks)])
                // Figures from the registry's JSON: formatted without converting an unbounded Double to Int.
                if let r = s.perDay, r.isFinite, r >= 0, r < 1e12 { line += tr(", using {n} a day", ["n": L10n.count(Int(r.rounded()))]) }
                if let d = s.daysLeft, d.isFinite, d >= 0 {
                    line += d >= 1e9 ? tr(", years of blanks left") : tr(", {n} days left", ["n": d < 10 ? String(Double(Int(d * 10)) / 10) : String(Int(d))])
                }
                line += tr("; card printers: {working} of {n} working", ["working": "\(s.printersWorking)", "n": "\(s.printers)"])
                o += line + "\n"
            }
        }
        return o
    }

    func tallyLine(_ t: FleetTally) -> String {
        var parts = [t.stations == 1 ? tr("{n} station", ["n": "1"]) : tr("{n} stations", ["n": "\(t.stations)"])]
        if t.ready > 0 { parts.append(tr("{n} ready", ["n": "\(t.ready)"])) }
        if t.degraded > 0 { parts.append(tr("{n} degraded", ["n": "\(t.degraded)"])) }
        if t.broken > 0 { parts.append(tr("{n} CANNOT ENROL", ["n": "\(t.broken)"])) }
        if t.unknown > 0 { parts.append(tr("{n} unknown", ["n": "\(t.unknown)"])) }
        if t.silent > 0 { parts.append(tr("{n} silent", ["n": "\(t.silent)"])) }
        if t.notPulled > 0 { parts.append(tr("{n} NOT PULLED", ["n": "\(t.notPulled)"])) }
        return parts.joined(separator: ", ")
    }

    func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
}

/// `ektp-registry serve` as a child on a free loopback port, its database in the temp folder.
final class EmbeddedRegistry {
    nonisolated(unsafe) static var current: pid_t = 0
    let process: ChildProcess
    let url: HTTPURL
    let tokens: [String: String]
    let label: String
    let database: String
    /// A national viewer's token: the simulation reads the fleet with it (reads need one, issue 15).
    let viewerToken: String
    var pid: pid_t { process.pid }

    init(process: ChildProcess, url: HTTPURL, tokens: [String: String], label: String, database: String, viewerToken: String) {
        self.viewerToken = viewerToken
        self.database = database
        self.process = process
        self.url = url
        self.tokens = tokens
        self.label = label
    }

    /// The embedded registry's clock: the simulation writes its scenario time here as it advances,
    /// and the registry judges arrivals and silence by it (not by the stations' own clocks).
    static func clockFile(_ work: String) -> String { "\(work)/registry.clock" }

    /// Sets the embedded registry's clock (written whole, then renamed into place).
    static func setClock(_ work: String, _ t: Timestamp) {
        let path = clockFile(work)
        let fd = open(path + ".new", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return }
        let text = Array((t.rfc3339 + "\n").utf8)
        _ = text.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        rename(path + ".new", path)
    }

    static func start(work: String, database: String?, stations: [String], listen: String, progress: (Int) -> Void) async throws -> EmbeddedRegistry {
        let binary = try findRegistryBinary()
        let db = database ?? "sqlite:\(work)/registry.sqlite3"
        var tokens: [String: String] = [:]
        for (i, id) in stations.enumerated() {
            let r = await runCommand([binary, "token", "issue", "--database", db, "--station=\(id)"], timeout: .seconds(60))
            guard r.code == 0, let token = r.output.split(separator: "\n").first else {
                throw SimulationError("ektp-registry token issue --station \(id) failed: \(r.error ?? r.output)")
            }
            tokens[id] = String(token)
            progress(i + 1)
        }
        let v = await runCommand([binary, "token", "issue", "--database", db, "--viewer", "simulate"], timeout: .seconds(60))
        guard v.code == 0, let viewerToken = v.output.split(separator: "\n").first else {
            throw SimulationError("ektp-registry token issue --viewer failed: \(v.error ?? v.output)")
        }
        let portFile = "\(work)/registry.port"
        let host = listen.lastIndex(of: ":").map { String(listen[..<$0]) } ?? "127.0.0.1"
        let child = try ChildProcess(argv: [binary, "serve", "--database", db, "--listen", listen, "--port-file", portFile,
                                            "--clock-file", clockFile(work), "--silent-after", "7200", "--log-level", "warning"])
        // Wait for it to listen (it writes the port file), or to die.
        for _ in 0..<3000 {
            if let text = readWholeFile(portFile), let port = UInt16(text.split(separator: "\n").first ?? "") {
                let label = db.hasPrefix("postgres") ? "PostgreSQL" : "SQLite"
                let shown = host == "0.0.0.0" || host == "::" || host.isEmpty ? "127.0.0.1" : host.contains(":") ? "[\(host)]" : host
                guard let url = HTTPURL("http://\(shown):\(port)") else { throw SimulationError("--serve-on \(listen): expected HOST:PORT") }
                return EmbeddedRegistry(process: child, url: url, tokens: tokens, label: label, database: db, viewerToken: String(viewerToken))
            }
            var status: Int32 = 0
            if waitpid(child.pid, &status, WNOHANG) == child.pid {
                throw SimulationError("the embedded registry exited: \(ChildProcess.describe(status))")
            }
            usleep(10_000)
        }
        child.signal(SIGTERM)
        throw SimulationError("the embedded registry did not start listening within 30 seconds")
    }

    /// Registers the courier stations' keys and sites (`ektp-registry station add`) and issues a
    /// courier token per regency; returns the tokens by `PROVINCE/REGENCY`.
    func registerCouriers(_ stations: [(id: String, site: Site, publicKeyPEM: String)], work: String) async throws -> [String: String] {
        let binary = try Self.findRegistryBinary()
        var tokens: [String: String] = [:]
        for s in stations {
            let pem = "\(work)/\(s.id).pub"
            writeFile(pem, s.publicKeyPEM)
            let r = await runCommand([binary, "station", "add", s.id, "--database", database, "--public-key", pem,
                                      "--province", s.site.province, "--regency", s.site.regency, "--district", s.site.district], timeout: .seconds(60))
            guard r.code == 0 else { throw SimulationError("ektp-registry station add \(s.id) failed: \(r.error ?? r.output)") }
            let scope = "\(s.site.province)/\(s.site.regency)"
            if tokens[scope] == nil {
                let t = await runCommand([binary, "token", "issue", "--database", database, "--courier", "--province", s.site.province,
                                          "--regency", s.site.regency], timeout: .seconds(60))
                guard t.code == 0, let token = t.output.split(separator: "\n").first else {
                    throw SimulationError("ektp-registry token issue --courier failed: \(t.error ?? t.output)")
                }
                tokens[scope] = String(token)
            }
        }
        return tokens
    }

    /// A dashboard login for whoever runs the simulation: user `viewer`, a new random password.
    func addViewer() async throws -> (user: String, password: String) {
        let binary = try Self.findRegistryBinary()
        let r = await runCommand([binary, "user", "add", "viewer", "--database", database], timeout: .seconds(60))
        guard r.code == 0, let line = r.output.split(separator: "\n").first(where: { $0.hasPrefix("password: ") }) else {
            throw SimulationError("ektp-registry user add viewer failed: \(r.error ?? r.output)")
        }
        return ("viewer", String(line.dropFirst("password: ".count)))
    }

    func stop() {
        process.signal(SIGTERM)
        _ = process.waitBlocking()
        EmbeddedRegistry.current = 0
    }

    /// `ektp-registry` beside this ektpd, else on PATH.
    static func findRegistryBinary() throws -> String {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        if n > 0 {
            let me = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if let slash = me.lastIndex(of: "/") {
                let sibling = String(me[...slash]) + "ektp-registry"
                if access(sibling, X_OK) == 0 { return sibling }
            }
        }
        for dir in (ProcessEnv.get("PATH") ?? "/usr/local/bin:/usr/bin").split(separator: ":") {
            let p = "\(dir)/ektp-registry"
            if access(p, X_OK) == 0 { return p }
        }
        throw SimulationError("ektp-registry not found beside ektpd or on PATH (swift build builds both; make install installs both)")
    }
}

/// A progress line on stderr: rewritten in place on a terminal, a line per update otherwise (journald, CI).
final class Progress {
    let enabled: Bool
    let tty = isatty(2) != 0
    var last = ""
    init(enabled: Bool) { self.enabled = enabled }

    func line(_ s: String) {
        guard enabled else { return }
        if tty { FileOut.err("\r\u{1B}[K\(s)") } else { FileOut.err(s + "\n") }
    }

    func update(_ s: String) {
        guard enabled else { return }
        if tty { FileOut.err("\r\u{1B}[K\(s)") } else {
            // Off a terminal: one line per simulated day is plenty.
            let day = s.split(separator: ",").first.map(String.init) ?? s
            if day != last { FileOut.err(s + "\n"); last = day }
        }
    }

    func done(_ s: String) {
        guard enabled else { return }
        FileOut.err(tty ? "\r\u{1B}[K\(s)\n" : s + "\n")
    }
}

enum FileOut {
    static func err(_ s: String) { writeStandardError(s) }
}

enum ProcessEnv {
    static func get(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }
}

func removeTree(_ path: String) {
    guard let d = opendir(path) else { unlink(path); return }
    while let e = readdir(d) {
        let name = withUnsafeBytes(of: e.pointee.d_name) { String(cString: $0.baseAddress!.assumingMemoryBound(to: CChar.self)) }
        if name == "." || name == ".." { continue }
        let full = path + "/" + name
        var st = stat()
        if lstat(full, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR { removeTree(full) } else { unlink(full) }
    }
    closedir(d)
    rmdir(path)
}

/// Writes a small text file (keys for `ektp-registry station add`); failures show in the command that reads it.
func writeFile(_ path: String, _ text: String) {
    guard let f = fopen(path, "w") else { return }
    fputs(text, f)
    fclose(f)
}

/// `simulate --serve` waits here for Ctrl-C or SIGTERM, then returns so the registry is stopped
/// and the temp folder removed as on any other end.
enum SimulateStop {
    nonisolated(unsafe) static var requested: sig_atomic_t = 0

    static func wait() {
        signal(SIGINT) { _ in SimulateStop.requested = 1 }
        signal(SIGTERM) { _ in SimulateStop.requested = 1 }
        while requested == 0 { usleep(100_000) }
    }
}
