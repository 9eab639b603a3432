import EKTPHardware
import EKTPCore
import EKTPModel
import EKTPPlatform
import EKTPYAML
import Logging
import ServiceLifecycle

/// What around a station `ektpd simulate` replaces, and nothing else (issue 12, item 4): the clock,
/// the hardware backend and the network. `ektpd run` passes the real ones (every field's default).
public struct StationWorld: Sendable {
    /// The one clock of every service: `StationClock` in the daemon, `ManualClock` in a simulation.
    public var clock: any ServiceClock
    public var backend: any HardwareBackend
    /// The simulated backend whose timeline is played, if any (`backend` itself, then).
    public var scenario: SimulatedBackend?
    /// The scenario's time zero on the steady timeline.
    public var scenarioStart: Timestamp
    /// Simulated time: the scenario's hotplug events go straight to the device monitor (no stream
    /// listener), and probes run one at a time in a fixed order, so a run replays exactly.
    public var simulatedTime = false
    /// Reachability of the uplink's targets (nil: a real TCP connect).
    public var reach: UplinkMonitor.Reach?
    /// The default route's interface (nil: `/proc/net/route`).
    public var route: (@Sendable () -> String?)?
    /// The centre's last pull (nil: the configured source).
    public var centrePull: (@Sendable () async -> Result<Timestamp?, NetError>)?
    /// The network under registry delivery (nil: the real one).
    public var link: (@Sendable () -> NetError?)?
    /// Where alert notifications go (nil: the configured hooks and webhooks).
    public var notify: (@Sendable (AlertLifecycle.Notification) -> Void)?
    /// How often the wall clock is checked for a step and held reports are retried.
    public var housekeeping: Duration = .seconds(2)
    /// The delivery's jitter seed (a simulation derives it from the scenario's seed).
    public var seed: UInt64

    public init(clock: any ServiceClock, backend: any HardwareBackend, scenario: SimulatedBackend? = nil,
                scenarioStart: Timestamp, seed: UInt64) {
        self.clock = clock
        self.backend = backend
        self.scenario = scenario
        self.scenarioStart = scenarioStart
        self.seed = seed
    }
}

/// A station's services, built one way from its config for `ektpd run` and `ektpd simulate`:
/// the device probes, the scenario player, the clock and journal housekeeping, the centre-pull,
/// uplink and power watchers, the alert rules and the registry delivery. Each is an `Activity`;
/// the daemon runs each on its own task, a simulation steps them all on its clock. The daemon adds
/// what is only a process's: the control socket, the metrics listener, sd_notify, the log of every
/// event, the recording-server supervisor and the hotplug stream.
public struct StationServices: Sendable {
    public let engine: StationEngine
    public let devices: DeviceMonitor
    public let alerts: AlertService
    /// The registry delivery, when the config has a `registry`.
    public let uplink: RegistryUplink?
    public let delivery: RegistryUplinkService?
    /// Every activity, in the order they run when due at the same instant.
    public let activities: [Activity]
    /// Woken by every new report: the alert rules and the delivery.
    public let wokenByReports: [Waker]

    /// What the daemon hooks onto the services (metrics, READY=1, the watchdog); a simulation
    /// leaves them empty.
    public struct Callbacks: Sendable {
        public var onReady: @Sendable () -> Void = {}
        public var onProbeRound: @Sendable () -> Void = {}
        public var probeMaxSleep: Duration = .seconds(3600)
        public var onAlertNotified: @Sendable () -> Void = {}
        public var onAlertDelivery: @Sendable (AlertDispatcher.Channel, AlertDispatcher.Result) -> Void = { _, _ in }
        public var onDeliveryRound: @Sendable (Int, Bool) -> Void = { _, _ in }
        /// After each housekeeping step (the daemon says a change of the outbox's writability on
        /// systemd's STATUS line from here: one wake-up every 2 s for both).
        public var onHousekeeping: @Sendable () -> Void = {}
        public init() {}
    }

    /// Builds the services of `config` over `engine` and `outbox`.
    ///
    /// - Parameters:
    ///   - config: the checked station config; `registry.publicKey` is sent as it is.
    ///   - world: the clock, backend and network (real or simulated).
    public static func assemble(config: StationConfig, world: StationWorld, engine: StationEngine, outbox: Outbox,
                                logger: Logger, callbacks: Callbacks = Callbacks()) -> StationServices {
        let clock = world.clock
        let journal = engine.journal
        let devices = DeviceMonitor(backend: world.backend, engine: engine, logger: logger, clock: clock,
                                    probeConcurrently: !world.simulatedTime, onReady: callbacks.onReady,
                                    onRound: callbacks.onProbeRound, maxSleep: callbacks.probeMaxSleep)
        var activities: [Activity] = []
        if let scenario = world.scenario {
            let deliver: (@Sendable (HotplugEvent) -> Void)? = world.simulatedTime ? { @Sendable (event: HotplugEvent) -> Void in devices.handle(event) } : nil
            let player = ScenarioPlayer(backend: scenario, logger: logger, start: world.scenarioStart, deliver: deliver)
            activities.append(player.activity)
        }
        activities.append(devices.activity)
        // A wall-clock step becomes a clock.step event; reports the disk refused are retried.
        activities.append(.periodic("housekeeping", every: world.housekeeping) { now in
            if let step = clock.checkStep() {
                let back = step < .zero
                let size = formatDuration(.seconds((abs(step.wholeMilliseconds) + 500) / 1000))
                engine.record(type: .clockStep, subject: .clock, from: nil, to: back ? "back" : "forward",
                              reason: "the wall clock stepped \(back ? "back" : "forward") by \(size); schedules are unchanged (monotonic), report times follow the wall clock",
                              now: now)
            }
            journal.retryHeld()
            callbacks.onHousekeeping()
        })
        if let sync = config.centrePull {
            let watch = SyncWatch(config: sync, engine: engine, read: world.centrePull)
            // The centre's pull time is a wall-clock time: judged against the wall clock.
            activities.append(.periodic("centre-pull", every: sync.interval) { _ in await watch.check(now: clock.wall()) })
        }
        if let uplinkConfig = config.uplink {
            let monitor = UplinkMonitor(config: uplinkConfig, engine: engine, now: clock.now(), reach: world.reach, route: world.route)
            activities.append(.periodic("uplink-watch", every: uplinkConfig.interval) { _ in await monitor.check(now: { clock.now() }) })
        }
        if let power = config.power {
            let monitor = PowerMonitor(config: power, engine: engine)
            activities.append(.periodic("power", every: power.interval) { now in monitor.check(now: now) })
        }
        let alerts: AlertService
        if let notify = world.notify {
            alerts = AlertService(engine: engine, config: config.alerts, logger: logger, clock: clock,
                                  onNotify: callbacks.onAlertNotified, deliver: notify)
        } else {
            let dispatcher = AlertDispatcher(config: config.alerts, logger: logger, onDelivery: callbacks.onAlertDelivery)
            alerts = AlertService(engine: engine, dispatcher: dispatcher, logger: logger, clock: clock,
                                  onNotify: callbacks.onAlertNotified)
        }
        activities.append(alerts.activity)
        var woken = [alerts.waker]
        var uplink: RegistryUplink?
        var delivery: RegistryUplinkService?
        if let registry = config.registry {
            let u = RegistryUplink(config: registry, outbox: outbox, engine: engine, seed: world.seed, link: world.link)
            let d = RegistryUplinkService(uplink: u, logger: logger, clock: clock, offload: !world.simulatedTime,
                                          onRound: callbacks.onDeliveryRound)
            activities.append(d.activity)
            woken.append(d.waker)
            uplink = u
            delivery = d
        }
        return StationServices(engine: engine, devices: devices, alerts: alerts, uplink: uplink, delivery: delivery,
                               activities: activities, wokenByReports: woken)
    }

    /// The services `ektpd run` runs for these activities, each on its own task: the device monitor
    /// (it enumerates and probes once, then follows hotplug and the probe schedule), the alert
    /// service (it lists the hooks first), and every other activity in an `ActivityService`.
    public func daemonServices(clock: any ServiceClock) -> [any Service] {
        activities.map { a -> any Service in
            switch a.name {
            case "devices": devices
            case "alerts": alerts
            default: ActivityService(a, clock: clock)
            }
        }
    }
}
