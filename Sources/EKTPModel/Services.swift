/// Share of time something was up over a window, for `ektpd status` and the registry.
public struct Availability: Codable, Sendable, Equatable {
    /// The wire names: snake_case, written out (no key strategy: JSONStyle).
    enum CodingKeys: String, CodingKey {
        case last24h, last7d
        case observed24hSeconds = "observed24h_seconds"
        case observed7dSeconds = "observed7d_seconds"
    }

    /// Fraction of the last 24 hours the server answered its liveness probe (0...1), counting only
    /// time the daemon was watching.
    public var last24h: Double
    public var last7d: Double
    /// How much of each window was observed (the daemon may have started less than 7 days ago).
    public var observed24hSeconds: Int64
    public var observed7dSeconds: Int64

    public init(last24h: Double, last7d: Double, observed24hSeconds: Int64, observed7dSeconds: Int64) {
        self.last24h = last24h
        self.last7d = last7d
        self.observed24hSeconds = observed24hSeconds
        self.observed7dSeconds = observed7dSeconds
    }
}

/// The recording server's state under the supervisor.
public enum ServerState: String, Codable, Sendable {
    /// Started, liveness not yet confirmed.
    case starting
    /// Answering its liveness probe.
    case up
    /// Running but failing its liveness probe (not yet restarted).
    case unhealthy
    /// Down, waiting out the backoff before the next start.
    case restarting
    /// Restarted too often: escalated; retrying at the slowest rate.
    case crashLoop = "crash_loop"
    /// Restarted too often and the policy says stop: needs a person.
    case stopped
}

/// What `ektpd status` and the registry see of the recording server.
public struct ServerStatus: Codable, Sendable, Equatable {
    /// The wire names: snake_case, written out (no key strategy: JSONStyle).
    enum CodingKeys: String, CodingKey {
        case name, state, since, pid, restarts, availability
        case lastReason = "last_reason"
        case nextStartAt = "next_start_at"
    }

    public var name: String
    public var state: ServerState
    public var since: Timestamp
    public var pid: Int32?
    public var restarts: Int
    public var lastReason: String?
    public var nextStartAt: Timestamp?
    public var availability: Availability

    public init(name: String, state: ServerState, since: Timestamp, pid: Int32?, restarts: Int, lastReason: String?,
                nextStartAt: Timestamp?, availability: Availability) {
        self.name = name
        self.state = state
        self.since = since
        self.pid = pid
        self.restarts = restarts
        self.lastReason = lastReason
        self.nextStartAt = nextStartAt
        self.availability = availability
    }
}

/// When the centre last pulled this station's data.
public enum SyncState: String, Codable, Sendable {
    case fresh, stale, never, unknown
}

public struct SyncStatus: Codable, Sendable, Equatable {
    /// The wire names: snake_case, written out (no key strategy: JSONStyle).
    enum CodingKeys: String, CodingKey {
        case state, reason
        case lastPull = "last_pull"
        case limitSeconds = "limit_seconds"
    }

    public var state: SyncState
    public var lastPull: Timestamp?
    public var limitSeconds: Int64
    public var reason: String?

    public init(state: SyncState, lastPull: Timestamp?, limitSeconds: Int64, reason: String?) {
        self.state = state
        self.lastPull = lastPull
        self.limitSeconds = limitSeconds
        self.reason = reason
    }
}

/// One uplink target's reachability.
public struct UplinkTarget: Codable, Sendable, Equatable {
    /// The wire names: snake_case, written out (no key strategy: JSONStyle).
    enum CodingKeys: String, CodingKey {
        case name, address, reachable, since, reason
        case latencyMillis = "latency_millis"
    }

    public var name: String
    public var address: String
    public var reachable: Bool?
    public var latencyMillis: Double?
    public var since: Timestamp
    public var reason: String?

    public init(name: String, address: String, reachable: Bool?, latencyMillis: Double?, since: Timestamp, reason: String?) {
        self.name = name
        self.address = address
        self.reachable = reachable
        self.latencyMillis = latencyMillis
        self.since = since
        self.reason = reason
    }
}

public struct UplinkStatus: Codable, Sendable, Equatable {
    /// The wire names: snake_case, written out (no key strategy: JSONStyle).
    enum CodingKeys: String, CodingKey {
        case targets
        case defaultInterface = "default_interface"
    }

    /// The interface that carries the default route ("wwan0", "eth0"); nil when there is none.
    public var defaultInterface: String?
    public var targets: [UplinkTarget]

    public init(defaultInterface: String?, targets: [UplinkTarget]) {
        self.defaultInterface = defaultInterface
        self.targets = targets
    }
}

/// Mains or battery, from /sys/class/power_supply.
public struct PowerStatus: Codable, Sendable, Equatable {
    /// The wire names: snake_case, written out (no key strategy: JSONStyle).
    enum CodingKeys: String, CodingKey {
        case since
        case onMains = "on_mains"
        case batteryPercent = "battery_percent"
        case batteryLow = "battery_low"
    }

    /// True on mains, false on battery, nil when no supply reports it.
    public var onMains: Bool?
    /// Lowest battery level in percent, when there is a battery.
    public var batteryPercent: Int?
    public var batteryLow: Bool
    public var since: Timestamp

    public init(onMains: Bool?, batteryPercent: Int?, batteryLow: Bool, since: Timestamp) {
        self.onMains = onMains
        self.batteryPercent = batteryPercent
        self.batteryLow = batteryLow
        self.since = since
    }
}

/// Delivery of the outbox to the registry.
public struct DeliveryStatus: Codable, Sendable, Equatable {
    /// The wire names: snake_case, written out (no key strategy: JSONStyle).
    enum CodingKeys: String, CodingKey {
        case registry, pending, failures
        case storedThrough = "stored_through"
        case lastDelivery = "last_delivery"
        case lastError = "last_error"
        case nextAttempt = "next_attempt"
        case overLimit = "over_limit"
    }

    public var registry: String
    /// Reports waiting in the outbox.
    public var pending: Int
    /// The highest sequence the registry said it holds.
    public var storedThrough: Int64
    public var lastDelivery: Timestamp?
    public var lastError: String?
    /// Failed attempts in a row (0: the last one worked).
    public var failures: Int
    public var nextAttempt: Timestamp?
    /// The outbox is over its size bound (superseded snapshots are being coalesced).
    public var overLimit: Bool

    public init(registry: String, pending: Int, storedThrough: Int64, lastDelivery: Timestamp?, lastError: String?,
                failures: Int, nextAttempt: Timestamp?, overLimit: Bool) {
        self.registry = registry
        self.pending = pending
        self.storedThrough = storedThrough
        self.lastDelivery = lastDelivery
        self.lastError = lastError
        self.failures = failures
        self.nextAttempt = nextAttempt
        self.overLimit = overLimit
    }
}

/// The outbox as the event journal sees it: writable, or refusing (and what is held in memory).
///
/// Shapes: `held` and `hold_limit` are counts of reports; `dropped` counts reports lost past the bound
/// since the daemon started; `since` is when the disk began refusing (nil while writable).
public struct OutboxStatus: Codable, Sendable, Equatable {
    /// The wire names: snake_case, written out (no key strategy: JSONStyle).
    enum CodingKeys: String, CodingKey {
        case path, writable, error, held, dropped, since
        case holdLimit = "hold_limit"
    }

    /// The outbox file.
    public var path: String
    public var writable: Bool
    /// Why it cannot be written, in plain words ("disk full", "read-only file system", "I/O error").
    public var error: String?
    /// Reports kept in memory, in order, waiting for the disk.
    public var held: Int
    public var holdLimit: Int
    public var dropped: Int64
    public var since: Timestamp?

    public init(path: String, writable: Bool, error: String?, held: Int, holdLimit: Int, dropped: Int64, since: Timestamp?) {
        self.path = path
        self.writable = writable
        self.error = error
        self.held = held
        self.holdLimit = holdLimit
        self.dropped = dropped
        self.since = since
    }

    /// One line for a person: nil when all is well.
    public var problem: String? {
        guard !writable else { return dropped > 0 ? "\(dropped) report(s) were lost while the disk refused them" : nil }
        return "cannot write the outbox at \(path): \(error ?? "unknown error"); \(held) report(s) held in memory (at most \(holdLimit))"
    }
}
