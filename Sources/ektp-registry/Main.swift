import ArgumentParser
import EKTPModel
import EKTPRegistry
import EKTPSupport
import EKTPYAML
import Hummingbird
import HummingbirdCore
import Logging
import UnixSignals
#if canImport(Glibc)
import Glibc
#endif

@main
struct EktpRegistry: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ektp-registry",
        abstract: "The central registry that e-KTP enrolment stations report to.",
        discussion: """
            DATABASE is sqlite:PATH (the default, one file, no set-up) or postgres://USER[:PASSWORD]@HOST[:PORT]/DB.
            Without --database: $EKTP_REGISTRY_DATABASE, else sqlite:$STATE_DIRECTORY/registry.sqlite3,
            else sqlite:/var/lib/ektp-registry/registry.sqlite3.
            """,
        version: ektpVersion,
        subcommands: [Serve.self, Migrate.self, Token.self, OpenAPI.self])
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
        FileHandleStderr.write("ektp-registry: \(e.description)\n")
        throw ExitCode(1)
    }
}

enum FileHandleStderr {
    static func write(_ s: String) { let b = Array(s.utf8); _ = b.withUnsafeBytes { Glibc.write(2, $0.baseAddress, $0.count) } }
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
    @Option(name: .long, help: "Serve HTTPS with this PEM certificate chain (or $EKTP_REGISTRY_TLS_CERT); reloaded on SIGHUP.")
    var tlsCert: String?
    @Option(name: .long, help: "The certificate's PEM private key (or $EKTP_REGISTRY_TLS_KEY).")
    var tlsKey: String?
    @Option(name: .long, help: "Require client certificates signed by this PEM CA (or $EKTP_REGISTRY_CLIENT_CA): mutual TLS.")
    var clientCa: String?

    func run() async throws {
        let env = environment()
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in JournalLogHandler(label: label, level: level, environment: env) }
        let logger = Logger(label: "ektp-registry")
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]), (0...65535).contains(port) else {
            FileHandleStderr.write("ektp-registry: --listen \(listen): expected HOST:PORT (127.0.0.1:8470)\n")
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
                FileHandleStderr.write("ektp-registry: --client-ca needs --tls-cert and --tls-key (client certificates come with HTTPS)\n")
                throw ExitCode(2)
            }
        case let (cert?, key?):
            do { tls = try RegistryTLS(certificate: cert, key: key, clientCA: clientCAPath) } catch {
                FileHandleStderr.write("ektp-registry: \(error)\n")
                throw ExitCode(1)
            }
        default:
            FileHandleStderr.write("ektp-registry: give both --tls-cert and --tls-key (or neither, for plain HTTP behind a TLS proxy)\n")
            throw ExitCode(2)
        }
        let scheme = tls == nil ? "http" : "https"
        let serverTLS = tls
        try await reportingErrors {
            let store = try await StoreURL.open(db.url(env))
            let registry = Registry(store: store, silentAfter: .seconds(silentAfter))
            let applied = try await registry.migrate(now: wallClockNow()) { logger.notice("\($0)") }
            if !applied.isEmpty { logger.notice("database migrated: \(applied.count) migration(s)") }
            let router = RegistryHTTP.router(registry: registry,
                                             clock: clockFile.map { .file($0, fallback: wallClockNow) } ?? .init(now: wallClockNow),
                                             logger: logger)
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
            let app = Application(
                router: router,
                server: serverTLS.map { HTTPServerBuilder.registryTLS($0) } ?? .http1(),
                configuration: .init(address: .hostname(host, port: port), serverName: "ektp-registry"),
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
            try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint])
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
                print("\(registry.store.label): schema version \(v) of \(Schema.latest)\(v == Schema.latest ? " (current)" : "")")
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
        static let configuration = CommandConfiguration(abstract: "Make a token for a station; it is printed once and only its hash is kept.")
        @OptionGroup var db: DatabaseOption
        @Option(name: .long, help: "The station's ID (as in its ektpd.yaml).") var station: String

        func run() async throws {
            print(try await db.withMigratedRegistry { registry, now in try await registry.issueToken(station: station, now: now) })
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
                FileHandleStderr.write("ektp-registry: --grace \(grace): expected a duration such as 7d or 36h (at most 10 years)\n")
                throw ExitCode(2)
            }
            let (token, retiring, now) = try await db.withMigratedRegistry { registry, now in
                let (token, retiring) = try await registry.rotateToken(station: station, grace: g, now: now)
                return (token, retiring, now)
            }
            print(token)
            FileHandleStderr.write("\(retiring) older token(s) of \(station) keep working until \(now.adding(g).rfc3339)\n")
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
            print("revoked \(n) token(s) of \(station)")
            if n == 0 { throw ExitCode(1) }
        }
    }
}

struct OpenAPI: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "openapi", abstract: "Print the API's OpenAPI document.")
    func run() { print(OpenAPIDocument.yaml, terminator: "") }
}

private extension String {
    func padding(_ n: Int) -> String { count >= n ? self + " " : self + String(repeating: " ", count: n - count) }
}
