import ArgumentParser
import EKTPPlatform
import EKTPModel
import EKTPStation

#if canImport(Glibc)
import Glibc
#endif

/// Options every socket client shares.
struct ClientOptions: ParsableArguments {
    @Option(name: .long, help: "The daemon's control socket (default: $EKTPD_SOCKET, else /run/ektpd/control.sock).")
    var socket: String?

    @Flag(name: .long, help: "Print JSON (the stable interface for scripts).")
    var json = false

    /// The parsed values as a plain value (ArgumentParser's wrappers trap if read unparsed).
    var settings: ClientSettings { ClientSettings(socket: socket, json: json) }

    func get(_ target: String) throws -> [UInt8] { try settings.get(target) }

    func call(_ method: String, _ target: String, body: [UInt8] = []) throws -> [UInt8] {
        try settings.call(method, target, body: body)
    }
}

/// Where the daemon is and how to print: what every client command needs.
struct ClientSettings {
    var socket: String?
    var json = false

    var socketPath: String {
        socket ?? environment()["EKTPD_SOCKET"] ?? StationConfig.defaultSocketPath(environment: [:])
    }

    /// GET a path; exits 3 when the daemon cannot be reached.
    func get(_ target: String) throws -> [UInt8] {
        try call("GET", target)
    }

    func call(_ method: String, _ target: String, body: [UInt8] = []) throws -> [UInt8] {
        try exchange(method, target, body: body).body
    }

    /// The whole answer (header fields too); exits 3 when the daemon cannot be reached, 4 on an error answer.
    func exchange(_ method: String, _ target: String, body: [UInt8] = []) throws -> ControlClient.Reply {
        let result: ControlClient.Reply
        do {
            result = try ControlClient(socketPath: socketPath).exchange(method, target, body: body)
        } catch {
            printError("ektpd: \(L10n.sentence(error.description))")
            throw ExitCode(3)
        }
        guard (200..<300).contains(result.status) else {
            struct Problem: Decodable { var error: String }
            let msg = (try? JSONStyle.decode(Problem.self, from: result.body))?.error ?? String(decoding: result.body, as: UTF8.self)
            printError("ektpd: \(msg) (HTTP \(result.status))")
            throw ExitCode(4)
        }
        return result
    }
}

func environment() -> [String: String] {
    var out: [String: String] = [:]
    var p = environ
    while let entry = p.pointee {
        let s = String(cString: entry)
        if let eq = s.firstIndex(of: "=") { out[String(s[..<eq])] = String(s[s.index(after: eq)...]) }
        p += 1
    }
    return out
}

func printError(_ s: String) { writeStandardError(s + "\n") }

func writeOut(_ bytes: [UInt8]) {
    var off = 0
    while off < bytes.count {
        let n = bytes.withUnsafeBytes { write(1, $0.baseAddress! + off, bytes.count - off) }
        if n <= 0 { return }
        off += n
    }
}
