import EKTPModel
import Synchronization

/// The one clock a station's services are given (issue 12, item 3 and 4): `now()` is the steady
/// timeline every interval, deadline, backoff and cadence is measured on; `wall()` the time written
/// into reports; `checkStep()` a wall-clock step since the last check.
///
/// `ektpd run` gives its services a `StationClock` (CLOCK_BOOTTIME under the wall time at start);
/// `ektpd simulate` gives the very same services a `ManualClock` that the simulation moves
/// (the scenario's time), so the main job runs what the daemon runs.
public protocol ServiceClock: Sendable {
    /// The steady timeline, milliseconds since 1970: never steps.
    func now() -> Timestamp
    /// The wall clock, for the times written in reports.
    func wall() -> Timestamp
    /// The wall-clock step since the last call, beyond the clock's threshold (positive: forward);
    /// nil when there was none.
    func checkStep() -> Duration?
}

extension StationClock: ServiceClock {}

/// A clock that moves only when told to: `ektpd simulate`'s scenario time, and tests'. Its wall
/// clock is its steady clock (a simulated station's clock is right; the registry judges skew with
/// the time it is given), so it never reports a step.
///
/// Thread-safe. `advance(to:)` never moves it backwards (a monotonic clock).
public final class ManualClock: ServiceClock {
    private let time: Mutex<Timestamp>

    public init(start: Timestamp) { time = Mutex(start) }

    public func now() -> Timestamp { time.withLock { $0 } }
    public func wall() -> Timestamp { now() }
    public func checkStep() -> Duration? { nil }

    /// Moves the clock to `t`; a `t` before now leaves it where it is.
    public func advance(to t: Timestamp) { time.withLock { $0 = max($0, t) } }
}
