/// What a station reports to the registry, and what the registry answers: the wire format of
/// `POST /v1/reports` and of the fleet queries (docs/openapi.yaml describes the same in OpenAPI).

/// A report is either one event or one snapshot of the station's whole status.
public enum ReportKind: String, Codable, Sendable {
    case event, snapshot
}

/// One report in a batch, with the station's sequence number.
public struct WireReport: Codable, Sendable, Equatable {
    public var sequence: Int64
    public var kind: ReportKind
    public var time: Timestamp
    /// Present when `kind` is `event`.
    public var event: Event?
    /// Present when `kind` is `snapshot`.
    public var status: StationStatus?

    public init(sequence: Int64, kind: ReportKind, time: Timestamp, event: Event? = nil, status: StationStatus? = nil) {
        self.sequence = sequence
        self.kind = kind
        self.time = time
        self.event = event
        self.status = status
    }
}

/// A batch of one station's reports, oldest first.
public struct ReportBatch: Codable, Sendable, Equatable {
    /// The wire names: snake_case, written out (no key strategy: JSONStyle).
    enum CodingKeys: String, CodingKey {
        case station, reports
        case sentAt = "sent_at"
        case publicKey = "public_key"
    }

    public var station: String
    /// The station's clock when it sent the batch.
    public var sentAt: Timestamp
    public var reports: [WireReport]
    /// The station's Ed25519 public key (32 bytes, base64), so the registry can check the courier
    /// bundles it signs (issue 16); the registry keeps the first it sees for a station.
    public var publicKey: String?

    public init(station: String, sentAt: Timestamp, reports: [WireReport], publicKey: String? = nil) {
        self.station = station
        self.sentAt = sentAt
        self.reports = reports
        self.publicKey = publicKey
    }
}

/// Which of a station's sequences the registry holds in a range (`GET /v1/reports/stored`), as
/// closed ranges, so a station forgets what reached the centre by courier without sending it again.
public struct StoredRanges: Codable, Sendable, Equatable {
    public var station: String
    public var ranges: [[Int64]]

    public init(station: String, ranges: [[Int64]]) {
        self.station = station
        self.ranges = ranges
    }
}

/// The registry's answer to a batch: the highest sequence it holds for the station (the station
/// forgets everything up to it), and how many reports were new.
public struct IngestReply: Codable, Sendable, Equatable {
    /// The wire names: snake_case, written out (no key strategy: JSONStyle).
    enum CodingKeys: String, CodingKey {
        case station, stored, duplicates
        case storedThrough = "stored_through"
    }

    public var station: String
    public var storedThrough: Int64
    public var stored: Int
    public var duplicates: Int

    public init(station: String, storedThrough: Int64, stored: Int, duplicates: Int) {
        self.station = station
        self.storedThrough = storedThrough
        self.stored = stored
        self.duplicates = duplicates
    }
}

/// An error body: what was wrong and where.
public struct ErrorReply: Codable, Sendable, Equatable {
    public var error: String
    public init(error: String) { self.error = error }
}

/// Where a station stands, for the centre.
public enum SiteCondition: String, Codable, Sendable, CaseIterable {
    /// The kit is ready.
    case ready
    /// The kit works with a warning.
    case degraded
    /// The kit cannot enrol.
    case broken
    /// No snapshot received yet.
    case unknown
}

/// Counts for one level of the fleet (the whole fleet, a province, a regency, a district).
public struct FleetTally: Codable, Sendable, Equatable {
    /// The wire names: snake_case, written out (no key strategy: JSONStyle).
    enum CodingKeys: String, CodingKey {
        case stations, ready, degraded, broken, unknown, silent, blanks
        case notPulled = "not_pulled"
        case clockSkewed = "clock_skewed"
    }

    public var stations = 0
    public var ready = 0
    public var degraded = 0
    public var broken = 0
    public var unknown = 0
    /// Stations not heard from within the registry's limit.
    public var silent = 0
    /// Stations whose data the centre has not pulled within the limit (or ever).
    public var notPulled = 0
    /// Card blanks reported by the stations that hold them.
    public var blanks = 0
    /// Stations whose clock is off from the registry's by more than `Registry.clockSkewLimit`
    /// (5 minutes): their report times cannot be taken at their word (issue 12).
    public var clockSkewed = 0

    public init() {}

    public mutating func add(_ o: FleetTally) {
        stations += o.stations; ready += o.ready; degraded += o.degraded; broken += o.broken
        unknown += o.unknown; silent += o.silent; notPulled += o.notPulled; blanks += o.blanks
        clockSkewed += o.clockSkewed
    }
}

public struct DistrictSummary: Codable, Sendable, Equatable {
    public var name: String
    public var tally: FleetTally
    public init(name: String, tally: FleetTally) { self.name = name; self.tally = tally }
}

public struct RegencySummary: Codable, Sendable, Equatable {
    public var name: String
    public var tally: FleetTally
    public var districts: [DistrictSummary]
    public init(name: String, tally: FleetTally, districts: [DistrictSummary]) {
        self.name = name; self.tally = tally; self.districts = districts
    }
}

public struct ProvinceSummary: Codable, Sendable, Equatable {
    public var name: String
    public var tally: FleetTally
    public var regencies: [RegencySummary]
    public init(name: String, tally: FleetTally, regencies: [RegencySummary]) {
        self.name = name; self.tally = tally; self.regencies = regencies
    }
}

/// `GET /v1/fleet`: the fleet by province, regency and district.
public struct FleetSummary: Codable, Sendable, Equatable {
    /// The wire names: snake_case, written out (no key strategy: JSONStyle).
    enum CodingKeys: String, CodingKey {
        case at, tally, provinces, stock
        case silentAfterSeconds = "silent_after_seconds"
    }

    /// The time the summary is for (silence and staleness are judged at it).
    public var at: Timestamp
    public var silentAfterSeconds: Int64
    public var tally: FleetTally
    public var provinces: [ProvinceSummary]
    /// Stations that hold card blanks, with the days left at the recent rate.
    public var stock: [StockView]

    public init(at: Timestamp, silentAfterSeconds: Int64, tally: FleetTally, provinces: [ProvinceSummary], stock: [StockView]) {
        self.at = at; self.silentAfterSeconds = silentAfterSeconds; self.tally = tally
        self.provinces = provinces; self.stock = stock
    }
}

/// A station's card blanks, with the rate they are used at.
public struct StockView: Codable, Sendable, Equatable {
    /// The wire names: snake_case, written out (no key strategy: JSONStyle).
    enum CodingKeys: String, CodingKey {
        case station, site, blanks, source, printers
        case updatedAt = "updated_at"
        case perDay = "per_day"
        case daysLeft = "days_left"
        case printersWorking = "printers_working"
    }

    public var station: String
    public var site: Site
    public var blanks: Int
    public var source: StockSource
    public var updatedAt: Timestamp
    /// Blanks used per day over the recent window (restocks excluded); nil until two readings.
    public var perDay: Double?
    /// Days until none are left at that rate; nil when none are being used.
    public var daysLeft: Double?
    /// Card printers the station has, and how many of them work.
    public var printers: Int
    public var printersWorking: Int

    public init(station: String, site: Site, blanks: Int, source: StockSource, updatedAt: Timestamp,
                perDay: Double?, daysLeft: Double?, printers: Int, printersWorking: Int) {
        self.station = station; self.site = site; self.blanks = blanks; self.source = source
        self.updatedAt = updatedAt; self.perDay = perDay; self.daysLeft = daysLeft
        self.printers = printers; self.printersWorking = printersWorking
    }
}

/// One station as the centre sees it: `GET /v1/sites` lists these.
public struct SiteView: Codable, Sendable, Equatable {
    /// The wire names: snake_case, written out (no key strategy: JSONStyle).
    enum CodingKeys: String, CodingKey {
        case station, site, condition, reasons, silent, sync, server, availability24h, blanks
        case conditionSince = "condition_since"
        case lastHeard = "last_heard"
        case lastPull = "last_pull"
        case notPulled = "not_pulled"
        case onMains = "on_mains"
        case storedThrough = "stored_through"
        case clockSkewSeconds = "clock_skew_seconds"
        case clockSkewed = "clock_skewed"
        case lastOnline = "last_online"
        case lastCourier = "last_courier"
        case courierNewsUntil = "courier_news_until"
    }

    public var station: String
    public var site: Site
    public var condition: SiteCondition
    /// Why the kit is not ready, one line per problem ("no fingerprint scanner connected").
    public var reasons: [String]
    public var conditionSince: Timestamp?
    public var lastHeard: Timestamp?
    public var silent: Bool
    public var sync: SyncState?
    public var lastPull: Timestamp?
    public var notPulled: Bool
    public var server: ServerState?
    public var availability24h: Double?
    public var onMains: Bool?
    public var blanks: Int?
    /// The highest sequence the registry holds for the station.
    public var storedThrough: Int64
    /// The station's clock minus the registry's, in seconds, at its last delivery (its batch's
    /// `sent_at` against the time the registry received it); nil before one.
    public var clockSkewSeconds: Int64?
    /// The skew is over `Registry.clockSkewLimit` either way: the station's times are not to be trusted.
    public var clockSkewed: Bool = false
    /// When the station last delivered over the network (issue 16).
    public var lastOnline: Timestamp?
    /// When a courier's bundle of the station last reached the registry; `last_heard` counts it.
    public var lastCourier: Timestamp?
    /// The newest report time that came by courier: how recent the station's carried news is.
    public var courierNewsUntil: Timestamp?

    public init(station: String, site: Site, condition: SiteCondition, reasons: [String], conditionSince: Timestamp?,
                lastHeard: Timestamp?, silent: Bool, sync: SyncState?, lastPull: Timestamp?, notPulled: Bool,
                server: ServerState?, availability24h: Double?, onMains: Bool?, blanks: Int?, storedThrough: Int64) {
        self.station = station; self.site = site; self.condition = condition; self.reasons = reasons
        self.conditionSince = conditionSince; self.lastHeard = lastHeard; self.silent = silent; self.sync = sync
        self.lastPull = lastPull; self.notPulled = notPulled; self.server = server
        self.availability24h = availability24h; self.onMains = onMains; self.blanks = blanks
        self.storedThrough = storedThrough
    }
}

/// `GET /v1/sites?status=...`.
public struct SitesReply: Codable, Sendable, Equatable {
    public var at: Timestamp
    public var status: String
    public var sites: [SiteView]
    public init(at: Timestamp, status: String, sites: [SiteView]) { self.at = at; self.status = status; self.sites = sites }
}

/// `GET /v1/stations/{id}`: the site view, the latest snapshot (devices and all) and recent events.
public struct StationDetail: Codable, Sendable, Equatable {
    /// The wire names: snake_case, written out (no key strategy: JSONStyle).
    enum CodingKeys: String, CodingKey {
        case view, status
        case recentEvents = "recent_events"
        case reportsStored = "reports_stored"
        case publicKeyFingerprint = "public_key_fingerprint"
    }

    public var view: SiteView
    public var status: StationStatus?
    public var recentEvents: [Event]
    /// Reports (events and snapshots) the registry holds for the station.
    public var reportsStored: Int64
    /// The fingerprint (`SHA256:...`) of the key the registry checks the station's bundles with; nil: none yet.
    public var publicKeyFingerprint: String?
    public init(view: SiteView, status: StationStatus?, recentEvents: [Event], reportsStored: Int64) {
        self.view = view; self.status = status; self.recentEvents = recentEvents; self.reportsStored = reportsStored
    }
}

/// One event as the registry holds it: its place in the registry's own order, and when it arrived.
public struct RegistryEvent: Codable, Sendable, Equatable {
    /// The wire names: snake_case, written out (no key strategy: JSONStyle).
    enum CodingKeys: String, CodingKey {
        case id, event
        case receivedAt = "received_at"
    }

    public var id: Int64
    public var receivedAt: Timestamp
    public var event: Event
    public init(id: Int64, receivedAt: Timestamp, event: Event) { self.id = id; self.receivedAt = receivedAt; self.event = event }
}

/// `GET /v1/events?since=ID`: events after `since` in the order the registry stored them; ask again
/// with `next` for more.
public struct EventsReply: Codable, Sendable, Equatable {
    public var events: [RegistryEvent]
    public var next: Int64
    public init(events: [RegistryEvent], next: Int64) { self.events = events; self.next = next }
}
