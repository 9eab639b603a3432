import ArgumentParser
import EKTPStation
import EKTPPlatform
import EKTPYAML
import Logging

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the daemon (under systemd: ektpd.service).")

    @Option(name: .long, help: "Config file.")
    var config: String = StationConfig.defaultPath

    @Option(name: .long, help: "Control socket path, overriding the config file.")
    var socket: String?

    func run() async throws {
        let env = environment()
        var cfg: StationConfig
        do {
            cfg = try StationConfig.load(path: config, environment: env)
        } catch {
            let n = ["n": "\(error.issues.count)"]
            printError((error.issues.count == 1 ? tr("ektpd: {n} problem in the configuration; not starting:", n)
                                                : tr("ektpd: {n} problems in the configuration; not starting:", n)) + "\n" + localized(error))
            throw ExitCode(4)
        }
        if let socket { cfg.socketPath = socket }
        let level = Logger.Level(word: cfg.logLevel)
        LoggingSystem.bootstrap { label in JournalLogHandler(label: label, level: level, environment: env) }
        let logger = Logger(label: "ektpd")
        for w in cfg.warnings { logger.warning("\(config): \(w)") }
        // Every request (registry, webhooks, http: probes) from `ektpd http-helper`: the daemon
        // never loads libcurl or OpenSSL's TLS (issue 17, item 6; HTTPHelper says why).
        HTTPHelper.defaultForNewClients = .ektpd
        if !cfg.httpUsers.isEmpty, let why = HTTPClient.unavailable() {
            logger.error("\(why): \(cfg.httpUsers.joined(separator: ", ")) will fail until this is mended")
        }
        do {
            try await StationDaemon.run(config: cfg, environment: env, logger: logger)
        } catch let e as StartupError {
            logger.error("not starting: \(e.description)")
            throw ExitCode(1)
        }
    }
}

struct CheckConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Check a config file (and the scenario it names); print every problem with its line and field.")

    @Argument(help: "Config file.")
    var file: String = StationConfig.defaultPath

    func run() throws {
        let cfg: StationConfig
        do {
            cfg = try StationConfig.load(path: file, environment: environment())
        } catch {
            printError(localized(error))
            let n = ["file": file, "n": "\(error.issues.count)"]
            printError(error.issues.count == 1 ? tr("{file}: {n} problem", n) : tr("{file}: {n} problems", n))
            throw ExitCode(4)
        }
        // libcurl is loaded only to make requests: check here that it can be.
        if !cfg.httpUsers.isEmpty, let why = HTTPClient.unavailable() {
            printError("\(file): \(cfg.httpUsers.joined(separator: ", ")) need libcurl: \(why)")
            throw ExitCode(4)
        }
        for w in cfg.warnings { printError("\(file): warning: \(w)") }
        print(tr("{file}: ok (station {station}, kit: {kit})", ["file": file, "station": cfg.stationID,
                                                                 "kit": cfg.kit.requirements.map { "\($0.count) \($0.kind.rawValue)" }.joined(separator: ", ")]))
    }
}

/// A file's problems as `file:line:column: field: message`, the message in the reader's language
/// (the place and the field never change: an operator and a script find them the same way).
func localized(_ e: FieldIssues) -> String {
    e.issues.map { i in
        let message = L10n.sentence(i.message)
        return i.field.isEmpty ? "\(i.file):\(i.mark): \(message)" : "\(i.file):\(i.mark): \(i.field): \(message)"
    }.joined(separator: "\n")
}
