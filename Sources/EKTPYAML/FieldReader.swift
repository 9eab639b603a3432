/// One problem in a config or scenario file: the file, the line and column, the field, and what to do.
public struct FieldIssue: Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var mark: YAMLMark
    /// Dotted path of the field ("kit.fingerprint", "stations[2].devices[0].port").
    public var field: String
    public var message: String

    public init(file: String, mark: YAMLMark, field: String, message: String) {
        self.file = file
        self.mark = mark
        self.field = field
        self.message = message
    }

    /// `ektpd.yaml:12:5: probes.interval: expected a duration like 10s, 5m or 1h, got 'often'`
    public var description: String {
        field.isEmpty ? "\(file):\(mark): \(message)" : "\(file):\(mark): \(field): \(message)"
    }
}

/// Every problem found in one file. Nothing built from the file is used when this is thrown.
public struct FieldIssues: Error, Sendable, CustomStringConvertible {
    public var issues: [FieldIssue]
    public init(_ issues: [FieldIssue]) { self.issues = issues }
    public var description: String { issues.map(\.description).joined(separator: "\n") }
}

/// Collects issues while a file is read, so a user sees all of them at once.
public final class FieldDiagnostics {
    public let file: String
    public private(set) var issues: [FieldIssue] = []

    public init(file: String) { self.file = file }

    public func report(_ mark: YAMLMark, _ field: String, _ message: String) {
        issues.append(FieldIssue(file: file, mark: mark, field: field, message: message))
    }

    /// Adds an issue found in another file (a scenario named by a config).
    public func include(_ issue: FieldIssue) {
        issues.append(issue)
    }

    /// Throws every collected issue, if any.
    public func check() throws(FieldIssues) {
        if !issues.isEmpty { throw FieldIssues(issues) }
    }

    /// Parses text into a root mapping reader, turning a syntax error into an issue.
    public func root(_ text: String) -> YAMLMap? {
        do {
            let node = try YAMLParser.parse(text)
            if case .null = node.value { return YAMLMap(node: YAMLNode(.mapping([]), node.mark), path: "", diag: self) }
            return YAMLValue(node: node, path: "", diag: self).map()
        } catch {
            report(error.mark, "", error.message)
            return nil
        }
    }
}

/// Reads one value, reporting a type problem with its line and field path.
public struct YAMLValue {
    public let node: YAMLNode
    public let path: String
    public let diag: FieldDiagnostics

    public init(node: YAMLNode, path: String, diag: FieldDiagnostics) {
        self.node = node
        self.path = path
        self.diag = diag
    }

    public func fail(_ message: String) { diag.report(node.mark, path, message) }

    public var isNull: Bool { if case .null = node.value { true } else { false } }

    /// A text value, at most `maxLength` characters (issue 13: a 1 MB district name was taken).
    public func string(maxLength: Int = 4096) -> String? {
        guard case .scalar(let s, _) = node.value else {
            fail("expected a text value, got \(node.shape)")
            return nil
        }
        guard s.count <= maxLength else {
            fail("\(s.count) characters; at most \(maxLength)")
            return nil
        }
        return s
    }

    public func int(in range: ClosedRange<Int>? = nil) -> Int? {
        guard case .scalar(let s, _) = node.value else {
            fail("expected a whole number, got \(node.shape)")
            return nil
        }
        let cleaned = String(s.filter { $0 != "_" })
        let v: Int? = cleaned.hasPrefix("0x") ? Int(cleaned.dropFirst(2), radix: 16) : Int(cleaned)
        guard let v else {
            fail("expected a whole number, got '\(s)'")
            return nil
        }
        if let range, !range.contains(v) {
            fail("\(v) is out of range: must be \(range.lowerBound)...\(range.upperBound)")
            return nil
        }
        return v
    }

    public func double(in range: ClosedRange<Double>? = nil) -> Double? {
        guard case .scalar(let s, _) = node.value, let v = Double(s) else {
            fail("expected a number, got \(node.shape)")
            return nil
        }
        if let range, !range.contains(v) {
            fail("\(s) is out of range: must be between \(range.lowerBound) and \(range.upperBound)")
            return nil
        }
        return v
    }

    public func bool() -> Bool? {
        guard case .scalar(let s, let quoted) = node.value, !quoted else {
            fail("expected true or false, got \(node.shape)")
            return nil
        }
        switch s {
        case "true", "True", "TRUE": return true
        case "false", "False", "FALSE": return false
        default:
            fail("expected true or false, got '\(s)'")
            return nil
        }
    }

    /// A duration: `500ms`, `10s`, `5m`, `2h`, `1d`, combinations like `1h30m`, or a number of seconds.
    public func duration(atLeast minimum: Duration = .zero) -> Duration? {
        guard case .scalar(let s, _) = node.value else {
            fail("expected a duration like 10s, 5m or 1h, got \(node.shape)")
            return nil
        }
        guard let d = parseDuration(s) else {
            if s.unicodeScalars.contains(where: { ("0"..."9").contains($0) }),
               s.unicodeScalars.allSatisfy({ ("0"..."9").contains($0) || "smhd.".unicodeScalars.contains($0) }) {
                fail("'\(s.prefix(40))' is out of range: a duration may be at most 10 years (3650d)")
            } else {
                fail("expected a duration like 10s, 5m or 1h, got '\(s.prefix(40))'")
            }
            return nil
        }
        if d < minimum {
            fail("'\(s)' is too short: must be at least \(formatDuration(minimum))")
            return nil
        }
        return d
    }

    /// One of a fixed set of words.
    public func word<T>(_ choices: [(String, T)]) -> T? {
        guard let s = string() else { return nil }
        if let hit = choices.first(where: { $0.0 == s }) { return hit.1 }
        let names = choices.map(\.0)
        let hint = closest(s, names).map { " (did you mean '\($0)'?)" } ?? ""
        fail("unknown value '\(s)'\(hint): expected one of \(names.joined(separator: ", "))")
        return nil
    }

    public func map() -> YAMLMap? {
        guard case .mapping = node.value else {
            fail("expected a mapping of 'key: value' lines, got \(node.shape)")
            return nil
        }
        return YAMLMap(node: node, path: path, diag: diag)
    }

    public func list() -> [YAMLValue]? {
        if isNull { return [] }
        guard case .sequence(let items) = node.value else {
            fail("expected a list, got \(node.shape)")
            return nil
        }
        return items.enumerated().map { YAMLValue(node: $1, path: "\(path)[\($0)]", diag: diag) }
    }
}

/// Reads a mapping's fields; `finish()` reports any key nobody asked for, with a suggestion.
public final class YAMLMap {
    public let node: YAMLNode
    public let path: String
    public let diag: FieldDiagnostics
    private let entries: [(key: String, keyMark: YAMLMark, value: YAMLNode)]
    private var used: Set<String> = []

    init(node: YAMLNode, path: String, diag: FieldDiagnostics) {
        self.node = node
        self.path = path
        self.diag = diag
        if case .mapping(let e) = node.value { entries = e } else { entries = [] }
    }

    public var keys: [String] { entries.map(\.key) }

    private func childPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// The value under `key`; a missing required key is reported at the mapping's line.
    public func value(_ key: String, required: Bool = false) -> YAMLValue? {
        used.insert(key)
        guard let e = entries.first(where: { $0.key == key }) else {
            if required { diag.report(node.mark, childPath(key), "required field is missing") }
            return nil
        }
        let v = YAMLValue(node: e.value, path: childPath(key), diag: diag)
        if required && v.isNull {
            v.fail("required field is empty")
            return nil
        }
        return v
    }

    public func string(_ key: String, required: Bool = false, maxLength: Int = 4096) -> String? {
        value(key, required: required)?.string(maxLength: maxLength)
    }
    public func int(_ key: String, in range: ClosedRange<Int>? = nil, required: Bool = false) -> Int? {
        value(key, required: required)?.int(in: range)
    }
    public func bool(_ key: String) -> Bool? { value(key)?.bool() }
    public func duration(_ key: String, atLeast minimum: Duration = .zero, required: Bool = false) -> Duration? {
        value(key, required: required)?.duration(atLeast: minimum)
    }
    public func map(_ key: String, required: Bool = false) -> YAMLMap? {
        guard let v = value(key, required: required), !v.isNull else { return nil }
        return v.map()
    }
    public func list(_ key: String, required: Bool = false) -> [YAMLValue]? { value(key, required: required)?.list() }

    /// Every key-value pair, for mappings whose keys are data (kit: {fingerprint: 1}).
    public func pairs() -> [(key: String, keyMark: YAMLMark, value: YAMLValue)] {
        entries.map { e in
            used.insert(e.key)
            return (e.key, e.keyMark, YAMLValue(node: e.value, path: childPath(e.key), diag: diag))
        }
    }

    /// Reports keys that were never read: a typo must not be silently ignored.
    public func finish() {
        for e in entries where !used.contains(e.key) {
            let hint = closest(e.key, Array(used)).map { " (did you mean '\($0)'?)" } ?? ""
            diag.report(e.keyMark, childPath(e.key), "unknown field\(hint)")
        }
    }
}

/// The longest duration any input may give (issue 13): ten years. Every interval, timeout, limit
/// and `--since` fits, and arithmetic on it (now + d, d << n for backoff) cannot overflow Int64
/// milliseconds.
public let maxInputDuration: Duration = .seconds(10 * 365 * 86_400)

/// Parses `500ms`, `10s`, `5m`, `2h`, `1d`, `1h30m`, or a plain number of seconds. Nil for anything
/// else and for more than `maxInputDuration` (never traps: `9999999999999999d` once crashed the
/// daemon from its control socket, hardening r3 and r5).
public func parseDuration(_ s: String) -> Duration? {
    let limit = Double(maxInputDuration.components.seconds) * 1000
    guard !s.isEmpty, s.utf8.count <= 64 else { return nil }
    if s.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) {
        guard let secs = Int64(s), Double(secs) * 1000 <= limit else { return nil }
        return .seconds(secs)
    }
    var totalMillis = 0.0
    var number = ""
    let chars = Array(s)
    var i = 0
    var sawUnit = false
    while i < chars.count {
        let c = chars[i]
        if c.isASCII && (c.isNumber || c == ".") { number.append(c); i += 1; continue }
        guard !number.isEmpty, let v = Double(number), v.isFinite, v >= 0 else { return nil }
        var unit = String(c)
        if c == "m", i + 1 < chars.count, chars[i + 1] == "s" { unit = "ms"; i += 1 }
        i += 1
        let ms: Double
        switch unit {
        case "ms": ms = v
        case "s": ms = v * 1000
        case "m": ms = v * 60_000
        case "h": ms = v * 3_600_000
        case "d": ms = v * 86_400_000
        default: return nil
        }
        totalMillis += ms
        guard totalMillis <= limit else { return nil }
        number = ""
        sawUnit = true
    }
    guard number.isEmpty, sawUnit else { return nil }
    return .milliseconds(Int64(totalMillis.rounded()))
}

/// `90s` -> "1m30s", for messages.
public func formatDuration(_ d: Duration) -> String {
    let (s, atto) = d.components
    var ms = s * 1000 + atto / 1_000_000_000_000_000
    if ms == 0 { return "0s" }
    var out = ""
    for (unit, size) in [("d", Int64(86_400_000)), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)] where ms >= size {
        out += "\(ms / size)\(unit)"
        ms %= size
    }
    return out
}

/// The candidate within edit distance 2 of `word`, for "did you mean" hints.
public func closest(_ word: String, _ candidates: [String]) -> String? {
    var best: (String, Int)?
    for c in candidates {
        let d = editDistance(word.lowercased(), c.lowercased())
        if d <= 2, d < (best?.1 ?? Int.max) { best = (c, d) }
    }
    return best?.0
}

func editDistance(_ a: String, _ b: String) -> Int {
    let x = Array(a), y = Array(b)
    if x.isEmpty { return y.count }
    if y.isEmpty { return x.count }
    var prev = Array(0...y.count)
    var cur = prev
    for i in 1...x.count {
        cur[0] = i
        for j in 1...y.count {
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1))
        }
        swap(&prev, &cur)
    }
    return prev[y.count]
}
