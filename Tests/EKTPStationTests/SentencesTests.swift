import EKTPModel
@testable import EKTPPlatform
import EKTPYAML
import Foundation
import Glibc
import EKTPTesting
import Testing
@testable import EKTPStation
@testable import EKTPCore

/// Issue 18: every sentence the daemon writes in English from a template is one the reader's side
/// can read back (`Sentences.templates`), so it can be shown translated; and a reason code renders
/// the same English the station always sent.
@Suite struct SentencesTests {
    /// A stand-in catalogue that knows the templates, the kinds' names and one device reason, and
    /// "translates" them to upper case, so a rendering shows which parts went through it.
    static let known: Set<String> = Set(Sentences.templates + DeviceKind.allCases.flatMap { [$0.displayName, $0.pluralName] }
                                        + ["printer reports ribbon out: replace the ribbon"])
    /// The real Indonesian catalogue: po/id.po compiled by msgfmt, read as the registry reads it.
    static let indonesian: MOCatalog = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let out = "/tmp/ektp-sentences-\(getpid()).mo"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/msgfmt")
        p.arguments = ["-o", out, root + "/po/id.po"]
        try? p.run()
        p.waitUntilExit()
        defer { unlink(out) }
        return (try? Data(contentsOf: URL(fileURLWithPath: out))).flatMap { MOCatalog(bytes: Array($0)) } ?? MOCatalog(messages: [:])
    }()
    static func id(_ s: String) -> String { indonesian.text(s) }

    static func shout(_ s: String) -> String {
        guard known.contains(s) else { return s }
        var out = "", inMark = false
        for c in s {
            if c == "{" { inMark = true } else if c == "}" { inMark = false }
            out += inMark || c == "}" ? String(c) : c.uppercased()
        }
        return out
    }

    @Test func kitReasonsCarryCodesThatRenderTheirOwnEnglish() {
        var devices = [device(.fingerprint, "1-1", .failed, reason: "no response to GET_STATUS"), device(.iris, "1-2", .missing),
                       device(.camera, "1-3", .ok, flapping: true), device(.signaturePad, "1-4", .unknown)]
        var r = KitEvaluator.evaluate(profile: .recording, devices: devices)
        #expect(r.problems.count == 4)
        for p in r.problems {
            let code = try! #require(p.code)
            #expect(ReasonCode(rawValue: code) != nil)
            #expect(p.reason(\.self) == p.reason, "\(code) renders other English than it sends")
            #expect(Sentences.translate(p.reason, templates: Sentences.templates, translate: { $0 }) == p.reason)
        }
        devices.removeAll { $0.device.kind == .iris }
        r = KitEvaluator.evaluate(profile: KitProfile(requirements: [.init(kind: .iris, count: 2), .init(kind: .cardPrinter, count: 2)]),
                                  devices: devices + [device(.cardPrinter, "2-1", .failed)])
        #expect(r.problems.map(\.reason).contains("needs 2 iris scanners, none connected"))
        #expect(r.problems.map(\.reason).contains("only 0 of 2 card printers usable"))
    }

    @Test func theCataloguesMarksAreTheCodesTemplates() {
        #expect(ReasonCode.catalogue == ReasonCode.allCases.map(\.template))
    }

    /// Device events carry their reason's code too: the issue's own example, "not on the bus" at port 1-1.
    @Test func anUnpluggedDevicesEventCarriesACodeWithItsPort() throws {
        let e = Event(sequence: 1, time: Timestamp(seconds: 0), station: "st", type: .deviceHealth, subject: "1-1:05ba:000a",
                      kind: .fingerprint, from: "ok", to: "missing", reason: "not on the bus: plug it back into port 1-1")
        #expect(e.code == "device.not_on_bus" && e.args == ["port": "1-1"])
        #expect(e.reason(\.self) == "not on the bus: plug it back into port 1-1")
        #expect(e.reason(Self.id) == "tidak terhubung: colokkan kembali ke port 1-1")
        let other = Event(sequence: 2, time: Timestamp(seconds: 0), station: "st", type: .deviceHealth, subject: "x", reason: "no response to GET_STATUS")
        #expect(other.code == nil)
        // On the wire and back.
        let back = try JSONStyle.decode(Event.self, from: try JSONStyle.encode(e))
        let wire = String(decoding: try JSONStyle.encode(e), as: UTF8.self)
        #expect(back == e)
        #expect(wire.contains(#""code":"device.not_on_bus""#))
    }

    @Test func aReasonIsReadBackFromItsEnglishWithTheKindItNames() throws {
        let english = "card printer Evolis Zenius at 1-4.2 failed: printer reports ribbon out: replace the ribbon"
        let values = try #require(Sentences.match(ReasonCode.failed.template, english))
        #expect(values == ["kind": "card_printer", "name": "Evolis Zenius", "port": "1-4.2", "why": "printer reports ribbon out: replace the ribbon"])
        // The kind's name, the template and the device's own reason go through the catalogue; the name and port do not.
        #expect(Sentences.translate(english, templates: Sentences.templates, translate: Self.shout)
                == "CARD PRINTER Evolis Zenius AT 1-4.2 FAILED: PRINTER REPORTS RIBBON OUT: REPLACE THE RIBBON")
        #expect(Sentences.match(ReasonCode.unplugged.template, "something else entirely") == nil)
    }

    @Test func everyAlertSummaryIsAKnownTemplate() {
        var s = StationStatus(station: "st", site: Site(province: "P", regency: "R", district: "D"), backend: "simulated",
                              kit: KitStatus(state: .broken, problems: [KitProblem(kind: .fingerprint, severity: .broken, code: .noneConnected, args: ["kind": "fingerprint"])],
                                             since: Timestamp(seconds: 0)),
                              devices: [device(.camera, "1-3", .failed), device(.iris, "1-2", .degraded)],
                              lastSequence: 1, startedAt: Timestamp(seconds: 0), now: Timestamp(seconds: 10), version: ektpVersion)
        s.sync = SyncStatus(state: .never, lastPull: nil, limitSeconds: 86400, reason: nil)
        s.power = PowerStatus(onMains: false, batteryPercent: 10, batteryLow: true, since: Timestamp(seconds: 0))
        s.stock = StockStatus(blanks: 0, source: .printer, updatedAt: Timestamp(seconds: 0))
        let summaries = AlertRules.evaluate(s, blanksLow: 100).conditions.map(\.summary)
        #expect(summaries.count >= 6)
        #expect(Self.indonesian.messages.count > 300)
        for summary in summaries {
            #expect(Sentences.translate(summary, templates: Sentences.templates, translate: Self.id) != summary,
                    "no template or catalogue entry for the alert summary \"\(summary)\"")
        }
    }

    @Test func everyConfigProblemOfTheReaderIsAKnownTemplate() {
        let diag = FieldDiagnostics(file: "t.yaml")
        _ = diag.root("a: [1\n")
        let map = diag.root("""
            text: [1, 2]
            count: many
            big: 99
            flag: maybe
            wait: often
            short: 1ms
            choice: blue
            list: x
            extra: 1
            """)!
        _ = map.value("text")?.string()
        _ = map.value("count")?.int(in: 0...10)
        _ = map.value("big")?.int(in: 0...10)
        _ = map.value("flag")?.bool()
        _ = map.value("wait")?.duration()
        _ = map.value("short")?.duration(atLeast: .seconds(1))
        _ = map.value("choice")?.word([("red", 1), ("green", 2)])
        _ = map.list("list")
        _ = map.value("missing", required: true)
        map.finish()
        #expect(diag.issues.count >= 9)
        for issue in diag.issues where issue.field != "" {
            #expect(Sentences.translate(issue.message, templates: Sentences.templates, translate: Self.id) != issue.message,
                    "no template for the config problem \"\(issue.message)\"")
        }
    }

    /// The config's own checks (beyond the reader's types) word their problems from known templates too.
    @Test func everyProblemOfAStationConfigIsTranslatable() throws {
        let dir = "/tmp/ektp-sentences-\(getpid())"
        mkdir(dir, 0o700)
        defer { unlink(dir + "/ektpd.yaml"); unlink(dir + "/empty-token"); rmdir(dir) }
        _ = FileManager.default.createFile(atPath: dir + "/empty-token", contents: Data())
        chmod(dir + "/empty-token", 0o600)
        try """
        station: {id: "-bad id", site: {province: P, regency: R, district: D}}
        backend: {type: real, scenario: x.yaml}
        kit: {toaster: 1}
        probes: {flap_start: 0.2, flap_stop: 0.5}
        control: {socket: relative.sock}
        registry: {url: "ftp://x", token: abc, token_file: empty-token, client_cert: /nonexistent.pem}
        server: {command: [/bin/true], unit: x.service, liveness: {tcp: "nohost"}}
        metrics: {listen: "nowhere"}
        """.write(toFile: dir + "/ektpd.yaml", atomically: true, encoding: .utf8)
        do {
            _ = try StationConfig.load(path: dir + "/ektpd.yaml", environment: [:])
            Issue.record("the config loaded")
        } catch {
            #expect(error.issues.count >= 8, "\(error.description)")
            for issue in error.issues {
                #expect(Sentences.translate(issue.message, templates: Sentences.templates, translate: Self.id) != issue.message,
                        "no template or catalogue entry for \"\(issue.message)\"")
            }
        }
    }
}
