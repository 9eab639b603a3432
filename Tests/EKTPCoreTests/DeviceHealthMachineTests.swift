import EKTPModel
import EKTPTesting
import Testing
@testable import EKTPCore

@Suite struct DeviceHealthMachineTests {
    var policy: HealthPolicy = {
        var p = HealthPolicy()
        p.failAfter = 3
        p.recoverAfter = 2
        p.flapWindow = 10
        p.flapStart = 0.5
        p.flapStop = 0.25
        return p
    }()
    let t0 = Timestamp(seconds: 1_000_000)
    let fail = ProbeResult.failed("no response to GET_STATUS", .noResponse)
    let slow = ProbeResult.degraded("slow link", .slowLink)

    func t(_ s: Int64) -> Timestamp { t0.adding(.seconds(s)) }

    @Test func firstGoodProbeMakesAnUnknownDeviceOk() {
        var m = DeviceHealthMachine(policy: policy, now: t0)
        #expect(m.health == .unknown)
        #expect(m.probed(.ok, at: t(1)) == [.health(from: .unknown, to: .ok, reason: nil)])
        #expect(m.since == t(1))
    }

    @Test func failsOnlyAfterThresholdAndRecoversAfterThreshold() {
        var m = DeviceHealthMachine(policy: policy, now: t0)
        _ = m.probed(.ok, at: t(1))
        #expect(m.probed(fail, at: t(2)).isEmpty)
        #expect(m.isSettling)
        #expect(m.probed(fail, at: t(3)).isEmpty)
        #expect(m.health == .ok)
        #expect(m.probed(fail, at: t(4)) == [.health(from: .ok, to: .failed, reason: "no response to GET_STATUS")])
        #expect(m.code == .noResponse)
        #expect(!m.isSettling)
        // a single good probe is not enough
        #expect(m.probed(.ok, at: t(5)).isEmpty)
        #expect(m.health == .failed)
        #expect(m.probed(.ok, at: t(6)) == [.health(from: .failed, to: .ok, reason: nil)])
        #expect(m.reason == nil)
        #expect(m.since == t(6))
    }

    @Test func aGoodProbeResetsTheFailureCount() {
        var m = DeviceHealthMachine(policy: policy, now: t0)
        _ = m.probed(.ok, at: t(1))
        for i in 0..<6 {
            _ = m.probed(fail, at: t(2 + 3 * Int64(i)))
            _ = m.probed(fail, at: t(3 + 3 * Int64(i)))
            _ = m.probed(.ok, at: t(4 + 3 * Int64(i)))
        }
        #expect(m.health == .ok)
    }

    @Test func degradedAfterThresholdAndBack() {
        var m = DeviceHealthMachine(policy: policy, now: t0)
        _ = m.probed(.ok, at: t(1))
        _ = m.probed(slow, at: t(2))
        _ = m.probed(slow, at: t(3))
        #expect(m.health == .ok)
        #expect(m.probed(slow, at: t(4)) == [.health(from: .ok, to: .degraded, reason: "slow link")])
        _ = m.probed(.ok, at: t(5))
        #expect(m.probed(.ok, at: t(6)) == [.health(from: .degraded, to: .ok, reason: nil)])
    }

    @Test func anUnknownDeviceThatFailsBecomesFailed() {
        var m = DeviceHealthMachine(policy: policy, now: t0)
        _ = m.probed(fail, at: t(1))
        _ = m.probed(fail, at: t(2))
        #expect(m.health == .unknown)
        #expect(m.probed(fail, at: t(3)) == [.health(from: .unknown, to: .failed, reason: "no response to GET_STATUS")])
    }

    @Test func removalIsImmediateAndReplugStartsOver() {
        var m = DeviceHealthMachine(policy: policy, now: t0)
        _ = m.probed(.ok, at: t(1))
        #expect(m.removed(at: t(2), reason: "gone") == [.health(from: .ok, to: .missing, reason: "gone")])
        #expect(m.removed(at: t(3)).isEmpty)
        #expect(m.probed(.ok, at: t(3)).isEmpty)  // a stale probe of a missing device changes nothing
        #expect(m.added(at: t(4)) == [.health(from: .missing, to: .unknown, reason: "plugged in, not yet checked")])
        #expect(m.probed(.ok, at: t(5)) == [.health(from: .unknown, to: .ok, reason: nil)])
    }

    @Test func alternatingResultsFlapAndStopFlappingWhenStable() {
        var m = DeviceHealthMachine(policy: policy, now: t0)
        var flapEvents: [Bool] = []
        for i in 0..<10 {
            for tr in m.probed(i % 2 == 0 ? .ok : fail, at: t(Int64(i))) {
                if case .flapping(let on, _) = tr { flapEvents.append(on) }
            }
        }
        #expect(m.flapping)
        #expect(m.health == .ok)  // never three failures in a row: only flap detection sees it
        #expect(flapEvents == [true])
        for i in 10..<30 {
            for tr in m.probed(.ok, at: t(Int64(i))) {
                if case .flapping(let on, _) = tr { flapEvents.append(on) }
            }
        }
        #expect(!m.flapping)
        #expect(flapEvents == [true, false])
    }
}
