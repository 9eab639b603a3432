/// Where a station is: the administrative levels the centre groups the fleet by.
public struct Site: Codable, Sendable, Equatable, Hashable {
    /// A province, regency or district name, at most (characters): the registry refuses longer
    /// ones and config and scenario files say so on their line (issue 13).
    public static let maxNameLength = 200

    public var province: String
    public var regency: String
    public var district: String

    public init(province: String, regency: String, district: String) {
        self.province = province
        self.regency = regency
        self.district = district
    }
}

/// The station's whole current state: what `ektpd status --json` prints and the registry receives.
public struct StationStatus: Codable, Sendable, Equatable {
    /// The wire names: snake_case, written out (no key strategy: JSONStyle).
    enum CodingKeys: String, CodingKey {
        case station, site, backend, kit, devices, now, version, server, sync, uplink, power, stock, delivery, alerts, outbox
        case lastSequence = "last_sequence"
        case startedAt = "started_at"
    }

    public var station: String
    public var site: Site
    public var backend: String
    public var kit: KitStatus
    public var devices: [DeviceStatus]
    /// The newest event's sequence number.
    public var lastSequence: Int64
    public var startedAt: Timestamp
    public var now: Timestamp
    public var version: String
    /// The recording server, when the daemon supervises one.
    public var server: ServerStatus?
    /// The centre's last pull, when watched.
    public var sync: SyncStatus?
    public var uplink: UplinkStatus?
    public var power: PowerStatus?
    /// Card blanks, for stations with card printers (or whose operator set a count).
    public var stock: StockStatus?
    /// Delivery of reports to the registry, when one is configured.
    public var delivery: DeliveryStatus?
    /// Alerts firing now (the control socket's view; not in the snapshots sent to the registry).
    public var alerts: [FiringAlert]?
    /// Whether the outbox can be written (nil from stations before the event journal).
    public var outbox: OutboxStatus?

    public init(station: String, site: Site, backend: String, kit: KitStatus, devices: [DeviceStatus],
                lastSequence: Int64, startedAt: Timestamp, now: Timestamp, version: String,
                server: ServerStatus? = nil, sync: SyncStatus? = nil, uplink: UplinkStatus? = nil, power: PowerStatus? = nil,
                stock: StockStatus? = nil) {
        self.stock = stock
        self.server = server
        self.sync = sync
        self.uplink = uplink
        self.power = power
        self.station = station
        self.site = site
        self.backend = backend
        self.kit = kit
        self.devices = devices
        self.lastSequence = lastSequence
        self.startedAt = startedAt
        self.now = now
        self.version = version
    }
}

/// The version every binary reports.
public let ektpVersion = "0.1.0"

/// Where a station's count of card blanks comes from.
public enum StockSource: String, Codable, Sendable {
    /// The printers' own counters (their hoppers).
    case printer
    /// Set by the operator with `ektpd stock set` (the office's store).
    case `operator`
}

/// A printing station's card blanks.
public struct StockStatus: Codable, Sendable, Equatable {
    /// The wire names: snake_case, written out (no key strategy: JSONStyle).
    enum CodingKeys: String, CodingKey {
        case blanks, source
        case updatedAt = "updated_at"
    }

    public var blanks: Int
    public var source: StockSource
    public var updatedAt: Timestamp
    public init(blanks: Int, source: StockSource, updatedAt: Timestamp) {
        self.blanks = blanks
        self.source = source
        self.updatedAt = updatedAt
    }
}

/// One alert firing now, as `ektpd status` shows it (the full Alertmanager form is `GET /v1/alerts`).
public struct FiringAlert: Codable, Sendable, Equatable {
    public var name: String
    public var severity: AlertSeverity
    public var summary: String
    public var since: Timestamp

    public init(name: String, severity: AlertSeverity, summary: String, since: Timestamp) {
        self.name = name
        self.severity = severity
        self.summary = summary
        self.since = since
    }

    public init?(_ a: Alert) {
        guard let name = a.labels["alertname"], let sev = a.labels["severity"].flatMap(AlertSeverity.init(rawValue:)),
              let since = Timestamp(rfc3339: a.startsAt) else { return nil }
        self.init(name: name, severity: sev, summary: a.annotations["summary"] ?? "", since: since)
    }
}

/// Station ids travel in URLs, file names, command lines and labels: keep them plain (1 to 64
/// letters, digits, `-`, `_` or `.`, not starting with `-`, so no command reads one as an option:
/// hardening r13). The one rule for config, scenarios and the registry.
public func isStationID(_ s: String) -> Bool {
    !s.isEmpty && s.utf8.count <= 64 && s.utf8.first != 45 && s.utf8.allSatisfy { c in
        (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 45 || c == 95 || c == 46
    }
}
