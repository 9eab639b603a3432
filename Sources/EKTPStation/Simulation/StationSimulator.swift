import EKTPHardware
import EKTPCore
import EKTPModel
import EKTPPlatform
import Logging

/// Runs one simulated station's device probes and scenario on a manual clock: the daemon's own
/// `DeviceMonitor` and `ScenarioPlayer` activities, stepped by an `ActivityScheduler`, with no
/// real waiting. A week replays in moments, and the same scenario and seed give the same events
/// every run. (Tests of the health engine; `ektpd simulate` runs every service of a station.)
public final class StationSimulator {
    public let backend: SimulatedBackend
    public let engine: StationEngine
    public let start: Timestamp
    public let clock: ManualClock
    let devices: DeviceMonitor
    let scheduler: ActivityScheduler
    public var now: Timestamp { clock.now() }

    public init(backend: SimulatedBackend, engine: StationEngine, start: Timestamp) {
        self.backend = backend
        self.engine = engine
        self.start = start
        let clock = ManualClock(start: start)
        self.clock = clock
        let logger = Logger(label: "ektpd.simulate", factory: { _ in SwiftLogNoOpLogHandler() })
        let devices = DeviceMonitor(backend: backend, engine: engine, logger: logger, clock: clock, probeConcurrently: false)
        self.devices = devices
        let player = ScenarioPlayer(backend: backend, logger: logger, start: start, deliver: { devices.handle($0) })
        scheduler = ActivityScheduler(clock: clock)
        scheduler.add([player.activity, devices.activity], start: start)
    }

    /// Enumerates, probes once, and settles the kit, at the start time.
    public func boot() async throws {
        try await devices.boot()
    }

    /// Advances the clock to `end`, applying scenario steps and probes as they fall due.
    public func run(until end: Timestamp) async {
        await scheduler.run(until: end)
    }

    /// Applies a fault now (tests and interactive tools), as `POST /v1/simulated/faults` does.
    public func inject(_ fault: SimulatedFault, into device: String) throws(SimulationError) {
        if let event = try backend.apply(fault, to: device) { devices.handle(event) }
        engine.recheckAll(now: now)
    }
}
