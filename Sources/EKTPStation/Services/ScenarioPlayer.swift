import EKTPHardware
import EKTPModel
import Logging
import ServiceLifecycle

/// Plays a scenario's timeline in real time against the simulated backend (`ektpd run` on a scenario).
public struct ScenarioPlayer: Service {
    let backend: SimulatedBackend
    let logger: Logger

    public init(backend: SimulatedBackend, logger: Logger) {
        self.backend = backend
        self.logger = logger
    }

    public func run() async throws {
        let clock = ContinuousClock()
        let start = clock.now
        try await cancelOnShutdown {
            while let next = backend.nextStepTime {
                try await clock.sleep(until: start.advanced(by: next))
                for (step, _) in backend.advance(to: clock.now - start) {
                    logger.notice("scenario: \(step.fault) on \(step.device)", metadata: ["at": "\(step.at)"])
                }
            }
            // Timeline done: stay until shutdown.
            try await Task.sleep(for: .seconds(365 * 86400))
        }
    }
}
