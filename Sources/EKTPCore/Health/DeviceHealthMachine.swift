import EKTPModel

/// One device's health as a value: feed it probe results and bus changes, it returns the
/// transitions to report. No clocks, no I/O; tested alone.
///
/// Rules: a first good probe makes an unknown device `ok` at once; `failAfter` failed probes in a
/// row make it `failed`, `failAfter` degraded ones `degraded`; `recoverAfter` good ones bring a failed
/// or degraded device back. Removal is `missing` at once (the kernel said so). Flapping is the share
/// of changes between good and bad over the last `flapWindow` results, with a start and a lower
/// stop threshold (Nagios' percent state change, unweighted).
public struct DeviceHealthMachine: Sendable, Equatable {
    public enum Transition: Sendable, Equatable {
        case health(from: Health, to: Health, reason: String?)
        case flapping(Bool, reason: String)
    }

    public private(set) var health: Health = .unknown
    public private(set) var since: Timestamp
    public private(set) var flapping = false
    public private(set) var reason: String?
    public private(set) var code: ProblemCode?
    public private(set) var failures = 0
    public private(set) var successes = 0
    public private(set) var degradations = 0
    /// Recent results, true = good (ok or degraded), oldest first.
    public private(set) var window: [Bool] = []
    let policy: HealthPolicy

    public init(policy: HealthPolicy, now: Timestamp) {
        self.policy = policy
        self.since = now
    }

    /// True while a change has been seen but not confirmed: probe sooner.
    public var isSettling: Bool {
        (failures > 0 && health != .failed) || (successes > 0 && (health == .failed || health == .degraded))
            || (degradations > 0 && health == .ok)
    }

    public mutating func probed(_ r: ProbeResult, at now: Timestamp) -> [Transition] {
        guard health != .missing else { return [] }
        var out: [Transition] = []
        record(good: r.outcome != .failed, into: &out)
        switch r.outcome {
        case .ok:
            successes += 1
            failures = 0
            degradations = 0
            if health == .unknown || ((health == .failed || health == .degraded) && successes >= policy.recoverAfter) {
                move(to: .ok, reason: nil, code: nil, at: now, &out)
            }
        case .degraded:
            degradations += 1
            failures = 0
            if health == .failed { successes += 1 } else { successes = 0 }
            if health == .unknown || (health == .ok && degradations >= policy.failAfter)
                || (health == .failed && successes >= policy.recoverAfter) {
                move(to: .degraded, reason: r.reason, code: r.code, at: now, &out)
            } else if health == .degraded {
                reason = r.reason
                code = r.code
            }
        case .failed:
            failures += 1
            successes = 0
            degradations = 0
            if health != .failed && failures >= policy.failAfter {
                move(to: .failed, reason: r.reason, code: r.code, at: now, &out)
            } else if health == .failed {
                reason = r.reason  // the newest reason is the most useful one
                code = r.code
            }
        }
        return out
    }

    /// The device left the bus.
    public mutating func removed(at now: Timestamp, reason: String = "not on the bus") -> [Transition] {
        guard health != .missing else { return [] }
        var out: [Transition] = []
        record(good: false, into: &out)
        failures = 0
        successes = 0
        degradations = 0
        move(to: .missing, reason: reason, code: .notFound, at: now, &out)
        return out
    }

    /// The device came back: unknown until its first probe.
    public mutating func added(at now: Timestamp) -> [Transition] {
        guard health == .missing else { return [] }
        var out: [Transition] = []
        move(to: .unknown, reason: N_("plugged in, not yet checked"), code: nil, at: now, &out)
        return out
    }

    private mutating func move(to h: Health, reason r: String?, code c: ProblemCode?, at now: Timestamp, _ out: inout [Transition]) {
        reason = r
        code = c
        guard h != health else { return }
        out.append(.health(from: health, to: h, reason: r))
        health = h
        since = now
        if h == .ok || h == .failed || h == .degraded { failures = 0; successes = 0; degradations = 0 }
    }

    private mutating func record(good: Bool, into out: inout [Transition]) {
        window.append(good)
        if window.count > policy.flapWindow { window.removeFirst(window.count - policy.flapWindow) }
        guard window.count >= policy.flapWindow else { return }  // judge only a full window
        var changes = 0
        for i in 1..<window.count where window[i] != window[i - 1] { changes += 1 }
        let share = Double(changes) / Double(window.count - 1)
        let pct = Int((share * 100).rounded())
        if !flapping && share >= policy.flapStart {
            flapping = true
            out.append(.flapping(true, reason: "changed state in \(pct)% of the last \(window.count) checks: check the cable and the port"))
        } else if flapping && share < policy.flapStop {
            flapping = false
            out.append(.flapping(false, reason: "stable again (\(pct)% changes in the last \(window.count) checks)"))
        }
    }
}
