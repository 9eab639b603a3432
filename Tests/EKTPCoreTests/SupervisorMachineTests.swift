import EKTPModel
import EKTPTesting
import Testing
@testable import EKTPCore

@Suite struct SupervisorMachineTests {
    let t0 = Timestamp(seconds: 1_790_000_000)
    func t(_ s: Int64) -> Timestamp { t0.adding(.seconds(s)) }

    var policy: SupervisorPolicy = {
        var p = SupervisorPolicy()
        p.failAfter = 3
        p.startGrace = .seconds(5)
        p.initialBackoff = .seconds(1)
        p.maxBackoff = .seconds(16)
        p.crashLoopRestarts = 5
        p.crashLoopWindow = .seconds(120)
        p.resetAfter = .seconds(60)
        return p
    }()

    @Test func startsAndComesUp() {
        var m = SupervisorMachine(policy: policy, now: t0)
        #expect(m.begin(now: t0) == [.start])
        #expect(m.probed(ok: true, reason: nil, now: t(1)) == [.transition(from: .starting, to: .up, reason: "answering its liveness probe")])
    }

    @Test func failuresDuringStartGraceDoNotCount() {
        var m = SupervisorMachine(policy: policy, now: t0)
        _ = m.begin(now: t0)
        for i in 1...4 { #expect(m.probed(ok: false, reason: "refused", now: t(Int64(i))).isEmpty) }
        #expect(m.failures == 0)
        _ = m.probed(ok: false, reason: "refused", now: t(6))
        _ = m.probed(ok: false, reason: "refused", now: t(7))
        let a = m.probed(ok: false, reason: "refused", now: t(8))
        #expect(a.contains(.stop(reason: "no answer to 3 liveness probes in a row: refused")))
        #expect(m.state == .unhealthy)
    }

    @Test func hungServerIsStoppedAfterThresholdThenRestartedWithBackoff() {
        var m = SupervisorMachine(policy: policy, now: t0)
        _ = m.begin(now: t0)
        _ = m.probed(ok: true, reason: nil, now: t(1))
        #expect(m.probed(ok: false, reason: "timeout", now: t(2)).isEmpty)
        #expect(m.probed(ok: false, reason: "timeout", now: t(3)).isEmpty)
        let stop = m.probed(ok: false, reason: "timeout", now: t(4))
        #expect(stop.last == .stop(reason: "no answer to 3 liveness probes in a row: timeout"))
        // a further failed probe while it is being stopped does not stop it twice
        #expect(!m.probed(ok: false, reason: "timeout", now: t(5)).contains { if case .stop = $0 { true } else { false } })
        let exit = m.exited(reason: "stopped by ektpd", now: t(6))
        #expect(exit.contains(.restartScheduled(after: .seconds(1), attempt: 1)))
        #expect(m.state == .restarting)
        #expect(m.tick(now: t(6)).isEmpty)  // backoff not over
        #expect(m.tick(now: t(7)).contains(.start))
        #expect(m.state == .starting)
        #expect(m.restarts == 1)
    }

    @Test func backoffDoublesUpToTheMaximum() {
        let m = SupervisorMachine(policy: policy, now: t0)
        #expect((0...6).map { m.backoff(level: $0) } == [1, 2, 4, 8, 16, 16, 16].map { Duration.seconds($0) })
    }

    @Test func crashLoopEscalatesAndKeepsTryingSlowly() {
        var m = SupervisorMachine(policy: policy, now: t0)
        _ = m.begin(now: t0)
        var now = t0
        var delays: [Duration] = []
        var escalated: [SupervisorMachine.Action] = []
        for _ in 0..<5 {
            now = now.adding(.seconds(1))
            for a in m.exited(reason: "exited with status 1", now: now) {
                if case .restartScheduled(let d, _) = a { delays.append(d) }
                if case .transition(_, .crashLoop, _) = a { escalated.append(a) }
            }
            if let next = m.nextStartAt { now = next; _ = m.tick(now: now) }
        }
        #expect(delays == [1, 2, 4, 8, 16].map { Duration.seconds($0) })
        #expect(escalated.count == 1)
        #expect(m.state == .crashLoop)
        if case .transition(_, _, let reason)? = escalated.first {
            #expect(reason.contains("5 restarts within 2 min") && reason.contains("retrying every 16 s"))
        }
        // comes up and stays up for reset_after: the counters start over, the loop is over
        _ = m.probed(ok: true, reason: nil, now: now.adding(.seconds(1)))
        #expect(m.state == .up)
        _ = m.probed(ok: true, reason: nil, now: now.adding(.seconds(70)))
        #expect(m.recentRestarts.isEmpty)
        #expect(m.backoffLevel == 0)
        let again = m.exited(reason: "exited with status 1", now: now.adding(.seconds(80)))
        #expect(again.contains(.restartScheduled(after: .seconds(1), attempt: m.restarts + 1)))
    }

    @Test func crashLoopWithStopPolicyStopsForGood() {
        var p = policy
        p.onCrashLoop = .stop
        p.crashLoopRestarts = 2
        var m = SupervisorMachine(policy: p, now: t0)
        _ = m.begin(now: t0)
        _ = m.exited(reason: "x", now: t(1))
        _ = m.tick(now: t(2))
        let a = m.exited(reason: "x", now: t(3))
        #expect(m.state == .stopped)
        #expect(m.nextStartAt == nil)
        #expect(a.contains { if case .transition(_, .stopped, let r) = $0 { r.contains("not restarting") } else { false } })
        #expect(m.tick(now: t(1000)).isEmpty)
    }

    @Test func restartsOutsideTheWindowAreNotALoop() {
        var m = SupervisorMachine(policy: policy, now: t0)
        _ = m.begin(now: t0)
        for i in 0..<10 {
            let now = t(Int64(i) * 100)  // one crash every 100 s; window 120 s holds at most 2
            _ = m.exited(reason: "x", now: now)
            _ = m.tick(now: now.adding(.seconds(50)))
        }
        #expect(m.state != .crashLoop)
    }
}

@Suite struct AvailabilityLogTests {
    let t0 = Timestamp(seconds: 1_790_000_000)

    @Test func countsOnlyObservedTime() {
        var log = AvailabilityLog()
        log.mark(up: false, at: t0)
        log.mark(up: true, at: t0.adding(.seconds(600)))  // 10 min down, then up
        let now = t0.adding(.seconds(3600))  // 50 min up
        let a = log.summary(now: now)
        #expect(abs(a.last24h - 50.0 / 60.0) < 1e-9)
        #expect(a.observed24hSeconds == 3600)
        #expect(a.last7d == a.last24h)
    }

    @Test func windowsCutOldPeriodsAndPausesAreNotDowntime() {
        var log = AvailabilityLog()
        log.mark(up: false, at: t0)                                // down for 2 days
        log.mark(up: true, at: t0.adding(.seconds(2 * 86400)))     // up for a day
        log.pause(at: t0.adding(.seconds(3 * 86400)))              // daemon off for a day
        log.mark(up: true, at: t0.adding(.seconds(4 * 86400)))     // up again for 12 h
        let now = t0.adding(.seconds(4 * 86400 + 43200))
        let a = log.summary(now: now)
        #expect(a.last24h == 1.0)                                   // 12 h observed, all up
        #expect(a.observed24hSeconds == 43200)
        #expect(abs(a.last7d - (1.5 / 3.5)) < 1e-9)                 // 1.5 days up of 3.5 observed
        log.mark(up: true, at: now)                                 // same state: no new period
        #expect(log.summary(now: now) == a)
    }
}
