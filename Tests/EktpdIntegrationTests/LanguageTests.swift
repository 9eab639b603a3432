import EKTPModel
import EKTPPlatform
import Foundation
import Glibc
import EKTPTesting
import Testing

/// Issue 18: the operator reads ektpd in their language (gettext through glibc, catalogues from
/// po/), while `--json` and the reports never change with LANG.
@Suite(.serialized) struct LanguageTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// po/id.po compiled by msgfmt into a folder of its own (EKTP_LOCALEDIR), as make install does.
    static func locales() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ektp-locale-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir + "/id/LC_MESSAGES", withIntermediateDirectories: true)
        let r = run(["/usr/bin/msgfmt", "--check", "-o", dir + "/id/LC_MESSAGES/ektpd.mo", root + "/po/id.po"])
        #expect(r.status == 0, "msgfmt: \(r.stderr)")
        return dir
    }

    @Test func statusIsInIndonesianAndItsJSONIsTheSameInAnyLanguage() throws {
        let locales = try Self.locales()
        // Settled devices are probed hourly here, so two reads of the status differ only in `now`.
        // The daemon renders the text (`?format=text`) from its catalogues: the same folder.
        let daemon = try RunningDaemon(scenario: standardKit + """

            timeline:
              - {at: 2s, device: fingerprint, fault: unplug}
        """, config: "probes: {interval: 1h}", environment: ["EKTP_LOCALEDIR": locales])
        try daemon.waitReady()
        _ = try daemon.waitForStatus { $0.kit.state == .broken }
        // id_ID.UTF-8 need not be generated on this machine: the catalogue is chosen by its language.
        let id = ["LANG": "id_ID.UTF-8", "LANGUAGE": "", "LC_ALL": "", "EKTP_LOCALEDIR": locales]
        let c = ["LANG": "C", "LANGUAGE": "", "LC_ALL": "", "EKTP_LOCALEDIR": locales]
        let text = try ektpd(["status", "--socket", daemon.socket], environment: id)
        #expect(text.status == 2)
        #expect(text.stdout.contains("Alat perekaman RUSAK: stasiun ini tidak dapat merekam"), "\(text.stdout)")
        #expect(text.stdout.contains("pemindai sidik jari DigitalPersona U.are.U 4000B/4500 di port 1-1 tercabut: colokkan kembali ke port 1-1"))
        #expect(text.stdout.contains("PERANGKAT") && text.stdout.contains("tidak terpasang") && text.stdout.contains("detik lalu"))
        #expect(text.stdout.contains("Blangko: 900 blangko"))
        let english = try ektpd(["status", "--socket", daemon.socket], environment: c)
        #expect(english.stdout.contains("Kit BROKEN: this station cannot enrol") && !english.stdout.contains("RUSAK"))
        // LANGUAGE picks the catalogue too, as for every gettext program.
        let byLanguage = try ektpd(["status", "--socket", daemon.socket], environment: ["LANG": "C.UTF-8", "LANGUAGE": "id", "EKTP_LOCALEDIR": locales])
        #expect(byLanguage.stdout.contains("Alat perekaman RUSAK"))

        // The JSON is the same bytes whatever LANG says, but for the clock's readings: the daemon
        // maps its steady timeline to the wall clock anew on each request (a millisecond may move).
        func json(_ env: [String: String]) throws -> String {
            let out = try ektpd(["status", "--json", "--socket", daemon.socket], environment: env).stdout
            return out.replacing(/"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"/, with: "\"TIME\"")
        }
        let a = try json(id), b = try json(c)
        #expect(a == b, "the JSON changed with LANG")
        #expect(a.contains("is unplugged: plug it back into port 1-1") && a.count > 1000)
        // The events table's words, not its event types.
        let events = try ektpd(["events", "--socket", daemon.socket], environment: id)
        #expect(events.stdout.contains("KEJADIAN") && events.stdout.contains("device.health") && events.stdout.contains("tidak terhubung"))
        let devices = try ektpd(["devices", "--socket", daemon.socket], environment: id)
        #expect(devices.status == 2 && devices.stdout.contains("kondisi:"), "\(devices.stdout)")

        // A daemon from before `?format=` answers JSON to it: the client renders the same text itself.
        let old = daemon.dir + "/old.sock"
        let bodyFile = daemon.dir + "/status.json"
        try Data(try ektpd(["status", "--json", "--socket", daemon.socket]).stdout.utf8).write(to: URL(fileURLWithPath: bodyFile))
        let fake = Process()
        fake.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        fake.arguments = [Self.root + "/Tests/EktpdIntegrationTests/helpers/json-only-daemon.py", old, bodyFile, "broken"]
        try fake.run()
        defer { kill(fake.processIdentifier, SIGKILL); fake.waitUntilExit() }
        try waitFor("the old daemon's socket") { FileManager.default.fileExists(atPath: old) }
        let fallback = try ektpd(["status", "--socket", old], environment: id)
        #expect(fallback.status == 2)
        #expect(fallback.stdout.contains("Alat perekaman RUSAK: stasiun ini tidak dapat merekam") && fallback.stdout.contains("PERANGKAT"), "\(fallback.stdout)")
        #expect(try ektpd(["devices", "--socket", old], environment: c).stdout.contains("health:"))
        #expect(daemon.terminate() == 0)
    }

    /// `GET /v1/status?format=text|devices&lang=LIST` renders in the first listed language the
    /// station has a catalogue for, English otherwise; a name that is not a language is passed
    /// over, and an unknown format is refused naming it.
    @Test func theDaemonRendersTheStatusInTheLanguageAsked() throws {
        let locales = try Self.locales()
        let daemon = try RunningDaemon(scenario: standardKit, environment: ["EKTP_LOCALEDIR": locales])
        try daemon.waitReady()
        let client = ControlClient(socketPath: daemon.socket)
        func get(_ target: String) throws -> (status: Int, text: String) {
            let r = try client.exchange("GET", target)
            return (r.status, String(decoding: r.body, as: UTF8.self))
        }
        let id = try get("/v1/status?format=text&lang=id_ID:id")
        #expect(id.status == 200 && id.text.contains("Alat perekaman SIAP"), "\(id.text)")
        // The first with a catalogue wins; "fr" has none here.
        #expect(try get("/v1/status?format=text&lang=fr_FR:fr:id").text.contains("Alat perekaman SIAP"))
        // As gettext searches LANGUAGE: a language without a catalogue (en) is passed over.
        #expect(try get("/v1/status?format=text&lang=en:id").text.contains("Alat perekaman SIAP"))
        #expect(try get("/v1/status?format=text&lang=en_US:en").text.contains("Kit READY"))
        #expect(try get("/v1/status?format=text&lang=C").text.contains("Kit READY"))
        #expect(try get("/v1/status?format=text").text.contains("Kit READY"))
        // Not a language name but a path to a catalogue that is there: passed over, never read.
        let outside = URL(fileURLWithPath: locales).deletingLastPathComponent().appendingPathComponent("evil-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: outside + "/LC_MESSAGES", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: outside) }
        try FileManager.default.copyItem(atPath: locales + "/id/LC_MESSAGES/ektpd.mo", toPath: outside + "/LC_MESSAGES/ektpd.mo")
        let name = URL(fileURLWithPath: outside).lastPathComponent
        #expect(try get("/v1/status?format=text&lang=../\(name)").text.contains("Kit READY"))
        #expect(try get("/v1/status?format=text&lang=..%2F\(name)").text.contains("Kit READY"))
        #expect(try get("/v1/status?format=devices&lang=id").text.contains("kondisi:"))
        let bad = try get("/v1/status?format=yaml")
        #expect(bad.status == 400 && bad.text.contains("format must be json, text or devices, got 'yaml'"), "\(bad.text)")
        #expect(daemon.terminate() == 0)
    }

    @Test func checkConfigSaysWhereInAnyLanguage() throws {
        let locales = try Self.locales()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ektp-cfg-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try standardKit.write(toFile: dir + "/kit.yaml", atomically: true, encoding: .utf8)
        try """
        station:
          id: it-01
          site: {province: Kalimantan Barat, regency: Sintang, district: Dedai}
          colour: blue
        backend: {type: simulated, scenario: kit.yaml}
        probes:
          interval: often
        """.write(toFile: dir + "/ektpd.yaml", atomically: true, encoding: .utf8)
        let id = try ektpd(["check-config", dir + "/ektpd.yaml"], environment: ["LANG": "id_ID.UTF-8", "LANGUAGE": "", "LC_ALL": "", "EKTP_LOCALEDIR": locales])
        let c = try ektpd(["check-config", dir + "/ektpd.yaml"], environment: ["LANG": "C", "LANGUAGE": "", "LC_ALL": "", "EKTP_LOCALEDIR": locales])
        #expect(id.status == 4 && c.status == 4)
        #expect(c.stderr.contains("ektpd.yaml:4:3: station.colour: unknown field"))
        #expect(c.stderr.contains("ektpd.yaml:7:13: probes.interval: expected a duration like 10s, 5m or 1h, got 'often'"))
        #expect(id.stderr.contains("ektpd.yaml:4:3: station.colour: kolom tidak dikenal"), "\(id.stderr)")
        #expect(id.stderr.contains("ektpd.yaml:7:13: probes.interval: seharusnya durasi seperti 10s, 5m atau 1h, tertulis 'often'"))
        #expect(id.stderr.contains("2 masalah"))
        // A file that cannot be read: the whole sentence in Indonesian, not the English words
        // "the config file" inside an Indonesian template (found in stop 25).
        let missing = try ektpd(["check-config", dir + "/absent.yaml"], environment: ["LANG": "id_ID.UTF-8", "LANGUAGE": "", "LC_ALL": "", "EKTP_LOCALEDIR": locales])
        #expect(missing.status == 4)
        #expect(missing.stderr.contains("absent.yaml:0:0: tidak dapat membaca berkas konfigurasi (apakah berkasnya ada, dan boleh dibaca ektpd?)"), "\(missing.stderr)")
        try "station:\n  id: it-01\n  site: {province: Kalimantan Barat, regency: Sintang, district: Dedai}\nbackend: {type: simulated, scenario: gone.yaml}\n"
            .write(toFile: dir + "/noscenario.yaml", atomically: true, encoding: .utf8)
        let noScenario = try ektpd(["check-config", dir + "/noscenario.yaml"], environment: ["LANG": "id_ID.UTF-8", "LANGUAGE": "", "LC_ALL": "", "EKTP_LOCALEDIR": locales])
        #expect(noScenario.stderr.contains("gone.yaml:0:0: tidak dapat membaca berkas skenario (apakah berkasnya ada, dan boleh dibaca ektpd?)"), "\(noScenario.stderr)")
        #expect(!missing.stderr.contains("the config file") && !noScenario.stderr.contains("the scenario file"))
        // The YAML reader's own messages and the "did you mean" hint, in Indonesian too.
        try "station:\n  id: it-01\n  sitee: x\n".write(toFile: dir + "/typo.yaml", atomically: true, encoding: .utf8)
        try "a: 1\n b: 2\nc\n".write(toFile: dir + "/shape.yaml", atomically: true, encoding: .utf8)
        let typo = try ektpd(["check-config", dir + "/typo.yaml"], environment: ["LANG": "id_ID.UTF-8", "LANGUAGE": "", "LC_ALL": "", "EKTP_LOCALEDIR": locales])
        #expect(typo.stderr.contains("typo.yaml:3:3: station.sitee: kolom tidak dikenal (maksudnya 'site'?)"), "\(typo.stderr)")
        let shape = try ektpd(["check-config", dir + "/shape.yaml"], environment: ["LANG": "id_ID.UTF-8", "LANGUAGE": "", "LC_ALL": "", "EKTP_LOCALEDIR": locales])
        #expect(shape.stderr.contains("shape.yaml:2:2: indentasi tidak terduga: 'a' sudah bernilai di baris 1"), "\(shape.stderr)")
    }

    /// The alert summaries hooks and webhooks carry are in the station's language, the English kept
    /// beside them (`EKTP_SUMMARY_EN`, `summary_en`); labels and alert names never change.
    @Test func hooksGetTheSummaryInTheStationsLanguageAndInEnglish() throws {
        let locales = try Self.locales()
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ektp-hooks-id-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let tests = AlertTests()
        try tests.recordingHook(scratch + "/hooks", scratch + "/out")
        let daemon = try RunningDaemon(scenario: fourDevicesKit + """

            timeline:
              - {at: 2s, device: fingerprint, fault: unplug}
        """, config: """
        \(fastProbes)
        alerts: {hooks_dir: \(scratch)/hooks, group_wait: 300ms, retries: 0}
        """, environment: ["LANG": "id_ID.UTF-8", "LANGUAGE": "", "LC_ALL": "", "EKTP_LOCALEDIR": locales])
        try daemon.waitReady()
        try waitFor("a hook run") { files(scratch + "/out", ".json").count >= 1 }
        let run = files(scratch + "/out", ".json")[0]
        let env = tests.environment(run.replacingOccurrences(of: ".json", with: ".env"))
        #expect(env["EKTP_ALERT"] == "DeviceFailed,KitBroken")
        #expect(env["EKTP_SUMMARY"] == "pemindai sidik jari DigitalPersona U.are.U 4000B/4500 di port 1-1 tidak terpasang; alat perekaman rusak: pemindai sidik jari",
                "\(env["EKTP_SUMMARY"] ?? "")")
        #expect(env["EKTP_SUMMARY_EN"] == "fingerprint scanner DigitalPersona U.are.U 4000B/4500 at 1-1 is missing; kit broken: fingerprint scanner")
        let payload = try AlertNotification.decode(Array(try Data(contentsOf: URL(fileURLWithPath: run))))
        #expect(payload.alerts.first?.annotations["summary"]?.contains("tidak terpasang") == true)
        #expect(payload.alerts.first?.annotations["summary_en"]?.hasSuffix("at 1-1 is missing") == true)
        #expect(payload.alerts.first?.labels["alertname"] == "DeviceFailed")
        #expect(daemon.terminate() == 0)
    }
}
