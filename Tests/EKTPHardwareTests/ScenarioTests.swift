import EKTPYAML
import EKTPModel
import Testing
@testable import EKTPHardware

@Suite struct ScenarioTests {
    static let good = """
    name: test
    seed: 42
    kits:
      recording:
        - {name: fp, usb: 05ba:000a, port: 1-1}
        - {name: cam, usb: 046d:082d, port: 1-2, interface_classes: [0x0e]}
    stations:
      - id: a
        site: {province: P, regency: R, district: D1}
        kit: recording
        devices:
          - name: printer
            usb: 0f49:0a00
            port: 1-3
            blanks: 5
        timeline:
          - {at: 20s, device: fp, fault: replug}
          - {at: 10s, device: fp, fault: unplug}
          - {at: 30s, device: cam, fault: intermittent, fail_ratio: 0.25}
      - id: b
        site: {province: P, regency: R, district: D2}
        kit: recording
    """

    @Test func parsesStationsKitsAndOrderedTimeline() throws {
        let s = try Scenario.parse(Self.good, file: "t.yaml")
        #expect(s.seed == 42)
        #expect(s.stations.map(\.id) == ["a", "b"])
        #expect(s.stations[0].devices.map(\.handle) == ["fp", "cam", "printer"])
        #expect(s.stations[1].devices.count == 2)
        #expect(s.timeline.map(\.at) == [.seconds(10), .seconds(20), .seconds(30)])
        #expect(s.timeline[2].fault == .intermittent(failRatio: 0.25))
        #expect(s.stations[0].devices[2].faults == [.blanks(5)])
    }

    @Test(arguments: [
        ("stations:\n  - id: a\n    site: {province: P, regency: R, district: D}\n    devices:\n      - {name: fp, usb: 05ba:000a, port: 1-1}\n    timeline:\n      - {at: 5s, device: fp, fault: unplugg}\n",
         "t.yaml:7:", "stations[0].timeline[0].fault: unknown value 'unplugg' (did you mean 'unplug'?)"),
        ("stations:\n  - id: a\n    site: {province: P, regency: R, district: D}\n    devices:\n      - {name: fp, usb: 05ba:000a, port: 1-1}\n    timeline:\n      - {at: 5s, device: fq, fault: unplug}\n",
         "t.yaml:7:", "stations[0].timeline[0].device: no device named 'fq' in station 'a' (did you mean 'fp'?)"),
        ("stations:\n  - id: a\n    site: {province: P, regency: R, district: D}\n    devices:\n      - name: fp\n        usb: 5ba-a\n        port: 1-1\n",
         "t.yaml:6:14", "stations[0].devices[0].usb: expected VID:PID in hex"),
        ("stations:\n  - id: a\n    site: {province: P, regency: R, district: D}\n    devices:\n      - {name: fp, usb: 05ba:000a, port: 1-1}\n      - {name: fq, usb: 05ba:000a, port: 1-1}\n",
         "t.yaml:6:9", "stations[0].devices[1]: devices 'fp' and 'fq' are both on port 1-1"),
        ("stations:\n  - id: a\n    site: {province: P, regency: R}\n",
         "t.yaml:3:11", "stations[0].site.district: required field is missing"),
        ("stations:\n  - id: a\n    site: {province: P, regency: R, district: D}\n    kit: recordng\nkits:\n  recording: []\n",
         "t.yaml:4:10", "no kit template named 'recordng' (did you mean 'recording'?)"),
        ("stations:\n  - id: a\n    site: {province: P, regency: R, district: D}\n    devices:\n      - {name: fp, usb: 05ba:000a, port: 1-1, kind: toaster}\n",
         "t.yaml:5:", "stations[0].devices[0].kind: unknown kind 'toaster'"),
        ("stations:\n  - id: a\n    site: {province: P, regency: R, district: D}\n    devices:\n      - {name: fp, usb: 05ba:000a, port: usb1}\n",
         "t.yaml:5:", "expected a USB port path like 1-2"),
        ("stations:\n  - id: a\n    site: {province: P, regency: R, district: D}\n    colour: red\n",
         "t.yaml:4:5", "stations[0].colour: unknown field"),
    ])
    func errorsNameFileLineAndField(text: String, location: String, message: String) {
        do {
            _ = try Scenario.parse(text, file: "t.yaml")
            Issue.record("accepted a bad scenario")
        } catch {
            let lines = error.issues.map(\.description)
            #expect(lines.contains { $0.hasPrefix(location) && $0.contains(message) }, "\(lines)")
        }
    }

    @Test func shippedScenariosParse() throws {
        let s = try Scenario.load(path: repoRoot + "/scenarios/demo-kit.yaml")
        #expect(s.stations.first?.devices.count == 6)
    }

    @Test func missingFileSaysSo() {
        #expect(throws: FieldIssues.self) { try Scenario.load(path: "/nonexistent/x.yaml") }
    }
}
