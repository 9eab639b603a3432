#if canImport(Glibc)
import Glibc
#endif
import CEKTPSys
import EKTPModel
import Synchronization

/// A child process started with posix_spawn: its own process group, default signal dispositions
/// (the daemon ignores SIGTERM for its own handler; a child must not inherit that), stdin from
/// /dev/null unless given, stdout and stderr inherited unless given (so they reach the journal).
/// Never through a shell.
public final class ChildProcess: Sendable {
    public let pid: pid_t
    private let exitStatus = Mutex<Int32?>(nil)

    /// Spawns `executable`, or `argv[0]` when it is nil (an absolute path, or a name looked up in
    /// PATH). `executable` lets a daemon start its own binary again (`/proc/self/exe`, which names
    /// the running file even after a package upgrade replaced it) under a readable `argv[0]`.
    public init(argv: [String], executable: String? = nil, environment: [String: String]? = nil, stdin: Int32? = nil,
                stdout: Int32? = nil, stderr: Int32? = nil) throws(SpawnError) {
        guard let program = executable ?? argv.first, !program.isEmpty else { throw SpawnError("empty command") }
        var fileActions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&fileActions)
        defer { posix_spawn_file_actions_destroy(&fileActions) }
        if let stdin { posix_spawn_file_actions_adddup2(&fileActions, stdin, 0) } else {
            posix_spawn_file_actions_addopen(&fileActions, 0, "/dev/null", O_RDONLY, 0)
        }
        if let stdout { posix_spawn_file_actions_adddup2(&fileActions, stdout, 1) }
        if let stderr { posix_spawn_file_actions_adddup2(&fileActions, stderr, 2) }
        // Nothing of the daemon's past stdin, stdout and stderr: a descriptor made without
        // O_CLOEXEC (a pipe, a device) must not live on in a child (a long-lived HTTP helper held
        // the hotplug thread's pipe open, and with it the daemon's stop).
        ektp_spawn_closefrom(&fileActions, 3)
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var all = sigset_t()
        sigfillset(&all)
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigdefault(&attr, &all)
        posix_spawnattr_setsigmask(&attr, &none)
        posix_spawnattr_setpgroup(&attr, 0)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP))

        let cargs = argv.map { strdup($0) } + [nil]
        defer { for p in cargs { free(p) } }
        var envStrings: [UnsafeMutablePointer<CChar>?]
        if let environment {
            envStrings = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        } else {
            envStrings = []
            var p = environ
            while let e = p.pointee { envStrings.append(strdup(e)); p += 1 }
            envStrings.append(nil)
        }
        defer { for p in envStrings { free(p) } }
        var pid = pid_t()
        let rc = program.contains("/")
            ? posix_spawn(&pid, program, &fileActions, &attr, cargs, envStrings)
            : posix_spawnp(&pid, program, &fileActions, &attr, cargs, envStrings)
        guard rc == 0 else { throw SpawnError("cannot start \(program): \(String(cString: strerror(rc)))") }
        self.pid = pid
    }

    /// Waits for the process to end (blocking the calling thread) and returns its wait status.
    public func waitBlocking() -> Int32 {
        if let s = exitStatus.withLock({ $0 }) { return s }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        exitStatus.withLock { $0 = status }
        return status
    }

    /// The wait status once `waitBlocking` or `tryWait` has reaped the process, nil before; calls
    /// no waitpid (for a process another thread waits for).
    public var exited: Int32? { exitStatus.withLock { $0 } }

    /// The wait status if the process has ended (reaping it), nil while it runs.
    public func tryWait() -> Int32? {
        if let s = exitStatus.withLock({ $0 }) { return s }
        var status: Int32 = 0
        guard waitpid(pid, &status, WNOHANG) == pid else { return nil }
        exitStatus.withLock { $0 = status }
        return status
    }

    /// Waits on a thread of its own, so no Swift concurrency thread is blocked.
    public func wait() async -> Int32 {
        await offloaded { self.waitBlocking() }
    }

    /// Sends a signal to the whole process group (the server and whatever it started).
    public func signal(_ sig: Int32) {
        if exitStatus.withLock({ $0 }) == nil { kill(-pid, sig) }
    }

    /// "exited with status 1", "killed by signal 9 (SIGKILL)".
    public static func describe(_ status: Int32) -> String {
        let sig = status & 0x7f
        if sig == 0 { return "exited with status \((status >> 8) & 0xff)" }
        let names: [Int32: String] = [SIGKILL: "SIGKILL", SIGTERM: "SIGTERM", SIGSEGV: "SIGSEGV", SIGABRT: "SIGABRT", SIGINT: "SIGINT", SIGBUS: "SIGBUS"]
        return "killed by signal \(sig)\(names[sig].map { " (\($0))" } ?? "")"
    }

    public static func exitCode(_ status: Int32) -> Int32? { status & 0x7f == 0 ? (status >> 8) & 0xff : nil }
}

public struct SpawnError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ d: String) { description = d }
}

/// Runs a command to completion with a time limit; kills its process group at the limit.
/// Returns the exit code (nil if killed or it could not start) and what it printed on stdout.
public func runCommand(_ argv: [String], timeout: Duration, environment: [String: String]? = nil) async -> (code: Int32?, output: String, error: String?) {
    var fds: [Int32] = [0, 0]
    guard pipe(&fds) == 0 else { return (nil, "", "cannot create a pipe") }
    let child: ChildProcess
    do {
        child = try ChildProcess(argv: argv, environment: environment, stdout: fds[1])
    } catch {
        close(fds[0]); close(fds[1])
        return (nil, "", error.description)
    }
    close(fds[1])
    let reader = fds[0]
    let killer = Task {
        try await Task.sleep(for: timeout)
        child.signal(SIGKILL)
    }
    // Read stdout (bounded) on the waiting thread's terms: the child ends, the pipe closes.
    let output: [UInt8] = await withCheckedContinuation { c in
        let box = Unmanaged.passRetained(ReadBox(fd: reader, continuation: c))
        var tid = pthread_t()
        if pthread_create(&tid, nil, { arg in
            let b = Unmanaged<ReadBox>.fromOpaque(arg!).takeRetainedValue()
            var out: [UInt8] = []
            var buf = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = buf.withUnsafeMutableBytes { read(b.fd, $0.baseAddress, 4096) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                if out.count < 65536 { out.append(contentsOf: buf[0..<n]) }
            }
            close(b.fd)
            b.continuation.resume(returning: out)
            return nil
        }, box.toOpaque()) == 0 { pthread_detach(tid) } else {
            box.release()
            close(reader)
            c.resume(returning: [])
        }
    }
    let status = await child.wait()
    killer.cancel()
    let text = String(decoding: output, as: UTF8.self)
    if let code = ChildProcess.exitCode(status) { return (code, text, nil) }
    return (nil, text, "\(argv[0]) did not finish within \(spokenDuration(timeout)) (\(ChildProcess.describe(status)))")
}

private final class ReadBox {
    let fd: Int32
    let continuation: CheckedContinuation<[UInt8], Never>
    init(fd: Int32, continuation: CheckedContinuation<[UInt8], Never>) {
        self.fd = fd
        self.continuation = continuation
    }
}
