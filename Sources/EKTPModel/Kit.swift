/// What a station needs to do its work: at least `count` usable devices of each kind.
public struct KitProfile: Codable, Sendable, Equatable {
    public struct Requirement: Codable, Sendable, Equatable {
        public var kind: DeviceKind
        public var count: Int
        public init(kind: DeviceKind, count: Int) {
            self.kind = kind
            self.count = count
        }
    }

    public var requirements: [Requirement]

    public init(requirements: [Requirement]) { self.requirements = requirements }

    /// A district recording kit: one fingerprint scanner, iris scanner, camera and signature pad.
    public static let recording = KitProfile(requirements: [
        .init(kind: .fingerprint, count: 1), .init(kind: .iris, count: 1),
        .init(kind: .camera, count: 1), .init(kind: .signaturePad, count: 1),
    ])
}

/// Whether the station can do its work.
public enum KitState: String, Codable, Sendable, Comparable {
    /// Every requirement met by devices that are ok.
    case ready
    /// Every requirement met, but a device has a warning, flaps, or is not yet checked.
    case degraded
    /// A requirement is not met: the station cannot enrol.
    case broken

    private var rank: Int { self == .ready ? 0 : self == .degraded ? 1 : 2 }
    public static func < (a: KitState, b: KitState) -> Bool { a.rank < b.rank }

    /// `ektpd status` exit code: 0 ready, 1 degraded, 2 broken.
    public var exitCode: Int32 { Int32(rank) }
}

/// One reason a kit is not ready, naming the device (or the kind that has none).
public struct KitProblem: Codable, Sendable, Equatable {
    public var kind: DeviceKind
    public var device: DeviceID?
    public var severity: KitState
    /// In English, as it always was (scripts and older registries read this).
    public var reason: String
    /// The reason as a code (`ReasonCode`, "device.unplugged") and its parameters ({"port": "1-1"}),
    /// so each reader renders it in their language (issue 18). Absent from older stations.
    public var code: String?
    public var args: [String: String]?

    public init(kind: DeviceKind, device: DeviceID? = nil, severity: KitState, reason: String) {
        self.kind = kind
        self.device = device
        self.severity = severity
        self.reason = reason
    }

    /// A problem whose English `reason` is its code's template filled with `args`.
    public init(kind: DeviceKind, device: DeviceID? = nil, severity: KitState, code: ReasonCode, args: [String: String]) {
        self.init(kind: kind, device: device, severity: severity,
                  reason: ReasonCode.render(code: code.rawValue, args: args, english: "", translate: { $0 }))
        self.code = code.rawValue
        self.args = args
    }

    /// The reason in the reader's language (`translate` maps an English msgid to theirs).
    public func reason(_ translate: (String) -> String) -> String {
        guard let code, let args else { return translate(reason) }
        return ReasonCode.render(code: code, args: args, english: reason, translate: translate)
    }
}

/// The kit's state with the devices that make it so.
public struct KitStatus: Codable, Sendable, Equatable {
    public var state: KitState
    public var problems: [KitProblem]
    public var since: Timestamp

    public init(state: KitState, problems: [KitProblem], since: Timestamp) {
        self.state = state
        self.problems = problems
        self.since = since
    }

    /// One line for an operator: "broken: no fingerprint scanner connected; ...".
    public var summary: String {
        problems.isEmpty ? state.rawValue : "\(state.rawValue): " + problems.map(\.reason).joined(separator: "; ")
    }
}
