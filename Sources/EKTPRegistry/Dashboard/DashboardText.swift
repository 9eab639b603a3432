import EKTPModel

/// Every word the dashboard shows, by key, so a translation is one more table (issue 18 adds
/// Bahasa Indonesia through gettext; until then the pages are in English). Templates read them as
/// `{{t.KEY}}`; Swift code through `DashboardText.word(_:)`. Keys are stable; the English is
/// what a regency's Dukcapil staff read today.
public enum DashboardText {
    public static let english: [String: String] = [
        "brand": "e-KTP enrolment stations",
        "nav": "Pages",
        "overview": "Overview",
        "cannotEnrol": "Cannot enrol",
        "repairs": "Repairs",
        "attention": "Not pulled / not heard from",
        "blanks": "Card blanks",
        "search": "Search",
        "searchLabel": "Find a station, district or regency",
        "searchPlaceholder": "station, district or regency",
        "logout": "Log out",
        "login": "Log in",
        "loginTitle": "Log in to the registry",
        "user": "User name",
        "password": "Password",
        "updated": "Updated",
        "live": "updates by itself",
        "liveOff": "not updating: reload the page",
        "place": "Place",
        "state": "State",
        "stations": "Stations",
        "ready": "Ready",
        "degraded": "Degraded",
        "broken": "Cannot enrol",
        "unknown": "No report yet",
        "silent": "Not heard from",
        "notPulled": "Not pulled",
        "cardBlanks": "Card blanks",
        "national": "Indonesia",
        "scope": "You see",
        "station": "Station",
        "site": "Site",
        "district": "District",
        "regency": "Regency",
        "province": "Province",
        "device": "Device",
        "kind": "Kind",
        "model": "Model",
        "port": "Port",
        "reason": "What to do",
        "since": "Since",
        "forHowLong": "For",
        "region": "Region",
        "allRegions": "All I may see",
        "allKinds": "All kinds",
        "filter": "Show",
        "sortBy": "Sort by",
        "cannotEnrolLead": "Sites whose kit cannot enrol, with what a technician must do. Oldest first.",
        "noneCannotEnrol": "Every site in this view can enrol.",
        "repairsLead": "Broken and missing devices in this view, by kind and model: what to ask the centre for.",
        "noneRepairs": "No broken or missing device in this view.",
        "broken_devices": "Broken",
        "missing_devices": "Missing",
        "longestBroken": "Longest broken",
        "devicesToRepair": "Each device",
        "health": "Health",
        "attentionLead": "Sites whose data the centre has not pulled within the limit, and stations not heard from.",
        "notPulledTitle": "Not pulled by the centre",
        "silentTitle": "Not heard from",
        "lastPull": "Last pull",
        "never": "never",
        "lastHeard": "Last heard",
        "noneNotPulled": "Every site in this view was pulled within the limit.",
        "noneSilent": "Every station in this view was heard from within the limit.",
        "blanksLead": "Card blanks by printing office, the ones running out first.",
        "office": "Printing office",
        "perDay": "Used per day",
        "daysLeft": "Days left",
        "printers": "Printers working",
        "noneBlanks": "No printing office in this view reports card blanks.",
        "kitNow": "The kit now",
        "devices": "Devices",
        "recentEvents": "Recent events",
        "time": "Time",
        "event": "Event",
        "server": "Recording server",
        "availability24h": "Available, last 24 h",
        "availability7d": "Available, last 7 days",
        "uplink": "Network",
        "power": "Power",
        "onMains": "on mains",
        "onBattery": "on battery",
        "kit7d": "The kit over the last 7 days",
        "noSnapshot": "This station has not sent its status yet.",
        "searchLead": "Stations whose name, district or regency contains",
        "noHits": "No station in your view matches.",
        "notFound": "Not found",
        "forbidden": "Refused",
        "wrongLogin": "Wrong user name or password.",
        "formExpired": "The form expired or did not come from this page. Load the page again and repeat.",
        "clockSkewed": "The station's clock is wrong by",
        "courier": "Last news by courier",
        "ofTime": "of the time",
        "pages": "Pages of the list",
        "open": "Open",
        "noneConnected": "(none connected)",
        "previous": "Previous",
        "next": "Next",
    ]

    /// A word by key (the key itself when missing, so a gap shows instead of hiding).
    public static func word(_ key: String) -> String { english[key] ?? key }

    /// The kit condition in words, with the CSS class that colours it (never the only signal).
    static func condition(_ c: SiteCondition, silent: Bool = false) -> (word: String, cls: String) {
        if silent { return (word("silent"), "silent") }
        return switch c {
        case .ready: (word("ready"), "ok")
        case .degraded: (word("degraded"), "warn")
        case .broken: (word("broken"), "bad")
        case .unknown: (word("unknown"), "unknown")
        }
    }

    static func health(_ h: Health) -> (word: String, cls: String) {
        switch h {
        case .ok: ("ok", "ok")
        case .degraded: ("warning", "warn")
        case .failed: ("broken", "bad")
        case .missing: ("missing", "bad")
        case .unknown: ("not checked", "unknown")
        }
    }
}
