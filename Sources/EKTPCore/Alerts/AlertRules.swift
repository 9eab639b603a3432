import EKTPModel

/// A condition that holds now and should be an alert: what `AlertRules` finds in a station's status.
public struct AlertCondition: Sendable, Equatable {
    /// The `alertname` label ("DeviceFailed", "KitBroken", ...).
    public var name: String
    public var severity: AlertSeverity
    /// What the alert is about: its from and to states are this subject's.
    public var subject: AlertSubject
    /// Labels beyond alertname, severity and the station's (device and kind for a device).
    public var labels: [String: String]
    public var summary: String
    public var reason: String
    /// Extra annotations (the device's name).
    public var annotations: [String: String]

    public init(name: String, severity: AlertSeverity, subject: AlertSubject, labels: [String: String] = [:],
                summary: String, reason: String, annotations: [String: String] = [:]) {
        self.name = name
        self.severity = severity
        self.subject = subject
        self.labels = labels
        self.summary = summary
        self.reason = reason
        self.annotations = annotations
    }
}

/// What the rules saw: the alerts that hold and every subject's state word (for from and to).
public struct AlertEvaluation: Sendable, Equatable {
    public var conditions: [AlertCondition]
    public var states: [AlertSubject: String]
}

/// The station's alert rules, a pure function of its status (as Prometheus rules are of metrics).
///
/// | alertname | severity | when |
/// |---|---|---|
/// | DeviceFailed | critical | a device fails its probe or is missing |
/// | DeviceDegraded | warning | a device works but with a problem (slow link, blanks low) |
/// | KitBroken | critical | the kit cannot enrol (or print) |
/// | KitDegraded | warning | the kit works with a problem |
/// | RecordingServerDown | critical | the supervised server is not up (unhealthy, restarting, crash loop, stopped) |
/// | CentreNotPulled | warning | the centre has not pulled the server's data within its limit |
/// | UplinkDown | warning | no uplink target answers |
/// | OnBattery | warning | mains power is off |
/// | BatteryLow | critical | the battery is low |
/// | BlanksLow | warning | fewer card blanks than `alerts.blanks_low` |
/// | BlanksOut | critical | no card blanks left |
/// | OutboxOverLimit | warning | the outbox is over its size bound (reports are not leaving) |
/// | OutboxUnwritable | critical | the disk refuses the outbox (full, read-only, I/O error): reports are held in memory, or lost past the bound (issue 12) |
public enum AlertRules {
    public static func evaluate(_ s: StationStatus, blanksLow: Int) -> AlertEvaluation {
        var out: [AlertCondition] = []
        var states: [AlertSubject: String] = [:]

        for d in s.devices {
            let subject = AlertSubject.device(d.device.id)
            states[subject] = d.health.rawValue
            let labels = ["device": d.device.id.rawValue, "kind": d.device.kind.rawValue]
            let annotations = ["device_name": d.device.name]
            let what = "\(d.device.kind.displayName) \(d.device.name) at \(d.device.portPath)"
            switch d.health {
            case .failed, .missing:
                out.append(.init(name: "DeviceFailed", severity: .critical, subject: subject, labels: labels,
                                 summary: "\(what) is \(d.health.rawValue)", reason: d.reason ?? d.health.rawValue,
                                 annotations: annotations))
            case .degraded:
                out.append(.init(name: "DeviceDegraded", severity: .warning, subject: subject, labels: labels,
                                 summary: "\(what) is degraded", reason: d.reason ?? "degraded", annotations: annotations))
            case .ok, .unknown:
                break
            }
        }

        states[.kit] = s.kit.state.rawValue
        switch s.kit.state {
        case .broken:
            out.append(.init(name: "KitBroken", severity: .critical, subject: .kit,
                             summary: "kit broken: \(kinds(s.kit.problems, .broken))",
                             reason: s.kit.summary))
        case .degraded:
            out.append(.init(name: "KitDegraded", severity: .warning, subject: .kit,
                             summary: "kit degraded: \(kinds(s.kit.problems, .degraded))",
                             reason: s.kit.summary))
        case .ready: break
        }

        if let server = s.server {
            states[.server] = server.state.rawValue
            switch server.state {
            case .unhealthy, .restarting, .crashLoop, .stopped:
                out.append(.init(name: "RecordingServerDown", severity: .critical, subject: .server,
                                 labels: ["server": server.name],
                                 summary: "recording server \(server.name) is \(server.state.rawValue.replacing("_", with: " "))",
                                 reason: server.lastReason ?? server.state.rawValue))
            case .starting, .up: break
            }
        }

        if let sync = s.sync {
            states[.sync] = sync.state.rawValue
            if sync.state == .stale || sync.state == .never {
                out.append(.init(name: "CentreNotPulled", severity: .warning, subject: .sync,
                                 summary: sync.state == .never ? "the centre has never pulled this station's data"
                                     : "the centre has not pulled this station's data within \(spokenDuration(.seconds(sync.limitSeconds)))",
                                 reason: sync.reason ?? sync.state.rawValue))
            }
        }

        if let uplink = s.uplink, !uplink.targets.isEmpty {
            let known = uplink.targets.filter { $0.reachable != nil }
            let down = !known.isEmpty && known.allSatisfy { $0.reachable == false }
            states[.uplink] = known.isEmpty ? "unknown" : down ? "down" : "up"
            if down {
                out.append(.init(name: "UplinkDown", severity: .warning, subject: .uplink,
                                 summary: "no uplink target answers (\(uplink.targets.map(\.name).joined(separator: ", ")))",
                                 reason: known.compactMap(\.reason).first ?? "unreachable"))
            }
        }

        if let power = s.power {
            states[.power] = power.onMains == false ? "battery" : power.onMains == true ? "mains" : "unknown"
            if power.onMains == false {
                out.append(.init(name: "OnBattery", severity: .warning, subject: .power,
                                 summary: "mains power is off: running on battery" + (power.batteryPercent.map { " (\($0)%)" } ?? ""),
                                 reason: N_("on battery")))
            }
            states[.battery] = power.batteryLow ? "low" : "ok"
            if power.batteryLow {
                out.append(.init(name: "BatteryLow", severity: .critical, subject: .battery,
                                 summary: "battery low" + (power.batteryPercent.map { " (\($0)%)" } ?? "") + ": the station will stop",
                                 reason: N_("battery low")))
            }
        }

        if let stock = s.stock {
            let state = stock.blanks == 0 ? "out" : stock.blanks < blanksLow ? "low" : "ok"
            states[.stock] = state
            if state == "out" {
                out.append(.init(name: "BlanksOut", severity: .critical, subject: .stock,
                                 summary: "no card blanks left", reason: "0 blanks (\(stock.source.rawValue) count)"))
            } else if state == "low" {
                out.append(.init(name: "BlanksLow", severity: .warning, subject: .stock,
                                 summary: "\(stock.blanks) card blanks left (below \(blanksLow))",
                                 reason: "\(stock.blanks) blanks (\(stock.source.rawValue) count)"))
            }
        }

        if let delivery = s.delivery {
            states[.outbox] = delivery.overLimit ? "over_limit" : "ok"
            if delivery.overLimit {
                out.append(.init(name: "OutboxOverLimit", severity: .warning, subject: .outbox,
                                 summary: "\(delivery.pending) reports wait for the registry and the outbox is over its size bound",
                                 reason: delivery.lastError ?? "not delivered"))
            }
        }
        if let o = s.outbox {
            states[.outboxDisk] = o.writable ? "writable" : "unwritable"
            if !o.writable {
                out.append(.init(name: "OutboxUnwritable", severity: .critical, subject: .outboxDisk,
                                 summary: o.problem ?? "cannot write the outbox",
                                 reason: "\(o.error ?? "write failed")" + (o.dropped > 0 ? "; \(o.dropped) report(s) lost past the bound of \(o.holdLimit)" : ""),
                                 annotations: ["path": o.path]))
            }
        }
        return AlertEvaluation(conditions: out, states: states)
    }

    /// "fingerprint scanner, iris scanner": the kinds behind the kit's state.
    static func kinds(_ problems: [KitProblem], _ severity: KitState) -> String {
        var seen: [String] = []
        for p in problems where p.severity == severity && !seen.contains(p.kind.displayName) { seen.append(p.kind.displayName) }
        return seen.isEmpty ? N_("see description") : seen.joined(separator: ", ")
    }
}
