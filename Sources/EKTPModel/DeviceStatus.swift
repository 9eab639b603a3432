/// A device as the station knows it: what it is, and how it is doing.
public struct DeviceStatus: Codable, Sendable, Equatable {
    /// The wire names: snake_case, written out (no key strategy: JSONStyle).
    enum CodingKeys: String, CodingKey {
        case device, health, flapping, since, reason, code
        case lastProbe = "last_probe"
        case blanksRemaining = "blanks_remaining"
    }

    public var device: DeviceSnapshot
    public var health: Health
    /// Set when the device changes state too often to trust (see the health engine's flap detection).
    public var flapping: Bool
    /// When `health` last changed.
    public var since: Timestamp
    /// The last probe's reason, or why the device is missing.
    public var reason: String?
    public var code: ProblemCode?
    public var lastProbe: Timestamp?
    /// Card blanks remaining, for printers that report them.
    public var blanksRemaining: Int?

    public init(device: DeviceSnapshot, health: Health, flapping: Bool = false, since: Timestamp,
                reason: String? = nil, code: ProblemCode? = nil, lastProbe: Timestamp? = nil,
                blanksRemaining: Int? = nil) {
        self.device = device
        self.health = health
        self.flapping = flapping
        self.since = since
        self.reason = reason
        self.code = code
        self.lastProbe = lastProbe
        self.blanksRemaining = blanksRemaining
    }

    /// MOSIP biometric device status word, for registration clients that expect it.
    public var mosipStatus: String {
        switch health {
        case .ok, .degraded: code == .busy ? "Busy" : "Ready"
        case .failed, .unknown: "Not Ready"
        case .missing: "Not Registered"
        }
    }
}
