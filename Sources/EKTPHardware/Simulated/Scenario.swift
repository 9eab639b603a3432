import EKTPModel
import EKTPYAML

/// A fault or repair that the scenario applies to a simulated device.
public enum SimulatedFault: Sendable, Equatable {
    /// Takes the device off the bus.
    case unplug
    /// Puts it back (same port, new device number, as the kernel does).
    case replug
    /// Still enumerated, but answers no request.
    case unresponsive
    /// Fails a share of probes, decided by the scenario's seeded generator.
    case intermittent(failRatio: Double)
    /// Re-enumerated at a lower speed than it supports (a bad cable or a USB 1.1 hub).
    case slowLink(USBSpeed)
    /// Device node not accessible to the station's group.
    case permissionDenied
    /// Probes take this long to answer.
    case latency(Duration)
    /// A printer's card hopper: this many blanks left (0 = empty).
    case blanks(Int)
    case ribbonOut
    /// Clears every fault: responding, full speed, permitted, no latency, ribbon in.
    case recover

    /// The words used in scenario files and `ektpd inject`.
    public static let words = ["unplug", "replug", "unresponsive", "intermittent", "slow_link",
                               "permission_denied", "latency", "blanks", "blanks_out", "ribbon_out", "recover"]
}

/// One device in a scenario.
public struct SimulatedDeviceSpec: Sendable, Equatable {
    /// The handle the timeline and `ektpd inject` use ("fp", "printer-2").
    public var handle: String
    public var vendorID: UInt16
    public var productID: UInt16
    /// nil: the catalogue decides, as it does for real devices.
    public var kind: DeviceKind?
    public var product: String?
    public var manufacturer: String?
    public var serial: String?
    public var port: String
    public var speed: USBSpeed
    public var maxSpeed: USBSpeed
    public var interfaceClasses: [UInt8]
    /// Plugged in when the scenario starts.
    public var present: Bool
    /// Faults in force from the start.
    public var faults: [SimulatedFault]
}

/// One timeline step.
public struct TimelineStep: Sendable, Equatable {
    public var at: Duration
    public var station: String
    public var device: String
    public var fault: SimulatedFault
}

/// One station of a scenario.
public struct SimulatedStationSpec: Sendable, Equatable {
    public var id: String
    public var site: Site
    public var devices: [SimulatedDeviceSpec]
    /// What the station needs to do its work (`needs: recording` or `needs: printing`).
    public var profile: KitProfile = .recording
    /// The hours the recording server is switched on, as minutes of the day [start, end); nil: always.
    public var serverHours: ClosedRange<Int>?
    /// Card blanks in the office's store, and how many each working printer uses a day.
    public var stock: (blanks: Int, perPrinterPerDay: Int)?
    /// When the station's network goes down or comes back (offset from the start, up).
    public var network: [(at: Duration, up: Bool)] = []
    /// `courier: {every: 7d}`: the station never reaches the registry over the network; its
    /// reports go by courier bundle this often (issue 16: Sintang's and Dumai's offline districts).
    public var courierEvery: Duration?

    public static func == (a: Self, b: Self) -> Bool {
        a.id == b.id && a.site == b.site && a.devices == b.devices && a.profile == b.profile && a.serverHours == b.serverHours
            && a.stock?.blanks == b.stock?.blanks && a.stock?.perPrinterPerDay == b.stock?.perPrinterPerDay
            && a.network.map(\.at) == b.network.map(\.at) && a.network.map(\.up) == b.network.map(\.up) && a.courierEvery == b.courierEvery
    }
}

/// The kit profiles a scenario station can name with `needs:`.
public let namedKitProfiles: [(String, KitProfile)] = [
    ("recording", .recording),
    ("printing", KitProfile(requirements: [.init(kind: .cardPrinter, count: 1)])),
]

/// A scenario file: stations with simulated kits and a timeline of faults.
public struct Scenario: Sendable, Equatable {
    public var name: String
    public var seed: UInt64
    public var stations: [SimulatedStationSpec]
    public var timeline: [TimelineStep]
    /// The scenario clock's start (`start:`, RFC 3339) and how long `ektpd simulate` runs it.
    public var start: Timestamp = Timestamp(seconds: 1_767_225_600)  // 2026-01-01T00:00:00Z
    public var duration: Duration = .seconds(86_400)
    /// The centre pulls every station's recording server daily at this minute of the day (`centre_pull: {at: "01:00"}`).
    public var centrePullMinute: Int?
    /// A pull older than this is stale.
    public var centrePullLimit: Duration = .seconds(2 * 86_400)
    /// What the scenario shows, in words, for the report (`description:`).
    public var summary: String?

    public func station(_ id: String?) -> SimulatedStationSpec? {
        guard let id else { return stations.count == 1 ? stations[0] : nil }
        return stations.first { $0.id == id }
    }

    /// Reads a scenario file; every problem is reported with its line and field.
    public static func load(path: String) throws(FieldIssues) -> Scenario {
        guard let text = readWholeFile(path) else {
            throw FieldIssues([FieldIssue(file: path, mark: .init(line: 0, column: 0), field: "",
                                          message: "cannot read the scenario file (does it exist, and may ektpd read it?)")])
        }
        return try parse(text, file: path)
    }

    public static func parse(_ text: String, file: String) throws(FieldIssues) -> Scenario {
        let diag = FieldDiagnostics(file: file)
        guard let root = diag.root(text) else { try diag.check(); fatalError("unreachable") }
        let name = root.string("name") ?? file
        let seed = root.int("seed", in: 0...Int.max).map(UInt64.init) ?? 1

        // Kit templates: named device lists that stations include with `kit: NAME`.
        var templates: [String: [SimulatedDeviceSpec]] = [:]
        if let kits = root.map("kits") {
            for (key, _, value) in kits.pairs() {
                templates[key] = (value.list() ?? []).compactMap { parseDevice($0) }
            }
        }

        var stations: [SimulatedStationSpec] = []
        var timeline: [TimelineStep] = []
        var stationMarks: [String: YAMLMark] = [:]
        for item in root.list("stations", required: true) ?? [] {
            guard let s = item.map() else { continue }
            let id = s.string("id", required: true) ?? ""
            if !id.isEmpty && !isStationID(id), let v = s.value("id") {
                v.fail("station id '\(id.printable.prefix(80))': use 1 to 64 letters, digits, '-', '_' or '.', not starting with '-'")
            }
            if let m = stationMarks[id] {
                item.fail("station '\(id)' is already defined on line \(m.line)")
            }
            stationMarks[id] = item.node.mark
            let site = parseSite(s, required: true)
            var devices: [SimulatedDeviceSpec] = []
            if let kitValue = s.value("kit") {
                if let kitName = kitValue.string() {
                    if let t = templates[kitName] { devices += t } else {
                        let hint = closest(kitName, Array(templates.keys)).map { " (did you mean '\($0)'?)" } ?? ""
                        kitValue.fail("no kit template named '\(kitName)'\(hint) under 'kits'")
                    }
                }
            }
            var placed: [String: YAMLValue] = [:]
            for item in s.list("devices") ?? [] {
                guard let d = parseDevice(item) else { continue }
                placed[d.handle] = item
                if let i = devices.firstIndex(where: { $0.handle == d.handle }) { devices[i] = d } else { devices.append(d) }
            }
            var ports: [String: String] = [:]
            for d in devices {
                if let other = ports[d.port] {
                    let at = placed[d.handle] ?? s.value("kit")
                    at?.fail("devices '\(other)' and '\(d.handle)' are both on port \(d.port)")
                }
                ports[d.port] = d.handle
            }
            for step in s.list("timeline") ?? [] {
                if let t = parseStep(step, station: id, devices: devices) { timeline.append(t) }
            }
            var spec = SimulatedStationSpec(id: id, site: site ?? Site(province: "", regency: "", district: ""), devices: devices)
            spec.profile = s.value("needs")?.word(namedKitProfiles) ?? .recording
            if let v = s.value("server_hours"), let text = v.string() {
                if let r = parseHours(text) { spec.serverHours = r } else { v.fail("expected HH:MM-HH:MM, like 07:00-16:00, got '\(text)'") }
            }
            if let st = s.map("stock") {
                let blanks = st.int("blanks", in: 0...10_000_000, required: true)
                let rate = st.int("per_printer_per_day", in: 0...100_000) ?? 0
                st.finish()
                if let blanks { spec.stock = (blanks, rate) }
            }
            for step in s.list("network") ?? [] {
                guard let m = step.map() else { continue }
                let at = m.duration("at", required: true)
                let up = m.value("state", required: true)?.word([("up", true), ("down", false)])
                m.finish()
                if let at, let up { spec.network.append((at, up)) }
            }
            spec.network.sort { $0.at < $1.at }
            if let c = s.map("courier") {
                spec.courierEvery = c.duration("every", atLeast: .seconds(3600), required: true)
                c.finish()
            }
            s.finish()
            stations.append(spec)
        }
        var start = Timestamp(seconds: 1_767_225_600)
        if let v = root.value("start"), let text = v.string() {
            if let t = Timestamp(rfc3339: text) { start = t } else { v.fail(N_("expected an RFC 3339 time from 1970 to 9999, like 2018-03-05T00:00:00Z")) }
        }
        let duration = root.duration("duration", atLeast: .seconds(60)) ?? .seconds(86_400)
        var pullMinute: Int?
        var pullLimit: Duration = .seconds(2 * 86_400)
        if let c = root.map("centre_pull") {
            if let v = c.value("at", required: true), let text = v.string() {
                if let m = parseClock(text) { pullMinute = m } else { v.fail(N_("expected HH:MM, like 01:00")) }
            }
            pullLimit = c.duration("limit", atLeast: .seconds(60)) ?? pullLimit
            c.finish()
        }
        let summary = root.string("description")
        root.finish()
        try diag.check()
        // Stable order: by time, then file order (the sort is stable).
        let ordered = timeline.enumerated().sorted { ($0.element.at, $0.offset) < ($1.element.at, $1.offset) }.map(\.element)
        var scenario = Scenario(name: name, seed: seed, stations: stations, timeline: ordered)
        scenario.start = start
        scenario.duration = duration
        scenario.centrePullMinute = pullMinute
        scenario.centrePullLimit = pullLimit
        scenario.summary = summary
        return scenario
    }

    static func parseSite(_ s: YAMLMap, required: Bool) -> Site? {
        guard let m = s.map("site", required: required) else { return nil }
        let site = Site(province: m.string("province", required: true, maxLength: Site.maxNameLength) ?? "",
                        regency: m.string("regency", required: true, maxLength: Site.maxNameLength) ?? "",
                        district: m.string("district", required: true, maxLength: Site.maxNameLength) ?? "")
        m.finish()
        return site
    }

    static let speeds: [(String, USBSpeed)] = [("low", .low), ("full", .full), ("high", .high), ("super", .super), ("super_plus", .superPlus)]

    static func parseDevice(_ v: YAMLValue) -> SimulatedDeviceSpec? {
        guard let m = v.map() else { return nil }
        let handle = m.string("name", required: true)
        var vid: UInt16?, pid: UInt16?
        if let usb = m.value("usb", required: true), let s = usb.string() {
            let parts = s.split(separator: ":")
            if parts.count == 2, let a = parseUSBID(String(parts[0])), let b = parseUSBID(String(parts[1])) {
                vid = a
                pid = b
            } else {
                usb.fail("expected VID:PID in hex, like 05ba:000a, got '\(s)'")
            }
        }
        var kind: DeviceKind?
        if let k = m.value("kind"), let word = k.string() {
            kind = DeviceKind(word: word)
            if kind == nil { k.fail("unknown kind '\(word)': expected one of \(DeviceKind.allCases.map(\.rawValue).joined(separator: ", "))") }
        }
        var port = "1-1"
        if let p = m.value("port", required: true), let s = p.string() {
            if isPortPath(s) { port = s } else { p.fail("expected a USB port path like 1-2 or 1-2.3, got '\(s)'") }
        }
        let speed = m.value("speed")?.word(speeds) ?? .high
        let maxSpeed = m.value("max_speed")?.word(speeds) ?? speed
        var classes: [UInt8] = []
        for c in m.list("interface_classes") ?? [] {
            if let n = c.int(in: 0...255) { classes.append(UInt8(n)) }
        }
        var faults: [SimulatedFault] = []
        if let b = m.int("blanks", in: 0...1_000_000) { faults.append(.blanks(b)) }
        for f in m.list("faults") ?? [] {
            if let fault = parseFault(f, map: nil) { faults.append(fault) }
        }
        let spec = SimulatedDeviceSpec(
            handle: handle ?? "", vendorID: vid ?? 0, productID: pid ?? 0, kind: kind,
            product: m.string("product"), manufacturer: m.string("manufacturer"), serial: m.string("serial"),
            port: port, speed: speed, maxSpeed: max(speed, maxSpeed), interfaceClasses: classes,
            present: m.bool("present") ?? true, faults: faults)
        m.finish()
        return handle == nil || vid == nil ? nil : spec
    }

    static func parseStep(_ v: YAMLValue, station: String, devices: [SimulatedDeviceSpec]) -> TimelineStep? {
        guard let m = v.map() else { return nil }
        let at = m.duration("at", required: true)
        var device: String?
        if let d = m.value("device", required: true), let h = d.string() {
            if devices.contains(where: { $0.handle == h }) { device = h } else {
                let hint = closest(h, devices.map(\.handle)).map { " (did you mean '\($0)'?)" } ?? ""
                d.fail("no device named '\(h)' in station '\(station)'\(hint)")
            }
        }
        let fault = m.value("fault", required: true).flatMap { parseFault($0, map: m) }
        m.finish()
        guard let at, let device, let fault else { return nil }
        return TimelineStep(at: at, station: station, device: device, fault: fault)
    }

    /// A fault word, with its parameter from the step's mapping (`fail_ratio`, `speed`, `delay`, `count`).
    static func parseFault(_ v: YAMLValue, map m: YAMLMap?) -> SimulatedFault? {
        guard let word = v.word(SimulatedFault.words.map { ($0, $0) }) else { return nil }
        switch word {
        case "unplug": return .unplug
        case "replug": return .replug
        case "unresponsive": return .unresponsive
        case "intermittent": return .intermittent(failRatio: m?.value("fail_ratio")?.double(in: 0...1) ?? 0.5)
        case "slow_link": return .slowLink(m?.value("speed")?.word(speeds) ?? .full)
        case "permission_denied": return .permissionDenied
        case "latency":
            guard let d = m?.duration("delay", required: true) else {
                if m == nil { v.fail(N_("'latency' needs a delay: use it in a timeline step with 'delay: 3s'")) }
                return nil
            }
            return .latency(d)
        case "blanks":
            guard let n = m?.int("count", in: 0...1_000_000, required: true) else {
                if m == nil { v.fail(N_("'blanks' needs a count: use 'blanks: N' on the device")) }
                return nil
            }
            return .blanks(n)
        case "blanks_out": return .blanks(0)
        case "ribbon_out": return .ribbonOut
        default: return .recover
        }
    }
}

/// "07:30" as minutes of the day.
func parseClock(_ s: String) -> Int? {
    let p = s.split(separator: ":")
    guard p.count == 2, let h = Int(p[0]), let m = Int(p[1]), (0...24).contains(h), (0...59).contains(m), h * 60 + m <= 1440 else { return nil }
    return h * 60 + m
}

/// "07:00-16:00" as minutes of the day, start...end-1.
func parseHours(_ s: String) -> ClosedRange<Int>? {
    let p = s.split(separator: "-")
    guard p.count == 2, let a = parseClock(String(p[0])), let b = parseClock(String(p[1])), a < b else { return nil }
    return a...(b - 1)
}

/// "1-2", "3-1.4.2": bus number, dash, dot-separated port numbers.
public func isPortPath(_ s: String) -> Bool {
    let parts = s.split(separator: "-", omittingEmptySubsequences: false)
    guard parts.count == 2, let bus = Int(parts[0]), bus > 0 else { return false }
    let ports = parts[1].split(separator: ".", omittingEmptySubsequences: false)
    return !ports.isEmpty && ports.allSatisfy { Int($0).map { $0 > 0 && $0 < 128 } ?? false }
}
