import EKTPCore
import EKTPModel
import EKTPPlatform
import Logging
import ServiceLifecycle
import Synchronization

/// Runs the registry uplink: woken when a report reaches the outbox, otherwise at the next retry,
/// snapshot or heartbeat. In the daemon the network I/O happens on a thread of its own; in
/// `ektpd simulate` (`offload` off) on the scheduler's, so the scenario's clock waits for it.
public final class RegistryUplinkService: Service, Sendable {
    let uplink: RegistryUplink
    let waker: Waker
    let logger: Logger
    let clock: any ServiceClock
    let offload: Bool
    /// After each round: reports delivered, and whether it failed (for metrics).
    let onRound: @Sendable (Int, Bool) -> Void
    /// Whether the last round failed (the log says a failure once, and says when it works again).
    private let failing = Mutex(false)

    public init(uplink: RegistryUplink, waker: Waker = Waker(), logger: Logger, clock: any ServiceClock, offload: Bool = true,
                onRound: @escaping @Sendable (Int, Bool) -> Void = { _, _ in }) {
        self.onRound = onRound
        self.uplink = uplink
        self.waker = waker
        self.logger = logger
        self.clock = clock
        self.offload = offload
    }

    /// One round as an activity: a snapshot if due, then delivery; next at the retry or heartbeat,
    /// or at the next snapshot when something changed. A wake waits 100 ms first, so a burst of
    /// reports (a kit falling apart) goes in one batch.
    public var activity: Activity {
        Activity(name: "uplink", waker: waker, settle: .milliseconds(100)) { [self] now in
            await step(now: now)
        }
    }

    public func run() async throws {
        try await ActivityService(activity, clock: clock).run()
    }

    /// The longest wait until the next round for which the connection to the registry is kept:
    /// under `ektp-registry serve`'s default `--idle-timeout` of 60 s.
    static let keepConnection: Duration = .seconds(45)

    func step(now t0: Timestamp) async -> Timestamp {
        let uplink = self.uplink, clock = self.clock
        uplink.snapshotIfDue(now: t0)
        let round = offload ? await offloaded { uplink.round(now: { clock.now() }) } : uplink.round(now: { clock.now() })
        onRound(round.delivered, round.error != nil)
        let wasFailing = failing.withLock { $0 }
        if let e = round.error {
            if !wasFailing || uplink.failures % 10 == 0 {
                logger.warning("registry delivery failed (\(uplink.failures) in a row), retrying at \(round.next): \(e)")
            }
            failing.withLock { $0 = true }
        } else if round.attempted {
            // Only a round that reached the registry says it works (not one that waited).
            if wasFailing { logger.notice("registry delivery works again") }
            failing.withLock { $0 = false }
            if round.forgotten > 0 {
                logger.info("the registry already holds \(round.forgotten) pending report(s) (a courier brought them, or a batch was stored and its answer lost): forgotten, not sent")
            }
            if round.delivered > 0 {
                logger.info("delivered \(round.delivered) report(s) to the registry in \(round.batches) batch(es)")
            }
        }
        // Until the next retry or heartbeat, or the next snapshot when something changed.
        var until = round.next
        if uplink.engine.changedSinceSnapshot {
            until = min(until, clock.now().adding(uplink.config.snapshotSpacing))
        }
        // Idle past what the registry keeps a connection for (60 s): the connection would be
        // closed by the other end anyway; close it here, and free what libcurl holds for it.
        if until > clock.now().adding(Self.keepConnection) { uplink.client.releaseConnection() }
        return max(until, clock.now().adding(.milliseconds(10)))
    }
}
