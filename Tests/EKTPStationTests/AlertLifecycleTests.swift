import EKTPHardware
import EKTPModel
import EKTPTesting
import Testing
@testable import EKTPStation
@testable import EKTPPlatform
@testable import EKTPCore

/// The alert life cycle, driven by the simulated backend on a virtual clock (hours pass in milliseconds).
@Suite struct AlertLifecycleTests {
    let t0 = Timestamp(seconds: 1_790_000_000)
    let site = Site(province: "Kalimantan Barat", regency: "Sintang", district: "Dedai")

    func simulator(timeline: String) async throws -> StationSimulator {
        try await makeSimulator(timeline: timeline, start: t0)
    }

    /// Runs the simulation to `end`, evaluating the rules every `step` as the daemon does on each change.
    func drive(_ sim: StationSimulator, _ lifecycle: inout AlertLifecycle, until end: Timestamp, step: Duration = .seconds(1)) async -> [AlertLifecycle.Notification] {
        var sent: [AlertLifecycle.Notification] = []
        var t = sim.now
        while t < end {
            t = t.adding(step)
            await sim.run(until: t)
            lifecycle.observe(AlertRules.evaluate(sim.engine.status(now: t), blanksLow: 500), now: t)
            while let n = lifecycle.take(now: t) { sent.append(n) }
        }
        return sent
    }

    @Test func aKitLosingFourDevicesIsOneNotificationAndClearingIsOneMore() async throws {
        let sim = try await simulator(timeline: """
              - {at: 30s, device: fp, fault: unplug}
              - {at: 30s, device: iris, fault: unplug}
              - {at: 30s, device: cam, fault: unplug}
              - {at: 30s, device: sig, fault: unplug}
              - {at: 90s, device: fp, fault: replug}
              - {at: 90s, device: iris, fault: replug}
              - {at: 90s, device: cam, fault: replug}
              - {at: 90s, device: sig, fault: replug}
        """)
        var lc = AlertLifecycle(config: .init(groupWait: .seconds(5), repeatInterval: .seconds(4 * 3600)), station: "s1", site: site)
        let sent = await drive(sim, &lc, until: t0.adding(.seconds(300)))
        #expect(sent.count == 2)
        let fire = try #require(sent.first).payload
        #expect(fire.status == "firing")
        #expect(fire.alerts.map { $0.labels["alertname"]! } == ["DeviceFailed", "DeviceFailed", "DeviceFailed", "DeviceFailed", "KitBroken"])
        #expect(fire.alerts.compactMap { $0.labels["kind"] } == ["fingerprint", "iris", "camera", "signature_pad"])
        #expect(fire.alerts.allSatisfy { $0.status == "firing" && $0.endsAt == Alert.zeroTime && $0.startsAt == t0.adding(.seconds(30)).rfc3339 })
        #expect(fire.alerts.allSatisfy { $0.labels["severity"] == "critical" && $0.labels["station"] == "s1" && $0.labels["district"] == "Dedai" })
        #expect(fire.alerts.map { $0.annotations["from"]! } == ["ok", "ok", "ok", "ok", "ready"])
        #expect(fire.alerts.map { $0.annotations["to"]! } == ["missing", "missing", "missing", "missing", "broken"])
        #expect(fire.alerts.allSatisfy { $0.fingerprint == Alert.fingerprint(of: $0.labels) })
        #expect(fire.groupKey == "{}:{station=\"s1\"}")
        #expect(fire.commonLabels["alertname"] == nil && fire.commonLabels["station"] == "s1" && fire.commonLabels["severity"] == "critical")

        let clear = sent[1].payload
        #expect(clear.status == "resolved")
        #expect(Set(clear.alerts.map(\.fingerprint)) == Set(fire.alerts.map(\.fingerprint)))
        #expect(clear.alerts.allSatisfy { $0.status == "resolved" && $0.endsAt == t0.adding(.seconds(90)).rfc3339 })
        #expect(clear.alerts.map { $0.annotations["from"]! } == ["missing", "missing", "missing", "missing", "broken"])
        // where things are now, not the "not yet checked" they passed through on the way
        #expect(clear.alerts.map { $0.annotations["to"]! } == ["ok", "ok", "ok", "ok", "ready"])
        #expect(lc.firing.isEmpty)
    }

    @Test func aStandingAlertRepeatsOnlyAtTheRepeatInterval() async throws {
        let sim = try await simulator(timeline: "      - {at: 30s, device: cam, fault: unplug}")
        var lc = AlertLifecycle(config: .init(groupWait: .seconds(10), repeatInterval: .seconds(3600)), station: "s1", site: site)
        let sent = await drive(sim, &lc, until: t0.adding(.seconds(3 * 3600 + 1800)), step: .seconds(10))
        #expect(sent.map(\.isRepeat) == [false, true, true, true])
        let first = try #require(sent.first)
        // the first goes after the group wait; repeats an hour apart after it
        let firstAt = t0.adding(.seconds(40))
        #expect(first.payload.alerts.map { $0.labels["alertname"]! } == ["DeviceFailed", "KitBroken"])
        for r in sent.dropFirst() {
            #expect(r.payload.alerts.map(\.fingerprint) == first.payload.alerts.map(\.fingerprint))
            #expect(r.payload.alerts.allSatisfy { $0.startsAt == t0.adding(.seconds(30)).rfc3339 })
        }
        #expect(lc.nextDeadline == firstAt.adding(.seconds(4 * 3600)))
    }

    func evaluation(_ conditions: [AlertCondition], _ states: [AlertSubject: String]) -> AlertEvaluation {
        AlertEvaluation(conditions: conditions, states: states)
    }

    static let cam = AlertSubject.device(DeviceID(rawValue: "cam"))
    let camFailed = AlertCondition(name: "DeviceFailed", severity: .critical, subject: Self.cam, labels: ["device": "cam", "kind": "camera"],
                                   summary: "camera is failed", reason: "no answer")
    let camDegraded = AlertCondition(name: "DeviceDegraded", severity: .warning, subject: Self.cam, labels: ["device": "cam", "kind": "camera"],
                                     summary: "camera is degraded", reason: "slow link")

    @Test func aBlipShorterThanTheGroupWaitIsNeverSent() {
        var lc = AlertLifecycle(config: .init(groupWait: .seconds(10)), station: "s1", site: site)
        lc.observe(evaluation([camFailed], [Self.cam: "failed"]), now: t0)
        lc.observe(evaluation([], [Self.cam: "ok"]), now: t0.adding(.seconds(3)))
        #expect(lc.take(now: t0.adding(.seconds(60))) == nil)
        #expect(lc.nextDeadline == nil)

        // Sent, then cleared and back within a wait: still one standing alert, nothing new to say.
        lc.observe(evaluation([camFailed], [Self.cam: "failed"]), now: t0.adding(.seconds(100)))
        #expect(lc.take(now: t0.adding(.seconds(110)))?.payload.status == "firing")
        lc.observe(evaluation([], [Self.cam: "ok"]), now: t0.adding(.seconds(200)))
        lc.observe(evaluation([camFailed], [Self.cam: "failed"]), now: t0.adding(.seconds(205)))
        #expect(lc.take(now: t0.adding(.seconds(300))) == nil)
        #expect(lc.firing.count == 1)
        #expect(lc.firing[0].annotations["from"] == "ok")
    }

    @Test func degradedToFailedResolvesTheWarningAndFiresTheCriticalTogether() {
        var lc = AlertLifecycle(config: .init(groupWait: .seconds(1)), station: "s1", site: site)
        lc.observe(evaluation([camDegraded], [Self.cam: "degraded"]), now: t0)
        let warn = lc.take(now: t0.adding(.seconds(1)))
        #expect(warn?.payload.alerts.map { $0.labels["severity"]! } == ["warning"])
        lc.observe(evaluation([camFailed], [Self.cam: "failed"]), now: t0.adding(.seconds(10)))
        let taken = lc.take(now: t0.adding(.seconds(11)))
        let both = try! #require(taken)
        #expect(both.payload.status == "firing")
        #expect(both.payload.alerts.map { "\($0.labels["alertname"]!)=\($0.status)" } == ["DeviceFailed=firing", "DeviceDegraded=resolved"])
        #expect(both.payload.alerts[0].annotations["from"] == "degraded")
        #expect(both.payload.alerts[1].fingerprint == warn?.payload.alerts[0].fingerprint)
    }

    @Test func fingerprintsArePrometheusLabelSetFingerprints() {
        // FNV-1a 64 over sorted names and values with 0xff separators (prometheus/common model.LabelSet.Fingerprint)
        #expect(Alert.fingerprint(of: [:]) == "cbf29ce484222325")
        #expect(Alert.fingerprint(of: ["station": "s1", "alertname": "DeviceFailed"]) == "0f74d4030d7bfeb5")
    }

    @Test func rulesCoverServerPowerStockAndOutbox() async throws {
        let sim = try await simulator(timeline: "")
        var s = sim.engine.status(now: sim.now)
        #expect(AlertRules.evaluate(s, blanksLow: 500).conditions.isEmpty)
        s.server = ServerStatus(name: "rekam", state: .crashLoop, since: t0, pid: nil, restarts: 5, lastReason: "exited with status 1",
                                nextStartAt: nil, availability: Availability(last24h: 0.5, last7d: 0.9, observed24hSeconds: 10, observed7dSeconds: 10))
        s.power = PowerStatus(onMains: false, batteryPercent: 9, batteryLow: true, since: t0)
        s.stock = StockStatus(blanks: 120, source: .operator, updatedAt: t0)
        s.sync = SyncStatus(state: .never, lastPull: nil, limitSeconds: 86400, reason: nil)
        var e = AlertRules.evaluate(s, blanksLow: 500)
        #expect(e.conditions.map(\.name) == ["RecordingServerDown", "CentreNotPulled", "OnBattery", "BatteryLow", "BlanksLow"])
        #expect(e.conditions.first { $0.name == "RecordingServerDown" }?.reason == "exited with status 1")
        #expect(e.states[.server] == "crash_loop" && e.states[.power] == "battery" && e.states[.stock] == "low")
        s.stock?.blanks = 0
        e = AlertRules.evaluate(s, blanksLow: 500)
        #expect(e.conditions.contains { $0.name == "BlanksOut" && $0.severity == .critical })
        #expect(!e.conditions.contains { $0.name == "BlanksLow" })
    }
}
