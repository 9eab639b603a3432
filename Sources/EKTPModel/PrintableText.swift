extension String {
    /// The text with control characters shown escaped, for human tables and lines: `\n`, `\t`,
    /// `\r` and `\e` by name, any other C0/C1 control or DEL as `\u{XX}`. USB descriptor strings and
    /// names from the network are not trusted to be one line (field case 01: a signature pad whose
    /// product string holds a newline and a tab split the status table's row in two). JSON output
    /// keeps the original (JSON escapes it itself). The line and paragraph separators (U+2028,
    /// U+2029) and the bidirectional controls (U+200E-200F, U+202A-202E, U+2066-2069) are escaped
    /// too: a right-to-left override in a product string reorders the rest of the line on the
    /// operator's terminal (found by a helper in `ektpd scan`).
    public var printable: String {
        guard unicodeScalars.contains(where: { Self.escaped($0.value) }) else { return self }
        var out = ""
        for u in unicodeScalars {
            switch u.value {
            case 0x0A: out += "\\n"
            case 0x09: out += "\\t"
            case 0x0D: out += "\\r"
            case 0x1B: out += "\\e"
            case _ where Self.escaped(u.value):
                let hex = String(u.value, radix: 16)
                out += "\\u{" + (hex.count < 2 ? "0" + hex : hex) + "}"
            default: out.unicodeScalars.append(u)
            }
        }
        return out
    }

    /// C0 and C1 controls, DEL, the line and paragraph separators, the bidirectional controls.
    static func escaped(_ v: UInt32) -> Bool {
        v < 0x20 || (v >= 0x7F && v < 0xA0) || v == 0x2028 || v == 0x2029 || v == 0x200E || v == 0x200F
            || (0x202A...0x202E).contains(v) || (0x2066...0x2069).contains(v)
    }
}
