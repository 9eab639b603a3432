import ArgumentParser
import EKTPStation
import EKTPSupport
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
            printError("ektpd: \(error.issues.count) problem\(error.issues.count == 1 ? "" : "s") in the configuration; not starting:\n\(error.description)")
            throw ExitCode(4)
        }
        if let socket { cfg.socketPath = socket }
        let level = Logger.Level(word: cfg.logLevel)
        LoggingSystem.bootstrap { label in JournalLogHandler(label: label, level: level, environment: env) }
        let logger = Logger(label: "ektpd")
        for w in cfg.warnings { logger.warning("\(config): \(w)") }
        if !cfg.httpUsers.isEmpty, let why = HTTPClient.unavailable() {
            logger.error("\(why): \(cfg.httpUsers.joined(separator: ", ")) will fail until it is installed")
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
            printError(error.description)
            printError("\(file): \(error.issues.count) problem\(error.issues.count == 1 ? "" : "s")")
            throw ExitCode(4)
        }
        // libcurl is loaded only to make requests: check here that it can be.
        if !cfg.httpUsers.isEmpty, let why = HTTPClient.unavailable() {
            printError("\(file): \(cfg.httpUsers.joined(separator: ", ")) need libcurl: \(why)")
            throw ExitCode(4)
        }
        for w in cfg.warnings { printError("\(file): warning: \(w)") }
        print("\(file): ok (station \(cfg.stationID), kit: \(cfg.kit.requirements.map { "\($0.count) \($0.kind.rawValue)" }.joined(separator: ", ")))")
    }
}
