import EKTPModel
import Logging
import ServiceLifecycle
import Synchronization

/// Runs the alert rules on every state change (and at each deadline of the life cycle), and hands
/// what is due to the dispatcher. Rules wait for the first probe round: no alerts from guesses.
public final class AlertService: Service, Sendable {
    let engine: StationEngine
    let dispatcher: AlertDispatcher
    let logger: Logger
    let now: @Sendable () -> Timestamp
    let lifecycle: Mutex<AlertLifecycle>
    let waker = Waker()
    let sent = Mutex<Int>(0)
    let onNotify: @Sendable () -> Void

    public init(engine: StationEngine, dispatcher: AlertDispatcher, logger: Logger, now: @escaping @Sendable () -> Timestamp,
                onNotify: @escaping @Sendable () -> Void = {}) {
        self.onNotify = onNotify
        self.engine = engine
        self.dispatcher = dispatcher
        self.logger = logger
        self.now = now
        lifecycle = Mutex(AlertLifecycle(config: dispatcher.config.lifecycle, station: engine.stationID, site: engine.site))
    }

    /// Alerts firing now (for metrics and `ektpd status`).
    public var firing: [Alert] { lifecycle.withLock { $0.firing } }
    /// Notifications handed to the dispatcher so far.
    public var notificationsSent: Int { sent.withLock { $0 } }

    public func run() async throws {
        let config = dispatcher.config
        let (hooks, refused) = HookRunner.list(config.hooksDirectory)
        for r in refused { logger.error("hook \(r.path) will not run: \(r.reason)") }
        logger.info("alerts: \(hooks.count) hook(s) in \(config.hooksDirectory), \(config.webhooks.count) webhook(s); group wait \(spokenDuration(config.lifecycle.groupWait)), repeat every \(spokenDuration(config.lifecycle.repeatInterval))")
        let events = engine.subscribe()
        let waker = self.waker
        let listener = Task {
            for await _ in events { waker.wake() }
        }
        defer { listener.cancel() }
        try await cancelOnShutdown { [self] in
            while !Task.isCancelled {
                let next = step()
                let wait = next.map { max(.milliseconds(1), $0 - now()) } ?? .seconds(60)  // some inputs (delivery) change without an event
                await waker.wait(timeout: wait)
            }
        }
    }

    /// One evaluation: observe the status, send what is due. Returns the next deadline.
    @discardableResult
    func step() -> Timestamp? {
        guard engine.isSettled else { return nil }  // settling emits the kit event that wakes us
        let t = now()
        let evaluation = AlertRules.evaluate(engine.status(now: t), blanksLow: dispatcher.config.blanksLow)
        let (due, next) = lifecycle.withLock { l -> (AlertLifecycle.Notification?, Timestamp?) in
            l.observe(evaluation, now: t)
            return (l.take(now: t), l.nextDeadline)
        }
        if let due {
            sent.withLock { $0 += 1 }
            onNotify()
            let names = due.payload.alerts.map { "\($0.labels["alertname"] ?? "?")=\($0.status)" }.joined(separator: ", ")
            logger.notice("alert notification (\(due.isRepeat ? "repeat" : due.payload.status)): \(names)")
            dispatcher.dispatch(due)
        }
        return next
    }
}
