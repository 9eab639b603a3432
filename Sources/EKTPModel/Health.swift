/// A device's health, as a person acts on it.
public enum Health: String, Codable, Sendable, CaseIterable {
    /// Works.
    case ok
    /// Works, with a warning (slow link, few blanks left).
    case degraded
    /// Present, not working.
    case failed
    /// Was here (or is expected), now absent.
    case missing
    /// Not yet checked.
    case unknown

    /// Whether a kit may count on the device.
    public var isUsable: Bool { self == .ok || self == .degraded }

    /// The raw values are the English words a person reads; each reader's side shows the
    /// catalogue's translation of `rawValue` (these marks put them in po/ektpd.pot).
    static let words = [N_("ok"), N_("degraded"), N_("failed"), N_("missing"), N_("unknown")]
}

/// The outcome of one probe of one device.
public enum ProbeOutcome: String, Codable, Sendable {
    case ok, degraded, failed
}

/// Why a probe failed, with a stable code scripts can match on.
///
/// The numbered codes follow MOSIP's biometric device status codes where one exists (106 not found,
/// 110 not ready, 111 busy, 103 tamper); 200 and up are ours.
public enum ProblemCode: Int, Codable, Sendable {
    case tamperDetected = 103
    case notFound = 106
    case notReady = 110
    case busy = 111
    case noResponse = 201
    case permissionDenied = 202
    case slowLink = 203
    case blanksOut = 210
    case blanksLow = 211
    case ribbonOut = 212
    case printerError = 213
    case driverMissing = 220
    case descriptorUnreadable = 221
    case probeTimeout = 230
}

/// One health check's result, with a reason a person can act on.
public struct ProbeResult: Codable, Sendable, Equatable {
    /// The wire names: snake_case, written out (no key strategy: JSONStyle).
    enum CodingKeys: String, CodingKey {
        case outcome, reason, code
        case blanksRemaining = "blanks_remaining"
    }

    public var outcome: ProbeOutcome
    /// What is wrong and what to do ("no response to GET_STATUS: replug it or check the cable").
    public var reason: String?
    public var code: ProblemCode?
    /// Card blanks remaining, when the device is a printer that reports them.
    public var blanksRemaining: Int?

    public init(outcome: ProbeOutcome, reason: String? = nil, code: ProblemCode? = nil, blanksRemaining: Int? = nil) {
        self.outcome = outcome
        self.reason = reason
        self.code = code
        self.blanksRemaining = blanksRemaining
    }

    public static let ok = ProbeResult(outcome: .ok)
    public static func failed(_ reason: String, _ code: ProblemCode) -> ProbeResult {
        ProbeResult(outcome: .failed, reason: reason, code: code)
    }
    public static func degraded(_ reason: String, _ code: ProblemCode) -> ProbeResult {
        ProbeResult(outcome: .degraded, reason: reason, code: code)
    }
}
