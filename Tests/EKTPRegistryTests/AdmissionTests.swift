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
        let a = Admission(maxInFlight: 1, maxQueue: 200, maxWait: .seconds(30))
        #expect(await a.enter())
        // 120 more wait; each place frees 40 ms after the last.
        let waiting = (0..<120).map { _ in Task { await a.enter() } }
        while a.load.queued < 120 { await Task.yield() }
        let t = ContinuousClock.now
        // A few slow samples move the estimate from its prior (5 ms) little: 10 at 40 ms leave it under 20 ms.
        for i in 0..<11 { a.leave(now: t.advanced(by: .milliseconds(40 * i))) }
        let early = try #require(a.drainSeconds)
        #expect(early > 0.010 && early < 0.020, "\(early)")
        // Kept up, they are believed: 109 more bring it within 2 ms of 40.
        for i in 11..<120 { a.leave(now: t.advanced(by: .milliseconds(40 * i))) }
        for w in waiting { #expect(await w.value) }
        #expect(try #require(a.drainSeconds) > 0.038)
        // 100 refusals at >= 30 ms each (0.8 of 38) reach past 3 s (unmeasured, they would have stayed under 1 s).
        let later = t.advanced(by: .seconds(60))
        let afters = (0..<100).map { _ in a.retryAfterSeconds(now: later) }
        #expect(afters.last! >= 4, "\(afters)")
        a.leave(now: later)
    }

    /// A write finishing after an idle spell is not a slow drain (catchup.py: measured from the
    /// last write before the spell, it stretched every Retry-After, and the registry idled more:
    /// 9.5 k reports/s with the machine 85-95 % idle).
    @Test func anIdleSpellIsNotMeasuredAsADrain() async throws {
        let a = Admission(maxInFlight: 1, maxQueue: 8, maxWait: .seconds(30))
        let t = ContinuousClock.now
        #expect(await a.enter())
        a.leave(now: t)  // nobody waited
        #expect(await a.enter())
        let waiting = (0..<3).map { _ in Task { await a.enter() } }
        while a.load.queued < 3 { await Task.yield() }
        // A minute later the running write finishes; the next ones 10 ms apart.
        let later = t.advanced(by: .seconds(60))
        for i in 0..<3 { a.leave(now: later.advanced(by: .milliseconds(10 * i))) }
        for w in waiting { #expect(await w.value) }
        a.leave(now: later.advanced(by: .milliseconds(30)))
        // Two samples of 10 ms from the 5 ms prior: 5.25, then 5.4875 ms (4.39 ms promised), and
        // 100 refusals reach 0.44 s. With the minute as a sample the estimate was 48.6 s, and the
        // refusals after the first were told 39 s apart, up to the 600 s cap.
        #expect(abs(try #require(a.drainSeconds) - 0.0054875) < 1e-6)
        let afters = (0..<100).map { _ in a.retryAfterSeconds(now: later.advanced(by: .milliseconds(30))) }
        #expect(afters.last! == 1, "\(afters)")
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
        let tokens = [try await o.registry.issueToken(station: "big", now: T0), try await o.registry.issueToken(station: "small", now: T0),
                      try await o.registry.issueToken(station: "odd", now: T0), try await o.registry.issueToken(station: "tens", now: T0),
                      try await o.registry.issueToken(station: "after", now: T0)]
        try await Application(router: router).test(.router) { client in
            func refused(pending: String?, batch: String? = nil, token: String, expect: HTTPResponse.Status = .tooManyRequests) async throws -> Int {
                var h: HTTPFields = [.contentType: "application/json", .authorization: "Bearer \(token)"]
                if let pending { h[HTTPField.Name(ReportBatch.pendingHeader)!] = pending }
                if let batch { h[HTTPField.Name(ReportBatch.batchSizeHeader)!] = batch }
                let r = try await client.execute(uri: "/v1/reports", method: .post, headers: h, body: ByteBuffer(string: "{}"))
                #expect(r.status == expect)
                return Int(r.headers[.retryAfter] ?? "") ?? -1
            }
            // Made-up tokens with a huge Ektp-Pending are refused as unknown (401), and book nothing:
            // before, they held the line for 10 minutes and real stations were told to wait it out.
            for i in 0..<50 {
                #expect(try await refused(pending: "200000000", token: "ektp_made_up_\(i)", expect: .unauthorized) == -1)
            }
            #expect(admission.bookings.held == 0)
            // 200,000 reports are 1,000 batches of 200: 1,000 x 4 ms (nothing measured yet) of line.
            #expect(try await refused(pending: "200000", token: tokens[0]) == 1)
            let next = try await refused(pending: nil, token: tokens[1])
            #expect(next >= 5, "placed after the 1,000 batches: \(next)")
            // Unreadable counts as one batch.
            #expect(try await refused(pending: "lots", token: tokens[2]) == next)
            // 10,000 reports in batches of 10 (Ektp-Batch-Size) are 1,000 batches, 4 s of line: at
            // 200 a batch they would be 50, 0.2 s. An unreadable or out-of-range size counts as 200.
            #expect(try await refused(pending: "10000", batch: "10", token: tokens[3]) == next)
            let later = try await refused(pending: "10000", batch: "0", token: tokens[4])
            #expect(later >= next + 4, "placed after 1,000 batches of 10: \(later) against \(next)")
            #expect(try await refused(pending: nil, token: tokens[1]) <= later + 1, "batch size 0 counted as 200: 50 batches, 0.2 s")
            #expect(admission.bookings.held == 5)
        }
        admission.leave()
    }

    /// A client told to come back is let in ahead of the clients waiting without a booking, and
    /// from its due time only (issue 17: no second refusals; before, stations accepted late took
    /// the places promised to those coming back).
    @Test func aBookedClientComingBackGoesAheadOfTheQueue() async throws {
        let a = Admission(maxInFlight: 1, maxQueue: 1, maxWait: .seconds(60))
        #expect(await a.enter(), "the one place")
        let plain = Task { await a.enter() }
        while a.load.queued < 1 { await Task.yield() }
        let t = ContinuousClock.now
        let booked = try #require(Admission.key("Bearer station-a"))
        #expect(await a.enter(key: booked, now: t) == false, "queue full: refused")
        let after = a.retryAfterSeconds(now: t, key: booked)
        #expect(after == 1)
        #expect(a.bookings.held == 1)
        // Another client, never refused, is refused too: the queue is full.
        #expect(await a.enter(key: Admission.key("Bearer station-b"), now: t) == false)
        // Station A comes back at its time: it waits in the booked queue, ahead of the plain waiter.
        let back = Task { await a.enter(key: booked, now: t.advanced(by: .seconds(after))) }
        while a.load.queued < 2 { await Task.yield() }
        #expect(a.bookings.held == 0, "one pending batch: the booking is used")
        a.leave()
        #expect(await back.value, "the booked client gets the freed place")
        #expect(a.load.queued == 1, "the plain waiter still waits")
        a.leave()
        #expect(await plain.value)
        a.leave()
        #expect(a.bookings.admitted == 1 && a.bookings.refusedAgain == 0)
    }

    /// While a line of bookings stands, a newcomer is not queued ahead of it: it gets a place only
    /// if one is free right then, else it is booked at the end of the line. A client coming back
    /// too early is a newcomer; one whose booking has lapsed is a newcomer.
    @Test func newcomersQueueBehindTheBookedLine() async throws {
        let a = Admission(maxInFlight: 1, maxQueue: 8, maxWait: .seconds(60))
        let t = ContinuousClock.now
        // 2,000 stations refused at t, one batch each: a line of about 8 s (4 ms a place, unmeasured).
        let keys = (0..<2000).map { Admission.key("Bearer s-\($0)")! }
        let afters = keys.map { a.retryAfterSeconds(now: t, key: $0) }
        #expect(afters.last! >= 7)
        #expect(await a.enter(now: t), "a place free right now is taken, line or not")
        #expect(await a.enter(key: Admission.key("Bearer newcomer"), now: t.advanced(by: .seconds(1))) == false,
                "the queue has room, but the line is ahead of it")
        let late = keys[1999]
        #expect(await a.enter(key: late, now: t.advanced(by: .seconds(2))) == false, "6 s early: not its turn")
        // The last one, at its time, waits (ahead of anyone without a booking).
        let onTime = Task { await a.enter(key: late, now: t.advanced(by: .seconds(afters[1999]))) }
        while a.load.queued < 1 { await Task.yield() }
        a.leave()
        #expect(await onTime.value)
        a.leave()
        // An hour later every booking has lapsed and the line is over: back to queueing.
        let hour = t.advanced(by: .seconds(3600))
        #expect(await a.enter(key: keys[0], now: hour))
        let queued = Task { await a.enter(key: keys[1], now: hour) }
        while a.load.queued < 1 { await Task.yield() }
        a.leave()
        #expect(await queued.value)
        a.leave()
        #expect(a.bookings.admitted == 1, "only the one on time was let in as booked")
    }

    /// A station with many batches left keeps its place for all of them: let in at its time, its
    /// next batches are booked too, so it is not refused again half-way through its backlog.
    @Test func aBookingCoversTheBatchesTheStationSaidItHad() async throws {
        let a = Admission(maxInFlight: 1, maxQueue: 4, maxWait: .seconds(60))
        let t = ContinuousClock.now
        let key = try #require(Admission.key("Bearer big"))
        let after = a.retryAfterSeconds(now: t, weight: 3, key: key)
        for i in 0..<2000 { _ = a.retryAfterSeconds(now: t, key: Admission.key("Bearer other-\(i)")) }
        #expect(await a.enter(now: t), "someone else holds the place")
        let due = t.advanced(by: .seconds(after))
        for i in 0..<3 {
            let w = Task { await a.enter(key: key, now: due.advanced(by: .milliseconds(10 * i))) }
            while a.load.queued < 1 { await Task.yield() }
            a.leave()
            #expect(await w.value, "batch \(i + 1) of 3 let in as booked")
        }
        #expect(a.bookings.admitted == 3)
        // The fourth is past what it said: a newcomer again, behind the line.
        #expect(await a.enter(key: key, now: due.advanced(by: .milliseconds(40))) == false)
        a.leave()
    }

    /// Booked clients may wait past `maxQueue`, as many as drain within `maxWait`: a line promised
    /// at 0.8 of the drain time bunches up, and refusing the bunch would be their second refusal.
    @Test func bookedClientsWaitPastTheQueueBoundWhileTheyDrainInTime() async throws {
        let a = Admission(maxInFlight: 1, maxQueue: 1, maxWait: .seconds(60))
        let t = ContinuousClock.now
        let keys = (0..<5).map { Admission.key("Bearer bunch-\($0)")! }
        let afters = keys.map { a.retryAfterSeconds(now: t, key: $0) }
        #expect(Set(afters) == [1], "five places of 4 ms: all told 1 s")
        #expect(await a.enter(now: t))
        var waiting: [Task<Bool, Never>] = []
        for k in keys {
            waiting.append(Task { await a.enter(key: k, now: t.advanced(by: .seconds(1))) })
            while a.load.queued < waiting.count { await Task.yield() }
        }
        #expect(a.load.queued == 5, "five booked waiters with a queue bound of 1")
        for w in waiting {
            a.leave()
            #expect(await w.value)
        }
        a.leave()
        #expect(a.bookings.admitted == 5 && a.bookings.refusedAgain == 0)
    }
}
