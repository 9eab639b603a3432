import EKTPModel
import EKTPTesting
import Testing
@testable import EKTPCore

/// The pure pieces cut out of the delivery and the uplink watcher (issue 12, item 6): given
/// results and times, no clock and no network.
@Suite struct DeliveryBackoffTests {
    @Test func waitsDoubleWithJitterWithinHalfToWholeAndStopAtTheCap() {
        var b = DeliveryBackoff(base: .seconds(2), max: .seconds(60), seed: 7)
        let caps: [Int64] = [2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]
        for cap in caps {
            let w = b.failed().wholeMilliseconds
            #expect(w >= cap / 2 && w <= cap, "wait \(w) ms outside [\(cap / 2), \(cap)]")
        }
        #expect(b.failures == caps.count)
        b.succeeded()
        #expect(b.failures == 0)
        let first = b.failed().wholeMilliseconds
        #expect(first >= 1_000 && first <= 2_000, "after a success the wait starts from base again: \(first)")
    }

    @Test func aBusyRegistrysRetryAfterWinsPlusUpToHalfAgainAtMostFiveSecondsOnce() {
        func waits(_ seconds: Int64) -> [Int64] {
            (0..<200 as Range<UInt64>).map { seed in
                var c = DeliveryBackoff(base: .seconds(2), max: .seconds(600), seed: seed)
                c.busy(retryAfter: .seconds(seconds))
                return c.failed().wholeMilliseconds
            }
        }
        let short = waits(4), long = waits(30)
        #expect(short.allSatisfy { $0 >= 4_000 && $0 <= 6_000 }, "up to half again: \(short.min()!)-\(short.max()!)")
        #expect(short.max()! > 5_500, "spread over the half")
        #expect(long.allSatisfy { $0 >= 30_000 && $0 <= 35_000 }, "at most 5 s more: \(long.min()!)-\(long.max()!)")
        #expect(long.max()! > 34_000 && Set(long).count > 100, "stations told the same figure are spread over the 5 s")
        var b = DeliveryBackoff(base: .seconds(2), max: .seconds(600), seed: 1)
        b.busy(retryAfter: .seconds(30))
        let w = b.failed().wholeMilliseconds
        #expect(w >= 30_000 && w <= 35_000, "\(w)")
        // The Retry-After counts once; the next failure is the ordinary backoff (second failure: up to 4 s).
        let next = b.failed().wholeMilliseconds
        #expect(next >= 2_000 && next <= 4_000, "\(next)")
    }

    @Test func theSameSeedGivesTheSameWaits() {
        var a = DeliveryBackoff(base: .seconds(1), max: .seconds(100), seed: 42)
        var b = DeliveryBackoff(base: .seconds(1), max: .seconds(100), seed: 42)
        var c = DeliveryBackoff(base: .seconds(1), max: .seconds(100), seed: 43)
        let wa = (0..<6).map { _ in a.failed() }, wb = (0..<6).map { _ in b.failed() }, wc = (0..<6).map { _ in c.failed() }
        #expect(wa == wb)
        #expect(wa != wc)
    }
}

@Suite struct UplinkReachabilityTests {
    let t0 = Timestamp(seconds: 1_800_000_000)

    @Test func oneGoodCheckMakesItReachableAndOnlyFailAfterFailuresInARowUnreachable() {
        var r = UplinkReachability(name: "registry", address: "10.0.0.1:443", failAfter: 2, now: t0)
        let up = r.observe(.success(12.4), now: t0)
        #expect(up == .init(from: nil, to: "reachable", reason: "registry (10.0.0.1:443) reachable, 12 ms"))
        #expect(r.observe(.success(9), now: t0.adding(.seconds(30))) == nil)
        // One lost check is not an outage.
        #expect(r.observe(.failure(NetError("timed out")), now: t0.adding(.seconds(60))) == nil)
        #expect(r.reachable == true && r.failures == 1 && r.reason == "timed out")
        #expect(r.observe(.success(10), now: t0.adding(.seconds(90))) == nil)
        #expect(r.failures == 0)
        _ = r.observe(.failure(NetError("timed out")), now: t0.adding(.seconds(120)))
        let down = r.observe(.failure(NetError("no route to host")), now: t0.adding(.seconds(150)))
        #expect(down == .init(from: "reachable", to: "unreachable",
                              reason: "registry unreachable: no route to host; reports wait in the outbox until it is back"))
        #expect(r.status.reachable == false && r.status.since == t0.adding(.seconds(150)) && r.status.latencyMillis == nil)
        #expect(r.observe(.failure(NetError("no route to host")), now: t0.adding(.seconds(180))) == nil)
    }
}

@Suite struct EventSubjectTests {
    @Test func everySubjectReadsBackFromItsWireForm() {
        let all: [EventSubject] = [.device(DeviceID(rawValue: "1-1:05ba:000a")), .kit, .daemon, .server, .centrePull, .power,
                                   .stock, .clock, .outbox, .uplink(target: "registry"), .uplinkRoute]
        for s in all { #expect(EventSubject(wire: s.description) == s, "\(s)") }
        #expect(EventSubject.uplink(target: "registry").description == "uplink:registry")
        #expect(EventSubject.centrePull.description == "centre_pull")
        let e = Event(sequence: 1, time: Timestamp(seconds: 0), station: "s", type: .uplinkReachability, about: .uplink(target: "vpn"))
        #expect(e.subject == "uplink:vpn" && e.about == .uplink(target: "vpn"))
    }
}
