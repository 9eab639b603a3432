import Synchronization

/// Admission control for the registry's writes (issue 17): at most `maxInFlight` ingests run at
/// once, at most `maxQueue` more wait (each at most `maxWait`, well inside a station's 20 s
/// timeout), and the rest are refused at once with 429 and a `Retry-After`, before their bodies are
/// read, so a whole province reconnecting after an outage cannot take the registry's memory or make
/// every station time out and send again. Stations honour `Retry-After` with jitter.
public final class Admission: Sendable {
    public let maxInFlight: Int
    public let maxQueue: Int
    public let maxWait: Duration

    /// The longest `Retry-After` given, in seconds (a whole country reconnecting is paced over
    /// minutes, not told to hammer every half minute).
    public let maxRetryAfter: Int

    struct Waiter { var id: UInt64; var continuation: CheckedContinuation<Bool, Never> }
    struct State {
        var inFlight = 0
        var waiters: [Waiter] = []
        var nextID: UInt64 = 0
        var refused = 0
        /// Seconds between two writes finishing while others waited (an exponential average): how
        /// fast a full queue drains. Nil until measured.
        var drainInterval: Double?
        var lastLeave: ContinuousClock.Instant?
        /// The latest time a refused request was told to come back; the next one is told later.
        var promised: ContinuousClock.Instant?
    }
    private let state = Mutex(State())

    public init(maxInFlight: Int = 8, maxQueue: Int = 64, maxWait: Duration = .seconds(5), maxRetryAfter: Int = 600) {
        self.maxInFlight = max(1, maxInFlight)
        self.maxQueue = max(0, maxQueue)
        self.maxWait = maxWait
        self.maxRetryAfter = max(1, maxRetryAfter)
    }

    /// Waits for a place; false when refused (the queue is full, or `maxWait` passed). A true
    /// must be matched by one `leave()`.
    public func enter() async -> Bool {
        enum Decision { case go, refuse, wait(UInt64) }
        let d = state.withLock { s -> Decision in
            if s.inFlight < maxInFlight && s.waiters.isEmpty { s.inFlight += 1; return .go }
            if s.waiters.count >= maxQueue { s.refused += 1; return .refuse }
            s.nextID += 1
            return .wait(s.nextID)
        }
        switch d {
        case .go: return true
        case .refuse: return false
        case .wait(let id):
            let limit = maxWait
            // The deadline: if still waiting then, leave the queue refused.
            let timer = Task { [weak self] in
                try? await Task.sleep(for: limit)
                self?.expire(id)
            }
            let admitted = await withCheckedContinuation { (c: CheckedContinuation<Bool, Never>) in
                let resumeNow = state.withLock { s -> Bool in
                    // A place may have freed between the decision and now.
                    if s.inFlight < maxInFlight && s.waiters.isEmpty { s.inFlight += 1; return true }
                    s.waiters.append(Waiter(id: id, continuation: c))
                    return false
                }
                if resumeNow { c.resume(returning: true) }
            }
            timer.cancel()
            return admitted
        }
    }

    /// Gives the place to the longest waiter, or frees it.
    public func leave() {
        let now = ContinuousClock.now
        let next = state.withLock { s -> CheckedContinuation<Bool, Never>? in
            defer { s.lastLeave = now }
            if !s.waiters.isEmpty {
                // Saturated: the time since the last write finished is how long a place takes to free.
                if let last = s.lastLeave {
                    let sample = Double((now - last) / .microseconds(1)) / 1_000_000
                    s.drainInterval = s.drainInterval.map { 0.9 * $0 + 0.1 * sample } ?? sample
                }
                return s.waiters.removeFirst().continuation
            }
            s.inFlight = max(0, s.inFlight - 1)
            return nil
        }
        next?.resume(returning: true)
    }

    private func expire(_ id: UInt64) {
        let c = state.withLock { s -> CheckedContinuation<Bool, Never>? in
            guard let i = s.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            s.refused += 1
            return s.waiters.remove(at: i).continuation
        }
        c?.resume(returning: false)
    }

    /// Seconds a refused request should wait (its `Retry-After`), and a place in line for it: the
    /// writes running and waiting drain first, then every request refused before it, each taking
    /// its writes (`weight`) at the measured time a place takes to free. So a province that
    /// reconnects at once is told to come back spread out at the rate the registry stores, rather
    /// than all at the same moment (issue 17: a Retry-After that grew only with the queue sent
    /// 1,000 stations away for 17 s while the registry stood idle, and back together).
    ///
    /// The line is promised a quarter faster than measured (each place 0.8 of the drain time): a
    /// station in catch-up has one batch in flight and waits for the answer before the next, so
    /// paced at exactly the drain rate the registry ran at 14.7 k reports/s with 20 second refusals
    /// in 985; at 0.8 it ran at 20.8 k/s with 437 (Benchmarks/catchup.py, 1,000 stations x 24 h;
    /// at 0.5, 20.8 k/s with 1,039; unweighted, 19.2 k/s with 3,764). 1 to `maxRetryAfter`. Before
    /// any measurement a place is taken to free in 5 ms: hopeful, since a request told too early is
    /// only refused again (its body unread) and placed by then by the measured rate, while one told
    /// too late leaves the registry idle.
    ///
    /// - Parameter weight: how many writes the refused client will make once in (a station's
    ///   batches still to send, from its `Ektp-Pending`; 1 to 1,000): its place takes that many
    ///   writes' time, so a station let in can send its backlog without being refused again.
    public func retryAfterSeconds(now: ContinuousClock.Instant = .now, weight: Int = 1) -> Int {
        state.withLock { s in
            let interval = max(0.000_1, s.drainInterval ?? 0.005) * 0.8
            var slot = now.advanced(by: .microseconds(Int64(Double(s.waiters.count + s.inFlight) * interval * 1_000_000)))
            if let p = s.promised, p > slot { slot = p }
            s.promised = slot.advanced(by: .microseconds(Int64(interval * Double(min(1000, max(1, weight))) * 1_000_000)))
            let seconds = Double((slot - now) / .microseconds(1)) / 1_000_000
            return min(maxRetryAfter, max(1, Int(seconds.rounded(.up))))
        }
    }

    /// How many requests were refused so far (metrics, tests).
    public var refused: Int { state.withLock { $0.refused } }
    /// Ingests running now and waiting now.
    public var load: (inFlight: Int, queued: Int) { state.withLock { ($0.inFlight, $0.waiters.count) } }
}
