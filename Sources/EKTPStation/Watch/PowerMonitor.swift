import EKTPHardware
import EKTPCore
import EKTPModel
import EKTPPlatform
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

public struct PowerConfig: Sendable, Equatable {
    /// /sys/class/power_supply, or a fake tree in tests.
    public var root = "/sys/class/power_supply"
    public var interval: Duration = .seconds(30)
    /// Battery percent at or below which the battery is low.
    public var lowBattery = 20
    public init() {}
}

/// Mains or battery and battery level, from /sys/class/power_supply; events on switching and low battery.
public final class PowerMonitor: Sendable {
    let config: PowerConfig
    let engine: StationEngine
    private let last = Mutex<PowerStatus?>(nil)

    public init(config: PowerConfig, engine: StationEngine) {
        self.config = config
        self.engine = engine
    }

    /// Reads the tree: mains online (any Mains or USB supply online; else a discharging battery means
    /// no), and the lowest battery capacity.
    public static func read(root: String) -> (onMains: Bool?, batteryPercent: Int?) {
        guard let dir = opendir(root) else { return (nil, nil) }
        defer { closedir(dir) }
        var mains: Bool?
        var battery: Int?
        var discharging = false
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            if name.hasPrefix(".") { continue }
            let base = "\(root)/\(name)/"
            let type = readWholeFileText(base + "type")?.trimmed ?? ""
            switch type {
            case "Mains", "USB":
                if let online = readWholeFileText(base + "online")?.trimmed {
                    mains = (mains ?? false) || online == "1"
                }
            case "Battery":
                if let cap = readWholeFileText(base + "capacity")?.trimmed, let c = Int(cap) {
                    battery = min(battery ?? 100, c)
                }
                if readWholeFileText(base + "status")?.trimmed == "Discharging" { discharging = true }
            default: break
            }
        }
        if mains == nil && discharging { mains = false }
        return (mains, battery)
    }

    public func check(now: Timestamp) {
        let r = PowerMonitor.read(root: config.root)
        let low = (r.batteryPercent ?? 100) <= config.lowBattery && r.onMains != true
        let previous = last.withLock { $0 }
        let since = previous.map { $0.onMains == r.onMains ? $0.since : now } ?? now
        let status = PowerStatus(onMains: r.onMains, batteryPercent: r.batteryPercent, batteryLow: low, since: since)
        last.withLock { $0 = status }
        engine.update(power: status)
        let word: (Bool?) -> String = { $0 == nil ? "unknown" : $0! ? "mains" : "battery" }
        if let p = previous, p.onMains != r.onMains {
            let reason = r.onMains == false
                ? "mains power lost: running on battery\(r.batteryPercent.map { " (\($0)%)" } ?? "")"
                : r.onMains == true ? "mains power is back" : "power source unknown"
            engine.record(type: .powerSource, subject: .power, from: word(p.onMains), to: word(r.onMains), reason: reason, now: now)
        }
        if (previous?.batteryLow ?? false) != low {
            engine.record(type: .powerBattery, subject: .power, from: low ? "ok" : "low", to: low ? "low" : "ok",
                          reason: low ? "battery at \(r.batteryPercent ?? 0)% (low at \(config.lowBattery)%): save work; recording stops when it runs out"
                                      : "battery no longer low", now: now)
        }
    }
}

/// A sysfs or procfs text file; nil when unreadable.
func readWholeFileText(_ path: String) -> String? { readWholeFile(path, limit: 1 << 20) }


extension String {
    var trimmed: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\n" || f == "\t" || f == "\r" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\n" || l == "\t" || l == "\r" { s = s.dropLast() }
        return String(s)
    }
}
