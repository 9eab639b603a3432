import EKTPHardware
import EKTPModel
import Logging
import ServiceLifecycle

/// Watches the bus and probes devices: hotplug events from the backend, probes when due, into the
/// station engine. Sleeps until the next probe is due or a hotplug wakes it: no busy polling.
public struct DeviceMonitor: Service {
    let backend: any HardwareBackend
    let engine: StationEngine
    let waker: Waker
    let logger: Logger
    let now: @Sendable () -> Timestamp
    /// Called once, after the first enumeration and probe round (READY=1, the socket opens).
    let onReady: @Sendable () -> Void
    /// Called after every probe round (the watchdog ping comes from here, so a hung loop is noticed).
    let onRound: @Sendable () -> Void
    /// The longest the loop sleeps (half of systemd's WatchdogSec, when set).
    let maxSleep: Duration

    public init(backend: any HardwareBackend, engine: StationEngine, waker: Waker, logger: Logger,
                now: @escaping @Sendable () -> Timestamp, onReady: @escaping @Sendable () -> Void,
                onRound: @escaping @Sendable () -> Void = {}, maxSleep: Duration = .seconds(3600)) {
        self.maxSleep = maxSleep
        self.backend = backend
        self.engine = engine
        self.waker = waker
        self.logger = logger
        self.now = now
        self.onReady = onReady
        self.onRound = onRound
    }

    public func run() async throws {
        // Subscribe before enumerating, so nothing plugged in between is missed.
        let events = backend.events()
        logger.info("enumerating devices", metadata: ["backend": "\(backend.name)"])
        let devices = try await backend.enumerate()
        engine.start(with: devices, now: now())
        await probeDue()
        engine.markSettled(now: now())
        onReady()
        try await cancelOnShutdown {
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask {
                    for await event in events {
                        engine.handle(event, now: now())
                        waker.wake()
                    }
                }
                group.addTask {
                    while !Task.isCancelled {
                        await probeDue()
                        onRound()
                        let wait = engine.nextProbeTime().map { max(.zero, $0 - now()) } ?? .seconds(3600)
                        await waker.wait(timeout: min(wait, maxSleep))
                    }
                }
            }
        }
    }

    /// Probes every due device concurrently and records the results.
    func probeDue() async {
        let due = engine.dueForProbe(now: now())
        guard !due.isEmpty else { return }
        let timeout = engine.policy.timeout
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
