import EKTPModel
import Testing
@testable import EKTPHardware

@Suite struct SimulatedBackendTests {
    func backend(_ extra: String = "", seed: Int = 1) throws -> SimulatedBackend {
        let text = """
        seed: \(seed)
        stations:
          - id: s1
            site: {province: P, regency: R, district: D}
            devices:
              - {name: fp, usb: 05ba:000a, port: 1-1, speed: full}
              - {name: cam, usb: 046d:082d, port: 1-2, interface_classes: [0x0e], speed: high}
              - {name: printer, usb: 0f49:0a00, port: 1-3, blanks: 3}
              - {name: spare, usb: 06a8:0043, port: 1-4, present: false}
            timeline:
              - {at: 5s, device: fp, fault: unplug}
              - {at: 9s, device: fp, fault: replug}
        \(extra)
        """
        let scenario = try Scenario.parse(text, file: "t.yaml")
        return try SimulatedBackend(scenario: scenario, station: nil, catalogue: .builtIn(usbIDs: nil), label: "sim", realTimeLatency: false)
    }

    @Test func enumeratesPresentDevicesClassifiedByTheCatalogue() async throws {
        let b = try backend()
        let devices = try await b.enumerate()
        #expect(devices.map(\.kind) == [.fingerprint, .camera, .cardPrinter])
        #expect(devices[0].id.rawValue == "1-1:05ba:000a")
        #expect(devices[0].name == "DigitalPersona U.are.U 4000B/4500")
        #expect(devices[0].kindSource == "catalogue")
        #expect(devices[0].nodes == ["/dev/bus/usb/001/002"])
    }

    @Test func timelineUnplugsAndReplugsWithStableIdentity() async throws {
        let b = try backend()
        var events = b.events().makeAsyncIterator()
        #expect(b.nextStepTime == .seconds(5))
        #expect(b.advance(to: .seconds(4)).isEmpty)
        #expect(b.advance(to: .seconds(5)).map(\.event) == [.removed(DeviceID(rawValue: "1-1:05ba:000a"))])
        let removed = await events.next()
        #expect(removed == .removed(DeviceID(rawValue: "1-1:05ba:000a")))
        #expect(try await b.enumerate().count == 2)
        let missing = await b.probe(DeviceID(rawValue: "1-1:05ba:000a"), timeout: .seconds(1))
        #expect(missing.code == .notFound)
        b.advance(to: .seconds(10))
        guard case .added(let snap)? = await events.next() else { Issue.record("no add event"); return }
        #expect(snap.id.rawValue == "1-1:05ba:000a")
        #expect(snap.deviceNumber != 2)  // a new device number, as the kernel gives
        #expect(b.nextStepTime == nil)
    }

    @Test func faultsGiveProbeResultsWithActionableReasons() async throws {
        let b = try backend()
        let fp = try #require(b.deviceID(handle: "fp"))
        let printer = try #require(b.deviceID(handle: "printer"))
        #expect(await b.probe(fp, timeout: .seconds(1)) == .ok)

        try b.apply(.unresponsive, to: "fp")
        var r = await b.probe(fp, timeout: .seconds(1))
        #expect(r.outcome == .failed && r.code == .noResponse && r.reason!.contains("replug"))

        try b.apply(.recover, to: "fp")
        try b.apply(.permissionDenied, to: "fp")
        r = await b.probe(fp, timeout: .seconds(1))
        #expect(r.code == .permissionDenied && r.reason!.contains("/dev/bus/usb/001/002") && r.reason!.contains("udev"))

        try b.apply(.recover, to: "fp")
        try b.apply(.latency(.seconds(5)), to: "fp")
        r = await b.probe(fp, timeout: .seconds(2))
        #expect(r.code == .probeTimeout)

        try b.apply(.recover, to: "cam")
        try b.apply(.slowLink(.full), to: "cam")
        r = await b.probe(try #require(b.deviceID(handle: "cam")), timeout: .seconds(1))
        #expect(r.outcome == .degraded && r.code == .slowLink && r.reason!.contains("480 Mbit/s"))

        r = await b.probe(printer, timeout: .seconds(1))
        #expect(r.outcome == .ok && r.blanksRemaining == 3)
        try b.apply(.blanks(0), to: "printer")
        r = await b.probe(printer, timeout: .seconds(1))
        #expect(r.code == .blanksOut && r.blanksRemaining == 0)
        try b.apply(.ribbonOut, to: "printer")
        r = await b.probe(printer, timeout: .seconds(1))
        #expect(r.code == .ribbonOut)

        #expect(throws: SimulationError.self) { try b.apply(.unplug, to: "nope") }
    }

    @Test func intermittentIsDeterministicForASeed() async throws {
        func run(seed: Int) async throws -> [ProbeOutcome] {
            let b = try backend(seed: seed)
            try b.apply(.intermittent(failRatio: 0.5), to: "fp")
            let id = try #require(b.deviceID(handle: "fp"))
            var out: [ProbeOutcome] = []
            for _ in 0..<40 { out.append(await b.probe(id, timeout: .seconds(1)).outcome) }
            return out
        }
        let a = try await run(seed: 3), b = try await run(seed: 3), c = try await run(seed: 4)
        #expect(a == b)
        #expect(a != c)
        let failures = a.filter { $0 == .failed }.count
        #expect(failures > 8 && failures < 32)
    }

    @Test func unknownStationIsAClearError() throws {
        let scenario = try Scenario.parse(
            "stations:\n  - {id: a, site: {province: P, regency: R, district: D}}\n  - {id: b, site: {province: P, regency: R, district: D}}\n",
            file: "t.yaml")
        #expect(throws: SimulationError.self) {
            try SimulatedBackend(scenario: scenario, station: nil, catalogue: .builtIn(usbIDs: nil), label: "x")
        }
        do {
            _ = try SimulatedBackend(scenario: scenario, station: "c", catalogue: .builtIn(usbIDs: nil), label: "x")
        } catch {
            #expect(error.description.contains("no station 'c'") && error.description.contains("a, b"))
        }
    }
}
