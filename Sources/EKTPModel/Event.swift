/// What an event is about.
public enum EventType: String, Codable, Sendable {
    /// A device appeared on the bus.
    case deviceAdded = "device.added"
    /// A device left the bus.
    case deviceRemoved = "device.removed"
    /// A device's health changed.
    case deviceHealth = "device.health"
    /// A device started or stopped flapping.
    case deviceFlapping = "device.flapping"
    /// The kit's state changed.
    case kitStatus = "kit.status"
    /// The daemon started or stopped.
    case daemon = "daemon"
    /// The recording server changed state (up, unhealthy, restarting, crash_loop, stopped).
    case serverState = "server.state"
    /// The supervisor restarted the recording server.
    case serverRestart = "server.restart"
    /// The centre's last pull became stale, never happened, or became fresh again.
    case syncState = "sync.state"
    /// An uplink target became reachable or unreachable.
    case uplinkReachability = "uplink.reachability"
    /// The default route moved to another interface (a carrier switch).
    case uplinkRoute = "uplink.route"
    /// Mains power lost or back.
    case powerSource = "power.source"
    /// Battery low or recovered.
    case powerBattery = "power.battery"
    /// The operator set the count of card blanks, or the stock fell below its low mark.
    case stockLevel = "stock.level"
    /// The outbox became unwritable (disk full, read-only, I/O error) or writable again, or reports
    /// held in memory past the bound were lost (`to: "lost"`, the count and range in the reason): the
    /// registry learns that a gap in the sequence is real (issue 12).
    case outbox = "outbox"
    /// The wall clock stepped (NTP correcting a clock, a dead CMOS battery): the reason says by how
    /// much. Schedules run on monotonic time and do not move; only report times follow the wall clock.
    case clockStep = "clock.step"
}

/// One transition, numbered in the station's sequence: the unit that is stored, delivered and alerted on.
public struct Event: Codable, Sendable, Equatable {
    /// The wire names: snake_case, written out (no key strategy: JSONStyle).
    enum CodingKeys: String, CodingKey {
        case sequence, time, station, type, subject, kind, from, to, reason, code, args
        case deviceName = "device_name"
    }

    /// The station's sequence number: strictly increasing, never reused.
    public var sequence: Int64
    public var time: Timestamp
    public var station: String
    public var type: EventType
    /// What changed: a device ID, "kit", or "daemon".
    public var subject: String
    public var kind: DeviceKind?
    public var deviceName: String?
    public var from: String?
    public var to: String?
    public var reason: String?
    /// The reason as a code and its parameters (issue 18: `device.not_on_bus`, `{"port": "1-1"}`),
    /// when it was made from a known template; readers render it in their language. Absent from
    /// older stations, and for reasons with no template (a device's own words).
    public var code: String?
    public var args: [String: String]?

    /// Every field as given, code and args too (nothing recognised from the reason): as a
    /// decoder reads an event (`BatchReader`).
    init(sequence: Int64, time: Timestamp, station: String, type: EventType, subject: String, kind: DeviceKind?,
         deviceName: String?, from: String?, to: String?, reason: String?, code: String?, args: [String: String]?) {
        self.sequence = sequence
        self.time = time
        self.station = station
        self.type = type
        self.subject = subject
        self.kind = kind
        self.deviceName = deviceName
        self.from = from
        self.to = to
        self.reason = reason
        self.code = code
        self.args = args
    }

    public init(sequence: Int64, time: Timestamp, station: String, type: EventType, subject: String,
                kind: DeviceKind? = nil, deviceName: String? = nil, from: String? = nil, to: String? = nil,
                reason: String? = nil) {
        let known = reason.flatMap(ReasonCode.recognise)
        self.init(sequence: sequence, time: time, station: station, type: type, subject: subject, kind: kind,
                  deviceName: deviceName, from: from, to: to, reason: reason, code: known?.code.rawValue, args: known?.args)
    }

    /// The reason in the reader's language (`translate` maps an English msgid to theirs): from its
    /// code when it has one, else read back from the template it was made from (`Sentences`).
    public func reason(_ translate: (String) -> String) -> String? {
        guard let reason else { return nil }
        guard let code, let args else { return Sentences.translate(reason, templates: Sentences.templates, translate: translate) }
        return ReasonCode.render(code: code, args: args, english: reason, translate: translate)
    }
}
