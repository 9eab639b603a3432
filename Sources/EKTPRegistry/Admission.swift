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

    struct Waiter { var id: UInt64; var continuation: CheckedContinuation<Bool, Never> }
    struct State {
        var inFlight = 0
        var waiters: [Waiter] = []
        var nextID: UInt64 = 0
        var refused = 0
    }
    private let state = Mutex(State())

    public init(maxInFlight: Int = 8, maxQueue: Int = 64, maxWait: Duration = .seconds(5)) {
        self.maxInFlight = max(1, maxInFlight)
        self.maxQueue = max(0, maxQueue)
        self.maxWait = maxWait
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
        let next = state.withLock { s -> CheckedContinuation<Bool, Never>? in
            if !s.waiters.isEmpty { return s.waiters.removeFirst().continuation }
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

    /// Seconds a refused station should wait: longer the fuller the queue (1 to 30).
    public var retryAfterSeconds: Int {
        let queued = state.withLock { $0.waiters.count }
        return min(30, 1 + queued * 2 / maxInFlight)
    }

    /// How many requests were refused so far (metrics, tests).
    public var refused: Int { state.withLock { $0.refused } }
    /// Ingests running now and waiting now.
    public var load: (inFlight: Int, queued: Int) { state.withLock { ($0.inFlight, $0.waiters.count) } }
}
