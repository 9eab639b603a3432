import EKTPModel
import Foundation
import Glibc
import EKTPTesting
import Testing

let repoRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()

/// The built `ektpd`: $EKTPD_BIN, else next to the test bundle, else .build/debug.
let ektpdBinary: String = {
    if let b = ProcessInfo.processInfo.environment["EKTPD_BIN"] { return b }
    let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("ektpd").path
    if FileManager.default.isExecutableFile(atPath: beside) { return beside }
    let built = repoRoot + "/.build/debug/ektpd"
    precondition(FileManager.default.isExecutableFile(atPath: built),
                 "no ektpd binary at \(built): run `swift build` before `swift test` (scripts/test.sh does), or set EKTPD_BIN")
    return built
}()

struct CommandResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs `ektpd ARGS` to completion.
func ektpd(_ args: [String], environment: [String: String] = [:]) throws -> CommandResult {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: ektpdBinary)
    p.arguments = args
    var env = ProcessInfo.processInfo.environment
    env.removeValue(forKey: "EKTPD_SOCKET")
    env.removeValue(forKey: "NOTIFY_SOCKET")
    env.removeValue(forKey: "JOURNAL_STREAM")
    for (k, v) in environment { env[k] = v }
    p.environment = env
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    // Bounded: a client that hangs is a failure with its output, not a stalled test run.
    let watchdog = DispatchWorkItem { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
    DispatchQueue.global().asyncAfter(deadline: .now() + 30, execute: watchdog)
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    watchdog.cancel()
    if p.terminationReason == .uncaughtSignal && p.terminationStatus == SIGKILL {
        Issue.record("ektpd \(args.joined(separator: " ")) did not finish within 30 s; stderr: \(String(decoding: e, as: UTF8.self))")
    }
    return CommandResult(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
}

/// A running `ektpd run` in a temporary folder, with its own socket, config and NOTIFY_SOCKET.
final class RunningDaemon {
    let dir: String
    let socket: String
    let process = Process()
    let stderrPipe = Pipe()
    private let notifyFD: Int32
    /// Set on a daemon that reuses another's folder: that one removes it.
    private let keep: Bool
    private(set) var notifications: [String] = []

    init(scenario: String, config extra: String = "", environment: [String: String] = [:],
         backend: String = "{type: simulated, scenario: kit.yaml}", launcher: [String] = [],
         stdin: Pipe? = nil, stdout: Pipe? = nil, reuse: String? = nil) throws {
        dir = reuse ?? FileManager.default.temporaryDirectory.appendingPathComponent("ektpd-it-\(UUID().uuidString.prefix(8))").path
        keep = reuse == nil ? false : true
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        socket = dir + "/control.sock"
        try scenario.write(toFile: dir + "/kit.yaml", atomically: true, encoding: .utf8)
        try """
        station:
          id: it-01
          site: {province: Kalimantan Barat, regency: Sintang, district: Dedai}
        backend: \(backend)
        control:
          socket: \(socket)
        \(extra.contains("state_directory:") ? "" : "state_directory: \(dir)/state")
        \(extra)
        """.write(toFile: dir + "/ektpd.yaml", atomically: true, encoding: .utf8)

        // NOTIFY_SOCKET: the test learns READY=1 the way systemd does, instead of sleeping.
        notifyFD = Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let notifyPath = dir + "/notify"
        unlink(notifyPath)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in for (i, b) in notifyPath.utf8.enumerated() { raw[i] = b } }
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(notifyFD, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }

        let command = launcher + [ektpdBinary, "run", "--config", dir + "/ektpd.yaml"]
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        var env = ProcessInfo.processInfo.environment
        env["NOTIFY_SOCKET"] = notifyPath
        env.removeValue(forKey: "JOURNAL_STREAM")
        for (k, v) in environment { env[k] = v }
        process.environment = env
        process.standardError = stderrPipe
        process.standardOutput = stdout ?? FileHandle.nullDevice
        if let stdin { process.standardInput = stdin }
        try process.run()
    }

    deinit {
        if process.isRunning {
            process.terminate()
            // A child that ignores SIGTERM must not hang the test run.
            let deadline = Date().addingTimeInterval(5)
            while process.isRunning && Date() < deadline { usleep(20_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        close(notifyFD)
        if !keep { try? FileManager.default.removeItem(atPath: dir) }
    }

    /// Waits for the next sd_notify datagram (up to `seconds`).
    func nextNotification(seconds: Int = 30) -> String? {
        var tv = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(notifyFD, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = recv(notifyFD, &buf, buf.count, 0)
        guard n > 0 else { return nil }
        let s = String(decoding: buf[0..<n], as: UTF8.self)
        notifications.append(s)
        return s
    }

    /// Waits for READY=1; fails the test if the daemon dies or never gets there.
    func waitReady() throws {
        while let n = nextNotification() {
            if n.split(separator: "\n").contains("READY=1") { return }
        }
        throw HarnessError("ektpd never sent READY=1; stderr: \(stopAndReadStderr())")
    }

    func status() throws -> (CommandResult, StationStatus?) {
        let r = try ektpd(["status", "--json", "--socket", socket])
        return (r, try? JSONStyle.decode(StationStatus.self, from: Array(r.stdout.utf8)))
    }

    /// Polls `ektpd status` until `condition` holds, for at most `seconds`: the daemon changes state
    /// on its own schedule (scenario time, probe intervals), so the test waits for the state, not a time.
    func waitForStatus(seconds: Double = 20, _ condition: (StationStatus) -> Bool) throws -> StationStatus {
        let deadline = Date().addingTimeInterval(seconds)
        var last: StationStatus?
        while Date() < deadline {
            if let s = try status().1 {
                if condition(s) { return s }
                last = s
            }
            usleep(50_000)
        }
        let devices = last?.devices.map { "\($0.device.portPath) \($0.health.rawValue) \($0.code.map { "\($0)" } ?? "-") \($0.reason ?? "")" } ?? []
        throw HarnessError("condition not met within \(seconds) s; last kit: \(String(describing: last?.kit.summary)); devices: \(devices)")
    }

    func terminate() -> Int32 {
        process.terminate()  // SIGTERM
        let deadline = Date().addingTimeInterval(15)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning {
            Issue.record("ektpd did not stop within 15 s of SIGTERM")
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
        return process.terminationStatus
    }

    func stopAndReadStderr() -> String {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        return String(decoding: stderrPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    }
}


let standardKit = """
seed: 11
stations:
  - id: it-01
    site: {province: Kalimantan Barat, regency: Sintang, district: Dedai}
    devices:
      - {name: fingerprint, usb: 05ba:000a, port: 1-1, speed: full}
      - {name: iris, usb: 1234:0001, port: 1-2, kind: iris}
      - {name: camera, usb: 046d:082d, port: 1-3, interface_classes: [0x0e]}
      - {name: signature, usb: 06a8:0043, port: 1-4.1, speed: full}
      - {name: printer, usb: 0f49:0a00, port: 1-4.2, blanks: 900, speed: full}
      - {name: reader, usb: 076b:3021, port: 1-4.3, speed: full}
"""
