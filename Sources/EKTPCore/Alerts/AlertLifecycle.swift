import EKTPModel

/// The alert life cycle, as a value: fed what the rules find, it says when to notify and with what.
///
/// - An alert **fires** when its condition starts to hold and **resolves** when it stops; each is sent once.
/// - **Grouping**: changes are held for `groupWait` from the first one, and every change seen by then
///   goes in one notification (a kit losing four devices at once is one notification: four
///   `DeviceFailed` and a `KitBroken`). An alert that fires and clears within the wait is never sent.
/// - **Repeat**: while alerts stay firing and nothing changes, they are sent again every
///   `repeatInterval` (the notification says `repeat`); nothing else is ever re-sent.
/// - Identity is the label set (its fingerprint): a device going from degraded to failed resolves
///   `DeviceDegraded` and fires `DeviceFailed`, in one notification.
///
/// No I/O and no clock: the owner passes the time in and performs the notifications.
public struct AlertLifecycle: Sendable {
    public struct Config: Sendable, Equatable {
        public var groupWait: Duration
        public var repeatInterval: Duration
        public init(groupWait: Duration = .seconds(10), repeatInterval: Duration = .seconds(4 * 3600)) {
            self.groupWait = groupWait
            self.repeatInterval = repeatInterval
        }
    }

    /// One notification to send.
    public struct Notification: Sendable, Equatable {
        public var payload: AlertNotification
        /// Sent again at the repeat interval, nothing having changed.
        public var isRepeat: Bool
    }

    struct Tracked: Sendable {
        var alert: Alert
        var subject: AlertSubject
        var sent: Bool
        /// Order of firing, so resolutions come in the order the alerts fired.
        var order: Int = 0
    }

    struct Pending: Sendable {
        var fingerprint: String
        var alert: Alert
        var subject: AlertSubject
        /// For a resolution: the state the alert fired from (kept should it fire again unsent).
        var firedFrom: String? = nil
    }

    public let config: Config
    public let station: String
    let stationLabels: [String: String]
    var active: [String: Tracked] = [:]
    /// Fingerprints of alerts to send, in the order they changed, with the alert as it will go.
    var pending: [Pending] = []
    var fired = 0
    var pendingSince: Timestamp?
    var lastSent: Timestamp?
    var states: [AlertSubject: String] = [:]
    /// Each alert's place in the rules' order: devices by kind then device ID, then the kit, the
    /// server, the centre's pull, the uplink, power, stock, the outbox. A notification lists its
    /// alerts in this order, whatever order the changes were observed in (a burst of four unplugs
    /// written one by one to the journal reads the same as four at once).
    var rank: [String: AlertRank] = [:]

    /// The sort key of an alert in a notification.
    struct AlertRank: Comparable, Sendable {
        var group: Int
        var kind: Int
        var subject: AlertSubject
        static func < (a: AlertRank, b: AlertRank) -> Bool {
            (a.group, a.kind) != (b.group, b.kind) ? (a.group, a.kind) < (b.group, b.kind) : a.subject.description.utf8Precedes(b.subject.description)
        }
        init(_ c: AlertCondition) {
            group = c.subject.group
            if case .device = c.subject {
                kind = c.labels["kind"].flatMap(DeviceKind.init(rawValue:)).flatMap { DeviceKind.allCases.firstIndex(of: $0) } ?? Int.max
            } else {
                kind = 0
            }
            subject = c.subject
        }
    }

    public init(config: Config, station: String, site: Site) {
        self.config = config
        self.station = station
        stationLabels = ["station": station, "province": site.province, "regency": site.regency, "district": site.district]
    }

    /// Alerts firing now (sent or waiting to be).
    public var firing: [Alert] { active.values.sorted { $0.order < $1.order }.map(\.alert) }

    /// Takes in what the rules found at `now`.
    public mutating func observe(_ evaluation: AlertEvaluation, now: Timestamp) {
        var seen: Set<String> = []
        for c in evaluation.conditions {
            var labels = stationLabels
            for (k, v) in c.labels { labels[k] = v }
            labels["alertname"] = c.name
            labels["severity"] = c.severity.rawValue
            let fp = Alert.fingerprint(of: labels)
            seen.insert(fp)
            rank[fp] = AlertRank(c)
            var annotations = c.annotations
            annotations["summary"] = c.summary
            annotations["description"] = c.reason
            annotations["to"] = evaluation.states[c.subject] ?? "unknown"
            if var t = active[fp] {
                // Still firing: keep the annotations current, send nothing.
                annotations["from"] = t.alert.annotations["from"]
                t.alert.annotations = annotations
                active[fp] = t
                continue
            }
            annotations["from"] = states[c.subject] ?? "unknown"
            let alert = Alert(status: "firing", labels: labels, annotations: annotations, startsAt: now.rfc3339,
                              endsAt: Alert.zeroTime, fingerprint: fp)
            fired += 1
            if let i = pending.firstIndex(where: { $0.fingerprint == fp }) {
                // It resolved and fired again before either was sent: as if it never cleared.
                var back = Tracked(alert: pending[i].alert, subject: c.subject, sent: true, order: fired)
                back.alert.status = "firing"
                back.alert.endsAt = Alert.zeroTime
                back.alert.annotations = annotations
                back.alert.annotations["from"] = pending[i].firedFrom ?? annotations["from"]
                active[fp] = back
                pending.remove(at: i)
                continue
            }
            active[fp] = Tracked(alert: alert, subject: c.subject, sent: false, order: fired)
            pending.append(Pending(fingerprint: fp, alert: alert, subject: c.subject))
        }
        for (fp, t) in active.sorted(by: { $0.value.order < $1.value.order }) where !seen.contains(fp) {
            active[fp] = nil
            if let i = pending.firstIndex(where: { $0.fingerprint == fp }) {
                // Fired and cleared within the wait: nothing to say.
                pending.remove(at: i)
                continue
            }
            var resolved = t.alert
            resolved.status = "resolved"
            resolved.endsAt = now.rfc3339
            resolved.annotations["from"] = t.alert.annotations["to"]
            resolved.annotations["to"] = evaluation.states[t.subject] ?? "gone"
            pending.append(Pending(fingerprint: fp, alert: resolved, subject: t.subject, firedFrom: t.alert.annotations["from"]))
        }
        if pending.isEmpty {
            pendingSince = nil
        } else if pendingSince == nil {
            pendingSince = now
        }
        states = evaluation.states
    }

    /// When `take` next has something to send, if ever.
    public var nextDeadline: Timestamp? {
        var d: Timestamp?
        if let p = pendingSince { d = p.adding(config.groupWait) }
        if let l = lastSent, active.values.contains(where: \.sent) {
            let r = l.adding(config.repeatInterval)
            d = d.map { min($0, r) } ?? r
        }
        return d
    }

    /// The notification due at `now`, if one is.
    public mutating func take(now: Timestamp) -> Notification? {
        if let p = pendingSince, p.adding(config.groupWait) <= now {
            // A resolution says where its subject is now, not where it passed through.
            let ordered = pending.enumerated().sorted { a, b in
                switch (rank[a.element.fingerprint], rank[b.element.fingerprint]) {
                case let (x?, y?) where x != y: return x < y
                case (nil, _?): return false
                case (_?, nil): return true
                default: return a.offset < b.offset
                }
            }.map(\.element)
            let alerts = ordered.map { p -> Alert in
                var a = p.alert
                if a.status == "resolved", let now = states[p.subject] { a.annotations["to"] = now }
                return a
            }
            for p in pending where active[p.fingerprint] != nil { active[p.fingerprint]!.sent = true }
            pending = []
            pendingSince = nil
            lastSent = now
            return Notification(payload: payload(alerts), isRepeat: false)
        }
        if let l = lastSent, l.adding(config.repeatInterval) <= now {
            let alerts = active.values.filter(\.sent).sorted { $0.order < $1.order }.map(\.alert)
            guard !alerts.isEmpty else { return nil }
            lastSent = now
            return Notification(payload: payload(alerts), isRepeat: true)
        }
        return nil
    }

    func payload(_ alerts: [Alert]) -> AlertNotification {
        AlertNotification(receiver: "ektpd", groupLabels: ["station": station], alerts: alerts)
    }
}
