import EKTPModel
import EKTPTesting
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing
@testable import EKTPRegistry

/// Admission control's Retry-After (issue 17): refused requests are told to come back spread out at
/// the rate the registry drains its writes, not all at the same moment.
@Suite struct AdmissionTests {
    @Test func refusedRequestsAreToldToComeBackSpreadAtTheDrainRate() async {
        let a = Admission(maxInFlight: 1, maxQueue: 0)
        #expect(await a.enter())
        #expect(await a.enter() == false, "no room and no queue: refused")
        // Nothing measured yet: a place is taken to free in 5 ms, and promised at 0.8 of that.
        let t = ContinuousClock.now
        let afters = (0..<1000).map { _ in a.retryAfterSeconds(now: t) }
        #expect(afters.first == 1)
        #expect(afters == afters.sorted(), "a later refusal is never told to come back sooner")
        var perSecond: [Int: Int] = [:]
        for s in afters { perSecond[s, default: 0] += 1 }
        #expect(perSecond.values.allSatisfy { $0 <= 251 }, "at most 1 / 4 ms sent back for any one second: \(perSecond)")
        #expect(afters.last! >= 4, "1,000 refusals at 4 ms each reach 4 s: \(afters.last!)")
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
        // 100 refusals at >= 32 ms each (0.8 of 40) reach past 3 s (unmeasured, they would have stayed under 1 s).
        let t = ContinuousClock.now
        let afters = (0..<100).map { _ in a.retryAfterSeconds(now: t) }
        #expect(afters.last! >= 4, "\(afters)")
        a.leave()
    }

    @Test func retryAfterIsCapped() {
        let a = Admission(maxInFlight: 1, maxQueue: 0, maxRetryAfter: 3)
        let t = ContinuousClock.now
        #expect((0..<5000).map { _ in a.retryAfterSeconds(now: t) }.max() == 3)
    }

    /// Through the HTTP API: a refused station that says it has many reports left (Ektp-Pending)
    /// takes that many batches' time in the line, so the next refused one is placed after them.
    @Test func aStationsPendingReportsSizeItsPlaceInLine() async throws {
        let o = try #require(try await openRegistry(.sqlite))
        let admission = Admission(maxInFlight: 1, maxQueue: 0)
        #expect(await admission.enter(), "the one place, taken for the test")
        let router = RegistryHTTP.router(registry: o.registry, clock: .init(now: { T0 }), logger: Logger(label: "test"), admission: admission)
        try await Application(router: router).test(.router) { client in
            func refused(pending: String?) async throws -> Int {
                var h: HTTPFields = [.contentType: "application/json"]
                if let pending { h[HTTPField.Name(ReportBatch.pendingHeader)!] = pending }
                let r = try await client.execute(uri: "/v1/reports", method: .post, headers: h, body: ByteBuffer(string: "{}"))
                #expect(r.status == .tooManyRequests)
                return Int(r.headers[.retryAfter] ?? "") ?? -1
            }
            // 200,000 reports are 1,000 batches of 200: 1,000 x 4 ms (nothing measured yet) of line.
            #expect(try await refused(pending: "200000") == 1)
            let next = try await refused(pending: nil)
            #expect(next >= 5, "placed after the 1,000 batches: \(next)")
            // Unreadable counts as one batch.
            #expect(try await refused(pending: "lots") == next)
        }
        admission.leave()
    }
}
