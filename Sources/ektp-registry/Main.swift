import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#endif
import EKTPHTTPClient
import EKTPModel
import EKTPRegistry
import EKTPPlatform
import EKTPYAML
import Hummingbird
import HummingbirdCore
import Logging
import ServiceLifecycle
import Synchronization
import UnixSignals
#if canImport(Glibc)
import Glibc
#endif

@main
struct EktpRegistry: AsyncParsableCommand {
    /// Messages in the reader's language (gettext, issue 18) before anything is parsed or printed.
    static func main() async {
        L10n.setUp()
        await Self.main(nil)
    }

    static let configuration = CommandConfiguration(
        commandName: "ektp-registry",
        abstract: "The central registry that e-KTP enrolment stations report to.",
        discussion: """
            DATABASE is sqlite:PATH (the default, one file, no set-up) or postgres://USER[:PASSWORD]@HOST[:PORT]/DB.
            Without --database: $EKTP_REGISTRY_DATABASE, else sqlite:$STATE_DIRECTORY/registry.sqlite3,
            else sqlite:/var/lib/ektp-registry/registry.sqlite3.
            """,
        version: ektpVersion,
        subcommands: [Serve.self, Migrate.self, Token.self, User.self, StationCommand.self, Import.self, OpenAPI.self])
}

struct DatabaseOption: ParsableArguments {
    @Option(name: .long, help: "The database URL (see ektp-registry --help).")
    var database: String?

    func url(_ env: [String: String]) -> String {
        if let database { return database }
        if let d = env["EKTP_REGISTRY_DATABASE"], !d.isEmpty { return d }
        let dir = env["STATE_DIRECTORY"].flatMap { $0.split(separator: ":").first.map(String.init) } ?? "/var/lib/ektp-registry"
        return "sqlite:\(dir)/registry.sqlite3"
    }

    func open(_ env: [String: String]) async throws -> Registry {
        let store = try await StoreURL.open(url(env))
        return Registry(store: store)
    }

    /// Opens the database, brings its schema up to date, runs `body` with the registry and the
    /// wall clock's now, and closes it (also when `body` throws); store and request errors are
    /// printed as one line (exit 1).
    func withMigratedRegistry<T>(_ body: (Registry, Timestamp) async throws -> T) async throws -> T {
        var result: T?
        try await reportingErrors {
            let registry = try await open(environment())
            do {
                try await registry.migrate(now: wallClockNow())
                result = try await body(registry, wallClockNow())
            } catch {
                await registry.store.close()
                throw error
            }
            await registry.store.close()
        }
        return result!
    }
}

func environment() -> [String: String] {
    var out: [String: String] = [:]
    var p = environ
    while let c = p.pointee {
        let s = String(cString: c)
        if let eq = s.firstIndex(of: "=") { out[String(s[..<eq])] = String(s[s.index(after: eq)...]) }
        p += 1
    }
    return out
}

/// Runs a command body, printing a store or request problem as one line and exiting 1.
func reportingErrors(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let e as StoreError {
        FileHandleStderr.write("ektp-registry: \(e.description)\n")
        throw ExitCode(1)
    } catch let e as RegistryError {
        FileHandleStderr.write("ektp-registry: \(L10n.sentence(e.description))\n")
        throw ExitCode(1)
    }
}

enum FileHandleStderr {
    static func write(_ s: String) { writeStandardError(s) }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve the registry's HTTP API (under systemd: ektp-registry.service).")

    @OptionGroup var db: DatabaseOption
    @Option(name: .long, help: "Address to listen on, HOST:PORT (port 0: any free port).")
    var listen: String = "127.0.0.1:8470"
    @Option(name: .long, help: "Write the bound port to this file once listening (for scripts and tests).")
    var portFile: String?
    @Option(name: .long, help: "A station not heard from for this many seconds counts as silent.")
    var silentAfter: Int = 3600
    @Option(name: .long, help: "Read the registry's clock from this file (one RFC 3339 time), which a simulation rewrites as its scenario time advances (ektpd simulate). Never in production.")
    var clockFile: String?
    @Option(name: .long, help: "Log level: debug, info, notice, warning, error.")
    var logLevel: String = "info"
    @Option(name: .long, help: "At most this many writes (report batches, bundles) run at once.")
    var maxWrites: Int = 8
    @Option(name: .long, help: "At most this many more wait for a place (past it: 429 with Retry-After).")
    var writeQueue: Int = 64
    @Option(name: .long, help: "A write waits at most this many seconds for a place, then gets 429 (under a station's 20 s timeout).")
    var writeWait: Int = 5
    @Option(name: .long, help: "At most this many connections open at once; more wait in the listen queue (4,096) until one closes. Bounds memory when a province reconnects at once (about 22 KB a connection).")
    var maxConnections: Int = 8192
    @Option(name: .long, help: "Close a connection idle this many seconds, so an idle station gives its place to another.")
    var idleTimeout: Int = 60
    @Option(name: .long, help: "Serve HTTPS with this PEM certificate chain (or $EKTP_REGISTRY_TLS_CERT); reloaded on SIGHUP.")
    var tlsCert: String?
    @Option(name: .long, help: "The certificate's PEM private key (or $EKTP_REGISTRY_TLS_KEY).")
    var tlsKey: String?
    @Option(name: .long, help: "Require client certificates signed by this PEM CA (or $EKTP_REGISTRY_CLIENT_CA): mutual TLS.")
    var clientCa: String?
    @Option(name: .long, help: "The dashboard's time zone: WIB, WITA, WIT, UTC or +HH:MM.")
    var timeZone: String = "WIB"

    func run() async throws {
        let env = environment()
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in JournalLogHandler(label: label, level: level, environment: env) }
        let logger = Logger(label: "ektp-registry")
        guard maxWrites >= 1, writeQueue >= 0, (1...60).contains(writeWait) else {
            FileHandleStderr.write("ektp-registry: " + tr("--max-writes must be 1 or more, --write-queue 0 or more, --write-wait 1 to 60 seconds") + "\n")
            throw ExitCode(2)
        }
        guard maxConnections >= 16, (1...3600).contains(idleTimeout) else {
            FileHandleStderr.write("ektp-registry: " + tr("--max-connections must be 16 or more, --idle-timeout 1 to 3600 seconds") + "\n")
            throw ExitCode(2)
        }
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]), (0...65535).contains(port) else {
            FileHandleStderr.write("ektp-registry: --listen \(listen): " + tr("expected HOST:PORT (127.0.0.1:8470)") + "\n")
            throw ExitCode(2)
        }
        let host = String(listen[..<colon])
        func setting(_ option: String?, _ name: String) -> String? {
            if let option { return option }
            if let v = env[name], !v.isEmpty { return v }
            return nil
        }
        let certPath = setting(tlsCert, "EKTP_REGISTRY_TLS_CERT"), keyPath = setting(tlsKey, "EKTP_REGISTRY_TLS_KEY")
        let clientCAPath = setting(clientCa, "EKTP_REGISTRY_CLIENT_CA")
        var tls: RegistryTLS?
        switch (certPath, keyPath) {
        case (nil, nil):
            if clientCAPath != nil {
                FileHandleStderr.write("ektp-registry: " + tr("--client-ca needs --tls-cert and --tls-key (client certificates come with HTTPS)") + "\n")
                throw ExitCode(2)
            }
        case let (cert?, key?):
            do { tls = try RegistryTLS(certificate: cert, key: key, clientCA: clientCAPath) } catch {
                FileHandleStderr.write("ektp-registry: \(error)\n")
                throw ExitCode(1)
            }
        default:
            FileHandleStderr.write("ektp-registry: " + tr("give both --tls-cert and --tls-key (or neither, for plain HTTP behind a TLS proxy)") + "\n")
            throw ExitCode(2)
        }
        guard let offset = DashboardSettings.offset(parsing: timeZone) else {
            FileHandleStderr.write("ektp-registry: --time-zone \(timeZone): " + tr("expected WIB, WITA, WIT, UTC or +HH:MM") + "\n")
            throw ExitCode(2)
        }
        let scheme = tls == nil ? "http" : "https"
        let serverTLS = tls
        try await reportingErrors {
            let store = try await StoreURL.open(db.url(env))
            let registry = Registry(store: store, silentAfter: .seconds(silentAfter))
            let applied = try await registry.migrate(now: wallClockNow()) { logger.notice("\($0)") }
            if !applied.isEmpty { logger.notice("database migrated: \(applied.count) migration(s)") }
            let clock: RegistryHTTP.Clock = clockFile.map { .file($0, fallback: wallClockNow) } ?? .init(now: wallClockNow)
            let router = RegistryHTTP.router(registry: registry,
                                             clock: clock,
                                             logger: logger,
                                             admission: Admission(maxInFlight: maxWrites, maxQueue: writeQueue, maxWait: .seconds(writeWait)),
                                             dashboard: DashboardSettings(secureCookies: serverTLS != nil, utcOffsetMinutes: offset))
            let notifier = SystemdNotifier(environment: env)
            let portFile = self.portFile
            if let tls = serverTLS {
                // A renewed certificate is read on SIGHUP (systemctl reload ektp-registry).
                Task.detached {
                    for await _ in await UnixSignalsSequence(trapping: .sighup) {
                        do {
                            try tls.reload()
                            logger.notice("reloaded the TLS certificate \(tls.certificatePath) and key \(tls.keyPath)")
                        } catch {
                            logger.error("TLS reload failed, still serving the previous certificate: \(error)")
                        }
                    }
                }
            }
            let http1 = HTTP1Channel.Configuration(idleTimeout: .seconds(Int64(idleTimeout)))
            let app = Application(
                router: router,
                server: serverTLS.map { HTTPServerBuilder.registryTLS($0, configuration: http1) } ?? .http1(configuration: http1),
                // A province reconnecting at once opens thousands of connections in a second: a
                // listen queue of 4096 (Linux's somaxconn) instead of 256 keeps them from being reset
                // (Benchmarks/reconnect.py: 929 of 2000 reset at 256).
                // At most --max-connections at once (Hummingbird stops accepting past it; the rest
                // wait in the listen queue): 15,000 stations reconnecting at once took 362 MB with
                // no limit, about 22 KB a connection; 227 MB at 8,192 (Benchmarks/catchup.py 15000
                // 0.2). At 4,096 and a 15 s idle timeout: 144 MB, but a station waiting out its
                // Retry-After lost its connection and came back late: 4,950 second refusals.
                configuration: .init(address: .hostname(host, port: port), serverName: "ektp-registry", backlog: 4096,
                                     availableConnectionsDelegate: MaximumAvailableConnections(maxConnections, logger: logger)),
                onServerRunning: { channel in
                    let bound = channel.localAddress?.port ?? port
                    if let portFile {
                        let tmp = portFile + ".tmp"
                        if let f = fopen(tmp, "w") { fputs("\(bound)\n", f); fclose(f); rename(tmp, portFile) }
                    }
                    logger.notice("listening on \(scheme)://\(host):\(bound) (\(store.label))\(serverTLS?.clientCAPath != nil ? ", client certificates required" : "")")
                    notifier.notify(["READY": "1", "STATUS": "listening on \(host):\(bound)"])
                },
                logger: logger)
            // SIGTERM and SIGINT through one handler that is never swapped (StopSignals): Hummingbird's
            // runService(gracefulShutdownSignals:) has libdispatch swap in a handler of its own,
            // and a SIGTERM around the swap was not acted on. Before this line the default (exit by the signal)
            // still stops a start that waits on the database.
            let group = StopSignals.serviceGroup(services: [app, FleetIndexRefresh(registry: registry, clock: clock, logger: logger)], logger: logger)
            try await group.run()
            await store.close()
            logger.notice("stopped")
        }
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Bring the database's schema up to this version (serve also does it).")
    @OptionGroup var db: DatabaseOption
    @Flag(name: .long, help: "Only say which version the database is at.")
    var status = false

    func run() async throws {
        try await reportingErrors {
            let registry = try await db.open(environment())
            defer { Task { await registry.store.close() } }
            if status {
                let v = try await registry.schemaVersion()
                print(tr("{store}: schema version {v} of {latest}", ["store": registry.store.label, "v": "\(v)", "latest": "\(Schema.latest)"])
                      + (v == Schema.latest ? " " + tr("(current)") : ""))
            } else {
                let applied = try await registry.migrate(now: wallClockNow()) { print($0) }
                print(applied.isEmpty ? "\(registry.store.label): already at schema version \(Schema.latest)" : "\(registry.store.label): now at schema version \(Schema.latest)")
            }
            await registry.store.close()
        }
    }
}

struct Token: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Issue or revoke a station's tokens.", subcommands: [Issue.self, Rotate.self, List.self, Revoke.self])

    struct Issue: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a token; it is printed once and only its hash is kept.",
            discussion: """
                --station ID: a station's, which sends its reports. --courier --province P --regency R: uploads the
                signed bundles of that regency's stations (ektp-registry import --registry) and nothing else.
                --viewer NAME [--province P [--regency R]]: reads the /v1 JSON of that scope (scripts, Grafana).
                --scrape NAME: reads /metrics only (Prometheus's authorization: credentials_file).
                """)
        @OptionGroup var db: DatabaseOption
        @Option(name: .long, help: "The station's ID (as in its ektpd.yaml).") var station: String?
        @Flag(name: .long, help: "A courier token for --province and --regency instead of a station's.") var courier = false
        @Option(name: .long, help: "A read-only token for this viewer name, for --province/--regency or the whole fleet.") var viewer: String?
        @Option(name: .long, help: "A token for Prometheus to scrape /metrics, under this name.") var scrape: String?
        @Option(name: .long, help: "With --courier or --viewer: the province.") var province: String?
        @Option(name: .long, help: "With --courier or --viewer: the regency (kabupaten/kota).") var regency: String?

        func validate() throws {
            let kinds = [station != nil, courier, viewer != nil, scrape != nil].filter { $0 }.count
            guard kinds == 1 else { throw ValidationError("give one of --station ID, --courier, --viewer NAME or --scrape NAME") }
            if courier { guard province != nil, regency != nil else { throw ValidationError("--courier takes --province and --regency") } }
            if station != nil || scrape != nil { guard province == nil, regency == nil else { throw ValidationError("--province and --regency go with --courier or --viewer") } }
            if viewer != nil, regency != nil, province == nil { throw ValidationError("--regency needs its --province") }
        }

        func run() async throws {
            print(try await db.withMigratedRegistry { registry, now in
                if courier { return try await registry.issueCourierToken(province: province!, regency: regency!, now: now) }
                if let viewer { return try await registry.issueViewerToken(name: viewer, scope: ViewScope(province: province, regency: regency), now: now) }
                if let scrape { return try await registry.issueScrapeToken(name: scrape, now: now) }
                return try await registry.issueToken(station: station!, now: now)
            })
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a new token for a station; its current tokens keep working for the grace period, then end.",
            discussion: "Put the new token in the station's token_file and restart ektpd within the grace period; nothing is refused meanwhile.")
        @OptionGroup var db: DatabaseOption
        @Option(name: .long, help: "The station's ID.") var station: String
        @Option(name: .long, help: "How long the old tokens keep working (a duration: 7d, 36h).") var grace: String = "7d"

        func run() async throws {
            guard let g = parseDuration(grace), g > .zero, g <= maxInputDuration else {
                FileHandleStderr.write("ektp-registry: --grace \(grace): " + tr("expected a duration such as 7d or 36h (at most 10 years)") + "\n")
                throw ExitCode(2)
            }
            let (token, retiring, now) = try await db.withMigratedRegistry { registry, now in
                let (token, retiring) = try await registry.rotateToken(station: station, grace: g, now: now)
                return (token, retiring, now)
            }
            print(token)
            FileHandleStderr.write(tr("{n} older token(s) of {station} keep working until {time}", ["n": "\(retiring)", "station": station, "time": now.adding(g).rfc3339]) + "\n")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a station's tokens: issued, ends, and the start of their hash (never the token).")
        @OptionGroup var db: DatabaseOption
        @Option(name: .long, help: "The station's ID.") var station: String

        func run() async throws {
            let (rows, now) = try await db.withMigratedRegistry { registry, now in (try await registry.tokens(station: station), now) }
            print("ISSUED                    ENDS                      STATE      HASH")
            for r in rows {
                let state = r.ends.map { $0 <= now ? "ended" : "retiring" } ?? "live"
                let ends = r.ends?.rfc3339 ?? "-"
                print(r.issued.rfc3339.padding(26) + ends.padding(26) + state.padding(11) + r.hashPrefix)
            }
            if rows.isEmpty { throw ExitCode(1) }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke every token of a station.")
        @OptionGroup var db: DatabaseOption
        @Option(name: .long, help: "The station's ID.") var station: String

        func run() async throws {
            let n = try await db.withMigratedRegistry { registry, now in try await registry.revokeTokens(station: station, now: now) }
            print(tr("revoked {n} token(s) of {station}", ["n": "\(n)", "station": station]))
            if n == 0 { throw ExitCode(1) }
        }
    }
}

struct StationCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "station", abstract: "A station's signing key.", subcommands: [Add.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register (or replace) a station's public key, so its courier bundles are checked and taken.",
            discussion: """
                The key is the station's state directory's station.key, public half:
                  openssl pkey -in /var/lib/ektpd/station.key -pubout > STATION.pub
                A station also sends it with its first online delivery; this is for stations that never went online.
                --province/--regency/--district give its site, so a regency's courier may bring its bundles.
                """)
        @OptionGroup var db: DatabaseOption
        @Argument(help: "The station's ID.") var station: String
        @Option(name: .long, help: "The public key: PEM (BEGIN PUBLIC KEY) or 32 bytes of base64.") var publicKey: String
        @Option(name: .long) var province: String?
        @Option(name: .long) var regency: String?
        @Option(name: .long) var district: String?

        func run() async throws {
            guard let text = readFileText(publicKey) else {
                FileHandleStderr.write("ektp-registry: --public-key \(publicKey): " + tr("cannot read the file") + "\n")
                throw ExitCode(1)
            }
            guard let key = Ed25519PEM.publicKey(fromText: text) else {
                FileHandleStderr.write("ektp-registry: --public-key \(publicKey): " + tr("not an Ed25519 public key (PEM BEGIN PUBLIC KEY, or 32 bytes of base64)") + "\n")
                throw ExitCode(1)
            }
            let site = regency.map { Site(province: province ?? "", regency: $0, district: district ?? "") }
            let added = try await db.withMigratedRegistry { registry, now in
                try await registry.addStationKey(station: station, publicKey: key, site: site, now: now)
            }
            print(tr("station {station}: key {fingerprint}", ["station": station, "fingerprint": added.fingerprint])
                  + (added.replaced.map { " " + tr("(replaces {old}: bundles signed by the old key are refused from now on)", ["old": $0]) } ?? ""))
        }
    }
}

struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Import courier bundles (from ektpd export): checked whole, each report stored once.",
        discussion: """
            At the registry: ektp-registry import FILE... (the database as for serve).
            From a regency office: ektp-registry import --registry https://registry.example.id --token FILE FILE...
            with a courier token (ektp-registry token issue --courier --province P --regency R).
            A bundle of a station the registry has no key for is held for review: --pending lists them,
            --retry-pending imports those whose key has since been added (ektp-registry station add).
            Exit codes: 0 every bundle imported (or held for review), 1 one was refused or could not be read,
            3 one could not be sent (the registry unreachable: try again later), 4 bad usage.
            """)
    @OptionGroup var db: DatabaseOption
    @Argument(help: "Bundle files (ektp-STATION-FIRST-LAST.bundle).") var files: [String] = []
    @Option(name: .long, help: "Upload to this registry instead of writing the database here.") var registry: String?
    @Option(name: .long, help: "With --registry: a file holding a courier token.") var token: String?
    @Option(name: .long, help: "With --registry: trust only this CA (PEM) for its certificate.") var caFile: String?
    @Flag(name: .long, help: "List the bundles held for review.") var pending = false
    @Flag(name: .long, help: "Import the held bundles whose station now has a key.") var retryPending = false
    @Flag(name: .long, help: "Print each outcome as JSON.") var json = false

    func validate() throws {
        if pending || retryPending {
            guard !(pending && retryPending) else { throw ValidationError("give --pending (list) or --retry-pending (import), not both") }
            guard files.isEmpty, registry == nil else { throw ValidationError("--pending and --retry-pending take no files and no --registry") }
        } else {
            guard !files.isEmpty else { throw ValidationError("give one or more bundle files") }
            guard (registry == nil) == (token == nil) else { throw ValidationError("--registry and --token go together") }
        }
    }

    func run() async throws {
        if pending {
            let list = try await db.withMigratedRegistry { registry, _ in try await registry.pendingBundles() }
            if json { print(String(decoding: try JSONStyle.encode(list, pretty: true), as: UTF8.self)); return }
            if list.isEmpty { print(tr("no bundles held for review")) }
            for p in list {
                print("#\(p.id) " + tr("station {station}, {n} reports {first}-{last}, received {time} from {scope}, signed by {fingerprint}",
                                        ["station": p.station, "n": "\(p.reports)", "first": "\(p.firstSequence)", "last": "\(p.lastSequence)",
                                         "time": p.receivedAt.rfc3339, "scope": p.scope, "fingerprint": p.fingerprint]))
            }
            return
        }
        var outcomes: [(String, ImportOutcome)] = []
        if retryPending {
            let done = try await db.withMigratedRegistry { registry, now in try await registry.retryPending(now: now) }
            outcomes = done.map { ("held bundle of \($0.station ?? "?")", $0) }
            if done.isEmpty { print(tr("no held bundle has a key yet")) }
        } else if let registry, let token {
            outcomes = try upload(to: registry, tokenFile: token)
        } else {
            var read: [(String, [UInt8])] = []
            for f in files {
                switch readBundleFile(f) {
                case .success(let bytes): read.append((f, bytes))
                case .failure(let why): outcomes.append((f, ImportOutcome(result: .refused, reason: why.description)))
                }
            }
            let toImport = read
            let done = try await db.withMigratedRegistry { registry, now in
                var out: [(String, ImportOutcome)] = []
                for (f, bytes) in toImport { out.append((f, try await registry.importBundle(bytes, by: nil, now: now))) }
                return out
            }
            outcomes += done
        }
        report(outcomes)
        if outcomes.contains(where: { $0.1.result == .refused && !($0.1.reason ?? "").hasPrefix("not sent") }) { throw ExitCode(1) }
        if outcomes.contains(where: { ($0.1.reason ?? "").hasPrefix("not sent") }) { throw ExitCode(3) }
    }

    func report(_ outcomes: [(String, ImportOutcome)]) {
        for (f, o) in outcomes {
            if json { print(String(decoding: (try? JSONStyle.encode(o)) ?? [], as: UTF8.self)); continue }
            switch o.result {
            case .imported:
                let n = o.reports ?? 0
                print(tr("{file}: station {station}, {n} report(s) {first}-{last}: {new} new, {known} already known",
                         ["file": f, "station": o.station ?? "?", "n": "\(n)", "first": "\(o.firstSequence ?? 0)", "last": "\(o.lastSequence ?? 0)",
                          "new": "\(o.stored ?? 0)", "known": "\(o.known ?? 0)"]))
            case .pending:
                print(tr("{file}: held for review: {reason}", ["file": f, "reason": o.reason ?? ""]))
            case .refused where (o.reason ?? "").hasPrefix("not sent"):
                print(tr("{file}: {reason}; try again later", ["file": f, "reason": o.reason ?? ""]))
            case .refused:
                print(tr("{file}: refused, nothing stored: {reason}", ["file": f, "reason": o.reason ?? ""]))
            }
        }
    }

    /// POSTs each file to a remote registry with a courier token (libcurl, TLS as the station's).
    func upload(to registry: String, tokenFile: String) throws -> [(String, ImportOutcome)] {
        guard let url = HTTPURL(registry) else {
            FileHandleStderr.write("ektp-registry: --registry \(registry): " + tr("expected https://HOST[:PORT]") + "\n")
            throw ExitCode(4)
        }
        guard let text = readFileText(tokenFile), let token = text.split(whereSeparator: { $0 == "\n" || $0 == " " || $0 == "\r" }).first else {
            FileHandleStderr.write("ektp-registry: --token \(tokenFile): " + tr("cannot read a token there") + "\n")
            throw ExitCode(4)
        }
        // A courier token is a secret as a station's is: refused when every user may read it (as ektpd does).
        if let why = othersMayRead(tokenFile) {
            FileHandleStderr.write("ektp-registry: --token \(why)\n")
            throw ExitCode(4)
        }
        var settings = HTTPClientSettings(section: "--ca-file")
        settings.caFile = caFile
        let client = HTTPClient(settings: settings)
        var out: [(String, ImportOutcome)] = []
        for f in files {
            let bytes: [UInt8]
            switch readBundleFile(f) {
            case .success(let b): bytes = b
            case .failure(let why):
                out.append((f, ImportOutcome(result: .refused, reason: why.description)))
                continue
            }
            switch client.request("POST", url, path: "/v1/bundles", headers: [("Authorization", "Bearer \(token)"), ("Content-Type", "application/octet-stream")],
                                  body: bytes, timeout: .seconds(300)) {
            case .failure(let e):
                out.append((f, ImportOutcome(result: .refused, reason: "not sent: \(e.description)")))
            case .success(let x):
                if let o = try? JSONStyle.decode(ImportOutcome.self, from: x.body) {
                    out.append((f, o))
                } else {
                    struct Problem: Decodable { var error: String }
                    let why = (try? JSONStyle.decode(Problem.self, from: x.body))?.error ?? String(decoding: x.body.prefix(200), as: UTF8.self)
                    out.append((f, ImportOutcome(result: .refused, reason: "the registry answered \(x.status): \(why)")))
                }
            }
        }
        return out
    }
}

/// A file's bytes (64 MiB at most), or nil.
func readFileBytes(_ path: String) -> [UInt8]? {
    guard let f = fopen(path, "rb") else { return nil }
    defer { fclose(f) }
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = fread(&buf, 1, buf.count, f)
        if n > 0 { out += buf[0..<n] }
        if n < buf.count { return ferror(f) == 0 ? out : nil }
        if out.count > Registry.maxBundleFile { return nil }
    }
}

func readFileText(_ path: String) -> String? { readFileBytes(path).map { String(decoding: $0, as: UTF8.self) } }

struct FileProblem: Error, CustomStringConvertible { var description: String }

/// A bundle file's bytes, or why not: missing, a directory, unreadable, empty.
func readBundleFile(_ path: String) -> Result<[UInt8], FileProblem> {
    var st = stat()
    guard stat(path, &st) == 0 else { return .failure(FileProblem(description: "cannot read it: \(String(cString: strerror(errno)))")) }
    if (st.st_mode & S_IFMT) == S_IFDIR { return .failure(FileProblem(description: "a directory, not a bundle file (give the .bundle files in it)")) }
    guard let bytes = readFileBytes(path) else { return .failure(FileProblem(description: "cannot read it: \(String(cString: strerror(errno)))")) }
    guard !bytes.isEmpty else { return .failure(FileProblem(description: "the file is empty (was the stick removed while writing?)")) }
    return .success(bytes)
}

struct OpenAPI: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "openapi", abstract: "Print the API's OpenAPI document.")
    func run() { print(OpenAPIDocument.yaml, terminator: "") }
}

private extension String {
    func padding(_ n: Int) -> String { count >= n ? self + " " : self + String(repeating: " ", count: n - count) }
}

/// Viewer accounts for the dashboard (issue 15).
struct User: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Viewer accounts for the dashboard: add, list, passwd, remove.",
        discussion: """
            A viewer with --province and --regency sees that regency only; with --province alone, the province;
            with neither, the whole fleet. Passwords are stored as bcrypt hashes (cost 12).
            """,
        subcommands: [Add.self, List.self, Passwd.self, Remove.self])

    /// The password from --password-file (its first line; a file others may read is refused),
    /// else a new random one, printed once.
    static func password(_ file: String?) throws -> (password: String, generated: Bool) {
        guard let file else {
            var rng = SystemRandomNumberGenerator()
            let alphabet = Array("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
            return (String((0..<16).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &rng)] }), true)
        }
        if let why = othersMayRead(file) {
            FileHandleStderr.write("ektp-registry: --password-file \(why)\n")
            throw ExitCode(2)
        }
        guard let bytes = readFileBytes(file) else {
            FileHandleStderr.write("ektp-registry: \(file): " + tr("cannot read it") + "\n")
            throw ExitCode(2)
        }
        let text = String(decoding: bytes, as: UTF8.self)
        return (String(text.split(separator: "\n", omittingEmptySubsequences: false).first ?? ""), false)
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a viewer; without --password-file a password is made and printed once.")
        @OptionGroup var db: DatabaseOption
        @Argument(help: "The user name (letters, digits, '-', '_', '.').") var name: String
        @Option(name: .long, help: "The province the viewer sees (none: the whole fleet).") var province: String?
        @Option(name: .long, help: "The regency (kabupaten/kota) the viewer sees, within --province.") var regency: String?
        @Option(name: .long, help: "Read the password from this file's first line (mode 600).") var passwordFile: String?

        func validate() throws {
            if regency != nil && province == nil { throw ValidationError("--regency needs its --province") }
        }

        func run() async throws {
            let (password, generated) = try User.password(passwordFile)
            let scope = ViewScope(province: province, regency: regency)
            try await db.withMigratedRegistry { registry, now in
                try await registry.addUser(name: name, password: password, scope: scope, now: now)
            }
            print(tr("added {name}, who sees {scope}", ["name": name, "scope": "\(scope)"]))
            if generated { print("password: \(password)") }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List viewers and what each sees.")
        @OptionGroup var db: DatabaseOption
        func run() async throws {
            for u in try await db.withMigratedRegistry({ registry, _ in try await registry.users() }) {
                print("\(u.name)\t\(u.scope)\tadded \(u.createdAt.rfc3339)")
            }
        }
    }

    struct Passwd: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set a viewer's password (and end its sessions).")
        @OptionGroup var db: DatabaseOption
        @Argument(help: "The user name.") var name: String
        @Option(name: .long, help: "Read the password from this file's first line (mode 600).") var passwordFile: String?
        func run() async throws {
            let (password, generated) = try User.password(passwordFile)
            try await db.withMigratedRegistry { registry, _ in try await registry.setPassword(name: name, password: password) }
            if generated { print("password: \(password)") }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a viewer and end its sessions.")
        @OptionGroup var db: DatabaseOption
        @Argument(help: "The user name.") var name: String
        func run() async throws {
            let removed = try await db.withMigratedRegistry { registry, _ in try await registry.removeUser(name: name) }
            guard removed else {
                FileHandleStderr.write("ektp-registry: " + tr("no user {name}", ["name": name]) + "\n")
                throw ExitCode(1)
            }
            print(tr("removed {name}", ["name": name]))
        }
    }
}
