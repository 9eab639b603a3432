import EKTPModel

/// What an alert is about. Its `from` and `to` annotations, which hooks and webhooks read, are this
/// subject's states; notifications list alerts by it (devices first, by kind, then the kit, the
/// server, the centre's pull, ...), whatever order the changes were seen in.
public enum AlertSubject: Sendable, Hashable, CustomStringConvertible {
    case device(DeviceID)
    case kit
    case server
    /// The centre's pull of the recording server's data.
    case sync
    case uplink
    case power
    case battery
    case stock
    case outbox
    /// The disk under the outbox (issue 12).
    case outboxDisk

    /// The text form ("device:1-2", "kit", "outbox_disk"), as logs show it.
    public var description: String {
        switch self {
        case .device(let id): "device:\(id.rawValue)"
        case .kit: "kit"
        case .server: "server"
        case .sync: "sync"
        case .uplink: "uplink"
        case .power: "power"
        case .battery: "battery"
        case .stock: "stock"
        case .outbox: "outbox"
        case .outboxDisk: "outbox_disk"
        }
    }

    /// The group a notification lists the alert in: devices first (0), then in the order of the cases.
    var group: Int {
        switch self {
        case .device: 0
        case .kit: 1
        case .server: 2
        case .sync: 3
        case .uplink: 4
        case .power: 5
        case .battery: 6
        case .stock: 7
        case .outbox: 8
        case .outboxDisk: 9
        }
    }
}
