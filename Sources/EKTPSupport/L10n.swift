#if canImport(Glibc)
import Glibc
#endif
import CEKTPSys
import EKTPModel

/// The operator's language (issue 18), through GNU gettext as glibc provides it (no other library
/// in the daemon): messages follow `LANGUAGE`, `LC_ALL`, `LC_MESSAGES` and `LANG` as for every
/// Debian program; English when no catalogue matches. The catalogues are `po/*.po`, compiled by
/// `msgfmt` (scripts/l10n.sh, make install) to `LOCALEDIR/LANG/LC_MESSAGES/ektpd.mo`.
///
/// What is translated is what a person reads; never `--json`, metric names, event types or log
/// field names, so scripts do not change with LANG.
public enum L10n {
    public static let domain = "ektpd"
    nonisolated(unsafe) static var bound = false

    /// Where the catalogues are: `$EKTP_LOCALEDIR`; else beside the binary as installed
    /// (`BIN/../share/locale`, /usr/bin → /usr/share/locale); else the build tree's
    /// (`.build/locale`, which scripts/l10n.sh fills); else /usr/share/locale.
    public static func localeDirectory() -> String {
        if let p = getenv("EKTP_LOCALEDIR"), p.pointee != 0 { return String(cString: p) }
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        if n > 0 {
            let exe = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let bin = exe[..<(exe.lastIndex(of: "/") ?? exe.startIndex)]
            // .build/x86_64-unknown-linux-gnu/debug/ektpd → .build/locale
            for candidate in ["\(bin)/../share/locale", "\(bin)/../../locale"] {
                if access(candidate + "/id/LC_MESSAGES/\(domain).mo", R_OK) == 0 { return candidate }
            }
        }
        return "/usr/share/locale"
    }

    /// Binds the catalogue and sets LC_MESSAGES from the environment; call once, first thing.
    /// A locale that is not generated on this machine still picks its language's catalogue.
    public static func setUp() {
        _ = ektp_intl_setup(domain, localeDirectory())
        bound = true
    }

    /// The reader's translation of an English msgid, or the msgid itself.
    public static func text(_ msgid: String) -> String {
        guard bound, !msgid.isEmpty else { return msgid }
        // dgettext returns the msgid's own pointer when there is no translation: that is the
        // bridged C string, valid only inside this closure.
        return msgid.withCString { p -> String in
            guard let r = ektp_dgettext(domain, p), r != p else { return msgid }
            return String(cString: r)
        }
    }

    /// English sentences made from a template (`{name}` marks) that reports carry as text: shown
    /// translated by matching the template, so the JSON keeps its English while a person reads
    /// their language. Exact sentences need no entry here, only their N_ mark at the source.
    public static let templates = [
        N_("not on the bus: plug it back into port {port}"),
        // Config and scenario files (EKTPYAML's FieldReader words them; a test checks each matches).
        N_("expected a text value, got {value}"),
        N_("{n} characters; at most {max}"),
        N_("expected a whole number, got {value}"),
        N_("{value} is out of range: must be {low}...{high}"),
        N_("expected a number, got {value}"),
        N_("{value} is out of range: must be between {low} and {high}"),
        N_("expected true or false, got {value}"),
        N_("expected a duration like 10s, 5m or 1h, got {value}"),
        N_("{value} is out of range: a duration may be at most 10 years (3650d)"),
        N_("{value} is too short: must be at least {minimum}"),
        N_("unknown value {value}: expected one of {names}"),
        N_("expected a mapping of 'key: value' lines, got {value}"),
        N_("expected a list, got {value}"),
        N_("required field is missing"),
        N_("required field is empty"),
        N_("unknown field{hint}"),
    ]

    /// An English sentence from a report in the reader's language: its catalogue entry, else the
    /// translation of the template it was made from, else the English.
    public static func sentence(_ english: String) -> String {
        let exact = text(english)
        if exact != english || !bound { return exact }
        for t in templates {
            if let values = match(t, english) {
                let translated = text(t)
                return translated == t ? english : fill(translated, values)
            }
        }
        return english
    }

    /// The values of `template`'s marks when `text` is the template filled in, else nil.
    public static func match(_ template: String, _ text: String) -> [String: String]? {
        var values: [String: String] = [:]
        var t = Substring(template), s = Substring(text)
        while let open = t.firstIndex(of: "{") {
            let literal = t[..<open]
            guard s.hasPrefix(literal), let close = t[open...].firstIndex(of: "}") else { return nil }
            s = s.dropFirst(literal.count)
            let name = String(t[t.index(after: open)..<close])
            t = t[t.index(after: close)...]
            // The value runs to the next literal part (or the end).
            let nextLiteral = t.firstIndex(of: "{").map { t[..<$0] } ?? t
            if nextLiteral.isEmpty {
                values[name] = String(s); s = ""
            } else {
                var i = s.startIndex
                while i < s.endIndex && !s[i...].hasPrefix(nextLiteral) { i = s.index(after: i) }
                guard i < s.endIndex else { return nil }
                values[name] = String(s[..<i]); s = s[i...]
            }
        }
        return s == t ? values : nil
    }

    /// The digit-group separator of the reader's language: "14,000" in English, "14.000" in Indonesian.
    public static var groupSeparator: String {
        // TRANSLATORS: the separator of thousands in a number a person reads ("14,000"); Indonesian: "."
        let s = tr("THOUSANDS_SEPARATOR")
        return s == "THOUSANDS_SEPARATOR" ? "," : s
    }

    /// A count with its thousands grouped in the reader's way.
    public static func count(_ n: Int, separator: String? = nil) -> String {
        let sep = separator ?? groupSeparator
        let digits = String(n.magnitude)
        var out = n < 0 ? "-" : ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out += sep }
            out.append(c)
        }
        return out
    }
}

/// A sentence in the reader's language: `msgid` is the English (a literal, so xgettext finds it),
/// `{name}` marks are filled from `values` after translation. A translation missing any mark of
/// the English is a catalogue error (scripts/l10n.sh checks).
public func tr(_ msgid: String, _ values: [String: String] = [:]) -> String {
    fill(L10n.text(msgid), values)
}
