import EKTPModel

/// When a station tries the registry again after a failed delivery: exponential backoff with
/// jitter, or the registry's own `Retry-After` when it said it is busy. Pure: no clock, no I/O; the
/// caller adds the wait to its own (monotonic) time.
///
/// - After the n-th failure in a row the wait is drawn uniformly from [d/2, d], with
///   d = min(max, base × 2^(n-1)) (AWS's "equal jitter": never sooner than half, so a fleet that
///   failed together spreads out without retrying at once).
/// - A busy registry (429/503 with Retry-After: issue 17) sets the wait to its figure plus up to
///   half again, at most 5 s more, so stations told the same whole second do not all come back in
///   it. Uncapped, the last stations of a catch-up (told 30 s and more) came back up to 15 s late
///   while the registry stood idle: 11-12 minutes for 21.6 M reports on PostgreSQL against 9.4-9.9
///   with the cap (`Benchmarks/catchup.py`). A tenth again, tried too, bunched 15,000 stations
///   reconnecting: 49-278 came back to a full line and were refused a second time.
/// - The generator is seeded (SplitMix64): a simulation replays exactly.
public struct DeliveryBackoff: Sendable {
    public let base: Duration
    public let max: Duration
    var rng: SplitMix64
    /// Failed attempts in a row (zero after a success).
    public private(set) var failures = 0
    /// The registry's Retry-After for the next wait, when it gave one.
    var busyFor: Duration?

    public init(base: Duration, max: Duration, seed: UInt64) {
        self.base = base
        self.max = max
        rng = SplitMix64(seed: seed)
    }

    /// A delivery worked: the next failure starts from `base` again.
    public mutating func succeeded() { failures = 0 }

    /// The registry said it is busy and when to come back (seconds of Retry-After).
    public mutating func busy(retryAfter: Duration) { busyFor = retryAfter }

    /// A delivery failed: counts it and returns how long to wait before the next try.
    public mutating func failed() -> Duration {
        failures += 1
        if let busy = busyFor {
            busyFor = nil
            let ms = busy.wholeMilliseconds
            return .milliseconds(ms + Int64(rng.next() % UInt64(Swift.max(1, Swift.min(ms / 2, 5_000) + 1))))
        }
        let exp = Swift.min(max.wholeMilliseconds, base.wholeMilliseconds << Swift.min(Int64(failures - 1), 30))
        return .milliseconds(exp / 2 + Int64(rng.next() % UInt64(Swift.max(1, exp / 2 + 1))))
    }
}
