/// What an event is about, typed (issue 12, item 6): the station records its events with these.
/// On the wire an event's `subject` stays the string stations have always sent ("kit",
/// "1-1:05ba:000a", "uplink:registry", "centre_pull"), so registries and stations of either age
/// read each other; `EventSubject(wire:)` reads it back.
public enum EventSubject: Sendable, Hashable, CustomStringConvertible {
    /// A device, by its ID (port and USB IDs).
    case device(DeviceID)
    case kit
    /// The daemon itself (start, stop).
    case daemon
    /// The supervised recording server.
    case server
    /// The centre's pull of the recording server's data.
    case centrePull
    case power
    /// Card blanks.
    case stock
    /// The wall clock (a step).
    case clock
    /// The outbox (reports lost past the hold bound).
    case outbox
    /// An uplink target, by its configured name ("registry").
    case uplink(target: String)
    /// The default route's interface.
    case uplinkRoute

    /// The wire form.
    public var description: String {
        switch self {
        case .device(let id): id.rawValue
        case .kit: "kit"
        case .daemon: "daemon"
        case .server: "server"
        case .centrePull: "centre_pull"
        case .power: "power"
        case .stock: "stock"
        case .clock: "clock"
        case .outbox: "outbox"
        case .uplink(let target): "uplink:" + target
        case .uplinkRoute: "uplink:route"
        }
    }

    /// Reads the wire form back; anything that is not one of the named subjects is a device ID.
    public init(wire: String) {
        switch wire {
        case "kit": self = .kit
        case "daemon": self = .daemon
        case "server": self = .server
        case "centre_pull": self = .centrePull
        case "power": self = .power
        case "stock": self = .stock
        case "clock": self = .clock
        case "outbox": self = .outbox
        case "uplink:route": self = .uplinkRoute
        default:
            if wire.hasPrefix("uplink:") { self = .uplink(target: String(wire.dropFirst(7))) } else {
                self = .device(DeviceID(rawValue: wire))
            }
        }
    }
}

extension Event {
    /// An event about a typed subject (its wire `subject` is the subject's text).
    public init(sequence: Int64, time: Timestamp, station: String, type: EventType, about subject: EventSubject,
                kind: DeviceKind? = nil, deviceName: String? = nil, from: String? = nil, to: String? = nil,
                reason: String? = nil) {
        self.init(sequence: sequence, time: time, station: station, type: type, subject: subject.description,
                  kind: kind, deviceName: deviceName, from: from, to: to, reason: reason)
    }

    /// What the event is about, typed.
    public var about: EventSubject { EventSubject(wire: subject) }
}
