import EKTPModel

/// Up and down periods of the server over the last 7 days, for availability figures.
///
/// Only observed time counts: before the daemon started (or while it was not running) is neither
/// up nor down, so a daemon started an hour ago reports over that hour, and says so.
public struct AvailabilityLog: Sendable, Equatable {
    /// Periods as (start, end, up); the last one is open and ends at `now`.
    private(set) var periods: [(start: Timestamp, end: Timestamp?, up: Bool)] = []

    public init() {}

    public static func == (a: AvailabilityLog, b: AvailabilityLog) -> Bool {
        a.periods.count == b.periods.count && zip(a.periods, b.periods).allSatisfy { $0.start == $1.start && $0.end == $1.end && $0.up == $1.up }
    }

    /// Records that from `now` on the server is up (or not).
    public mutating func mark(up: Bool, at now: Timestamp) {
        if let last = periods.last, last.end == nil {
            if last.up == up { return }
            periods[periods.count - 1].end = now
        }
        periods.append((now, nil, up))
        let horizon = now.adding(.seconds(-8 * 86400))
        periods.removeAll { ($0.end ?? now) < horizon }
    }

    /// Closes the open period (the daemon stops watching).
    public mutating func pause(at now: Timestamp) {
        if let last = periods.last, last.end == nil { periods[periods.count - 1].end = now }
    }

    /// Share of observed time that was up in the `window` before `now`, and how much was observed.
    public func availability(window: Duration, now: Timestamp) -> (share: Double, observedSeconds: Int64) {
        let from = now.adding(.zero - window)
        var observed: Int64 = 0, up: Int64 = 0
        for p in periods {
            let s = max(p.start, from), e = min(p.end ?? now, now)
            guard e > s else { continue }
            let ms = e.millis - s.millis
            observed += ms
            if p.up { up += ms }
        }
        return (observed == 0 ? 0 : Double(up) / Double(observed), observed / 1000)
    }

    public func summary(now: Timestamp) -> Availability {
        let d = availability(window: .seconds(86400), now: now)
        let w = availability(window: .seconds(7 * 86400), now: now)
        return Availability(last24h: d.share, last7d: w.share, observed24hSeconds: d.observedSeconds, observed7dSeconds: w.observedSeconds)
    }
}
