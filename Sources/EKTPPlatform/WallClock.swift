#if canImport(Glibc)
import Glibc
#endif
import EKTPModel

/// The system's wall-clock time.
public func wallClockNow() -> Timestamp {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Timestamp(millis: Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000)
}

/// The daemon's one clock: monotonic time for every interval, deadline, backoff and cadence, and
/// the wall clock only for the times written in reports (issue 12; field case 07: a wall clock
/// stepped back 2 h stopped every probe and snapshot scheduled on it).
///
/// `now()` is the **steady timeline**: the wall-clock time at start plus the time elapsed on
/// CLOCK_BOOTTIME (monotonic, and it counts a suspend, as systemd's timers do). It never steps, so
/// schedules computed from it (`next = now() + interval`) keep their cadence whatever the wall
/// clock does. `wall()` is CLOCK_REALTIME, for report timestamps. `checkStep()` notices when the
/// two disagree by more than `stepThreshold` since the last check (an NTP step, a dead CMOS battery,
/// an operator's `date -s`), so the daemon can record a `clock.step` event.
///
/// Thread-safe; every method is cheap (two clock_gettime calls).
public final class StationClock: Sendable {
    private let anchorWall: Int64
    private let anchorSteady: Int64
    private let offset: Mutex<Int64>
    /// Differences smaller than this are drift or NTP slewing, not a step.
    public let stepThreshold: Duration

    public init(stepThreshold: Duration = .seconds(60)) {
        self.stepThreshold = stepThreshold
        let w = wallClockNow().millis
        let m = Self.bootMillis()
        anchorWall = w
        anchorSteady = m
        offset = Mutex(0)
    }

    /// The steady timeline (milliseconds since 1970 at start, then monotonic).
    public func now() -> Timestamp { Timestamp(millis: anchorWall + (Self.bootMillis() - anchorSteady)) }

    /// The wall clock (CLOCK_REALTIME), for report times.
    public func wall() -> Timestamp { wallClockNow() }

    /// The wall clock minus the steady timeline now (zero until the wall clock steps or drifts):
    /// add it to a steady time to show it as a wall-clock time.
    public func wallOffset() -> Duration { .milliseconds(wallClockNow().millis - now().millis) }

    /// Milliseconds on the monotonic clock.
    public func monotonicMillis() -> Int64 { Self.bootMillis() }

    /// The step since the last call, when the wall clock moved against the steady one by more than
    /// `stepThreshold` (positive: forward). Nil when it did not.
    public func checkStep() -> Duration? {
        let d = wallClockNow().millis - now().millis
        return offset.withLock { o -> Duration? in
            let step = d - o
            guard abs(step) > stepThreshold.wholeMilliseconds else { return nil }
            o = d
            return .milliseconds(step)
        }
    }

    static func bootMillis() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_BOOTTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}

import Synchronization

/// Monotonic time in milliseconds, with the fraction (for latency figures).
public func monotonicMillisPrecise() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) * 1000 + Double(ts.tv_nsec) / 1_000_000
}

/// Monotonic time (CLOCK_MONOTONIC) in whole milliseconds: for timeouts and deadlines.
public func monotonicMillis() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}
