import EKTPModel
import EKTPTesting
import Testing
@testable import EKTPCore


@Suite struct KitEvaluatorTests {
    let full: [DeviceStatus] = [
        device(.fingerprint, "1-1", .ok), device(.iris, "1-2", .ok), device(.camera, "1-3", .ok), device(.signaturePad, "1-4", .ok),
    ]

    @Test func everythingOkIsReady() {
        let r = KitEvaluator.evaluate(profile: .recording, devices: full + [device(.other, "1-9", .failed)])
        #expect(r.state == .ready)
        #expect(r.problems.isEmpty)
    }

    @Test func aKindWithNoDeviceIsBrokenAndSaysSo() {
        let r = KitEvaluator.evaluate(profile: .recording, devices: Array(full.dropFirst()))
        #expect(r.state == .broken)
        #expect(r.problems.map(\.reason) == ["no fingerprint scanner connected"])
    }

    @Test func aFailedOrMissingDeviceIsNamedWithItsReason() {
        var devices = full
        devices[0] = device(.fingerprint, "1-1", .failed, reason: "no response to GET_STATUS")
        devices[1] = device(.iris, "1-2", .missing)
        let r = KitEvaluator.evaluate(profile: .recording, devices: devices)
        #expect(r.state == .broken)
        #expect(r.problems.map(\.reason) == [
            "fingerprint scanner Dev at 1-1 failed: no response to GET_STATUS",
            "iris scanner Dev at 1-2 is unplugged: plug it back into port 1-2",
        ])
        #expect(r.problems[0].device == devices[0].device.id)
    }

    @Test func degradedFlappingOrUncheckedDevicesMakeItDegraded() {
        var devices = full
        devices[2] = device(.camera, "1-3", .degraded, reason: "slow link")
        devices[3] = device(.signaturePad, "1-4", .ok, flapping: true)
        devices[1] = device(.iris, "1-2", .unknown)
        let r = KitEvaluator.evaluate(profile: .recording, devices: devices)
        #expect(r.state == .degraded)
        #expect(Set(r.problems.map(\.reason)) == ["camera Dev at 1-3 slow link", "signature pad Dev at 1-4 flapping",
                                                 "iris scanner Dev at 1-2 not yet checked"])
    }

    @Test func aSpareGoodDeviceCoversAFailedOne() {
        let r = KitEvaluator.evaluate(profile: .recording, devices: full + [device(.fingerprint, "1-5", .failed, reason: "x")])
        #expect(r.state == .ready)
    }

    @Test func countsAreRequirementsEveryDeviceMustMeetOnItsOwn() {
        let printing = KitProfile(requirements: [.init(kind: .cardPrinter, count: 2)])
        // One working printer plus one failed: a present-but-failed device never counts.
        let r = KitEvaluator.evaluate(profile: printing, devices: [
            device(.cardPrinter, "1-1", .ok), device(.cardPrinter, "1-2", .failed, reason: "ribbon out"),
        ])
        #expect(r.state == .broken)
        #expect(r.problems.map(\.reason) == ["only 1 of 2 card printers usable", "card printer Dev at 1-2 failed: ribbon out"])
        let none = KitEvaluator.evaluate(profile: printing, devices: [])
        #expect(none.problems.map(\.reason) == ["needs 2 card printers, none connected"])
    }
}
