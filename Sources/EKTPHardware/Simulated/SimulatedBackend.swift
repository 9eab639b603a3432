import EKTPModel
import EKTPCore
import Synchronization

/// A station's kit simulated from a scenario: the same protocol as the real backends, with faults
/// applied by the scenario's timeline (`advance(to:)`), or at run time (`apply(_:to:)`).
///
/// Time is the caller's: the daemon advances it from a real clock, `ektpd simulate` and tests from
/// a virtual one, so a week of faults replays in milliseconds and the same seed gives the same run.
public final class SimulatedBackend: HardwareBackend {
    public let name: String
    public let stationID: String
    private let catalogue: Catalogue
    private let realTimeLatency: Bool

    struct DeviceState {
        var spec: SimulatedDeviceSpec
        /// `id(of: spec)`, made once: a probe finds its device by it (issue 17: building every
        /// device's ID on each probe made a round of 600 probes cost 600 x 600 string builds).
        let id: DeviceID
        var present: Bool
        var deviceNumber: Int
        var responding = true
        var failRatio: Double = 0
        var speed: USBSpeed
        var permitted = true
        var latency: Duration = .zero
        var blanks: Int?
        var ribbonOut = false
        var rng: SplitMix64
    }

    struct State {
        var devices: [DeviceState]
        /// Where each device is in `devices` (the list never grows or shrinks; `present` says what is plugged).
        var index: [DeviceID: Int]
        var steps: [TimelineStep]
        var nextStep = 0
        var nextDeviceNumber = 2
        var continuation: AsyncStream<HotplugEvent>.Continuation?
    }

    private let state: Mutex<State>

    /// - Parameters:
    ///   - realTimeLatency: when true, a `latency` fault really delays the probe (the daemon);
    ///     when false the probe answers at once, failed with a timeout if the delay exceeds it.
    public init(scenario: Scenario, station: String?, catalogue: Catalogue, label: String,
                realTimeLatency: Bool = true) throws(SimulationError) {
        guard let spec = scenario.station(station) else {
            throw SimulationError(station == nil
                ? "the scenario has \(scenario.stations.count) stations: name one with backend.station"
                : "the scenario has no station '\(station!)' (it has: \(scenario.stations.map(\.id).joined(separator: ", ")))")
        }
        self.stationID = spec.id
        self.name = label
        self.catalogue = catalogue
        self.realTimeLatency = realTimeLatency
        var number = 2
        var devices: [DeviceState] = []
        for d in spec.devices {
            var s = DeviceState(spec: d, id: id(of: d), present: d.present, deviceNumber: number, speed: d.speed,
                                rng: SplitMix64(seed: scenario.seed ^ fnv1a(spec.id + "/" + d.handle)))
            number += 1
            for f in d.faults { SimulatedBackend.applyInPlace(f, to: &s) }
            devices.append(s)
        }
        var index: [DeviceID: Int] = [:]
        for (i, d) in devices.enumerated() where index[d.id] == nil { index[d.id] = i }
        self.state = Mutex(State(devices: devices, index: index, steps: scenario.timeline.filter { $0.station == spec.id },
                                 nextDeviceNumber: number))
    }

    public func enumerate() async throws -> [DeviceSnapshot] {
        state.withLock { s in s.devices.filter(\.present).map { snapshot($0) } }
    }

    public func events() -> AsyncStream<HotplugEvent> {
        let (stream, continuation) = AsyncStream<HotplugEvent>.makeStream(bufferingPolicy: .unbounded)
        state.withLock { $0.continuation = continuation }
        return stream
    }

    /// Ends the event stream (the daemon's shutdown).
    public func finish() {
        state.withLock { $0.continuation?.finish() }
    }

    /// When the next timeline step is due, relative to the scenario's start.
    public var nextStepTime: Duration? {
        state.withLock { s in s.nextStep < s.steps.count ? s.steps[s.nextStep].at : nil }
    }

    /// Applies every timeline step due at or before `elapsed`; returns the steps applied, each with
    /// the hotplug event it caused (also sent to `events()`).
    @discardableResult
    public func advance(to elapsed: Duration) -> [(step: TimelineStep, event: HotplugEvent?)] {
        var applied: [(TimelineStep, HotplugEvent?)] = []
        while let step = state.withLock({ s -> TimelineStep? in
            guard s.nextStep < s.steps.count, s.steps[s.nextStep].at <= elapsed else { return nil }
            s.nextStep += 1
            return s.steps[s.nextStep - 1]
        }) {
            applied.append((step, (try? apply(step.fault, to: step.device)) ?? nil))
        }
        return applied
    }

    /// Applies a fault now, by device handle or device ID; returns the hotplug event it causes (also
    /// sent to `events()`), if any.
    @discardableResult
    public func apply(_ fault: SimulatedFault, to device: String) throws(SimulationError) -> HotplugEvent? {
        let result: Result<HotplugEvent?, SimulationError> = state.withLock { s in
            guard let i = s.devices.firstIndex(where: { $0.spec.handle == device || $0.id.rawValue == device }) else {
                return .failure(SimulationError("no simulated device '\(device)' (devices: \(s.devices.map(\.spec.handle).joined(separator: ", ")))"))
            }
            switch fault {
            case .unplug:
                guard s.devices[i].present else { return .success(nil) }
                s.devices[i].present = false
                return .success(.removed(s.devices[i].id))
            case .replug:
                guard !s.devices[i].present else { return .success(nil) }
                s.devices[i].present = true
                s.devices[i].deviceNumber = s.nextDeviceNumber
                s.nextDeviceNumber += 1
                return .success(.added(snapshot(s.devices[i])))
            case .slowLink, .recover:
                let before = s.devices[i].speed
                SimulatedBackend.applyInPlace(fault, to: &s.devices[i])
                let changed = s.devices[i].present && s.devices[i].speed != before
                return .success(changed ? .changed(snapshot(s.devices[i])) : nil)
            default:
                SimulatedBackend.applyInPlace(fault, to: &s.devices[i])
                return .success(nil)
            }
        }
        switch result {
        case .failure(let e): throw e
        case .success(let event):
            if let event { state.withLock { _ = $0.continuation?.yield(event) } }
            return event
        }
    }

    static func applyInPlace(_ fault: SimulatedFault, to d: inout DeviceState) {
        switch fault {
        case .unplug: d.present = false
        case .replug: d.present = true
        case .unresponsive: d.responding = false
        case .intermittent(let r): d.failRatio = r
        case .slowLink(let speed): d.speed = min(speed, d.spec.maxSpeed)
        case .permissionDenied: d.permitted = false
        case .latency(let l): d.latency = l
        case .blanks(let n): d.blanks = n
        case .ribbonOut: d.ribbonOut = true
        case .recover:
            d.responding = true
            d.failRatio = 0
            d.speed = d.spec.maxSpeed
            d.permitted = true
            d.latency = .zero
            d.ribbonOut = false
        }
    }

    public func probe(_ device: DeviceID, timeout: Duration) async -> ProbeResult {
        // Decide under the lock, sleep (if at all) outside it.
        let decided: (ProbeResult, Duration)? = state.withLock { s in
            guard let i = s.index[device] else { return nil }
            guard s.devices[i].present else {
                return (.failed(N_("not on the bus"), .notFound), .zero)
            }
            let d = s.devices[i]
            let node = nodePath(d)
            var result: ProbeResult
            if !d.permitted {
                result = .failed("device node \(node) is not accessible to group ektp: install udev-rules/70-ektp-kit.rules and replug", .permissionDenied)
            } else if !d.responding {
                result = .failed(N_("no response to GET_STATUS: replug it or check the cable"), .noResponse)
            } else if d.failRatio > 0 && s.devices[i].rng.nextUnit() < d.failRatio {
                result = .failed(N_("GET_STATUS failed (I/O error): the device or its cable is unreliable"), .noResponse)
            } else if d.ribbonOut {
                result = .failed(N_("printer reports ribbon out: replace the ribbon"), .ribbonOut)
            } else if let b = d.blanks, b == 0 {
                result = .failed(N_("printer reports paper empty: load card blanks"), .blanksOut)
            } else if d.speed < d.spec.maxSpeed {
                result = .degraded("running at \(d.speed.rawValue) speed (\(d.speed.megabits) Mbit/s) though it supports \(d.spec.maxSpeed.rawValue) speed (\(d.spec.maxSpeed.megabits) Mbit/s): use another port or cable", .slowLink)
            } else {
                result = .ok
            }
            result.blanksRemaining = d.blanks
            return (result, d.latency)
        }
        guard let (result, latency) = decided else {
            return .failed(N_("no such device"), .notFound)
        }
        if latency > .zero {
            if realTimeLatency { try? await Task.sleep(for: min(latency, timeout)) }
            if latency >= timeout {
                return .failed("no answer within \(spokenDuration(timeout)): the device is hanging; replug it", .probeTimeout)
            }
        }
        return result
    }

    private func snapshot(_ d: DeviceState) -> DeviceSnapshot {
        let facts = DeviceFacts(vendorID: d.spec.vendorID, productID: d.spec.productID, udevKind: d.spec.kind?.rawValue,
                                interfaceClasses: d.spec.interfaceClasses, product: d.spec.product, manufacturer: d.spec.manufacturer)
        let c = catalogue.classify(facts)
        let name = d.spec.product ?? c.name ?? "USB device \(hex4(d.spec.vendorID)):\(hex4(d.spec.productID))"
        let bus = Int(d.spec.port.split(separator: "-").first ?? "1") ?? 1
        return DeviceSnapshot(id: id(of: d.spec), kind: c.kind, kindSource: d.spec.kind != nil ? "scenario" : c.source,
                              vendorID: d.spec.vendorID, productID: d.spec.productID, name: name,
                              manufacturer: d.spec.manufacturer, serial: d.spec.serial, portPath: d.spec.port,
                              busNumber: bus, deviceNumber: d.deviceNumber, speed: d.speed,
                              capabilities: DeviceCapabilities(interfaceClasses: d.spec.interfaceClasses, maxSpeed: d.spec.maxSpeed),
                              nodes: [nodePath(d)])
    }

    private func nodePath(_ d: DeviceState) -> String {
        let bus = Int(d.spec.port.split(separator: "-").first ?? "1") ?? 1
        return "/dev/bus/usb/\(pad3(bus))/\(pad3(d.deviceNumber))"
    }

    /// The device ID a scenario device gets.
    public func deviceID(handle: String) -> DeviceID? {
        state.withLock { s in s.devices.first { $0.spec.handle == handle }.map(\.id) }
    }
}

private func id(of spec: SimulatedDeviceSpec) -> DeviceID {
    DeviceID(portPath: spec.port, vendorID: spec.vendorID, productID: spec.productID)
}

private func pad3(_ n: Int) -> String {
    let s = String(n)
    return String(repeating: "0", count: max(0, 3 - s.count)) + s
}


/// A simulation problem a person can fix (unknown device, unknown station).
public struct SimulationError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ d: String) { description = d }
}

