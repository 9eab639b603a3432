import EKTPHardware
import EKTPModel
import EKTPTesting
import Testing
@testable import EKTPStation
@testable import EKTPPlatform
@testable import EKTPCore

@Suite struct StationEngineTests {
    let t0 = Timestamp(seconds: 1_790_000_000)

    func simulator(timeline: String = "", policy: HealthPolicy = HealthPolicy()) async throws -> StationSimulator {
        try await makeSimulator(timeline: timeline, policy: policy, start: t0)
    }

    @Test func bootSettlesToReadyWithOneKitEvent() async throws {
        let sim = try await simulator()
        let status = sim.engine.status(now: sim.now)
        #expect(status.kit.state == .ready)
        #expect(status.devices.allSatisfy { $0.health == .ok })
        let kitEvents = sim.engine.events(sinceSequence: 0).filter { $0.type == .kitStatus }
        #expect(kitEvents.map(\.to) == ["ready"])
    }

    @Test func unplugBreaksTheKitAndReplugRestoresIt() async throws {
        let sim = try await simulator(timeline: """
              - {at: 30s, device: fp, fault: unplug}
              - {at: 90s, device: fp, fault: replug}
        """)
        await sim.run(until: t0.adding(.seconds(60)))
        var status = sim.engine.status(now: sim.now)
        #expect(status.kit.state == .broken)
        let fp = try #require(status.devices.first { $0.device.kind == .fingerprint })
        #expect(fp.health == .missing)
        #expect(fp.since == t0.adding(.seconds(30)))
        #expect(status.kit.problems.first?.reason.contains("plug it back into port 1-1") == true)

        await sim.run(until: t0.adding(.seconds(120)))
        status = sim.engine.status(now: sim.now)
        #expect(status.kit.state == .ready)
        let events = sim.engine.events(sinceSequence: 0)
        // sequence numbers are strictly increasing with no gaps
        #expect(events.map(\.sequence) == Array(1...Int64(events.count)))
        let kit = events.filter { $0.type == .kitStatus }.map { "\($0.from ?? "")>\($0.to ?? "")" }
        // replugged: not yet checked (degraded) until its first probe, in the same instant
        #expect(kit == [">ready", "ready>broken", "broken>degraded", "degraded>ready"])
        let fpHealth = events.filter { $0.type == .deviceHealth && $0.kind == .fingerprint }.map { $0.to ?? "" }
        #expect(fpHealth == ["ok", "missing", "unknown", "ok"])
    }

    @Test func unresponsiveDeviceFailsAfterThresholdAtTheRetryInterval() async throws {
        var policy = HealthPolicy()
        policy.interval = .seconds(10)
        policy.retryInterval = .seconds(2)
        let sim = try await simulator(timeline: "      - {at: 15s, device: cam, fault: unresponsive}", policy: policy)
        await sim.run(until: t0.adding(.seconds(60)))
        let cam = try #require(sim.engine.status(now: sim.now).devices.first { $0.device.kind == .camera })
        #expect(cam.health == .failed)
        // first failure at the 20 s probe, then retries at 22 s and 24 s
        #expect(cam.since == t0.adding(.seconds(24)))
        #expect(cam.reason?.contains("GET_STATUS") == true)
        #expect(sim.engine.kit.state == .broken)
    }

    @Test func intermittentDeviceIsFlaggedFlappingAndDegradesTheKit() async throws {
        var policy = HealthPolicy()
        policy.flapWindow = 10
        let sim = try await simulator(timeline: "      - {at: 1s, device: sig, fault: intermittent, fail_ratio: 0.5}", policy: policy)
        await sim.run(until: t0.adding(.seconds(600)))
        let events = sim.engine.events(sinceSequence: 0)
        #expect(events.contains { $0.type == .deviceFlapping && $0.to == "flapping" && $0.kind == .signaturePad })
    }

    @Test func hotplugOfANewDeviceReplacesAMissingOneOfTheSameKind() async throws {
        let sim = try await simulator(timeline: "      - {at: 5s, device: fp, fault: unplug}")
        await sim.run(until: t0.adding(.seconds(6)))
        let newFP = DeviceSnapshot(id: DeviceID(portPath: "1-5", vendorID: 0x1491, productID: 0x0088), kind: .fingerprint,
                                   kindSource: "catalogue", vendorID: 0x1491, productID: 0x0088, name: "FS88",
                                   portPath: "1-5", busNumber: 1, deviceNumber: 9)
        sim.engine.handle(.added(newFP), now: sim.now)
        let fps = sim.engine.status(now: sim.now).devices.filter { $0.device.kind == .fingerprint }
        #expect(fps.map(\.device.portPath) == ["1-5"])
        #expect(fps[0].health == .unknown)
    }

    @Test func subscribersReceiveEveryEventInOrder() async throws {
        let sim = try await simulator(timeline: "      - {at: 5s, device: fp, fault: unplug}")
        let stream = sim.engine.subscribe()
        await sim.run(until: t0.adding(.seconds(6)))
        sim.engine.stop(now: sim.now, reason: "test")
        var got: [EventType] = []
        for await e in stream { got.append(e.type) }
        #expect(got == [.deviceRemoved, .deviceHealth, .kitStatus, .daemon])
    }
}

/// A booted simulated recording kit (fp, iris, cam, sig) on a virtual clock starting at `start`;
/// `timeline` is the station's timeline entries, indented six spaces.
func makeSimulator(timeline: String, policy: HealthPolicy = HealthPolicy(), start t0: Timestamp) async throws -> StationSimulator {
    let text = """
    seed: 5
    stations:
      - id: s1
        site: {province: Kalimantan Barat, regency: Sintang, district: Dedai}
        devices:
          - {name: fp, usb: 05ba:000a, port: 1-1}
          - {name: iris, usb: 1234:0001, port: 1-2, kind: iris}
          - {name: cam, usb: 046d:082d, port: 1-3, interface_classes: [0x0e]}
          - {name: sig, usb: 06a8:0043, port: 1-4}
        timeline:
    \(timeline)
    """
    let scenario = try Scenario.parse(text, file: "t.yaml")
    let backend = try SimulatedBackend(scenario: scenario, station: nil, catalogue: .builtIn(usbIDs: nil), label: "sim", realTimeLatency: false)
    let engine = StationEngine(stationID: "s1", site: scenario.stations[0].site, backendName: "sim", profile: .recording, policy: policy, now: t0)
    let sim = StationSimulator(backend: backend, engine: engine, start: t0)
    try await sim.boot()
    return sim
}
