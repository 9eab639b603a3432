import EKTPModel

/// How the supervisor restarts the recording server.
public struct SupervisorPolicy: Sendable, Equatable {
    public enum OnCrashLoop: String, Sendable { case slow, stop }
    /// Liveness failures in a row before a running server is restarted.
    public var failAfter = 3
    /// Time after a start during which failed probes do not count (the server is still coming up).
    public var startGrace: Duration = .seconds(30)
    public var initialBackoff: Duration = .seconds(1)
    public var maxBackoff: Duration = .seconds(300)
    /// This many restarts within `crashLoopWindow` is a crash loop.
    public var crashLoopRestarts = 5
    public var crashLoopWindow: Duration = .seconds(600)
    /// Keep trying every `maxBackoff` (slow), or stop and wait for a person (stop).
    public var onCrashLoop: OnCrashLoop = .slow
    /// Up this long without interruption and the backoff and restart count start over (monit users ask
    /// for exactly this: its counter never resets).
    public var resetAfter: Duration = .seconds(600)

    public init() {}
}

/// The recording server's supervision as a value: inputs are process exits, probe results and the
/// passing of time; outputs are what to do. No processes, clocks or sockets: tested alone.
public struct SupervisorMachine: Sendable {
    public enum Action: Sendable, Equatable {
        /// Start the server (spawn the command, or `systemctl start`).
        case start
        /// Stop it (SIGTERM, then SIGKILL after a grace period; or `systemctl stop`).
        case stop(reason: String)
        case transition(from: ServerState, to: ServerState, reason: String)
        /// A restart is scheduled after this backoff.
        case restartScheduled(after: Duration, attempt: Int)
    }

    public let policy: SupervisorPolicy
    public private(set) var state: ServerState = .starting
    public private(set) var since: Timestamp
    public private(set) var startedAt: Timestamp?
    public private(set) var upSince: Timestamp?
    public private(set) var nextStartAt: Timestamp?
    public private(set) var restarts = 0
    public private(set) var recentRestarts: [Timestamp] = []
    public private(set) var backoffLevel = 0
    public private(set) var failures = 0
    public private(set) var lastReason: String?
    private var inCrashLoop = false
    private var stopping = false
    /// The start command exited 0 while the server answers: it went to the background, so there
    /// is no process of ours to watch, only the liveness probe (field case 10).
    public private(set) var detached = false

    public init(policy: SupervisorPolicy, now: Timestamp) {
        self.policy = policy
        self.since = now
    }

    /// The first start.
    public mutating func begin(now: Timestamp) -> [Action] {
        startedAt = now
        return [.start]
    }

    /// A liveness probe's result.
    public mutating func probed(ok: Bool, reason: String?, now: Timestamp) -> [Action] {
        var out: [Action] = []
        // Nothing is running to probe while waiting to restart, stopped, or in a crash loop's wait.
        if state == .restarting || state == .stopped || (state == .crashLoop && nextStartAt != nil) { return out }
        if ok {
            failures = 0
            if state != .up {
                upSince = now
                move(to: .up, reason: N_("answering its liveness probe"), now, &out)
            } else if let u = upSince, now - u >= policy.resetAfter, backoffLevel > 0 || !recentRestarts.isEmpty || inCrashLoop {
                backoffLevel = 0
                recentRestarts = []
                inCrashLoop = false
            }
            return out
        }
        if state == .starting, let s = startedAt, now - s < policy.startGrace { return out }
        failures += 1
        lastReason = reason
        if state == .up && failures < policy.failAfter { return out }
        if failures >= policy.failAfter && detached {
            // Nothing of ours to stop: start the command again, with the usual backoff.
            detached = false
            return exited(reason: "no answer to \(failures) liveness probes in a row: \(reason ?? "probe failed")", now: now)
        }
        if failures >= policy.failAfter && !stopping {
            stopping = true
            let why = "no answer to \(failures) liveness probes in a row: \(reason ?? "probe failed")"
            move(to: .unhealthy, reason: why, now, &out)
            out.append(.stop(reason: why))
        }
        return out
    }

    /// The start command exited with status 0 and the server answered its liveness probe right
    /// after: the command put the server in the background (`nohup ... &`, `pgbouncer -d`). Not a
    /// crash and no restart: the server is up, watched by its probe alone, and the reason says how
    /// to give ektpd a process to supervise (field case 10: this was a crash loop with a critical
    /// alert and a relaunch every 4 s while the server answered).
    public mutating func wentToBackground(now: Timestamp) -> [Action] {
        var out: [Action] = []
        stopping = false
        failures = 0
        detached = true
        let why = "the start command exited 0 and the server answers: it went to the background; run it in the foreground or use `server.unit`"
        lastReason = why
        if state != .up {
            upSince = now
            move(to: .up, reason: why, now, &out)
        }
        return out
    }

    /// The server's process ended (crashed, or stopped by us).
    public mutating func exited(reason: String, now: Timestamp) -> [Action] {
        detached = false
        var out: [Action] = []
        stopping = false
        failures = 0
        upSince = nil
        lastReason = reason
        recentRestarts.append(now)
        recentRestarts.removeAll { now - $0 > policy.crashLoopWindow }
        if recentRestarts.count >= policy.crashLoopRestarts {
            inCrashLoop = true
            let why = "\(recentRestarts.count) restarts within \(spokenDuration(policy.crashLoopWindow)): \(reason)"
            if policy.onCrashLoop == .stop {
                nextStartAt = nil
                move(to: .stopped, reason: why + "; not restarting (on_crash_loop: stop): fix it and run `systemctl restart ektpd`", now, &out)
                return out
            }
            nextStartAt = now.adding(policy.maxBackoff)
            move(to: .crashLoop, reason: why + "; retrying every \(spokenDuration(policy.maxBackoff))", now, &out)
            out.append(.restartScheduled(after: policy.maxBackoff, attempt: restarts + 1))
            return out
        }
        let delay = backoff(level: backoffLevel)
        backoffLevel += 1
        nextStartAt = now.adding(delay)
        move(to: .restarting, reason: reason, now, &out)
        out.append(.restartScheduled(after: delay, attempt: restarts + 1))
        return out
    }

    /// Time passes: start again when the backoff is over.
    public mutating func tick(now: Timestamp) -> [Action] {
        guard let next = nextStartAt, now >= next, state == .restarting || state == .crashLoop else { return [] }
        var out: [Action] = []
        nextStartAt = nil
        restarts += 1
        startedAt = now
        if state == .restarting { move(to: .starting, reason: "restart \(restarts)", now, &out) } else {
            since = now  // stays crash_loop until it has been up for reset_after
        }
        out.append(.start)
        return out
    }

    /// `initialBackoff` doubled per level, at most `maxBackoff`.
    public func backoff(level: Int) -> Duration {
        var d = policy.initialBackoff
        for _ in 0..<min(level, 40) {
            d = d * 2
            if d >= policy.maxBackoff { return policy.maxBackoff }
        }
        return min(d, policy.maxBackoff)
    }

    private mutating func move(to s: ServerState, reason: String, _ now: Timestamp, _ out: inout [Action]) {
        guard s != state else { return }
        out.append(.transition(from: state, to: s, reason: reason))
        state = s
        since = now
    }
}

