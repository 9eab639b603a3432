import EKTPModel
import EKTPTesting
import Testing
@testable import EKTPStation
@testable import EKTPPlatform
@testable import EKTPCore

@Suite struct StationMetricsUnitTests {
    let t0 = Timestamp(seconds: 1_790_000_000)

    @Test func labelValuesFromUSBDescriptorsCannotForgeSeries() async throws {
        let sim = try await makeSimulator(timeline: "", start: t0)
        var status = sim.engine.status(now: t0)
        // A device's product string is whatever the device says.
        status.devices[0].device.name = "Evil\" } 1\nektp_kit_ready 1\n# TYPE x"
        let text = String(decoding: StationMetrics().render(status, firing: [], backlog: (0, nil)), as: UTF8.self)
        let lines = text.split(separator: "\n")
        #expect(lines.filter { $0.hasPrefix("ektp_kit_ready ") }.count == 1)
        #expect(!lines.contains { $0.hasPrefix("# TYPE x") })
        #expect(text.contains(#"name="Evil\" } 1\nektp_kit_ready 1\n# TYPE x""#))
    }

    @Test func aDeviceThatIsGoneLeavesTheScrapeAndCountersOnlyGrow() async throws {
        let sim = try await makeSimulator(timeline: "", start: t0)
        let metrics = StationMetrics()
        var status = sim.engine.status(now: t0)
        status.server = ServerStatus(name: "rekam", state: .up, since: t0, pid: 1, restarts: 2, lastReason: nil, nextStartAt: nil,
                                     availability: Availability(last24h: 1, last7d: 1, observed24hSeconds: 60, observed7dSeconds: 60))
        var text = String(decoding: metrics.render(status, firing: [], backlog: (0, nil)), as: UTF8.self)
        #expect(text.contains("ektp_device_up{device=\"1-3:046d:082d\""))
        #expect(text.contains("ektp_server_restarts_total{server=\"rekam\"} 2"))
        status.devices.removeAll { $0.device.kind == .camera }
        status.server?.restarts = 5
        text = String(decoding: metrics.render(status, firing: [], backlog: (3, t0.adding(.seconds(-90)))), as: UTF8.self)
        #expect(!text.contains("1-3:046d:082d"))
        #expect(text.contains("ektp_server_restarts_total{server=\"rekam\"} 5"))
        #expect(text.contains("ektp_outbox_reports 3.0"))
        #expect(text.contains("ektp_outbox_oldest_age_seconds 90.0"))
    }
}
