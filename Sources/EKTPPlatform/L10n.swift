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
    /// Set by `setUp(deferred: true)`: the catalogue is bound at the first message looked up.
    nonisolated(unsafe) static var deferred = false
    /// The deferred set-up, run once (Swift's lazy globals are thread-safe).
    static let deferredSetUp: Bool = {
        _ = ektp_intl_setup(domain, localeDirectory())
        return true
    }()
    /// Whether messages are looked up: set up now, or deferred and done at this first use.
    static var active: Bool { bound || (deferred && deferredSetUp) }

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
    /// `deferred`: only at the first message looked up, for a short-lived, single-threaded client
    /// command whose usual output has no message (`ektpd status --json`: setlocale and the
    /// catalogue's search cost 60 µs of its 2.2 ms; Benchmarks/footprint.py).
    public static func setUp(deferred: Bool = false) {
        if deferred {
            self.deferred = true
            return
        }
        _ = ektp_intl_setup(domain, localeDirectory())
        bound = true
    }

    /// The catalogue languages a reader's environment asks for, in order, as glibc's gettext
    /// chooses them: none (English) when the locale (`LC_ALL`, else `LC_MESSAGES`, else `LANG`) is
    /// unset, `C` or `POSIX`; else `LANGUAGE`'s colon-separated list when set, else the locale's
    /// name; each `ll_CC.codeset@modifier` as `ll_CC` then `ll`. For a client that asks a daemon to
    /// render in its reader's language (`ektpd status`). Only letters, digits and `_` are kept.
    public static func requestedLanguages(_ environment: [String: String]) -> [String] {
        func value(_ k: String) -> String? { environment[k].flatMap { $0.isEmpty ? nil : $0 } }
        guard let locale = value("LC_ALL") ?? value("LC_MESSAGES") ?? value("LANG"), locale != "C", locale != "POSIX" else { return [] }
        var out: [String] = []
        for entry in (value("LANGUAGE") ?? locale).split(separator: ":") {
            let name = String(entry.prefix { $0 != "." && $0 != "@" })
            guard !name.isEmpty, name.utf8.count <= 32, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else { continue }
            for candidate in [name, String(name.prefix { $0 != "_" })] where !out.contains(candidate) { out.append(candidate) }
        }
        return out
    }

    /// The reader's translation of an English msgid, or the msgid itself.
    public static func text(_ msgid: String) -> String {
        guard !msgid.isEmpty, active else { return msgid }
        // dgettext returns the msgid's own pointer when there is no translation: that is the
        // bridged C string, valid only inside this closure.
        return msgid.withCString { p -> String in
            guard let r = ektp_dgettext(domain, p), r != p else { return msgid }
            return String(cString: r)
        }
    }

    /// An English sentence from a report (or a config problem) in the reader's language: its
    /// catalogue entry, else the translation of the template it was made from
    /// (`Sentences.templates`), else the English.
    public static func sentence(_ english: String) -> String {
        guard active else { return english }
        return Sentences.translate(english, templates: Sentences.templates, translate: text)
    }

    /// The digit-group separator of the reader's language: "14,000" in English, "14.000" in Indonesian.
    public static var groupSeparator: String { groupSeparator(text) }

    /// The separator by any catalogue (`translate`: English msgid to the reader's), so the
    /// registry's per-request languages group numbers the same way.
    public static func groupSeparator(_ translate: (String) -> String) -> String {
        // TRANSLATORS: the separator of thousands in a number a person reads ("14,000"); Indonesian: "."
        let s = translate(N_("THOUSANDS_SEPARATOR"))
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
