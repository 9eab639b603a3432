/// A reason as a code and its parameters (issue 18), beside the English text every report already
/// carries: the station's operator, the registry's dashboard and a script each render it in their
/// own reader's language, not in the language the station ran in.
///
/// The English `template` of each code is the gettext msgid (po/ektpd.pot); `{name}` marks a
/// parameter. A parameter named `kind` (or `kinds`) holds a device kind word (`fingerprint`) and is
/// rendered as the kind's name (or plural); `why` holds a device's own reason, rendered through the catalogue when it is a
/// known sentence. A code this build does not know falls back to the English text.
public enum ReasonCode: String, Codable, Sendable, CaseIterable {
    case unplugged = "device.unplugged"
    case failed = "device.failed"
    case warning = "device.warning"
    case flapping = "device.flapping"
    case notChecked = "device.not_checked"
    case noneConnected = "kit.none_connected"
    case needsNoneConnected = "kit.needs_none_connected"
    case onlyUsable = "kit.only_usable"
    case noneWorking = "kit.none_working"
    case notOnBus = "device.not_on_bus"
    case pluggedIn = "device.plugged_in"
    case pluggedBack = "device.plugged_back"
    case unpluggedFrom = "device.unplugged_from"

    /// The English sentence, with `{parameter}` marks. Changing one changes every catalogue's msgid:
    /// add a new code instead.
    public var template: String {
        switch self {
        case .unplugged: "{kind} {name} at {port} is unplugged: plug it back into port {port}"
        case .failed: "{kind} {name} at {port} failed: {why}"
        case .warning: "{kind} {name} at {port} {why}"
        case .flapping: "{kind} {name} at {port} flapping"
        case .notChecked: "{kind} {name} at {port} not yet checked"
        case .noneConnected: "no {kind} connected"
        case .needsNoneConnected: "needs {count} {kinds}, none connected"
        case .onlyUsable: "only {usable} of {count} {kinds} usable"
        case .noneWorking: "no usable {kind} ({present} present, none working)"
        case .notOnBus: "not on the bus: plug it back into port {port}"
        case .pluggedIn: "plugged in at {port} ({source})"
        case .pluggedBack: "plugged back in at {port}"
        case .unpluggedFrom: "unplugged from {port}"
        }
    }

    /// The templates as gettext extracts them (xgettext reads these `N_` marks; the list must match
    /// `template`, which a test checks).
    public static let catalogue = [
        N_("{kind} {name} at {port} is unplugged: plug it back into port {port}"),
        N_("{kind} {name} at {port} failed: {why}"),
        N_("{kind} {name} at {port} {why}"),
        N_("{kind} {name} at {port} flapping"),
        N_("{kind} {name} at {port} not yet checked"),
        N_("no {kind} connected"),
        N_("needs {count} {kinds}, none connected"),
        N_("only {usable} of {count} {kinds} usable"),
        N_("no usable {kind} ({present} present, none working)"),
        N_("not on the bus: plug it back into port {port}"),
        N_("plugged in at {port} ({source})"),
        N_("plugged back in at {port}"),
        N_("unplugged from {port}"),
    ]

    /// The sentence in the reader's language: `translate` maps an English msgid to the reader's
    /// (the identity for English). Unknown parameters are left as written.
    /// The code and parameters an English reason was made from, if it was made from one of the
    /// event codes' templates (device events; kit reasons carry their codes from KitEvaluator).
    public static func recognise(_ english: String) -> (code: ReasonCode, args: [String: String])? {
        for c in [ReasonCode.notOnBus, .pluggedBack, .pluggedIn, .unpluggedFrom] {
            if let args = Sentences.match(c.template, english) { return (c, args) }
        }
        return nil
    }

    public static func render(code: String, args: [String: String], english: String, translate: (String) -> String) -> String {
        guard let c = ReasonCode(rawValue: code) else { return english }
        return Sentences.render(c.template, args, translate: translate)
    }
}

/// Marks an English sentence for the catalogue without translating it here (gettext's `N_`):
/// xgettext extracts it, and the reader's side translates it where it is shown.
@inlinable public func N_(_ s: String) -> String { s }

/// Fills `{name}` marks from `values`; a mark with no value stays as written.
public func fill(_ template: String, _ values: [String: String]) -> String {
    guard template.contains("{") else { return template }
    var out = ""
    out.reserveCapacity(template.utf8.count + 32)
    var i = template.startIndex
    while i < template.endIndex {
        let c = template[i]
        if c == "{", let close = template[i...].firstIndex(of: "}") {
            let name = String(template[template.index(after: i)..<close])
            if let v = values[name], !name.isEmpty, !name.contains("{") {
                out += v
                i = template.index(after: close)
                continue
            }
        }
        out.append(c)
        i = template.index(after: i)
    }
    return out
}
