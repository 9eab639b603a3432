import EKTPModel
import Logging
import ServiceLifecycle

/// Loads the fleet index (`FleetIndex`) at start and again just after each minute begins on the
/// registry's clock, so a `GET /v1/fleet`, a dashboard page or a Prometheus scrape seldom waits
/// for the load: 50-110 ms at 15,000 stations (Benchmarks/registry.py, "first read of a minute").
/// A read that comes before the refresh in a minute still loads it itself; two loads at once
/// are both correct (each merges with what ingests put there).
///
/// Never throws: a database that cannot be read is logged, and the next read tries again (and
/// says so to its client). Ends at graceful shutdown (`ektp-registry serve`'s service group).
public struct FleetIndexRefresh: Service {
    let registry: Registry
    let clock: RegistryHTTP.Clock
    let logger: Logger

    public init(registry: Registry, clock: RegistryHTTP.Clock, logger: Logger) {
        self.registry = registry
        self.clock = clock
        self.logger = logger
    }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do { try await registry.refreshFleetIndex(now: clock.now()) } catch {
                    logger.warning("cannot load the fleet index: \(error)")
                }
                // 50 ms into the next minute of the registry's clock (a simulation's clock file
                // moves faster: then reads load it as they need it).
                let millis = clock.now().millis
                try await Task.sleep(for: .milliseconds(60_000 - ((millis % 60_000) + 60_000) % 60_000 + 50))
            }
        }
    }
}
