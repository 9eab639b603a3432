import EKTPModel
import EKTPPlatform
import Hummingbird

/// Every word the dashboard shows, by key, so a translation is one more table (issue 18 adds
/// Bahasa Indonesia through gettext; until then the pages are in English). Templates read them as
/// `{{t.KEY}}`; Swift code through `DashboardText.word(_:)`. Keys are stable; the English is
/// what a regency's Dukcapil staff read today.
public enum DashboardText {
    public static let english: [String: String] = [
        "brand": N_("e-KTP enrolment stations"),
        "nav": N_("Pages"),
        "overview": N_("Overview"),
        "cannotEnrol": N_("Cannot enrol"),
        "repairs": N_("Repairs"),
        "attention": N_("Not pulled / not heard from"),
        "blanks": N_("Card blanks"),
        "search": N_("Search"),
        "searchLabel": N_("Find a station, district or regency"),
        "searchPlaceholder": N_("station, district or regency"),
        "logout": N_("Log out"),
        "login": N_("Log in"),
        "loginTitle": N_("Log in to the registry"),
        "user": N_("User name"),
        "password": N_("Password"),
        "updated": N_("Updated"),
        "live": N_("updates by itself"),
        "liveOff": N_("not updating: reload the page"),
        "place": N_("Place"),
        "state": N_("State"),
        "stations": N_("Stations"),
        "ready": N_("Ready"),
        "degraded": N_("Degraded"),
        "broken": N_("Cannot enrol"),
        "unknown": N_("No report yet"),
        "silent": N_("Not heard from"),
        "notPulled": N_("Not pulled"),
        "cardBlanks": N_("Card blanks"),
        "national": N_("Indonesia"),
        "scope": N_("You see"),
        "station": N_("Station"),
        "site": N_("Site"),
        "district": N_("District"),
        "regency": N_("Regency"),
        "province": N_("Province"),
        "device": N_("Device"),
        "kind": N_("Kind"),
        "model": N_("Model"),
        "port": N_("Port"),
        "reason": N_("What to do"),
        "since": N_("Since"),
        "forHowLong": N_("For"),
        "region": N_("Region"),
        "allRegions": N_("All I may see"),
        "allKinds": N_("All kinds"),
        "filter": N_("Show"),
        "sortBy": N_("Sort by"),
        "cannotEnrolLead": N_("Sites whose kit cannot enrol, with what a technician must do. Oldest first."),
        "noneCannotEnrol": N_("Every site in this view can enrol."),
        "repairsLead": N_("Broken and missing devices in this view, by kind and model: what to ask the centre for."),
        "noneRepairs": N_("No broken or missing device in this view."),
        "broken_devices": N_("Broken"),
        "missing_devices": N_("Missing"),
        "longestBroken": N_("Longest broken"),
        "devicesToRepair": N_("Each device"),
        "health": N_("Health"),
        "attentionLead": N_("Sites whose data the centre has not pulled within the limit, and stations not heard from."),
        "notPulledTitle": N_("Not pulled by the centre"),
        "silentTitle": N_("Not heard from"),
        "lastPull": N_("Last pull"),
        "never": N_("never"),
        "lastHeard": N_("Last heard"),
        "noneNotPulled": N_("Every site in this view was pulled within the limit."),
        "noneSilent": N_("Every station in this view was heard from within the limit."),
        "blanksLead": N_("Card blanks by printing office, the ones running out first."),
        "office": N_("Printing office"),
        "perDay": N_("Used per day"),
        "daysLeft": N_("Days left"),
        "printers": N_("Printers working"),
        "noneBlanks": N_("No printing office in this view reports card blanks."),
        "kitNow": N_("The kit now"),
        "devices": N_("Devices"),
        "recentEvents": N_("Recent events"),
        "time": N_("Time"),
        "event": N_("Event"),
        "server": N_("Recording server"),
        "availability24h": N_("Available, last 24 h"),
        "availability7d": N_("Available, last 7 days"),
        "uplink": N_("Network"),
        "power": N_("Power"),
        "onMains": N_("on mains"),
        "onBattery": N_("on battery"),
        "kit7d": N_("The kit over the last 7 days"),
        "noSnapshot": N_("This station has not sent its status yet."),
        "searchLead": N_("Stations whose name, district or regency contains"),
        "noHits": N_("No station in your view matches."),
        "notFound": N_("Not found"),
        "forbidden": N_("Refused"),
        "wrongLogin": N_("Wrong user name or password."),
        "formExpired": N_("The form expired or did not come from this page. Load the page again and repeat."),
        "clockSkewed": N_("The station's clock is wrong by"),
        "courier": N_("Last news by courier"),
        "ofTime": N_("of the time"),
        "pages": N_("Pages of the list"),
        "busy": N_("Too many logins at once: wait a few seconds and try again."),
        "open": N_("Open"),
        "noneConnected": N_("(none connected)"),
        "previous": N_("Previous"),
        "next": N_("Next"),
    ]

    /// A word by key (the key itself when missing, so a gap shows instead of hiding).
    public static func word(_ key: String) -> String { english[key] ?? key }

}

/// The reader's language for one request: the dashboard's words and the reports' sentences,
/// from the same compiled catalogue (`.mo`) the daemons use, read by `MOCatalog`.
struct Translator: Sendable {
    let language: String
    let catalog: MOCatalog?
    /// `DashboardText` keys to words in this language (what the templates read as `{{t.KEY}}`).
    let words: [String: String]

    static let english = Translator(language: "en", catalog: nil)

    init(language: String, catalog: MOCatalog?) {
        self.language = language
        self.catalog = catalog
        words = DashboardText.english.mapValues { catalog?.text($0) ?? $0 }
    }

    func text(_ english: String) -> String { catalog?.text(english) ?? english }
    func word(_ key: String) -> String { words[key] ?? key }

    /// An English sentence a station sent: its translation, or that of the template it was made from.
    func sentence(_ english: String) -> String {
        guard catalog != nil else { return english }
        return Sentences.translate(english, templates: Sentences.templates, translate: text)
    }

    /// A reason sent as a code with parameters (issue 18), else its English text.
    func reason(code: String?, args: [String: String]?, english: String) -> String {
        guard let code, let args else { return sentence(english) }
        return ReasonCode.render(code: code, args: args, english: english, translate: text)
    }

    /// The kit condition in words, with the CSS class that colours it (never the only signal).
    func condition(_ c: SiteCondition, silent: Bool = false) -> (word: String, cls: String) {
        if silent { return (word("silent"), "silent") }
        return switch c {
        case .ready: (word("ready"), "ok")
        case .degraded: (word("degraded"), "warn")
        case .broken: (word("broken"), "bad")
        case .unknown: (word("unknown"), "unknown")
        }
    }

    func health(_ h: Health) -> (word: String, cls: String) {
        let cls = switch h {
        case .ok: "ok"
        case .degraded: "warn"
        case .failed, .missing: "bad"
        case .unknown: "unknown"
        }
        return (text(h.rawValue), cls)
    }
}

/// The languages the dashboard offers: Bahasa Indonesia by default (issue 18: Dukcapil's staff read
/// it), English as a choice: `?lang=en` (kept in a cookie), else the browser's Accept-Language.
struct DashboardLanguages: Sendable {
    static let cookie = "ektp_lang"
    let indonesian: Translator?

    /// Reads the Indonesian catalogue from `directory`; without it every page is in English.
    static func load(_ directory: String) -> DashboardLanguages {
        DashboardLanguages(indonesian: MOCatalog.load(directory: directory, language: "id").map { Translator(language: "id", catalog: $0) })
    }

    func offers(_ lang: String) -> Bool { lang == "en" || (lang == "id" && indonesian != nil) }

    func translator(_ lang: String) -> Translator? {
        lang == "en" ? .english : lang == "id" ? indonesian : nil
    }

    func choose(_ request: Request) -> Translator {
        if let q = request.uri.queryParameters.get("lang"), let t = translator(String(q)) { return t }
        if let c = request.cookies[Self.cookie]?.value, let t = translator(c) { return t }
        if let header = request.headers[.acceptLanguage], let lang = Self.preferred(header), let t = translator(lang) { return t }
        return indonesian ?? .english
    }

    /// The first of "id" and "en" in an Accept-Language header (RFC 9110 12.5.4), by weight.
    static func preferred(_ header: String) -> String? {
        var best: (lang: String, q: Double, at: Int)?
        for (i, part) in header.split(separator: ",").enumerated() {
            let fields = part.split(separator: ";").map { String($0).trimmingSpaces }
            guard let tag = fields.first?.lowercased() else { continue }
            let primary = String(tag.split(separator: "-").first ?? "")
            guard primary == "id" || primary == "en" else { continue }
            var q = 1.0
            for f in fields.dropFirst() where f.hasPrefix("q=") { q = Double(f.dropFirst(2)) ?? 1 }
            if q > 0, best == nil || q > best!.q { best = (primary, q, i) }
        }
        return best?.lang
    }

    /// The language links every page shows.
    func switcher(current: String) -> [[String: Any]] {
        var out: [[String: Any]] = []
        if indonesian != nil { out.append(["code": "id", "label": "Bahasa Indonesia", "current": current == "id"]) }
        out.append(["code": "en", "label": "English", "current": current == "en"])
        return out
    }
}
