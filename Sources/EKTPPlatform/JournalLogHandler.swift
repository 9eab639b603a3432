#if canImport(Glibc)
import Glibc
#endif
import Logging

/// Logs to stderr: in journald's format under systemd (a `<N>` syslog priority prefix, which journald
/// reads when `JOURNAL_STREAM` says stderr is its stream), else with an RFC 3339 time for a terminal.
public struct JournalLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public var logLevel: Logger.Level
    let label: String
    let journal: Bool

    public init(label: String, level: Logger.Level, environment: [String: String]) {
        self.label = label
        self.logLevel = level
        self.journal = environment["JOURNAL_STREAM"] != nil
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let m = event.metadata { all.merge(m) { $1 } }
        if let p = metadataProvider { all.merge(p.get()) { $1 } }
        let meta = all.isEmpty ? "" : " " + all.sorted { $0.key < $1.key }.map { "\($0.key)=\(quoteIfNeeded("\($0.value)"))" }.joined(separator: " ")
        let text: String
        if journal {
            text = "<\(priority(event.level))>\(event.message)\(meta)\n"
        } else {
            text = "\(wallClockNow().rfc3339) \(event.level) \(label): \(event.message)\(meta)\n"
        }
        var bytes = Array(text.utf8)
        _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
    }

    /// syslog priorities, as sd-daemon(3) lists them.
    func priority(_ l: Logger.Level) -> Int {
        switch l {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }
}

private func quoteIfNeeded(_ s: String) -> String {
    s.contains(" ") || s.isEmpty ? "\"\(s)\"" : s
}

extension Logger.Level {
    public init(word: String) {
        self = Logger.Level(rawValue: word) ?? (word == "warning" ? .warning : .info)
    }
}
