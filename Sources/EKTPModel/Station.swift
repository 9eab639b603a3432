/// Where a station is: the administrative levels the centre groups the fleet by.
public struct Site: Codable, Sendable, Equatable, Hashable {
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

    public init(station: String, site: Site, backend: String, kit: KitStatus, devices: [DeviceStatus],
                lastSequence: Int64, startedAt: Timestamp, now: Timestamp, version: String,
                server: ServerStatus? = nil, sync: SyncStatus? = nil, uplink: UplinkStatus? = nil, power: PowerStatus? = nil) {
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
