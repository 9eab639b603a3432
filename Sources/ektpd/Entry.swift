import ArgumentParser
import CEKTPSys
import EKTPPlatform
import EKTPHTTPClient
#if canImport(Glibc)
import Glibc
#endif

/// The entry point. `ektpd status`, `devices` and `events` are what operators and scripts run most,
/// and ArgumentParser's set-up is most of their start-up time: plain invocations of them are parsed
/// here, exactly; anything else (help, a typo, other commands) goes to ArgumentParser, which owns
/// the documentation and the error messages.
@main
struct Entry {
    static func main() async {
        // `ektpd run`: a SIGTERM before the service group listens must still mean "stop cleanly"
        // (exit 0), not death by the signal (hardening r10). The handler only records it; a
        // constructor in CEKTPSys installs it at load already, this covers a renamed binary.
        let args = Array(CommandLine.arguments.dropFirst())
        if args.first == "run" { ektp_early_signals_install() }
        // The daemon's HTTP helper (HTTPHelper): requests from its stdin, no messages to translate.
        // `--idle-seconds N` shortens its idle exit (tests).
        if args.first == "http-helper" {
            if args.count == 1 { exit(HTTPHelper.serve()) }
            if args.count == 3, args[1] == "--idle-seconds", let n = Int(args[2]), n > 0 { exit(HTTPHelper.serve(idle: .seconds(n))) }
            FileHandleStandardError.write("ektpd http-helper: usage: ektpd http-helper [--idle-seconds N] (started by ektpd run, requests on stdin)\n")
            exit(4)
        }
        // Messages in the operator's language (gettext; --json and logs never change with it). The
        // client commands bind the catalogue only when they print a message (not for --json).
        L10n.setUp(deferred: FastPath.commands.contains(args.first ?? ""))
        if let code = FastPath.run(args) {
            exit(code)
        }
        // ArgumentParser's own exit for a usage error is 64 (EX_USAGE); ektpd documents 4 for bad
        // usage or bad input (README, exit codes), so scripts have one number to test.
        do {
            var command = try Ektpd.parseAsRoot()
            if var async = command as? any AsyncParsableCommand {
                try await async.run()
            } else {
                try command.run()
            }
        } catch {
            if Ektpd.exitCode(for: error) == .validationFailure {
                FileHandleStandardError.write(Ektpd.fullMessage(for: error) + "\n")
                exit(4)
            }
            Ektpd.exit(withError: error)
        }
    }
}

enum FastPath {
    /// The client commands parsed here.
    static let commands = ["status", "devices", "events"]

    /// The exit code, or nil when the arguments are not a plain client invocation.
    static func run(_ args: [String]) -> Int32? {
        guard let command = args.first, commands.contains(command) else { return nil }
        var options = ClientSettings()
        var since: String?
        var limit = 500
        var i = 1
        while i < args.count {
            let a = args[i]
            func value() -> String? {
                if let eq = a.firstIndex(of: "=") { return String(a[a.index(after: eq)...]) }
                i += 1
                return i < args.count ? args[i] : nil
            }
            let name = a.split(separator: "=", maxSplits: 1).first.map(String.init) ?? a
            switch name {
            case "--json" where !a.contains("="): options.json = true
            case "--socket": guard let v = value(), !v.isEmpty else { return nil }; options.socket = v
            case "--since" where command == "events": guard let v = value() else { return nil }; since = v
            case "--limit" where command == "events": guard let v = value(), let n = Int(v) else { return nil }; limit = n
            default: return nil
            }
            i += 1
        }
        do {
            switch command {
            case "status": return try ClientCommands.status(options)
            case "devices": return try ClientCommands.devices(options)
            default:
                try ClientCommands.events(options, since: since, limit: limit)
                return 0
            }
        } catch let e as ExitCode {
            return e.rawValue
        } catch {
            printError("ektpd: \(error)")
            return 4
        }
    }
}

/// stderr for the usage-error path (no Foundation FileHandle in the fast client).
enum FileHandleStandardError {
    static func write(_ text: String) { writeStandardError(text) }
}
