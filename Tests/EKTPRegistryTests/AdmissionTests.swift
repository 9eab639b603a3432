import Testing
@testable import EKTPRegistry

/// Admission control's Retry-After (issue 17): refused requests are told to come back spread out at
/// the rate the registry drains its writes, not all at the same moment.
@Suite struct AdmissionTests {
    @Test func refusedRequestsAreToldToComeBackSpreadAtTheDrainRate() async {
        let a = Admission(maxInFlight: 1, maxQueue: 0)
        #expect(await a.enter())
        #expect(await a.enter() == false, "no room and no queue: refused")
        // Nothing measured yet: a place is taken to free in 5 ms, plus a tenth.
        let t = ContinuousClock.now
        let afters = (0..<1000).map { _ in a.retryAfterSeconds(now: t) }
        #expect(afters.first == 1)
        #expect(afters == afters.sorted(), "a later refusal is never told to come back sooner")
        var perSecond: [Int: Int] = [:]
        for s in afters { perSecond[s, default: 0] += 1 }
        #expect(perSecond.values.allSatisfy { $0 <= 183 }, "at most 1 / 5.5 ms sent back for any one second: \(perSecond)")
        #expect(afters.last! >= 6, "1,000 refusals at 5.5 ms each reach past 5 s: \(afters.last!)")
        // An hour later the old promises are over: the line starts again.
        #expect(a.retryAfterSeconds(now: t.advanced(by: .seconds(3600))) == 1)
    }

    @Test func theDrainRateIsMeasuredFromWritesFinishingWhileOthersWait() async throws {
        let a = Admission(maxInFlight: 1, maxQueue: 8, maxWait: .seconds(30))
        #expect(await a.enter())
        // Four more wait; each place frees at least 40 ms after the last.
        let waiting = (0..<4).map { _ in Task { await a.enter() } }
        while a.load.queued < 4 { await Task.yield() }
        for _ in 0..<4 {
            try await Task.sleep(for: .milliseconds(40))
            a.leave()
        }
        for w in waiting { #expect(await w.value) }
        // 100 refusals at >= 44 ms each reach past 4 s (unmeasured, they would have stayed under 1 s).
        let t = ContinuousClock.now
        let afters = (0..<100).map { _ in a.retryAfterSeconds(now: t) }
        #expect(afters.last! >= 5, "\(afters)")
        a.leave()
    }

    @Test func retryAfterIsCapped() {
        let a = Admission(maxInFlight: 1, maxQueue: 0, maxRetryAfter: 3)
        let t = ContinuousClock.now
        #expect((0..<5000).map { _ in a.retryAfterSeconds(now: t) }.max() == 3)
    }
}
