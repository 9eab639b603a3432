#if canImport(Glibc)
import Glibc
#endif
import CEKTPSys
import EKTPCore
import EKTPModel
import EKTPPlatform

/// Runs one alert hook: an executable given the notification's JSON on stdin and `EKTP_*` variables,
/// never through a shell, in a process group of its own that is killed whole at the timeout.
///
/// A hook runs with the daemon's own user and sandbox (`ektpd.service` drops every privilege first) and
/// with none of its environment: only PATH, LANG and the `EKTP_*` variables.
public enum HookRunner {
    /// How one run ended.
    public enum Outcome: Sendable, Equatable {
        case succeeded
        /// Exited non-zero, was killed by a signal, or could not start.
        case failed(String)
        /// Still running at the timeout: killed.
        case timedOut
    }

    public struct Run: Sendable {
        public var outcome: Outcome
        /// The first 4 KiB of what it printed (stdout and stderr together).
        public var output: String
        public var pid: Int32?
    }

    /// The hooks in `directory`, run-parts style: executables, in name order, skipping dotfiles,
    /// editor backups and package-manager leftovers. A file that others may change is refused (and
    /// named in `refused`), as is one not owned by root when the daemon runs as root.
    public static func list(_ directory: String) -> (hooks: [String], refused: [(path: String, reason: String)]) {
        guard let dir = opendir(directory) else { return ([], []) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name.hasPrefix(".") || name.hasSuffix("~") || name.hasSuffix(".swp") || name.contains(".dpkg-")
                || name.hasSuffix(".rpmsave") || name.hasSuffix(".rpmnew") || name.contains(".ucf-") { continue }
            names.append(name)
        }
        var hooks: [String] = []
        var refused: [(String, String)] = []
        for name in names.sorted() {
            let path = directory.hasSuffix("/") ? directory + name : directory + "/" + name
            var st = stat()
            guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { continue }
            guard access(path, X_OK) == 0 else { continue }
            if st.st_mode & 0o022 != 0 {
                refused.append((path, "writable by group or others (chmod go-w \(path))"))
                continue
            }
            if geteuid() == 0 && st.st_uid != 0 {
                refused.append((path, "the daemon runs as root and the hook is not owned by root"))
                continue
            }
            hooks.append(path)
        }
        return (hooks, refused)
    }

    /// The environment a hook gets: nothing of the daemon's but PATH and LANG.
    public static func environment(_ vars: [String: String]) -> [String: String] {
        var env = ["PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"]
        for (k, v) in vars { env[k] = v }
        return env
    }

    /// Runs `path` to its end or its timeout, blocking the calling thread (call it from a thread of its own).
    public static func run(_ path: String, stdin payload: [UInt8], environment: [String: String], timeout: Duration) -> Run {
        var input: [Int32] = [0, 0]
        var output: [Int32] = [0, 0]
        guard ektp_pipe_cloexec(&input) == 0 else { return Run(outcome: .failed("cannot create a pipe: \(errnoText())"), output: "") }
        guard ektp_pipe_cloexec(&output) == 0 else {
            close(input[0]); close(input[1])
            return Run(outcome: .failed("cannot create a pipe: \(errnoText())"), output: "")
        }
        let child: ChildProcess
        do {
            child = try ChildProcess(argv: [path], environment: environment, stdin: input[0], stdout: output[1], stderr: output[1])
        } catch {
            for fd in input + output { close(fd) }
            return Run(outcome: .failed(error.description), output: "")
        }
        close(input[0])
        close(output[1])
        var writeFD: Int32 = input[1]
        let readFD = output[0]
        // A hook that exits before reading its stdin must cost an EPIPE, not the process (the
        // daemon ignores SIGPIPE too; this keeps the runner safe wherever it is used).
        signal(SIGPIPE, SIG_IGN)
        _ = fcntl(writeFD, F_SETFL, fcntl(writeFD, F_GETFL) | O_NONBLOCK)
        _ = fcntl(readFD, F_SETFL, fcntl(readFD, F_GETFL) | O_NONBLOCK)
        let deadline = monotonicMillis() + timeout.wholeMilliseconds
        var written = 0
        var captured: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        var eof = false
        // Feed stdin and drain stdout/stderr until the hook closes its output or time runs out.
        while !eof {
            let left = deadline - monotonicMillis()
            if left <= 0 { break }
            var fds = [pollfd(fd: readFD, events: Int16(POLLIN), revents: 0)]
            if writeFD >= 0 { fds.append(pollfd(fd: writeFD, events: Int16(POLLOUT), revents: 0)) }
            let n = poll(&fds, nfds_t(fds.count), Int32(min(left, 1000)))
            if n < 0 && errno != EINTR { break }
            if writeFD >= 0, fds.count > 1, fds[1].revents != 0 {
                let w = payload.withUnsafeBytes { write(writeFD, $0.baseAddress! + written, payload.count - written) }
                if w > 0 { written += w }
                if (w < 0 && errno != EAGAIN && errno != EINTR) || written >= payload.count || fds[1].revents & Int16(POLLERR | POLLHUP) != 0 {
                    close(writeFD)  // all given, or the hook does not read stdin: fine either way
                    writeFD = -1
                }
            }
            if fds[0].revents != 0 {
                let r = buf.withUnsafeMutableBytes { read(readFD, $0.baseAddress, 4096) }
                if r > 0 {
                    if captured.count < 4096 { captured.append(contentsOf: buf[0..<min(r, 4096 - captured.count)]) }
                } else if r == 0 || (errno != EAGAIN && errno != EINTR) {
                    eof = true
                }
            }
            if payload.isEmpty && writeFD >= 0 { close(writeFD); writeFD = -1 }
        }
        if writeFD >= 0 { close(writeFD) }
        close(readFD)
        // Output closed: the hook is ending (or handed its output on and lingers); give it what time is left.
        var status = child.tryWait()
        while status == nil && monotonicMillis() < deadline {
            var ts = timespec(tv_sec: 0, tv_nsec: 5_000_000)
            nanosleep(&ts, nil)
            status = child.tryWait()
        }
        let text = String(decoding: captured, as: UTF8.self)
        guard let status else {
            child.signal(SIGKILL)
            _ = child.waitBlocking()
            return Run(outcome: .timedOut, output: text, pid: child.pid)
        }
        if ChildProcess.exitCode(status) == 0 { return Run(outcome: .succeeded, output: text, pid: child.pid) }
        return Run(outcome: .failed(ChildProcess.describe(status)), output: text, pid: child.pid)
    }
}
