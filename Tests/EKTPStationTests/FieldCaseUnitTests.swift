import EKTPModel
import EKTPHardware
import EKTPYAML
import Foundation
import EKTPTesting
import Testing
@testable import EKTPStation
@testable import EKTPPlatform
@testable import EKTPCore

/// Field cases of issue 13 at the unit level: each made right as a kind, not as a special case.
@Suite struct FieldCaseUnitTests {
    let t0 = Timestamp(seconds: 1_790_000_000)
    func t(_ s: Int64) -> Timestamp { t0.adding(.seconds(s)) }

    /// Field case 10: a start command that puts the server in the background and exits 0.
    @Test func aCommandThatWentToTheBackgroundIsUpNotACrashLoop() {
        var p = SupervisorPolicy()
        p.failAfter = 2
        p.crashLoopRestarts = 3
        var m = SupervisorMachine(policy: p, now: t0)
        _ = m.begin(now: t0)
        let actions = m.wentToBackground(now: t(1))
        #expect(m.state == .up)
        #expect(m.detached)
        #expect(actions.count == 1)
        guard case .transition(from: .starting, to: .up, let reason) = actions.first else { Issue.record("\(actions)"); return }
        #expect(reason.contains("went to the background; run it in the foreground or use `server.unit`"))
        // Probes keep passing: nothing to do, however long.
        for s in 2...100 { #expect(m.probed(ok: true, reason: nil, now: t(Int64(s))).isEmpty) }
        #expect(m.restarts == 0)
        // It stops answering: then, and only then, the command is started again.
        #expect(m.probed(ok: false, reason: "refused", now: t(101)).isEmpty)
        let again = m.probed(ok: false, reason: "refused", now: t(102))
        #expect(again.contains { if case .restartScheduled = $0 { return true } else { return false } })
        #expect(m.state == .restarting)
        #expect(!m.detached)
    }

    /// Field case 05 / hardening r14: a config saved by a Windows editor (CRLF, a BOM).
    @Test func crlfAndABOMReadLikeUnixText() throws {
        let unix = """
        station:
          id: st-1
          site: {province: P, regency: R, district: D}
        backend: {type: real}
        probes:
          interval: 5s
        """
        let windows = "\u{FEFF}" + unix.replacingOccurrences(of: "\n", with: "\r\n") + "\r\n"
        let a = try StationConfig.parse(unix, file: "a.yaml", environment: [:])
        let b = try StationConfig.parse(windows, file: "b.yaml", environment: [:])
        #expect(a.stationID == b.stationID && a.site == b.site && a.policy == b.policy)
        #expect(b.policy.interval == .seconds(5))
        // Through a file, as ektpd reads it.
        let dir = TempDir()
        let path = dir.write("ektpd.yaml", windows)
        #expect(try StationConfig.load(path: path, environment: [:]).stationID == "st-1")
        // A mistake is still located on its line (line numbers do not double with CR).
        let bad = "\u{FEFF}station:\r\n  id: st-1\r\n  site: {province: P, regency: R, district: D}\r\nbackend: {type: real}\r\nprobes:\r\n  interval: soon\r\n"
        #expect {
            _ = try StationConfig.parse(bad, file: "c.yaml", environment: [:])
        } throws: { e in
            "\(e)".contains("c.yaml:6:") && "\(e)".contains("probes.interval")
        }
    }

    /// Hardening r5: out-of-range durations are refused by check-config with their place.
    @Test func hugeDurationsAreRefusedWithTheirLine() {
        for v in ["9223372036854775807", "9999999999999999d", "3651d"] {
            let text = "station:\n  id: st-1\n  site: {province: P, regency: R, district: D}\nbackend: {type: real}\nprobes:\n  interval: \(v)\n"
            #expect {
                _ = try StationConfig.parse(text, file: "d.yaml", environment: [:])
            } throws: { e in
                "\(e)".contains("d.yaml:6:") && "\(e)".contains("out of range") && "\(e)".contains("10 years")
            }
        }
    }

    /// A 1 MB district name (issue 13) is refused on its line, in configs and scenarios alike.
    @Test func overlongNamesAreRefusedWithTheirLine() {
        let long = String(repeating: "Kecamatan", count: 30)
        let text = "station:\n  id: st-1\n  site: {province: P, regency: R, district: \(long)}\nbackend: {type: real}\n"
        #expect {
            _ = try StationConfig.parse(text, file: "e.yaml", environment: [:])
        } throws: { e in
            "\(e)".contains("e.yaml:3:") && "\(e)".contains("270 characters; at most 200")
        }
        let scenario = "stations:\n  - id: a\n    site: {province: P, regency: R, district: \(long)}\n    devices: []\n"
        #expect { _ = try Scenario.parse(scenario, file: "s.yaml") } throws: { "\($0)".contains("at most 200") }
    }

    /// Centre-pull answers written by a Windows tool (a BOM, CRLF) read like any other.
    @Test func aCentrePullAnswerWithABOMAndCRLFReads() throws {
        let r = SyncWatch.parseTime("\u{FEFF}2026-11-30T01:02:03Z\r\n", from: "file")
        guard case .success(let t?) = r else { Issue.record("\(r)"); return }
        #expect(t == Timestamp(rfc3339: "2026-11-30T01:02:03Z"))
    }

    /// Field case 01: names from USB descriptors cannot break the rows of the human tables.
    @Test func controlCharactersInNamesAreShownEscaped() {
        #expect("Pad\nInc\t$(id)".printable == "Pad\\nInc\\t$(id)")
        #expect("bell\u{07}".printable == "bell\\u{07}")
        #expect("Sidik Jari ✓".printable == "Sidik Jari ✓")
        // A right-to-left override and a line separator reorder and break the operator's line.
        #expect("A\u{202E}RLO\u{2028}LS\u{2069}".printable == "A\\u{202e}RLO\\u{2028}LS\\u{2069}")
        #expect("\u{200F}עברית and 中文".printable == "\\u{200f}עברית and 中文")
        let rows = StatusText.table([["signature pad", "Evil\nPad\tX", "1-4"]], header: ["DEVICE", "NAME", "PORT"])
        #expect(rows.split(separator: "\n").count == 2, "\(rows)")
        #expect(rows.contains("Evil\\nPad\\tX"))
    }
}
