import EKTPCore
import EKTPModel
import EKTPPlatform

/// The human-readable status a district operator reads, in their language (gettext, issue 18). May
/// change between versions; scripts use `--json`, which never changes with LANG.
///
/// Rendered in one of two places with the same words: by the daemon for `GET /v1/status?format=text`
/// in the language the client asks for (`StatusText(catalog:)`, from the compiled catalogue, as
/// the registry renders its dashboard per reader), which `ektpd status` prints as it comes; or by
/// the client from the JSON (`StatusText.process`, glibc's gettext), with a daemon from before.
/// Why the daemon: decoding the status with JSONDecoder took `ektpd status` 0.35 ms of its 3.0 ms
/// (first use of each Codable type: its metadata and conformance lookups), against `monit
/// status`'s 5.9 ms and the issue's half of it (Benchmarks/footprint.py).
public struct StatusText: Sendable {
    /// An English msgid to the reader's words.
    let translate: @Sendable (String) -> String
    /// An English sentence from a report to the reader's words (its entry, or its template's).
    let translateSentence: @Sendable (String) -> String

    /// The process's own language (glibc's gettext, `L10n`).
    public static let process = StatusText(translate: { L10n.text($0) }, translateSentence: { L10n.sentence($0) })
    /// English.
    public static let english = StatusText(translate: { $0 }, translateSentence: { $0 })

    init(translate: @escaping @Sendable (String) -> String, translateSentence: @escaping @Sendable (String) -> String) {
        self.translate = translate
        self.translateSentence = translateSentence
    }

    /// From a compiled catalogue; English without one.
    public init(catalog: MOCatalog?) {
        guard let catalog else { self = .english; return }
        translate = { catalog.text($0) }
        translateSentence = { Sentences.translate($0, templates: Sentences.templates, translate: catalog.text) }
    }

    func tr(_ msgid: String, _ values: [String: String] = [:]) -> String { fill(translate(msgid), values) }
    func text(_ msgid: String) -> String { translate(msgid) }
    func sentence(_ english: String) -> String { translateSentence(english) }
    func count(_ n: Int) -> String { L10n.count(n, separator: L10n.groupSeparator(translate)) }

    public static func render(_ s: StationStatus) -> String { process.render(s) }
    public static func renderDevices(_ s: StationStatus) -> String { process.renderDevices(s) }
    public static func renderEvents(_ events: [Event]) -> String { process.renderEvents(events) }

    /// The status: station, kit verdict, devices, watchers, alerts.
    public func render(_ s: StationStatus) -> String {
        var out = tr("Station {id}: {district}, {regency}, {province}",
                     ["id": s.station, "district": s.site.district.printable, "regency": s.site.regency.printable, "province": s.site.province.printable]) + "\n"
        let verdict: String
        switch s.kit.state {
        case .ready: verdict = tr("Kit READY: this station can enrol")
        case .degraded: verdict = tr("Kit DEGRADED: this station can enrol, but needs attention")
        case .broken: verdict = tr("Kit BROKEN: this station cannot enrol")
        }
        out += verdict + " " + tr("(since {ago})", ["ago": ago(s.kit.since, s.now)]) + "\n"
        for p in s.kit.problems { out += "  - \(p.reason(translate).printable)\n" }
        out += "\n"
        out += Self.table(s.devices.map { d in
            [text(d.device.kind.displayName), d.device.name, d.device.portPath,
             healthWord(d.health) + (d.flapping ? " " + tr("(flapping)") : ""), ago(d.since, s.now), d.reason.map(sentence) ?? ""]
        }, header: [tr("DEVICE"), tr("NAME"), tr("PORT"), tr("HEALTH"), tr("SINCE"), tr("LAST REASON")])
        if s.devices.isEmpty { out += tr("(no devices on the bus)") + "\n" }
        out += renderWatchers(s)
        if let alerts = s.alerts, !alerts.isEmpty {
            out += tr("Alerts:  {n} firing", ["n": "\(alerts.count)"]) + "\n"
            for a in alerts { out += "  \(a.severity.rawValue.uppercased()) \(a.name) " + tr("since {ago}", ["ago": ago(a.since, s.now)]) + ": \(sentence(a.summary).printable)\n" }
        }
        return out
    }

    func renderWatchers(_ s: StationStatus) -> String {
        var lines: [String] = []
        if let v = s.server {
            var l = tr("Server:  {name} {state} since {ago}", ["name": v.name.printable, "state": text(v.state.rawValue.replacingAll("_", with: " ")),
                                                                "ago": ago(v.since, s.now)])
            if let pid = v.pid { l += ", pid \(pid)" }
            l += tr("; restarts {n}; up {percent} of the last 24 h", ["n": "\(v.restarts)", "percent": Self.percent(v.availability.last24h)])
            l += v.availability.observed24hSeconds < 86400 ? " " + tr("(watched {duration})", ["duration": Self.duration(v.availability.observed24hSeconds)]) : ""
            l += tr(", {percent} of 7 days", ["percent": Self.percent(v.availability.last7d)])
            lines.append(l)
            if v.state != .up, let r = v.lastReason { lines.append("         " + tr("last: {reason}", ["reason": text(r).printable])) }
        }
        if let p = s.sync {
            switch p.state {
            case .fresh: lines.append(tr("Centre:  data pulled {ago}", ["ago": p.lastPull.map { ago($0, s.now) } ?? ""]))
            case .stale, .never, .unknown:
                lines.append(tr("Centre:  {state}: {reason}", ["state": text(p.state.rawValue).uppercased(), "reason": text(p.reason ?? "")]))
            }
        }
        if let u = s.uplink {
            let targets = u.targets.map { t in
                "\(t.name) " + (t.reachable == true ? tr("reachable ({ms} ms)", ["ms": "\(Int((t.latencyMillis ?? 0).rounded()))"])
                                                  : t.reachable == false ? tr("UNREACHABLE") : tr("not yet checked"))
            }
            lines.append(tr("Network: default route via {interface}", ["interface": u.defaultInterface ?? tr("nothing (offline)")])
                         + (targets.isEmpty ? "" : "; " + targets.joined(separator: ", ")))
        }
        if let o = s.outbox, let problem = o.problem {
            lines.append(tr("Outbox:  ") + (o.writable ? problem : problem.uppercasedFirst))
        }
        if let d = s.delivery {
            var l = tr("Registry: ")
            if d.failures == 0 {
                l += d.pending == 0 ? tr("all reports delivered") : tr("{n} report(s) waiting", ["n": count(d.pending)])
                if let t = d.lastDelivery { l += tr(", last delivery {ago}", ["ago": ago(t, s.now)]) }
            } else {
                l += tr("NOT DELIVERING ({failures} failure(s) in a row), {n} report(s) waiting: {error}",
                        ["failures": "\(d.failures)", "n": count(d.pending), "error": d.lastError ?? ""])
            }
            if d.overLimit { l += tr("; OUTBOX OVER ITS SIZE BOUND") }
            lines.append(l)
        }
        if let st = s.stock {
            lines.append(tr("Blanks:  {n} card blanks ({source} {ago})", ["n": count(st.blanks), "ago": ago(st.updatedAt, s.now),
                                                                           "source": st.source == .printer ? tr("from the printers") : tr("counted by the operator")]))
        }
        if let p = s.power, p.onMains != nil || p.batteryPercent != nil {
            var l = tr("Power:   ") + (p.onMains == true ? tr("mains") : p.onMains == false ? tr("ON BATTERY") : tr("unknown"))
            if let b = p.batteryPercent { l += tr(", battery {percent}%", ["percent": "\(b)"]) + (p.batteryLow ? " " + tr("(LOW)") : "") }
            lines.append(l)
        }
        return lines.isEmpty ? "" : "\n" + lines.joined(separator: "\n") + "\n"
    }

    /// Words of the JSON's enums that the text shows, for the catalogue (translated where shown).
    static let enumWords = [N_("starting"), N_("up"), N_("unhealthy"), N_("restarting"), N_("crash loop"), N_("stopped"),
                            N_("fresh"), N_("stale"), N_("never"), N_("unknown"), N_("ready"), N_("broken")]

    static func percent(_ x: Double) -> String {
        let p = (x * 1000).rounded() / 10
        return p == p.rounded() ? "\(Int(p))%" : "\(p)%"
    }

    static func duration(_ secs: Int64) -> String {
        secs < 60 ? "\(secs) s" : secs < 3600 ? "\(secs / 60) min" : "\(secs / 3600) h \(secs % 3600 / 60) min"
    }

    /// Every device with its identity, health and reason.
    public func renderDevices(_ s: StationStatus) -> String {
        var out = ""
        // The labels are padded to one width in each language (the English ones to 14).
        let labels = [tr("id:"), tr("usb:"), tr("manufacturer:"), tr("serial:"), tr("kind from:"), tr("speed:"), tr("nodes:"),
                      tr("health:"), tr("reason:"), tr("blanks left:"), tr("last probe:")]
        let width = max(14, (labels.map(\.count).max() ?? 0) + 1)
        func field(_ i: Int, _ value: String) -> String { "  " + labels[i] + String(repeating: " ", count: width - labels[i].count) + value + "\n" }
        for d in s.devices {
            out += "\(sentence(d.device.label).printable)\n"
            out += field(0, "\(d.device.id)")
            out += field(1, "\(d.device.vendorId):\(d.device.productId)  " + tr("bus {bus} device {device}", ["bus": "\(d.device.busNumber)", "device": "\(d.device.deviceNumber)"]))
            if let m = d.device.manufacturer { out += field(2, m.printable) }
            if let sn = d.device.serial { out += field(3, sn.printable) }
            out += field(4, d.device.kindSource)
            out += field(5, "\(d.device.speed.rawValue)\(d.device.capabilities.maxSpeed.map { " " + tr("(supports {speed})", ["speed": $0.rawValue]) } ?? "")")
            out += field(6, d.device.nodes.joined(separator: " "))
            out += field(7, "\(healthWord(d.health))\(d.flapping ? ", " + tr("flapping") : "") " + tr("since {time}", ["time": d.since.rfc3339]) + " (\(d.mosipStatus))")
            if let r = d.reason { out += field(8, "\(sentence(r).printable)\(d.code.map { " [\($0.rawValue)]" } ?? "")") }
            if let b = d.blanksRemaining { out += field(9, count(b)) }
            if let p = d.lastProbe { out += field(10, ago(p, s.now)) }
            out += "\n"
        }
        return out.isEmpty ? tr("(no devices on the bus)") + "\n" : out
    }

    public func renderEvents(_ events: [Event]) -> String {
        Self.table(events.map { e in
            ["\(e.sequence)", e.time.rfc3339, e.type.rawValue, e.deviceName ?? e.subject,
             [e.from, e.to].compactMap { $0 }.joined(separator: " -> "), e.reason(translate) ?? ""]
        }, header: [tr("SEQ"), tr("TIME"), tr("EVENT"), tr("SUBJECT"), tr("CHANGE"), tr("REASON")])
    }

    func ago(_ t: Timestamp, _ now: Timestamp) -> String {
        let s = max(0, (now.millis - t.millis) / 1000)
        if s < 60 { return tr("{s}s ago", ["s": "\(s)"]) }
        if s < 3600 { return tr("{m}m ago", ["m": "\(s / 60)"]) }
        if s < 86400 { return tr("{h}h{m}m ago", ["h": "\(s / 3600)", "m": "\(s % 3600 / 60)"]) }
        return tr("{d}d{h}h ago", ["d": "\(s / 86400)", "h": "\(s % 86400 / 3600)"])
    }

    /// A device's health in the reader's words.
    func healthWord(_ h: Health) -> String { text(h.rawValue) }

    static func table(_ rows: [[String]], header: [String]) -> String {
        guard !rows.isEmpty else { return "" }
        let rows = rows.map { $0.map(\.printable) }
        var widths = header.map(\.count)
        for r in rows { for (i, c) in r.enumerated() where i < widths.count - 1 { widths[i] = max(widths[i], c.count) } }
        func line(_ r: [String]) -> String {
            var s = ""
            for (i, c) in r.enumerated() {
                s += i == r.count - 1 ? c : c + String(repeating: " ", count: widths[i] - c.count + 2)
            }
            while s.last == " " { s.removeLast() }
            return s + "\n"
        }
        return line(header) + rows.map(line).joined()
    }
}

extension String {
    /// "Cannot write ...": the first letter in upper case, for a line a person reads first.
    var uppercasedFirst: String { prefix(1).uppercased() + dropFirst() }
}
