import EKTPModel

/// One uplink target's reachability (the registry, the centre's VPN gateway): reachable after one
/// good check, unreachable only after `failAfter` failed checks in a row, so one lost packet on a
/// rural carrier is not an outage (field report: networks drop and carriers change). Pure: given
/// each check's result and the time.
public struct UplinkReachability: Sendable, Equatable {
    public let name: String
    /// HOST:PORT, as shown.
    public let address: String
    public let failAfter: Int
    /// Nil until the first check decides.
    public private(set) var reachable: Bool?
    public private(set) var failures = 0
    public private(set) var latencyMillis: Double?
    public private(set) var since: Timestamp
    public private(set) var reason: String?

    /// A change of reachability: the event's from, to and reason.
    public struct Transition: Sendable, Equatable {
        public var from: String?
        public var to: String
        public var reason: String
    }

    public init(name: String, address: String, failAfter: Int, now: Timestamp) {
        self.name = name
        self.address = address
        self.failAfter = failAfter
        since = now
    }

    /// One check's result: the connect latency in milliseconds, or why it failed. Returns the
    /// transition when the target's reachability changed.
    public mutating func observe(_ result: Result<Double, NetError>, now: Timestamp) -> Transition? {
        let before = reachable.map { $0 ? "reachable" : "unreachable" }
        switch result {
        case .success(let ms):
            failures = 0
            latencyMillis = ms
            reason = nil
            guard reachable != true else { return nil }
            reachable = true
            since = now
            return Transition(from: before, to: "reachable", reason: "\(name) (\(address)) reachable, \(Int(ms.rounded())) ms")
        case .failure(let e):
            failures += 1
            latencyMillis = nil
            reason = e.description
            guard reachable != false, failures >= failAfter else { return nil }
            reachable = false
            since = now
            return Transition(from: before, to: "unreachable",
                              reason: "\(name) unreachable: \(e.description); reports wait in the outbox until it is back")
        }
    }

    /// As the station's status shows it.
    public var status: UplinkTarget {
        UplinkTarget(name: name, address: address, reachable: reachable, latencyMillis: latencyMillis, since: since, reason: reason)
    }
}
