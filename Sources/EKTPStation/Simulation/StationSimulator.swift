import EKTPHardware
import EKTPModel

/// Runs one simulated station on a virtual clock: scenario steps and probes happen at their
/// scenario times, in order, with no real waiting. A week replays in moments, and the same scenario
/// and seed give the same events every run. The daemon runs the same engine on a real clock.
public final class StationSimulator {
    public let backend: SimulatedBackend
    public let engine: StationEngine
    public let start: Timestamp
    public private(set) var now: Timestamp

    public init(backend: SimulatedBackend, engine: StationEngine, start: Timestamp) {
        self.backend = backend
        self.engine = engine
        self.start = start
        self.now = start
    }

    /// Enumerates, probes once, and settles the kit, at the start time.
    public func boot() async throws {
        engine.start(with: try await backend.enumerate(), now: now)
        await probeDue()
        engine.markSettled(now: now)
    }

    /// Advances virtual time to `end`, applying scenario steps and probes as they fall due.
    public func run(until end: Timestamp) async {
        while now <= end {
            let nextStep = backend.nextStepTime.map { start.adding($0) }
            let nextProbe = engine.nextProbeTime()
            guard let next = [nextStep, nextProbe].compactMap({ $0 }).min(), next <= end else { break }
            now = max(now, next)
            for (_, event) in backend.advance(to: now - start) {
                if let event { engine.handle(event, now: now) }
            }
            await probeDue()
        }
        now = max(now, end)
    }

    /// Applies a fault now (tests and interactive tools).
    public func inject(_ fault: SimulatedFault, into device: String) throws(SimulationError) {
        if let event = try backend.apply(fault, to: device) { engine.handle(event, now: now) }
        engine.recheckAll(now: now)
    }

    func probeDue() async {
        for id in engine.dueForProbe(now: now) {
            let r = await backend.probe(id, timeout: engine.policy.timeout)
            engine.record(r, for: id, now: now)
        }
    }
}
