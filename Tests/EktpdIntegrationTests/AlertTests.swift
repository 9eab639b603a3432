import EKTPModel
import EKTPStation
import EKTPPlatform
import EKTPCore
import Foundation
import Glibc
import EKTPTesting
import Testing


/// Whether a tool of Debian's `prometheus` package is there; if not, says so loudly (and fails the
/// test when EKTP_REQUIRE_PROMETHEUS=1, as in CI).
func prometheusTool(_ path: String, else consequence: String) -> Bool {
    if FileManager.default.isExecutableFile(atPath: path) { return true }
    let message = "SKIPPED: \(path) is missing (apt-get install prometheus); \(consequence)"
    if ProcessInfo.processInfo.environment["EKTP_REQUIRE_PROMETHEUS"] == "1" { Issue.record(Comment(rawValue: message)) }
    print("\n**** \(message) ****\n")
    return false
}

/// The loopback webhook receiver (helpers/webhook-receiver.py) storing POSTs in `dir`, answering
/// 500 to the first `failFirst`; returns it once it listens, with its port.
func startWebhookReceiver(_ dir: String, failFirst: Int, tls: (cert: String, key: String)? = nil) throws -> (Process, String) {
    let receiver = Process()
    receiver.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
    receiver.arguments = [repoRoot + "/Tests/EktpdIntegrationTests/helpers/webhook-receiver.py", dir, "\(failFirst)"]
        + (tls.map { [$0.cert, $0.key] } ?? [])
    try receiver.run()
    try waitFor("the webhook receiver listening") { FileManager.default.fileExists(atPath: dir + "/port") }
    return (receiver, try String(contentsOfFile: dir + "/port", encoding: .utf8))
}

/// SIGKILL: children of the test runner inherit its blocked SIGTERM.
func stopWebhookReceiver(_ receiver: Process) {
    kill(receiver.processIdentifier, SIGKILL)
    receiver.waitUntilExit()
}

func files(_ dir: String, _ suffix: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(suffix) }.sorted().map { dir + "/" + $0 }
}

/// `NAME VALUE` of one sample in Prometheus text, by its exact series (name and labels as printed).
func sample(_ text: String, _ series: String) -> Double? {
    for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
        return Double(line.dropFirst(series.count + 1))
    }
    return nil
}

/// The standard kit without its printer and reader: a recording station.
let fourDevicesKit = standardKit.split(separator: "\n").filter { !$0.contains("name: printer") && !$0.contains("name: reader") }.joined(separator: "\n")

let fastProbes = "probes: {interval: 300ms, retry_interval: 100ms, timeout: 100ms, fail_after: 2, recover_after: 1}"

/// A real Prometheus (Debian's) on a free loopback port, scraping every second, for the scrape
/// tests; killed when released.
final class RunningPrometheus {
    let process = Process()
    let port = freeLoopbackPort()

    init(dir: String, scrapeConfigs: String) throws {
        try """
        global: {scrape_interval: 1s, evaluation_interval: 1s}
        scrape_configs:
        \(scrapeConfigs)
        """.write(toFile: dir + "/prometheus.yml", atomically: true, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/prometheus")
        process.arguments = ["--config.file=\(dir)/prometheus.yml", "--storage.tsdb.path=\(dir)/prometheus-data",
                             "--web.listen-address=127.0.0.1:\(port)", "--log.level=warn"]
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
    }

    deinit { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }

    /// A PromQL instant query's series: labels and value (empty until Prometheus answers).
    func query(_ q: String) -> [(labels: [String: String], value: String)] {
        let encoded = q.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        guard case .success(let r) = httpGet(host: "127.0.0.1", port: port, path: "/api/v1/query?query=\(encoded)", timeout: .seconds(5)),
              r.status == 200,
              let json = try? JSONSerialization.jsonObject(with: Data(r.body.utf8)) as? [String: Any],
              let data = json["data"] as? [String: Any], let result = data["result"] as? [[String: Any]] else { return [] }
        return result.compactMap { row in
            guard let metric = row["metric"] as? [String: String], let value = row["value"] as? [Any], value.count == 2,
                  let v = value[1] as? String else { return nil }
            return (metric, v)
        }
    }
}

@Suite(.serialized) struct AlertTests {
    /// A hook that records what it was given: its stdin and its environment, one pair of files a run.
    func recordingHook(_ hooks: String, _ out: String, name: String = "10-record") throws {
        try FileManager.default.createDirectory(atPath: hooks, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let path = hooks + "/" + name
        try """
        #!/bin/sh
        n=$(date +%s%N)
        env > \(out)/$n.env.tmp
        cat > \(out)/$n.json.tmp
        mv \(out)/$n.env.tmp \(out)/$n.env
        mv \(out)/$n.json.tmp \(out)/$n.json
        """.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
    }

    func environment(_ file: String) -> [String: String] {
        let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
        var env: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            env[String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
        return env
    }

    @Test func aKitLosingFourDevicesFiresOneHookRunAndResolvesInOneMore() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ektp-hooks-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try recordingHook(scratch + "/hooks", scratch + "/out")
        let daemon = try RunningDaemon(scenario: fourDevicesKit + """

            timeline:
              - {at: 2s, device: fingerprint, fault: unplug}
              - {at: 2s, device: iris, fault: unplug}
              - {at: 2s, device: camera, fault: unplug}
              - {at: 2s, device: signature, fault: unplug}
              - {at: 4s, device: fingerprint, fault: replug}
              - {at: 4s, device: iris, fault: replug}
              - {at: 4s, device: camera, fault: replug}
              - {at: 4s, device: signature, fault: replug}
        """, config: """
        \(fastProbes)
        alerts: {hooks_dir: \(scratch)/hooks, group_wait: 500ms, retries: 0}
        """, environment: ["EKTP_TEST_SECRET": "must-not-reach-hooks"])
        try daemon.waitReady()
        try waitFor("two hook runs") { files(scratch + "/out", ".json").count >= 2 }
        // The resolution is the last: nothing more is due (the metric counts every notification).
        let metrics = try ektpd(["metrics", "--socket", daemon.socket]).stdout
        #expect(sample(metrics, "ektp_alert_notifications_total") == 2)
        #expect(sample(metrics, "ektp_alert_deliveries_total{channel=\"hook\",result=\"ok\"}") == 2)

        let runs = files(scratch + "/out", ".json")
        let fire = try AlertNotification.decode(Array(try Data(contentsOf: URL(fileURLWithPath: runs[0]))))
        let clear = try AlertNotification.decode(Array(try Data(contentsOf: URL(fileURLWithPath: runs[1]))))
        #expect(fire.status == "firing" && clear.status == "resolved")
        #expect(fire.alerts.map { $0.labels["alertname"]! } == ["DeviceFailed", "DeviceFailed", "DeviceFailed", "DeviceFailed", "KitBroken"])
        #expect(Set(clear.alerts.map(\.fingerprint)) == Set(fire.alerts.map(\.fingerprint)))
        #expect(clear.alerts.allSatisfy { $0.status == "resolved" && $0.endsAt != Alert.zeroTime && $0.endsAt >= $0.startsAt })

        let env = environment(runs[0].replacingOccurrences(of: ".json", with: ".env"))
        #expect(env["EKTP_EVENT"] == "alert.firing")
        #expect(env["EKTP_SEVERITY"] == "critical")
        #expect(env["EKTP_STATION"] == "it-01")
        #expect(env["EKTP_SITE"] == "Kalimantan Barat/Sintang/Dedai")
        #expect(env["EKTP_ALERT_COUNT"] == "5")
        #expect(env["EKTP_DEVICE_KIND"] == "fingerprint,iris,camera,signature_pad")
        #expect(env["EKTP_DEVICE_NAME"]?.hasPrefix("DigitalPersona U.are.U 4000B/4500,") == true)
        #expect(env["EKTP_FROM"] == "ok,ok,ok,ok,ready")
        #expect(env["EKTP_TO"] == "missing,missing,missing,missing,broken")
        #expect(env["EKTP_REASON"]?.contains("not on the bus: plug it back into port 1-1") == true)
        #expect(env["EKTP_TEST_SECRET"] == nil && env["NOTIFY_SOCKET"] == nil)
        let env2 = environment(runs[1].replacingOccurrences(of: ".json", with: ".env"))
        #expect(env2["EKTP_EVENT"] == "alert.resolved")
        #expect(env2["EKTP_TO"] == "ok,ok,ok,ok,ready")

        let alerts = try ektpd(["alerts", "--socket", daemon.socket])
        #expect(alerts.status == 0 && alerts.stdout.contains("no alerts firing"))
        #expect(daemon.terminate() == 0)
    }

    @Test func aHangingHookIsKilledAtItsTimeoutWhileTheNextEventsHooksRunOnTime() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ektp-hang-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try recordingHook(scratch + "/hooks", scratch + "/out")
        try """
        #!/bin/sh
        echo $$ >> \(scratch)/hang-pids
        exec sleep 300
        """.write(toFile: scratch + "/hooks/00-hang", atomically: true, encoding: .utf8)
        chmod(scratch + "/hooks/00-hang", 0o755)
        let daemon = try RunningDaemon(scenario: fourDevicesKit + """

            timeline:
              - {at: 2s, device: camera, fault: unplug}
              - {at: 3s, device: camera, fault: replug}
        """, config: """
        \(fastProbes)
        alerts: {hooks_dir: \(scratch)/hooks, group_wait: 300ms, hook_timeout: 8s, retries: 0}
        """)
        try daemon.waitReady()
        try waitFor("the resolution's hook run") { files(scratch + "/out", ".json").count >= 2 }
        // The first hanging run is still there: the second notification did not wait for it.
        let pids = (try String(contentsOfFile: scratch + "/hang-pids", encoding: .utf8)).split(separator: "\n").compactMap { Int32($0) }
        #expect(pids.count >= 1)
        #expect(kill(pids[0], 0) == 0, "the hanging hook ended before the next notification's hooks ran")
        let runs = files(scratch + "/out", ".json")
        let gap = Double(Int64(URL(fileURLWithPath: runs[1]).deletingPathExtension().lastPathComponent)! -
                         Int64(URL(fileURLWithPath: runs[0]).deletingPathExtension().lastPathComponent)!) / 1e9
        #expect(gap < 4, "the resolution's hook ran \(gap) s after the firing's: held up by the hanging hook?")
        // Both hanging runs are killed at their 8 s timeout.
        try waitFor("the hanging hooks killed", seconds: 30) {
            let all = ((try? String(contentsOfFile: scratch + "/hang-pids", encoding: .utf8)) ?? "").split(separator: "\n").compactMap { Int32($0) }
            return all.count == 2 && all.allSatisfy { kill($0, 0) != 0 }
        }
        let metrics = try ektpd(["metrics", "--socket", daemon.socket]).stdout
        #expect(sample(metrics, "ektp_alert_deliveries_total{channel=\"hook\",result=\"timeout\"}") == 2)
        #expect(sample(metrics, "ektp_alert_deliveries_total{channel=\"hook\",result=\"ok\"}") == 2)
        #expect(daemon.terminate() == 0)
        let stderr = daemon.stopAndReadStderr()
        #expect(stderr.contains("00-hang (alert.firing DeviceFailed,KitBroken) failed: still running after 8 s: killed (pid \(pids[0]) and its group)"))
    }

    @Test func webhooksGetAlertmanagersPayloadAndARetryAfterAFailure() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ektp-webhook-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let (receiver, port) = try startWebhookReceiver(scratch, failFirst: 1)
        defer { stopWebhookReceiver(receiver) }

        let daemon = try RunningDaemon(scenario: fourDevicesKit + """

            timeline:
              - {at: 2s, device: camera, fault: unplug}
        """, config: """
        \(fastProbes)
        alerts:
          hooks_dir: \(scratch)/no-hooks
          group_wait: 300ms
          retries: 2
          retry_delay: 200ms
          webhooks: ["http://127.0.0.1:\(port)/alerts/ektp"]
        """)
        try daemon.waitReady()
        try waitFor("the retried POST") { files(scratch, ".json").count >= 2 }
        let posts = files(scratch, ".json")
        let first = try Data(contentsOf: URL(fileURLWithPath: posts[0]))
        let second = try Data(contentsOf: URL(fileURLWithPath: posts[1]))
        #expect(first == second, "the retry must send the same notification")
        let meta = try String(contentsOfFile: posts[1].replacingOccurrences(of: ".json", with: ".meta"), encoding: .utf8)
        #expect(meta == "/alerts/ektp\napplication/json\n")

        // Field by field, as an Alertmanager receiver reads it (untyped JSON, not our own decoder).
        let p = try #require(try JSONSerialization.jsonObject(with: second) as? [String: Any])
        #expect(p["version"] as? String == "4")
        #expect(p["status"] as? String == "firing")
        #expect(p["receiver"] as? String == "ektpd")
        #expect(p["groupKey"] as? String == "{}:{station=\"it-01\"}")
        #expect(p["truncatedAlerts"] as? Int == 0)
        #expect(p["externalURL"] as? String == "")
        #expect(p["groupLabels"] as? [String: String] == ["station": "it-01"])
        let common = try #require(p["commonLabels"] as? [String: String])
        #expect(common == ["station": "it-01", "province": "Kalimantan Barat", "regency": "Sintang", "district": "Dedai", "severity": "critical"])
        let alerts = try #require(p["alerts"] as? [[String: Any]])
        #expect(alerts.count == 2)
        let device = alerts[0]
        #expect(device["status"] as? String == "firing")
        let labels = try #require(device["labels"] as? [String: String])
        #expect(labels == ["alertname": "DeviceFailed", "severity": "critical", "station": "it-01", "province": "Kalimantan Barat",
                           "regency": "Sintang", "district": "Dedai", "device": "1-3:046d:082d", "kind": "camera"])
        let annotations = try #require(device["annotations"] as? [String: String])
        #expect(annotations["summary"] == "camera Logitech HD Pro Webcam C920 at 1-3 is missing")
        #expect(annotations["description"] == "not on the bus: plug it back into port 1-3")
        #expect(annotations["from"] == "ok" && annotations["to"] == "missing")
        #expect(annotations["device_name"] == "Logitech HD Pro Webcam C920")
        let startsAt = try #require(device["startsAt"] as? String)
        #expect(Timestamp(rfc3339: startsAt) != nil)
        #expect(device["endsAt"] as? String == "0001-01-01T00:00:00Z")
        #expect(device["generatorURL"] as? String == "")
        let fingerprint = try #require(device["fingerprint"] as? String)
        #expect(fingerprint.count == 16 && fingerprint == Alert.fingerprint(of: labels))
        let kit = alerts[1]
        #expect((kit["labels"] as? [String: String])?["alertname"] == "KitBroken")
        #expect((kit["annotations"] as? [String: String])?["summary"] == "kit broken: camera")

        // The operator sees the same alerts.
        let human = try ektpd(["status", "--socket", daemon.socket])
        #expect(human.stdout.contains("Alerts:  2 firing"), "\(human.stdout)")
        #expect(human.stdout.contains("CRITICAL DeviceFailed since"))
        let firing = try ektpd(["alerts", "--socket", daemon.socket])
        #expect(firing.status == 2 && firing.stdout.contains("CRITICAL KitBroken"))
        let listed = try Alert.decodeList(Array(try ektpd(["alerts", "--json", "--socket", daemon.socket]).stdout.utf8))
        #expect(listed.map(\.fingerprint) == alerts.compactMap { $0["fingerprint"] as? String })
        let metrics = try ektpd(["metrics", "--socket", daemon.socket]).stdout
        #expect(sample(metrics, "ektp_alert_deliveries_total{channel=\"webhook\",result=\"failed\"}") == 1)
        #expect(sample(metrics, "ektp_alert_deliveries_total{channel=\"webhook\",result=\"ok\"}") == 1)
        #expect(daemon.terminate() == 0)
        let stderr = daemon.stopAndReadStderr()
        #expect(stderr.contains("failed (try 1 of 3), again in") && stderr.contains("answered HTTP 500"))
    }

    @Test func aRealPrometheusScrapesTheDaemonAndPromQLSeesTheDeviceFail() throws {
        let prometheus = "/usr/bin/prometheus"
        guard prometheusTool(prometheus, else: "the real-Prometheus test did not run") else { return }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ektp-prom-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let metricsPort = freeLoopbackPort()
        let daemon = try RunningDaemon(scenario: fourDevicesKit, config: """
        \(fastProbes)
        metrics: {listen: "127.0.0.1:\(metricsPort)"}
        """)
        try daemon.waitReady()
        // The TCP listener serves /metrics and nothing else.
        guard case .success(let direct) = httpGet(host: "127.0.0.1", port: metricsPort, path: "/metrics", timeout: .seconds(5)) else {
            throw HarnessError("no /metrics on 127.0.0.1:\(metricsPort)")
        }
        #expect(direct.status == 200 && direct.body.contains("# TYPE ektp_device_up gauge"))
        if case .success(let other) = httpGet(host: "127.0.0.1", port: metricsPort, path: "/v1/status", timeout: .seconds(5)) {
            #expect(other.status == 404)
        }

        let prom = try RunningPrometheus(dir: scratch, scrapeConfigs: """
          - job_name: ektpd
            static_configs: [{targets: ["127.0.0.1:\(metricsPort)"]}]
        """)
        let query = prom.query
        try waitFor("Prometheus to see the camera up", seconds: 60) {
            query("ektp_device_up{kind=\"camera\"}").first?.value == "1"
        }
        let up = query("ektp_device_up{kind=\"camera\"}")
        #expect(up.count == 1)
        #expect(up.first?.labels["device"] == "1-3:046d:082d" && up.first?.labels["job"] == "ektpd")
        #expect(query("ektp_kit_state{state=\"ready\"}").first?.value == "1")

        let inject = try ektpd(["inject", "camera", "unplug", "--socket", daemon.socket])
        #expect(inject.status == 0, "\(inject.stderr)")
        try waitFor("Prometheus to see the camera down", seconds: 30) {
            query("ektp_device_up{kind=\"camera\"}").first?.value == "0"
        }
        #expect(query("ektp_device_health{kind=\"camera\",health=\"missing\"}").first?.value == "1")
        #expect(query("ektp_kit_ready").first?.value == "0")
        #expect(query("sum(ektp_device_up)").first?.value == "3")
        #expect(daemon.terminate() == 0)
    }
}

@Suite(.serialized) struct StationMetricsTests {
    @Test func whileTheRegistryIsDownTheOutboxGrowsAndDeliveryErrorsCount() throws {
        let closed = freeLoopbackPort()  // nothing listens there
        let daemon = try RunningDaemon(scenario: standardKit, config: """
        registry: {url: "http://127.0.0.1:\(closed)", token: ektp_x, backoff_base: 50ms, backoff_max: 200ms, timeout: 500ms}
        """)
        try daemon.waitReady()
        var text = ""
        try waitFor("three failed delivery rounds") {
            text = (try? ektpd(["metrics", "--socket", daemon.socket]).stdout) ?? ""
            return (sample(text, "ektp_delivery_errors_total") ?? 0) >= 3
        }
        let status = try #require(try daemon.status().1)
        #expect((sample(text, "ektp_outbox_reports") ?? 0) >= 1)
        #expect((sample(text, "ektp_outbox_oldest_age_seconds") ?? 0) > 0)
        #expect(sample(text, "ektp_delivery_reports_total") == nil, "nothing was delivered")
        #expect(sample(text, "ektp_kit_state{state=\"ready\"}") == 1)
        #expect(sample(text, "ektp_station_info{station=\"it-01\",province=\"Kalimantan Barat\",regency=\"Sintang\",district=\"Dedai\",backend=\"\(status.backend)\",version=\"\(ektpVersion)\"}") == 1)
        #expect(sample(text, "ektp_printer_card_blanks{device=\"1-4.2:0f49:0a00\",kind=\"card_printer\"}") == 900)
        // the daemon's own footprint, under the names every Prometheus client uses
        let rss = try #require(sample(text, "process_resident_memory_bytes"))
        #expect(rss > 1_000_000 && rss < 200_000_000)
        #expect((sample(text, "process_open_fds") ?? 0) >= 3)
        #expect(sample(text, "process_cpu_seconds_total") != nil)
        // Every family has its HELP and TYPE, and names keep Prometheus's conventions.
        let types = text.split(separator: "\n").filter { $0.hasPrefix("# TYPE ") }.map { $0.split(separator: " ") }
        #expect(types.count >= 12)
        for t in types {
            #expect(t[2].hasPrefix("ektp_") || t[2].hasPrefix("process_"))
            #expect(text.contains("# HELP \(t[2]) "), "no HELP for \(t[2])")
            #expect((t[3] == "counter") == t[2].hasSuffix("_total"), "\(t[2]) is a \(t[3])")
        }
        #expect(daemon.terminate() == 0)
    }
}

@Suite struct PrometheusRulesFileTests {
    /// examples/prometheus/ektp-alerts.yml is valid and behaves as its unit tests say (promtool).
    @Test func theShippedAlertingRulesPassPromtoolsChecksAndUnitTests() throws {
        let promtool = "/usr/bin/promtool"
        guard prometheusTool(promtool, else: "the rules file was not checked") else { return }
        let dir = repoRoot + "/examples/prometheus"
        let check = run([promtool, "check", "rules", dir + "/ektp-alerts.yml"])
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
        #expect(check.stdout.contains("SUCCESS: 10 rules found"))
        // promtool resolves rule_files relative to the test file
        let test = run([promtool, "test", "rules", dir + "/ektp-alerts.test.yml"])
        #expect(test.status == 0, "\(test.stdout)\(test.stderr)")
    }
}
