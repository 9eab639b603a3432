#if canImport(Glibc)
import Glibc
#endif
import EKTPCore
import EKTPModel
import EKTPPlatform
import Synchronization

/// Where to learn when the centre last pulled this station's data.
public enum PullSource: Sendable, Equatable {
    /// A file the recording server touches on every pull: its modification time. Absent = never.
    case file(String)
    /// An HTTP endpoint answering with an RFC 3339 time or Unix seconds (404 or "never" = never).
    case http(host: String, port: UInt16, path: String)
    /// A command printing an RFC 3339 time or Unix seconds ("never" or nothing = never).
    case command([String])
}

public struct SyncConfig: Sendable, Equatable {
    public var source: PullSource
    public var limit: Duration = .seconds(86400)
    public var interval: Duration = .seconds(300)
    public init(source: PullSource) { self.source = source }
}

/// Watches the centre's last pull: an event when it is older than the limit, a distinct one when it
/// has never happened, and one when it is fresh again.
public final class SyncWatch: Sendable {
    let config: SyncConfig
    let engine: StationEngine
    private let last = Mutex<SyncState?>(nil)

    /// Reads the last pull: the configured source, or the simulated centre's (`ektpd simulate`).
    let readSource: @Sendable () async -> Result<Timestamp?, NetError>

    public init(config: SyncConfig, engine: StationEngine, read: (@Sendable () async -> Result<Timestamp?, NetError>)? = nil) {
        self.config = config
        self.engine = engine
        let source = config.source
        readSource = read ?? { await SyncWatch.read(source) }
    }

    /// Reads the source once: the last pull (nil = never) or why it could not be read.
    public static func read(_ source: PullSource, timeout: Duration = .seconds(5)) async -> Result<Timestamp?, NetError> {
        switch source {
        case .file(let path):
            var st = stat()
            if stat(path, &st) != 0 {
                return errno == ENOENT ? .success(nil) : .failure(NetError("cannot read \(path): \(String(cString: strerror(errno)))"))
            }
            return .success(Timestamp(millis: Int64(st.st_mtim.tv_sec) * 1000 + Int64(st.st_mtim.tv_nsec) / 1_000_000))
        case let .http(host, port, path):
            switch httpGet(host: host, port: port, path: path, timeout: timeout) {
            case .failure(let e): return .failure(e)
            case .success(let r):
                if r.status == 404 { return .success(nil) }
                guard r.status == 200 else { return .failure(NetError("http://\(host):\(port)\(path) answered \(r.status)")) }
                return parseTime(r.body, from: "http://\(host):\(port)\(path)")
            }
        case .command(let argv):
            let r = await runCommand(argv, timeout: timeout)
            if let e = r.error { return .failure(NetError(e)) }
            guard r.code == 0 else { return .failure(NetError("\(argv[0]) exited with status \(r.code!)")) }
            return parseTime(r.output, from: argv[0])
        }
    }

    static func parseTime(_ text: String, from source: String) -> Result<Timestamp?, NetError> {
        // A leading byte-order mark and CRLF read like plain text (issue 13).
        let plain = text.hasPrefix("\u{FEFF}") ? String(text.dropFirst()) : text
        let t = plain.split(whereSeparator: { $0 == "\n" || $0 == " " || $0 == "\r" || $0 == "\r\n" }).first.map(String.init) ?? ""
        if t.isEmpty || t == "never" || t == "null" { return .success(nil) }
        if let s = Int64(t) { return .success(Timestamp(seconds: s)) }
        if let ts = Timestamp(rfc3339: t) { return .success(ts) }
        return .failure(NetError("\(source) gave '\(t.prefix(40))', not an RFC 3339 time or Unix seconds"))
    }

    public func check(now: Timestamp) async {
        let status: SyncStatus
        switch await readSource() {
        case .failure(let e):
            status = SyncStatus(state: .unknown, lastPull: nil, limitSeconds: config.limit.components.seconds, reason: e.description)
        case .success(let lastPull):
            let (state, reason) = SyncEvaluator.evaluate(lastPull: lastPull, now: now, limit: config.limit)
            status = SyncStatus(state: state, lastPull: lastPull, limitSeconds: config.limit.components.seconds, reason: reason)
        }
        engine.update(sync: status)
        let previous = last.withLock { l -> SyncState? in defer { l = status.state }; return l }
        if previous != status.state {
            engine.record(type: .syncState, subject: .centrePull, from: previous?.rawValue, to: status.state.rawValue,
                          reason: status.reason, now: now)
        }
    }
}
