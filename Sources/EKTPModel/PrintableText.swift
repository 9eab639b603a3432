extension String {
    /// The text with control characters shown escaped, for human tables and lines: `\n`, `\t`,
    /// `\r` and `\e` by name, any other C0/C1 control or DEL as `\u{XX}`. USB descriptor strings and
    /// names from the network are not trusted to be one line (field case 01: a signature pad whose
    /// product string holds a newline and a tab split the status table's row in two). JSON output
    /// keeps the original (JSON escapes it itself).
    public var printable: String {
        guard unicodeScalars.contains(where: { $0.value < 0x20 || ($0.value >= 0x7F && $0.value < 0xA0) }) else { return self }
        var out = ""
        for u in unicodeScalars {
            switch u.value {
            case 0x0A: out += "\\n"
            case 0x09: out += "\\t"
            case 0x0D: out += "\\r"
            case 0x1B: out += "\\e"
            case 0..<0x20, 0x7F..<0xA0:
                let hex = String(u.value, radix: 16)
                out += "\\u{" + (hex.count < 2 ? "0" + hex : hex) + "}"
            default: out.unicodeScalars.append(u)
            }
        }
        return out
    }
}
