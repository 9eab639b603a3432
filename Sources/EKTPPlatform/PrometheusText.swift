/// Prometheus text-format helpers shared by both daemons.
public enum PrometheusText {
    /// Puts `# HELP name text` before each `# TYPE name ...` line that has help text (swift-metrics
    /// has no place for help; Prometheus shows it in its UI).
    public static func withHelp(_ text: [UInt8], _ help: [String: String]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.count + help.count * 80)
        let typePrefix = Array("# TYPE ".utf8)
        for line in text.split(separator: 10, omittingEmptySubsequences: false) {
            if line.starts(with: typePrefix) {
                let name = String(decoding: line.dropFirst(typePrefix.count).prefix { $0 != 32 }, as: UTF8.self)
                if let h = help[name] { out += Array("# HELP \(name) \(h)\n".utf8) }
            }
            out += line
            out.append(10)
        }
        if out.last == 10 && text.last == 10 { out.removeLast() }
        return out
    }
}
