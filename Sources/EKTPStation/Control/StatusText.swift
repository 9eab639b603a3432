import EKTPModel

/// The human-readable status a district operator reads. May change between versions; scripts use
/// `--json`.
public enum StatusText {
    public static func render(_ s: StationStatus) -> String {
        var out = "Station \(s.station): \(s.site.district.printable), \(s.site.regency.printable), \(s.site.province.printable)\n"
        let verdict: String
        switch s.kit.state {
        case .ready: verdict = "READY: this station can enrol"
        case .degraded: verdict = "DEGRADED: this station can enrol, but needs attention"
        case .broken: verdict = "BROKEN: this station cannot enrol"
        }
        out += "Kit \(verdict) (since \(ago(s.kit.since, s.now)))\n"
        for p in s.kit.problems { out += "  - \(p.reason.printable)\n" }
        out += "\n"
        out += table(s.devices.map { d in
            [d.device.kind.displayName, d.device.name, d.device.portPath,
             d.health.rawValue + (d.flapping ? " (flapping)" : ""), ago(d.since, s.now), d.reason ?? ""]
        }, header: ["DEVICE", "NAME", "PORT", "HEALTH", "SINCE", "LAST REASON"])
        if s.devices.isEmpty { out += "(no devices on the bus)\n" }
        out += renderWatchers(s)
        if let alerts = s.alerts, !alerts.isEmpty {
            out += "Alerts:  \(alerts.count) firing\n"
            for a in alerts { out += "  \(a.severity.rawValue.uppercased()) \(a.name) since \(ago(a.since, s.now)): \(a.summary.printable)\n" }
        }
        return out
    }

    static func renderWatchers(_ s: StationStatus) -> String {
        var lines: [String] = []
        if let v = s.server {
            var l = "Server:  \(v.name.printable) \(v.state.rawValue.replacingAll("_", with: " ")) since \(ago(v.since, s.now))"
            if let pid = v.pid { l += ", pid \(pid)" }
            l += "; restarts \(v.restarts); up \(percent(v.availability.last24h)) of the last 24 h"
            l += v.availability.observed24hSeconds < 86400 ? " (watched \(duration(v.availability.observed24hSeconds)))" : ""
            l += ", \(percent(v.availability.last7d)) of 7 days"
            lines.append(l)
            if v.state != .up, let r = v.lastReason { lines.append("         last: \(r.printable)") }
        }
        if let p = s.sync {
            switch p.state {
            case .fresh: lines.append("Centre:  data pulled \(p.lastPull.map { ago($0, s.now) } ?? "")")
            case .stale, .never, .unknown: lines.append("Centre:  \(p.state.rawValue.uppercased()): \(p.reason ?? "")")
            }
        }
        if let u = s.uplink {
            let targets = u.targets.map { t in
                "\(t.name) " + (t.reachable == true ? "reachable (\(Int((t.latencyMillis ?? 0).rounded())) ms)" : t.reachable == false ? "UNREACHABLE" : "not yet checked")
            }
            lines.append("Network: default route via \(u.defaultInterface ?? "nothing (offline)")" + (targets.isEmpty ? "" : "; " + targets.joined(separator: ", ")))
        }
        if let o = s.outbox, let problem = o.problem {
            lines.append("Outbox:  " + (o.writable ? problem : problem.uppercasedFirst))
        }
        if let d = s.delivery {
            var l = "Registry: "
            if d.failures == 0 {
                l += d.pending == 0 ? "all reports delivered" : "\(d.pending) report(s) waiting"
                if let t = d.lastDelivery { l += ", last delivery \(ago(t, s.now))" }
            } else {
                l += "NOT DELIVERING (\(d.failures) failure(s) in a row), \(d.pending) report(s) waiting: \(d.lastError ?? "")"
            }
            if d.overLimit { l += "; OUTBOX OVER ITS SIZE BOUND" }
            lines.append(l)
        }
        if let st = s.stock {
            lines.append("Blanks:  \(st.blanks) card blanks (\(st.source == .printer ? "from the printers" : "counted by the operator") \(ago(st.updatedAt, s.now)))")
        }
        if let p = s.power, p.onMains != nil || p.batteryPercent != nil {
            var l = "Power:   " + (p.onMains == true ? "mains" : p.onMains == false ? "ON BATTERY" : "unknown")
            if let b = p.batteryPercent { l += ", battery \(b)%" + (p.batteryLow ? " (LOW)" : "") }
            lines.append(l)
        }
        return lines.isEmpty ? "" : "\n" + lines.joined(separator: "\n") + "\n"
    }

    static func percent(_ x: Double) -> String {
        let p = (x * 1000).rounded() / 10
        return p == p.rounded() ? "\(Int(p))%" : "\(p)%"
    }

    static func duration(_ secs: Int64) -> String {
        secs < 60 ? "\(secs) s" : secs < 3600 ? "\(secs / 60) min" : "\(secs / 3600) h \(secs % 3600 / 60) min"
    }

    public static func renderDevices(_ s: StationStatus) -> String {
        var out = ""
        for d in s.devices {
            out += "\(d.device.label.printable)\n"
            out += "  id:           \(d.device.id)\n"
            out += "  usb:          \(d.device.vendorId):\(d.device.productId)  bus \(d.device.busNumber) device \(d.device.deviceNumber)\n"
            if let m = d.device.manufacturer { out += "  manufacturer: \(m.printable)\n" }
            if let sn = d.device.serial { out += "  serial:       \(sn.printable)\n" }
            out += "  kind from:    \(d.device.kindSource)\n"
            out += "  speed:        \(d.device.speed.rawValue)\(d.device.capabilities.maxSpeed.map { " (supports \($0.rawValue))" } ?? "")\n"
            out += "  nodes:        \(d.device.nodes.joined(separator: " "))\n"
            out += "  health:       \(d.health.rawValue)\(d.flapping ? ", flapping" : "") since \(d.since.rfc3339) (\(d.mosipStatus))\n"
            if let r = d.reason { out += "  reason:       \(r.printable)\(d.code.map { " [\($0.rawValue)]" } ?? "")\n" }
            if let b = d.blanksRemaining { out += "  blanks left:  \(b)\n" }
            if let p = d.lastProbe { out += "  last probe:   \(ago(p, s.now))\n" }
            out += "\n"
        }
        return out.isEmpty ? "(no devices on the bus)\n" : out
    }

    public static func renderEvents(_ events: [Event]) -> String {
        table(events.map { e in
            ["\(e.sequence)", e.time.rfc3339, e.type.rawValue, e.deviceName ?? e.subject,
             [e.from, e.to].compactMap { $0 }.joined(separator: " -> "), e.reason ?? ""]
        }, header: ["SEQ", "TIME", "EVENT", "SUBJECT", "CHANGE", "REASON"])
    }

    static func ago(_ t: Timestamp, _ now: Timestamp) -> String {
        let s = max(0, (now.millis - t.millis) / 1000)
        if s < 60 { return "\(s)s ago" }
        if s < 3600 { return "\(s / 60)m ago" }
        if s < 86400 { return "\(s / 3600)h\(s % 3600 / 60)m ago" }
        return "\(s / 86400)d\(s % 86400 / 3600)h ago"
    }

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
