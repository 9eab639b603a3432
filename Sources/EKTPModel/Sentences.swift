/// English sentences made from templates, read back into their parts so a reader's side can show
/// them in its own language (issue 18). Reports keep their English text (scripts and older
/// registries read it); a sentence made from a known template (a kit reason, an alert summary, a
/// config problem) is matched here and rendered from the template's translation.
///
/// Marks: `{kind}` and `{kinds}` match a device kind's English name (singular, plural) and hold
/// the kind's word (`fingerprint`); `{kindlist}` a ", "-separated list of kind names; `{why}`,
/// `{health}` and `{state}` hold English words or sentences that are translated themselves; any
/// other mark holds text shown as it is (a name, a port, a number).
public enum Sentences {
    /// Every template a sentence in a report, a status or a config problem is made from: the kit
    /// reasons' codes, the daemon's own sentences, the alert summaries and the config reader's
    /// problems. Each is a gettext msgid (N_); a test checks that what the code writes matches.
    /// Most specific first (the most text outside the marks), so "{kind} {name} at {port} is {health}"
    /// is tried before the catch-all "{kind} {name} at {port} {why}".
    public static let templates: [String] = (ReasonCode.allCases.map(\.template) + station + alerts + config + registry + [label])
        .enumerated().map { (length: literalLength($0.element), offset: $0.offset, template: $0.element) }
        .sorted { a, b in a.length != b.length ? a.length > b.length : a.offset < b.offset }
        .map(\.template)

    /// The bytes of a template outside its `{marks}`. Measured once per template (this list is made
    /// at the first translated sentence of every `ektpd status`): counting characters in the sort's
    /// comparator took 3 ms of the command's 12 (issue 17).
    static func literalLength(_ t: String) -> Int {
        var n = 0, inMark = false
        for c in t.utf8 {
            if c == UInt8(ascii: "{") { inMark = true } else if c == UInt8(ascii: "}") { inMark = false } else if !inMark { n += 1 }
        }
        return n
    }

    /// A device's label ("fingerprint scanner U.are.U 4500 at 1-1"): last, as it matches the start of many.
    static let label = N_("{kind} {name} at {port}")

    static let station = [
        N_("cannot reach ektpd at {socket}: {why}"),
    ]

    /// AlertRules' summaries (`EKTP_SUMMARY` of hooks, `summary` of webhooks and `ektpd status`).
    static let alerts = [
        N_("{kind} {name} at {port} is {health}"),
        N_("kit broken: {kindlist}"),
        N_("kit degraded: {kindlist}"),
        N_("recording server {name} is {state}"),
        N_("the centre has never pulled this station's data"),
        N_("the centre has not pulled this station's data within {duration}"),
        N_("no uplink target answers ({targets})"),
        N_("mains power is off: running on battery ({percent}%)"),
        N_("mains power is off: running on battery"),
        N_("battery low ({percent}%): the station will stop"),
        N_("battery low: the station will stop"),
        N_("no card blanks left"),
        N_("{n} card blanks left (below {low})"),
        N_("{n} reports wait for the registry and the outbox is over its size bound"),
        N_("cannot write the outbox"),
    ]

    /// EKTPYAML's FieldReader words these (a config or scenario file's problems).
    static let config = [
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
        // the YAML reader's own (EKTPYAML, which does not translate)
        N_("unexpected indentation"),
        N_("unexpected content at the top level (is an earlier line indented wrongly?)"),
        N_("tab in indentation: indent with spaces"),
        N_("only one YAML document per file is supported"),
        N_("unexpected indentation (multi-line values are not supported)"),
        N_("unexpected indentation after a list item"),
        N_("unexpected indentation in a list"),
        N_("a list item where a 'key: value' line was expected"),
        N_("expected 'key: value', found '{text}'"),
        N_("empty key"),
        N_("duplicate key '{key}'"),
        N_("unexpected indentation: '{key}' already has a value on line {line}"),
        N_("unexpected '{text}' after a flow collection (flow collections must fit on one line)"),
        N_("text after the closing quote"),
        N_("bad \\u escape in a quoted string"),
        N_("unterminated double-quoted string"),
        N_("unterminated single-quoted string"),
        N_("unterminated quoted string"),
        N_("anchors (&) are not supported: write the value out"),
        N_("aliases (*) are not supported: write the value out"),
        N_("tags (!) are not supported"),
        N_("block scalars (| and >) are not supported: use a quoted string"),
        N_("a plain value cannot start with '{text}': quote it"),
        N_("complex keys (?) are not supported"),
        N_("missing value in a flow collection"),
        N_("missing value"),
        N_("flow collections nested too deeply"),
        N_("unterminated '[' (flow collections must fit on one line)"),
        N_("expected ',' or ']' in a flow list"),
        N_("expected ':' after key '{key}'"),
        N_("unexpected '{text}'"),
        // ... and the config's and scenario's own readers (StationConfig, WatchConfig, Scenario...).
        N_("{value} is not an http:// or https://HOST[:PORT]/PATH URL"),
        N_("cannot read {path} (does it exist, and may ektpd read it?)"),
        // whole sentences: matched before the template above would fill {path} with English words
        N_("cannot read the config file (does it exist, and may ektpd read it?)"),
        N_("cannot read the scenario file (does it exist, and may ektpd read it?)"),
        N_("{path} is not PEM (no -----BEGIN line): give the certificate or key in PEM form"),
        N_("{path} holds no {what} (no {label} line): give the {what} here in PEM form"),
        N_("{id} is not a valid station id: use letters, digits, '-', '_' and '.', at most 64"),
        N_("unknown device kind{hint}: expected one of {names}"),
        N_("must be lower than flap_start ({value})"),
        N_("must not be longer than interval ({value})"),
        N_("{path} is empty: put the token from `ektp-registry token issue` in it"),
        N_("station id {id}: use 1 to 64 letters, digits, '-', '_' or '.', not starting with '-'"),
        N_("station {id} is already defined on line {line}"),
        N_("no kit template named {name} under 'kits'"),
        N_("devices {a} and {b} are both on port {port}"),
        N_("expected HH:MM-HH:MM, like 07:00-16:00, got {value}"),
        N_("expected VID:PID in hex, like 05ba:000a, got {value}"),
        N_("unknown kind {value}: expected one of {names}"),
        N_("expected a USB port path like 1-2 or 1-2.3, got {value}"),
        N_("no device named {name} in station {station}"),
    ]

    /// ektp-registry's refusals a person meets at its command line or on the dashboard (the API's
    /// JSON keeps them in English).
    static let registry = [
        N_("user name {name}: use 1 to 64 letters, digits, '-', '_' or '.', not starting with '-'"),
        N_("{name}: a province or regency name is 1 to {n} printable characters"),
        N_("the password is shorter than {n} characters"),
        N_("user {name} exists: ektp-registry user passwd {again} sets a new password"),
        N_("no user {name}"),
        N_("station ID {id}: use 1 to 64 letters, digits, '-', '_' or '.', not starting with '-'"),
        N_("the public key is not 32 bytes (an Ed25519 key)"),
        N_("a courier token needs a province and a regency (at most {n} characters each)"),
        N_("no station {id} has reported to this registry in your {scope}"),
        N_("no station {id} has reported to this registry"),
        N_("{scope} is outside what you may see ({yours})"),
    ]


    /// The device kinds' English names, longest first (so "card printer" wins over a shorter prefix).
    static let kindNames: [(name: String, plural: String, word: String)] = DeviceKind.allCases
        .map { ($0.displayName, $0.pluralName, $0.rawValue) }
        .sorted { $0.name.count > $1.name.count }

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
            if name == "kind" || name == "kinds" {
                guard let k = kindNames.first(where: { s.hasPrefix(name == "kind" ? $0.name : $0.plural) }) else { return nil }
                values[name] = k.word
                s = s.dropFirst(name == "kind" ? k.name.count : k.plural.count)
                continue
            }
            // The value runs to the next literal part (or the end).
            let nextLiteral = t.firstIndex(of: "{").map { t[..<$0] } ?? t
            if nextLiteral.isEmpty {
                values[name] = String(s)
                s = s[s.endIndex...]
            } else {
                var i = s.startIndex
                while i < s.endIndex && !s[i...].hasPrefix(nextLiteral) { i = s.index(after: i) }
                guard i < s.endIndex else { return nil }
                values[name] = String(s[..<i])
                s = s[i...]
            }
        }
        return s == t ? values : nil
    }

    /// The hint the config readers add to an unknown name (EKTPYAML's `closest`).
    static let hintTemplate = N_(" (did you mean '{name}'?)")

    /// `template` in the reader's language (`translate` maps English to theirs), filled with
    /// `values` rendered by the rules above.
    public static func render(_ template: String, _ values: [String: String], translate: (String) -> String) -> String {
        var shown: [String: String] = [:]
        for (k, v) in values {
            switch k {
            case "kind": shown[k] = translate(DeviceKind(rawValue: v)?.displayName ?? v)
            case "kinds": shown[k] = translate(DeviceKind(rawValue: v)?.pluralName ?? v)
            case "kindlist": shown[k] = v.split(separator: ",").map { translate(String($0).trimmingCharacters(" ")) }.joined(separator: ", ")
            case "why", "health", "state": shown[k] = translate(v)
            // " (did you mean 'site'?)", after an unknown name: the hint in the reader's language too
            case "hint": shown[k] = v.isEmpty ? v : Sentences.translate(v, templates: [hintTemplate], translate: translate)
            default: shown[k] = v
            }
        }
        return fill(translate(template), shown)
    }

    /// `english` in the reader's language: its own translation, else that of the first of
    /// `templates` it was made from, else `english`.
    public static func translate(_ english: String, templates: [String], translate: (String) -> String) -> String {
        let exact = translate(english)
        if exact != english { return exact }
        for t in templates {
            guard let values = match(t, english) else { continue }
            let translated = render(t, values, translate: translate)
            return translated
        }
        return english
    }
}

extension String {
    /// Without leading and trailing `c`.
    func trimmingCharacters(_ c: Character) -> String {
        var s = Substring(self)
        while s.first == c { s = s.dropFirst() }
        while s.last == c { s = s.dropLast() }
        return String(s)
    }
}
