import EKTPHardware
import EKTPCore
import EKTPModel
import EKTPPlatform
import Logging
import ServiceLifecycle

/// Watches the bus and probes devices: hotplug events from the backend, probes when due, into the
/// station engine. Sleeps until the next probe is due or a hotplug wakes it: no busy polling.
public struct DeviceMonitor: Service {
    let backend: any HardwareBackend
    let engine: StationEngine
    let waker: Waker
    let logger: Logger
    let clock: any ServiceClock
    /// Probes one at a time in the order due (the simulation, for the same order every run).
    let probeConcurrently: Bool
    var now: @Sendable () -> Timestamp { { [clock] in clock.now() } }
    /// Called once, after the first enumeration and probe round (READY=1, the socket opens).
    let onReady: @Sendable () -> Void
    /// Called after every probe round (the watchdog ping comes from here, so a hung loop is noticed).
    let onRound: @Sendable () -> Void
    /// The longest the loop sleeps (half of systemd's WatchdogSec, when set).
    let maxSleep: Duration

    public init(backend: any HardwareBackend, engine: StationEngine, waker: Waker = Waker(), logger: Logger,
                clock: any ServiceClock, probeConcurrently: Bool = true, onReady: @escaping @Sendable () -> Void = {},
                onRound: @escaping @Sendable () -> Void = {}, maxSleep: Duration = .seconds(3600)) {
        self.clock = clock
        self.probeConcurrently = probeConcurrently
        self.maxSleep = maxSleep
        self.backend = backend
        self.engine = engine
        self.waker = waker
        self.logger = logger
        self.onReady = onReady
        self.onRound = onRound
    }

    /// Enumerates, probes every device once and settles the kit (no kit events from guesses).
    /// `ektpd run` subscribes to hotplug first; `ektpd simulate` calls it at the scenario's start.
    public func boot() async throws {
        logger.info("enumerating devices", metadata: ["backend": "\(backend.name)"])
        let devices = try await backend.enumerate()
        // One transaction for the start, the first probe round and the kit's first state (group
        // commit): nothing of it is shown before it is stored, and 600 devices are one fsync.
        await engine.journal.batch {
            engine.start(with: devices, now: now())
            await probeDue(recordInOrder: true)
            engine.markSettled(now: now())
        }
    }

    /// The probe loop as an activity: probe what is due, then sleep until the next probe falls due
    /// or a hotplug wakes it.
    public var activity: Activity {
        let engine = self.engine, onRound = self.onRound
        return Activity(name: "devices", waker: waker, maxSleep: maxSleep) { [self] now in
            await probeDue()
            onRound()
            return engine.nextProbeTime() ?? now.adding(.seconds(3600))
        }
    }

    /// A hotplug event into the engine, and the probe loop woken for it.
    public func handle(_ event: HotplugEvent) {
        engine.handle(event, now: now())
        waker.wake()
    }

    public func run() async throws {
        // Subscribe before enumerating, so nothing plugged in between is missed.
        let events = backend.events()
        try await boot()
        onReady()
        let loop = ActivityService(activity, clock: clock)
        try await cancelOnShutdown {
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask {
                    for await event in events { handle(event) }
                }
                group.addTask { try await loop.runLoop() }
            }
        }
    }

    /// Probes every due device and records the results: concurrently (a slow device does not hold
    /// up the others), or one after another in the order due when `probeConcurrently` is off (the
    /// simulation: the same order every run).
    ///
    /// - Parameter recordInOrder: probe concurrently but record in the order due, once all have
    ///   answered. The start's first round does this: it is one journal batch, shown only when
    ///   the last probe answers anyway, and so the start reads the same every time and the same as
    ///   `ektpd simulate` (the order probes finished in differed from run to run).
    func probeDue(recordInOrder: Bool = false) async {
        let due = engine.dueForProbe(now: now())
        guard !due.isEmpty else { return }
        let timeout = engine.policy.timeout
        guard probeConcurrently else {
            for id in due {
                let r = await backend.probe(id, timeout: timeout)
                engine.record(r, for: id, now: now())
            }
            return
        }
        if recordInOrder {
            let results = await withTaskGroup(of: (Int, ProbeResult).self) { group in
                for (i, id) in due.enumerated() {
                    group.addTask { (i, await backend.probe(id, timeout: timeout)) }
                }
                var out = [ProbeResult?](repeating: nil, count: due.count)
                for await (i, r) in group { out[i] = r }
                return out
            }
            for (id, r) in zip(due, results) {
                if let r { engine.record(r, for: id, now: now()) }
            }
            return
        }
        await withDiscardingTaskGroup { group in
            for id in due {
                group.addTask {
                    let r = await backend.probe(id, timeout: timeout)
                    engine.record(r, for: id, now: now())
                }
            }
        }
    }
}

/// Runs `body` until graceful shutdown cancels it; the cancellation that ends it is not an error.
func cancelOnShutdown(_ body: @escaping @Sendable () async throws -> Void) async throws {
    do {
        try await cancelWhenGracefulShutdown(body)
    } catch is CancellationError {
        return
    }
}
