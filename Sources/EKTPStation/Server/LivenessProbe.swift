#if canImport(Glibc)
import Glibc
#endif
import EKTPHTTPClient
import EKTPCore
import EKTPModel
import EKTPPlatform

/// How to tell the recording server is alive.
public enum LivenessProbe: Sendable, Equatable {
    /// A TCP connection to host:port is accepted.
    case tcp(host: String, port: UInt16)
    /// `GET path` on host:port answers with this status.
    case http(host: String, port: UInt16, path: String, expectStatus: Int)
    /// The command exits 0.
    case command([String])

    public var description: String {
        switch self {
        case let .tcp(h, p): "TCP connect to \(h):\(p)"
        case let .http(h, p, path, s): "HTTP GET http://\(h):\(p)\(path) expecting \(s)"
        case let .command(argv): "command \(argv.joined(separator: " "))"
        }
    }

    /// Runs the probe once; nil on success, else the reason.
    public func check(timeout: Duration) async -> String? {
        switch self {
        case let .tcp(host, port):
            switch tcpConnect(host: host, port: port, timeout: timeout) {
            case .success(let fd): close(fd); return nil
            case .failure(let e): return e.description
            }
        case let .http(host, port, path, expect):
            return httpStatus(host: host, port: port, path: path, timeout: timeout).flatMap { status in
                status == expect ? nil : "HTTP GET \(path) answered \(status), expected \(expect)"
            } failure: { $0.description }
        case let .command(argv):
            let r = await runCommand(argv, timeout: timeout)
            if let e = r.error { return e }
            return r.code == 0 ? nil : "\(argv[0]) exited with status \(r.code!)"
        }
    }
}

extension Result {
    func flatMap<T>(_ ok: (Success) -> T, failure: (Failure) -> T) -> T {
        switch self {
        case .success(let s): ok(s)
        case .failure(let f): failure(f)
        }
    }
}

