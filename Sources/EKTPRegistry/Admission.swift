import Synchronization

/// Admission control for the registry's writes (issue 17): at most `maxInFlight` ingests run at
/// once, at most `maxQueue` more wait (each at most `maxWait`, well inside a station's 20 s
/// timeout), and the rest are refused at once with 429 and a `Retry-After`, before their bodies are
/// read, so a whole province reconnecting after an outage cannot take the registry's memory or make
/// every station time out and send again. Stations honour `Retry-After` with jitter.
///
/// A `Retry-After` is a booking (issue 17: "no re-sent batches beyond the first refusals"): the
/// refused client's key (a hash of its credential) is held with the time it was told, and when it
/// comes back at or after that time it goes ahead of clients that were never refused, and while a
/// line of bookings stands, a newcomer takes only a place free at that moment (else it is booked at
/// the end of the line). Measured before this: with 15,000 stations reconnecting through an
/// 8,192-connection limit, the stations accepted late from the listen queue took the places
/// promised to those coming back, and 586-603 of 10,600 refusals were a station's second.
public final class Admission: Sendable {
    public let maxInFlight: Int
    public let maxQueue: Int
    public let maxWait: Duration

    /// The longest `Retry-After` given, in seconds (a whole country reconnecting is paced over
    /// minutes, not told to hammer every half minute).
    public let maxRetryAfter: Int

    struct Waiter { var id: UInt64; var booked: Bool; var continuation: CheckedContinuation<Bool, Never> }
    /// A refused client's place: from `due` (what its Retry-After said) it is let in ahead of
    /// newcomers for `writes` writes (its pending batches), while it keeps coming (`until`).
    struct Booking { var due: ContinuousClock.Instant; var until: ContinuousClock.Instant; var writes: Int }
    struct State {
        var inFlight = 0
        /// Booked waiters first (`bookedWaiting` of them), then the others, each in arrival order.
        var waiters: [Waiter] = []
        var bookedWaiting = 0
        var bookings: [Int: Booking] = [:]
        /// Bookings are swept for expired ones when they pass this count (amortised O(1)).
        var sweepAt = 1024
        /// Booked clients let in ahead of the line, and booked clients refused again (metrics, tests).
        var bookedAdmitted = 0
        var refusedAgain = 0
        var nextID: UInt64 = 0
        var refused = 0
        /// Seconds between two writes finishing while others waited (an exponential average from
        /// `priorDrain`, see `leave(now:)`): how fast a full queue drains. Nil until measured.
        var drainInterval: Double?
        var lastLeave: ContinuousClock.Instant?
        /// Whether the last write to finish handed its place to a waiter: only then were all
        /// places busy until the next one finished, and the time between them is a drain interval.
        var lastLeaveHanded = false
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

    /// The drain interval before any measurement, in seconds: 5 ms a place, 200 batches a second
    /// (40 k reports/s in batches of 200, about what one registry stores on 2 cores).
    static let priorDrain = 0.005

    /// The longest a client keeps its booking past its last write (or past its due time when it
    /// has not come yet, plus half its wait: stations add up to half again as jitter: at
    /// most 5 s now, without a cap in older releases).
    static let bookingGrace: Duration = .seconds(30)
    /// At most this many bookings are held (15,000 stations reconnecting need 15,000; past the
    /// cap a refused client is told its time but not held to it).
    public static let maxBookings = 200_000

    /// A key for `enter(key:)` and `retryAfterSeconds(key:)`: the credential's hash. Book more than
    /// one write only for a credential that was checked (the registry authenticates a refused
    /// request that asks for more: a made-up token with a huge weight would hold the line for everyone).
    public static func key(_ credential: String?) -> Int? {
        guard let credential, !credential.isEmpty else { return nil }
        var h = Hasher()
        h.combine(credential)
        return h.finalize()
    }

    /// Waits for a place; false when refused (the queue is full, a line of bookings stands and no
    /// place is free, or `maxWait` passed). A true must be matched by one `leave()`.
    ///
    /// - Parameters:
    ///   - key: the client's `Admission.key`: when it holds a booking that is due (from one second
    ///     before the time it was told: Retry-After is whole seconds), it waits ahead of every
    ///     client without one, in a queue of its own (`bookedQueueLimit`).
    ///   - now: the time (tests pass it; the booking's due time is compared with it).
    public func enter(key: Int? = nil, now: ContinuousClock.Instant = .now) async -> Bool {
        await admit(key: key, now: now) == .admitted
    }

    /// What `admit` decided: let in, refused, or refused although it came back at its booked time
    /// (the registry overbooked: `ektp_registry_ingest_refused_again_total`).
    public enum Verdict: Sendable, Equatable { case admitted, refused, refusedAgain }

    /// `enter(key:now:)`, saying whether a refused client held a booking.
    public func admit(key: Int? = nil, now: ContinuousClock.Instant = .now) async -> Verdict {
        enum Decision { case go, refuse, refuseAgain, wait(UInt64, booked: Bool) }
        let d = state.withLock { s -> Decision in
            var booked = false
            if let key, var b = s.bookings[key] {
                if now > b.until { s.bookings[key] = nil }
                else if now >= b.due.advanced(by: .seconds(-1)) {
                    booked = true
                    b.writes -= 1
                    b.until = max(b.until, now.advanced(by: Self.bookingGrace))
                    s.bookings[key] = b.writes > 0 ? b : nil
                }
            }
            if s.inFlight < maxInFlight && s.waiters.isEmpty {
                s.inFlight += 1
                if booked { s.bookedAdmitted += 1 }
                return .go
            }
            if booked {
                guard s.bookedWaiting < bookedQueueLimit(s) else { s.refused += 1; s.refusedAgain += 1; return .refuseAgain }
            } else {
                // Clients told to come back before this one are ahead of it.
                if let p = s.promised, p > now, !s.bookings.isEmpty { s.refused += 1; return .refuse }
                if s.waiters.count >= maxQueue { s.refused += 1; return .refuse }
            }
            s.nextID += 1
            return .wait(s.nextID, booked: booked)
        }
        switch d {
        case .go: return .admitted
        case .refuse: return .refused
        case .refuseAgain: return .refusedAgain
        case .wait(let id, let booked):
            let limit = maxWait
            // The deadline: if still waiting then, leave the queue refused.
            let timer = Task { [weak self] in
                try? await Task.sleep(for: limit)
                self?.expire(id)
            }
            let admitted = await withCheckedContinuation { (c: CheckedContinuation<Bool, Never>) in
                let resumeNow = state.withLock { s -> Bool in
                    // A place may have freed between the decision and now.
                    if s.inFlight < maxInFlight && s.waiters.isEmpty {
                        s.inFlight += 1
                        if booked { s.bookedAdmitted += 1 }
                        return true
                    }
                    let w = Waiter(id: id, booked: booked, continuation: c)
                    if booked {
                        s.waiters.insert(w, at: s.bookedWaiting)
                        s.bookedWaiting += 1
                    } else {
                        s.waiters.append(w)
                    }
                    return false
                }
                if resumeNow { c.resume(returning: true) }
            }
            timer.cancel()
            return admitted ? .admitted : booked ? .refusedAgain : .refused
        }
    }

    /// How many booked clients may wait: as many as drain within `maxWait` at the measured rate
    /// (at least `maxQueue`, at most 8,192). A waiter holds its connection and its header fields
    /// only (its body is read once it is let in), so the bound is time, not memory. With a bound of
    /// `maxQueue` (64), 15,000 stations reconnecting were refused again 0 to 2,722 times in three
    /// runs: a line promised at 0.8 of the drain time bunches up, and jitter spreads it only later.
    func bookedQueueLimit(_ s: State) -> Int {
        let wait = Double(maxWait / .microseconds(1)) / 1_000_000
        return min(8192, max(maxQueue, Int(wait / max(0.000_1, s.drainInterval ?? Self.priorDrain))))
    }

    /// Gives the place to the longest waiter, or frees it. `now`: when the write finished (tests
    /// pass it).
    ///
    /// The drain rate is measured between two writes finishing while every place stayed busy: the
    /// earlier one handed its place to a waiter. A write finishing after an idle spell is not a
    /// sample: measured from the last write before the spell, it made the drain look slow, the
    /// refused were told to come back later, and the registry stood idler still (found in
    /// `catchup.py`: a run fell to 9.5 k reports/s, 85-95 % of the machine idle, against 40 k).
    ///
    /// The average starts from `priorDrain` and takes a twentieth of each sample. A province
    /// reconnecting is placed in line within a second, mostly before any write finished, the rest
    /// by the first few samples: taken while the registry also refuses a thousand requests and
    /// warms its database connections, they were 3-6 times the drain that followed. The first
    /// sample used to replace the estimate and a tenth of each later one was taken: that placed
    /// the last stations up to 53 s out for 30 s of work (`catchup.py`, 1,000 stations: 20-25 k
    /// reports/s, against 53 k when the first samples happened to be fast). An average that
    /// believed faster samples sooner than slower ones was tried and left: it follows the lower
    /// edge of scattered samples, not their mean, and the line it promises runs ahead of the drain.
    public func leave(now: ContinuousClock.Instant = .now) {
        let next = state.withLock { s -> CheckedContinuation<Bool, Never>? in
            // Two writes finishing together may take the lock in the other order than their
            // clocks: the later time is kept, and a negative interval is no sample.
            defer { s.lastLeave = max(s.lastLeave ?? now, now) }
            if !s.waiters.isEmpty {
                if s.lastLeaveHanded, let last = s.lastLeave, now >= last {
                    let sample = Double((now - last) / .microseconds(1)) / 1_000_000
                    let e = s.drainInterval ?? Self.priorDrain
                    s.drainInterval = e + 0.05 * (sample - e)
                }
                s.lastLeaveHanded = true
                let w = s.waiters.removeFirst()
                if w.booked { s.bookedWaiting -= 1; s.bookedAdmitted += 1 }
                return w.continuation
            }
            s.lastLeaveHanded = false
            s.inFlight = max(0, s.inFlight - 1)
            return nil
        }
        next?.resume(returning: true)
    }

    private func expire(_ id: UInt64) {
        let c = state.withLock { s -> CheckedContinuation<Bool, Never>? in
            guard let i = s.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            s.refused += 1
            let w = s.waiters.remove(at: i)
            if w.booked { s.bookedWaiting -= 1; s.refusedAgain += 1 }
            return w.continuation
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
    /// - Parameters:
    ///   - weight: how many writes the refused client will make once in (a station's batches
    ///     still to send, from its `Ektp-Pending`; 1 to 1,000): its place takes that many writes'
    ///     time, so a station let in can send its backlog without being refused again.
    ///   - key: the client's `Admission.key`: the place is booked for it (see `enter(key:now:)`),
    ///     for `weight` writes.
    public func retryAfterSeconds(now: ContinuousClock.Instant = .now, weight: Int = 1, key: Int? = nil) -> Int {
        state.withLock { s in
            let interval = max(0.000_1, s.drainInterval ?? Self.priorDrain) * 0.8
            let writes = min(1000, max(1, weight))
            var slot = now.advanced(by: .microseconds(Int64(Double(s.waiters.count + s.inFlight) * interval * 1_000_000)))
            if let p = s.promised, p > slot { slot = p }
            s.promised = slot.advanced(by: .microseconds(Int64(interval * Double(writes) * 1_000_000)))
            let seconds = min(Double(maxRetryAfter), max(1, (Double((slot - now) / .microseconds(1)) / 1_000_000).rounded(.up)))
            if let key {
                if s.bookings.count >= s.sweepAt {
                    s.bookings = s.bookings.filter { $0.value.until >= now }
                    s.sweepAt = max(1024, s.bookings.count * 2)
                }
                if s.bookings.count < Self.maxBookings || s.bookings[key] != nil {
                    let due = now.advanced(by: .seconds(seconds))
                    s.bookings[key] = Booking(due: due, until: due.advanced(by: .seconds(seconds / 2)).advanced(by: Self.bookingGrace), writes: writes)
                }
            }
            return Int(seconds)
        }
    }

    /// How many requests were refused so far (metrics, tests).
    public var refused: Int { state.withLock { $0.refused } }
    /// Booked clients let in (ahead of the line), and booked clients refused again: the second
    /// refusals admission exists to avoid (a full booked queue, or `maxWait` passed).
    public var bookings: (admitted: Int, refusedAgain: Int, held: Int) {
        state.withLock { ($0.bookedAdmitted, $0.refusedAgain, $0.bookings.count) }
    }
    /// The measured drain interval in seconds (nil before the first sample; tests).
    var drainSeconds: Double? { state.withLock { $0.drainInterval } }
    /// Ingests running now and waiting now.
    public var load: (inFlight: Int, queued: Int) { state.withLock { ($0.inFlight, $0.waiters.count) } }
}
