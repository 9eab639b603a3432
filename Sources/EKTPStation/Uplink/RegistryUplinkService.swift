import EKTPModel
import Logging
import ServiceLifecycle

/// Runs the registry uplink in the daemon: woken when an event reaches the outbox, otherwise at
/// the next retry, snapshot or heartbeat. Network I/O happens on a thread of its own.
public struct RegistryUplinkService: Service {
    let uplink: RegistryUplink
    let waker: Waker
    let logger: Logger
    let now: @Sendable () -> Timestamp
    /// After each round: reports delivered, and whether it failed (for metrics).
    let onRound: @Sendable (Int, Bool) -> Void

    public init(uplink: RegistryUplink, waker: Waker, logger: Logger, now: @escaping @Sendable () -> Timestamp,
                onRound: @escaping @Sendable (Int, Bool) -> Void = { _, _ in }) {
        self.onRound = onRound
        self.uplink = uplink
        self.waker = waker
        self.logger = logger
        self.now = now
    }

    public func run() async throws {
        let uplink = self.uplink, logger = self.logger, now = self.now, waker = self.waker, onRound = self.onRound
        try await cancelOnShutdown {
            var failing = false
            while !Task.isCancelled {
                uplink.snapshotIfDue(now: now())
                let round = await offloaded { uplink.round(now: now) }
                onRound(round.delivered, round.error != nil)
                if let e = round.error {
                    if !failing || uplink.failures % 10 == 0 {
                        logger.warning("registry delivery failed (\(uplink.failures) in a row), retrying at \(round.next): \(e)")
                    }
                    failing = true
                } else if round.attempted {
                    // Only a round that reached the registry says it works (not one that waited).
                    if failing { logger.notice("registry delivery works again") }
                    failing = false
                    if round.forgotten > 0 {
                        logger.info("the registry already holds \(round.forgotten) pending report(s) (a courier brought them): forgotten, not sent")
                    }
                    if round.delivered > 0 {
                        logger.info("delivered \(round.delivered) report(s) to the registry in \(round.batches) batch(es)")
                    }
                }
                // Sleep until the next retry or heartbeat, or the next snapshot when something changed.
                var until = round.next
                if uplink.engine.changedSinceSnapshot {
                    until = min(until, now().adding(uplink.config.snapshotSpacing))
                }
                let wait = max(.milliseconds(10), until - now())
                await waker.wait(timeout: wait)
                // A burst of events (a kit falling apart) goes in one batch.
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
    }
}
