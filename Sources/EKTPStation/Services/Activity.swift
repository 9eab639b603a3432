import EKTPCore
import EKTPModel
import EKTPPlatform
import ServiceLifecycle

/// One of a station's services as a step on a clock: it does its work at `now` and says when it
/// wants to run next. The same activities run in `ektpd run` (each in an `ActivityService`, on the
/// daemon's `StationClock`) and in `ektpd simulate` (all stations' activities in one scheduler on a
/// `ManualClock`), so the main job shows what the daemon does (issue 12, item 4).
public final class Activity: Sendable {
    /// For logs and tests: "devices", "alerts", "uplink", "centre-pull", ...
    public let name: String
    /// Wakes it before its next time (a hotplug for the device probes, a new report for the
    /// uplink and the alerts).
    public let waker: Waker
    /// How long it waits after each wait ends before its next step: a burst of reports (a kit
    /// falling apart) goes in one delivery. Zero for most.
    public let settle: Duration
    /// The longest it waits without a wake (half of systemd's WatchdogSec for the device probes).
    public let maxSleep: Duration
    let body: @Sendable (Timestamp) async -> Timestamp?

    /// - Parameter body: one step at the steady time given; returns the next time it is due (nil:
    ///   only when woken, or after `maxSleep`).
    public init(name: String, waker: Waker = Waker(), settle: Duration = .zero, maxSleep: Duration = .seconds(3600),
                body: @escaping @Sendable (Timestamp) async -> Timestamp?) {
        self.name = name
        self.waker = waker
        self.settle = settle
        self.maxSleep = maxSleep
        self.body = body
    }

    /// Runs one step at `now` (the steady timeline); returns when it is next due.
    public func step(now: Timestamp) async -> Timestamp? { await body(now) }

    /// An activity that runs `check` now and then every `interval` (the sync, uplink and power
    /// watchers, the clock-step check).
    public static func periodic(_ name: String, every interval: Duration,
                                check: @escaping @Sendable (Timestamp) async -> Void) -> Activity {
        Activity(name: name) { now in
            await check(now)
            return now.adding(interval)
        }
    }
}

/// Runs an activity on the daemon's clock until graceful shutdown: a step, then a wait until its
/// next time or a wake. Sleeping is measured on the monotonic clock (Task.sleep), never the wall.
public struct ActivityService: Service {
    let activity: Activity
    let clock: any ServiceClock

    public init(_ activity: Activity, clock: any ServiceClock) {
        self.activity = activity
        self.clock = clock
    }

    public func run() async throws {
        try await cancelOnShutdown { try await runLoop() }
    }

    /// The loop without the shutdown handling (DeviceMonitor runs it inside its own group).
    func runLoop() async throws {
        let a = activity
        while !Task.isCancelled {
            let next = await a.step(now: clock.now())
            let wait = next.map { max(.zero, $0 - clock.now()) } ?? a.maxSleep
            await a.waker.wait(timeout: min(wait, a.maxSleep))
            if a.settle > .zero { try await Task.sleep(for: a.settle) }
        }
    }
}
