import EKTPCore
import EKTPModel
import EKTPPlatform
import Logging
import ServiceLifecycle
import Synchronization

/// Runs the alert rules on every state change (and at each deadline of the life cycle), and hands
/// what is due to the dispatcher. Rules wait for the first probe round: no alerts from guesses.
public final class AlertService: Service, Sendable {
    let engine: StationEngine
    let logger: Logger
    let lifecycle: Mutex<AlertLifecycle>
    let waker = Waker()
    let sent = Mutex<Int>(0)
    let onNotify: @Sendable () -> Void

    /// The alert configuration (rules' thresholds, the life cycle's timings, hooks and webhooks).
    let config: AlertConfig
    /// Where a notification goes: the dispatcher's hooks and webhooks in the daemon, a tally in
    /// `ektpd simulate`.
    let deliver: @Sendable (AlertLifecycle.Notification) -> Void
    let clock: any ServiceClock
    var now: Timestamp { clock.now() }

    /// Alerts through the dispatcher (hooks, webhooks): `ektpd run`.
    public convenience init(engine: StationEngine, dispatcher: AlertDispatcher, logger: Logger, clock: any ServiceClock,
                            onNotify: @escaping @Sendable () -> Void = {}) {
        self.init(engine: engine, config: dispatcher.config, logger: logger, clock: clock, onNotify: onNotify,
                  deliver: { dispatcher.dispatch($0) })
    }

    /// Alerts to `deliver`: `ektpd simulate` counts what the hooks and webhooks would be sent.
    public init(engine: StationEngine, config: AlertConfig, logger: Logger, clock: any ServiceClock,
                onNotify: @escaping @Sendable () -> Void = {},
                deliver: @escaping @Sendable (AlertLifecycle.Notification) -> Void) {
        self.onNotify = onNotify
        self.engine = engine
        self.config = config
        self.deliver = deliver
        self.logger = logger
        self.clock = clock
        lifecycle = Mutex(AlertLifecycle(config: config.lifecycle, station: engine.stationID, site: engine.site))
    }

    /// Alerts firing now (for metrics and `ektpd status`).
    public var firing: [Alert] { lifecycle.withLock { $0.firing } }
    /// Notifications handed to the dispatcher so far.
    public var notificationsSent: Int { sent.withLock { $0 } }

    /// The rules as an activity: evaluated at each life-cycle deadline, when a report wakes it, and
    /// at least every minute (some inputs, such as delivery, change without a report).
    public var activity: Activity {
        Activity(name: "alerts", waker: waker) { [self] now in
            step() ?? now.adding(.seconds(60))
        }
    }

    public func run() async throws {
        let (hooks, refused) = HookRunner.list(config.hooksDirectory)
        for r in refused { logger.error("hook \(r.path) will not run: \(r.reason)") }
        logger.info("alerts: \(hooks.count) hook(s) in \(config.hooksDirectory), \(config.webhooks.count) webhook(s); group wait \(spokenDuration(config.lifecycle.groupWait)), repeat every \(spokenDuration(config.lifecycle.repeatInterval))")
        // Woken by every report through `StationServices.wokenByReports` (the daemon's event
        // reporter wakes them all): no subscription of its own.
        try await ActivityService(activity, clock: clock).run()
    }

    /// One evaluation: observe the status, send what is due. Returns the next deadline.
    @discardableResult
    func step() -> Timestamp? {
        guard engine.isSettled else { return nil }  // settling emits the kit event that wakes us
        let t = now
        let evaluation = AlertRules.evaluate(engine.status(now: t), blanksLow: config.blanksLow)
        let (due, next) = lifecycle.withLock { l -> (AlertLifecycle.Notification?, Timestamp?) in
            l.observe(evaluation, now: t)
            return (l.take(now: t), l.nextDeadline)
        }
        if let due {
            sent.withLock { $0 += 1 }
            onNotify()
            let names = due.payload.alerts.map { "\($0.labels["alertname"] ?? "?")=\($0.status)" }.joined(separator: ", ")
            logger.notice("alert notification (\(due.isRepeat ? "repeat" : due.payload.status)): \(names)")
            deliver(due)
        }
        return next
    }
}
