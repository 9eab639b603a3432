import EKTPHardware
import EKTPCore
import EKTPModel
import EKTPPlatform
import Logging
import ServiceLifecycle

/// Plays a scenario's timeline against the simulated backend: each step at its time after `start`.
/// `ektpd run` on a scenario plays it in real time (the hotplug events reach the device monitor
/// through the backend's event stream); `ektpd simulate` plays it on the scenario's clock and hands
/// the events to the monitor itself (`deliver`), since nothing listens to the stream there.
public struct ScenarioPlayer: Sendable {
    let backend: SimulatedBackend
    let logger: Logger
    let start: Timestamp
    let deliver: (@Sendable (HotplugEvent) -> Void)?

    /// - Parameters:
    ///   - start: the steady time the scenario's offsets count from.
    ///   - deliver: where the events go when no one listens to `backend.events()`; nil when the
    ///     device monitor does.
    public init(backend: SimulatedBackend, logger: Logger, start: Timestamp, deliver: (@Sendable (HotplugEvent) -> Void)? = nil) {
        self.backend = backend
        self.logger = logger
        self.start = start
        self.deliver = deliver
    }

    /// Applies every step due at `now`; due again at the next step (nil when the timeline is done).
    public var activity: Activity {
        Activity(name: "scenario", maxSleep: .seconds(365 * 86400)) { [self] now in
            for (step, event) in backend.advance(to: now - start) {
                logger.notice("scenario: \(step.fault) on \(step.device)", metadata: ["at": "\(step.at)"])
                if let event, let deliver { deliver(event) }
            }
            return backend.nextStepTime.map { start.adding($0) }
        }
    }
}
