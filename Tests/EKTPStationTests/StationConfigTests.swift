import EKTPModel
import EKTPYAML
import Foundation
import EKTPTesting
import Testing
@testable import EKTPStation
@testable import EKTPPlatform
@testable import EKTPCore


@Suite struct StationConfigTests {
    static let scenario = """
    stations:
      - id: st-1
        site: {province: P, regency: R, district: D}
        devices:
          - {name: fp, usb: 05ba:000a, port: 1-1}
    """

    @Test func readsAFullConfigWithRelativeScenarioPath() throws {
        let dir = TempDir()
        _ = dir.write("kit.yaml", Self.scenario)
        let path = dir.write("ektpd.yaml", """
        station:
          id: st-1
          site: {province: P, regency: R, district: D}
        backend:
          type: simulated
          scenario: kit.yaml
        kit:
          fingerprint: 1
          card_printer: 2
        probes:
          interval: 30s
          retry_interval: 500ms
          fail_after: 5
        control:
          socket: /tmp/x/control.sock
        """)
        let c = try StationConfig.load(path: path, environment: [:])
        #expect(c.stationID == "st-1")
        #expect(c.backend == .simulated(scenario: dir.path + "/kit.yaml", station: "st-1"))
        #expect(c.kit.requirements == [.init(kind: .fingerprint, count: 1), .init(kind: .cardPrinter, count: 2)])
        #expect(c.policy.interval == .seconds(30))
        #expect(c.policy.retryInterval == .milliseconds(500))
        #expect(c.policy.failAfter == 5)
        #expect(c.policy.recoverAfter == 2)
        #expect(c.socketPath == "/tmp/x/control.sock")
    }

    @Test func defaultsComeFromSystemdsDirectories() throws {
        let c = try StationConfig.parse("station: {id: a, site: {province: P, regency: R, district: D}}\nbackend: {type: real}\n",
                                        file: "x.yaml", environment: ["RUNTIME_DIRECTORY": "/run/ektpd", "STATE_DIRECTORY": "/var/lib/ektpd"])
        #expect(c.socketPath == "/run/ektpd/control.sock")
        #expect(c.stateDirectory == "/var/lib/ektpd")
        #expect(c.kit == .recording)
        #expect(c.backend == .real)
    }

    @Test(arguments: [
        ("station: {id: a, site: {province: P, regency: R, district: D}}\nbackend: {type: rael}\n",
         "x.yaml:2:17: backend.type: unknown value 'rael' (did you mean 'real'?)"),
        ("station:\n  id: 'bad id!'\n  site: {province: P, regency: R, district: D}\nbackend: {type: real}\n",
         "x.yaml:2:7: station.id: 'bad id!' is not a valid station id"),
        ("station: {id: a, site: {province: P, regency: R, district: D}}\nbackend: {type: real}\nkit:\n  fingerprnt: 1\n",
         "x.yaml:4:15: kit.fingerprnt: unknown device kind (did you mean 'fingerprint'?)"),
        ("station: {id: a, site: {province: P, regency: R, district: D}}\nbackend: {type: real}\nkit:\n  iris: two\n",
         "x.yaml:4:9: kit.iris: expected a whole number, got 'two'"),
        ("station: {id: a, site: {province: P, regency: R, district: D}}\nbackend: {type: real}\nprobes:\n  interval: 1s\n  timeout: 5s\n",
         "x.yaml:5:12: probes.timeout: must not be longer than interval (1s)"),
        ("station: {id: a, site: {province: P, regency: R, district: D}}\nbackend: {type: real}\nprobes: {flap_start: 0.2, flap_stop: 0.3}\n",
         "probes.flap_stop: must be lower than flap_start"),
        ("station: {id: a, site: {province: P, regency: R, district: D}}\nbackend: {type: real}\ncontrol: {socket: relative.sock}\n",
         "control.socket: must be an absolute path"),
        ("station: {id: a, site: {province: P, regency: R, district: D}}\n",
         "x.yaml:1:1: backend: required field is missing"),
        ("station: {id: a, site: {province: P, regency: R, district: D}}\nbackend: {type: simulated}\n",
         "x.yaml:2:10: backend.scenario: required field is missing"),
        ("station: {id: a, site: {province: P, regency: R, district: D}}\nbackend: {type: real}\nprobe: {interval: 5s}\n",
         "x.yaml:3:1: probe: unknown field (did you mean 'probes'?)"),
        ("station: {id: a, site: {province: P, regency: R, district: D}}\nbackend: {type: simulated, scenario: /nonexistent/s.yaml}\n",
         "/nonexistent/s.yaml:0:0: cannot read the scenario file"),
        ("station: {id: a\n", "x.yaml:1:10: unterminated '{'"),
        ("station: {id: a, site: {province: P, regency: R, district: D}}\nbackend: {type: real}\nalerts:\n  webhooks: [ftp://am.example/hook]\n",
         "x.yaml:4:14: alerts.webhooks[0]: 'ftp://am.example/hook' is not an http:// or https://HOST[:PORT]/PATH URL"),
        ("station: {id: a, site: {province: P, regency: R, district: D}}\nbackend: {type: real}\nalerts: {hook_timeout: 5ms}\n",
         "x.yaml:3:24: alerts.hook_timeout: '5ms' is too short: must be at least 100ms"),
        ("station: {id: a, site: {province: P, regency: R, district: D}}\nbackend: {type: real}\nalerts: {hooks_dir: hooks.d}\n",
         "x.yaml:3:21: alerts.hooks_dir: must be an absolute path"),
        ("station: {id: a, site: {province: P, regency: R, district: D}}\nbackend: {type: real}\nalerts: {grup_wait: 1s}\n",
         "alerts.grup_wait: unknown field (did you mean 'group_wait'?)"),
        ("station: {id: a, site: {province: P, regency: R, district: D}}\nbackend: {type: real}\nmetrics: {listen: 9471}\n",
         "x.yaml:3:19: metrics.listen: expected HOST:PORT, like 127.0.0.1:9471"),
        ("station: {id: a, site: {province: P, regency: R, district: D}}\nbackend: {type: real}\nmetrics: {}\n",
         "metrics.listen: required field is missing"),
    ])
    func everyErrorNamesLineAndField(text: String, expected: String) {
        do {
            _ = try StationConfig.parse(text, file: "x.yaml", environment: [:])
            Issue.record("accepted a bad config")
        } catch {
            #expect(error.issues.contains { $0.description.contains(expected) }, "\(error.issues.map(\.description))")
        }
    }

    @Test func alertsAndMetricsSections() throws {
        let c = try StationConfig.parse("""
            station: {id: a, site: {province: P, regency: R, district: D}}
            backend: {type: real}
            alerts:
              hooks_dir: /etc/ektp/hooks
              hook_timeout: 3s
              webhooks: ["http://127.0.0.1:9093/api/v1/alerts", "http://[::1]:8080/"]
              retries: 1
              retry_delay: 5s
              group_wait: 2s
              repeat_interval: 1h
              blanks_low: 1000
            metrics: {listen: "[::1]:9471"}
            """, file: "x.yaml", environment: [:])
        #expect(c.alerts.hooksDirectory == "/etc/ektp/hooks")
        #expect(c.alerts.hookTimeout == .seconds(3))
        #expect(c.alerts.webhooks.map(\.description) == ["http://127.0.0.1:9093/api/v1/alerts", "http://[::1]:8080"])
        #expect(c.alerts.retries == 1 && c.alerts.retryDelay == .seconds(5))
        #expect(c.alerts.lifecycle == AlertLifecycle.Config(groupWait: .seconds(2), repeatInterval: .seconds(3600)))
        #expect(c.alerts.blanksLow == 1000)
        #expect(c.metrics == MetricsConfig(host: "::1", port: 9471))
        // Defaults: hooks from /etc/ektpd/hooks.d, no webhooks, no TCP metrics.
        let d = try StationConfig.parse("station: {id: a, site: {province: P, regency: R, district: D}}\nbackend: {type: real}\n",
                                        file: "x.yaml", environment: [:])
        #expect(d.alerts == AlertConfig())
        #expect(d.alerts.hooksDirectory == "/etc/ektpd/hooks.d" && d.alerts.webhooks.isEmpty)
        #expect(d.metrics == nil)
    }

    @Test func allProblemsAreReportedAtOnce() {
        do {
            _ = try StationConfig.parse("station: {id: a}\nbackend: {type: x}\nkit: {iris: -1}\n", file: "x.yaml", environment: [:])
            Issue.record("accepted a bad config")
        } catch {
            #expect(error.issues.count == 3, "\(error.issues.map(\.description))")
        }
    }

    @Test func scenarioErrorsAreReportedThroughTheConfig() throws {
        let dir = TempDir()
        _ = dir.write("kit.yaml", "stations:\n  - id: st-1\n    site: {province: P, regency: R, district: D}\n    devices:\n      - {name: fp, usb: nope, port: 1-1}\n")
        let path = dir.write("ektpd.yaml", "station: {id: st-1, site: {province: P, regency: R, district: D}}\nbackend: {type: simulated, scenario: kit.yaml}\n")
        do {
            _ = try StationConfig.load(path: path, environment: [:])
            Issue.record("accepted a bad scenario")
        } catch {
            #expect(error.description.contains("kit.yaml:5:25: stations[0].devices[0].usb: expected VID:PID"), "\(error)")
        }
    }
}

@Suite struct WatchConfigTests {
    let head = "station: {id: a, site: {province: P, regency: R, district: D}}\nbackend: {type: real}\n"

    @Test func readsServerCentrePullUplinkAndPower() throws {
        let c = try StationConfig.parse(head + """
        server:
          unit: sirs.service
          liveness: {http: "http://127.0.0.1:8080/health", expect_status: 204, interval: 5s}
          restart: {fail_after: 4, max_backoff: 2m, on_crash_loop: stop}
        centre_pull: {command: [/usr/local/bin/last-pull], limit: 12h}
        uplink:
          targets:
            - {name: registry, address: "registry.example.id:443"}
            - {name: v6, address: "[::1]:80"}
        power: {root: /tmp/ps, low_battery: 30}
        """, file: "x.yaml", environment: [:])
        let s = try #require(c.server)
        #expect(s.mode == .unit("sirs.service"))
        #expect(s.probe == .http(host: "127.0.0.1", port: 8080, path: "/health", expectStatus: 204))
        #expect(s.interval == .seconds(5))
        #expect(s.policy.failAfter == 4 && s.policy.maxBackoff == .seconds(120) && s.policy.onCrashLoop == .stop)
        #expect(c.centrePull?.source == .command(["/usr/local/bin/last-pull"]))
        #expect(c.centrePull?.limit == .seconds(43200))
        #expect(c.uplink?.targets == [.init(name: "registry", host: "registry.example.id", port: 443), .init(name: "v6", host: "::1", port: 80)])
        #expect(c.power?.root == "/tmp/ps" && c.power?.lowBattery == 30)
        #expect(try StationConfig.parse(head + "power: false\n", file: "x.yaml", environment: [:]).power == nil)
    }

    @Test(arguments: [
        ("server:\n  liveness: {tcp: \"127.0.0.1:80\"}\n", "x.yaml:4:3: server: needs command (a child the daemon runs) or unit"),
        ("server:\n  command: [/bin/x]\n  unit: x.service\n  liveness: {tcp: \"127.0.0.1:80\"}\n", "x.yaml:5:9: server.unit: give either command or unit, not both"),
        ("server:\n  command: /bin/x --flag\n  liveness: {tcp: \"127.0.0.1:80\"}\n", "x.yaml:4:12: server.command: expected a list"),
        ("server:\n  command: [/bin/x]\n  liveness: {tcp: localhost}\n", "server.liveness.tcp: expected HOST:PORT"),
        ("server:\n  command: [/bin/x]\n  liveness: {tcp: \"a:1\", http: \"http://a/\"}\n", "server.liveness: give exactly one of tcp, http or command"),
        ("server:\n  command: [/bin/x]\n  liveness: {http: \"https://a/\"}\n", "server.liveness.http: expected a plain http:// URL"),
        ("server:\n  command: [/bin/x]\n  liveness: {tcp: \"a:1\"}\n  restart: {on_crash_loop: panic}\n", "server.restart.on_crash_loop: unknown value 'panic'"),
        ("centre_pull: {file: relative/path}\n", "centre_pull.file: must be an absolute path"),
        ("centre_pull: {limit: 1h}\n", "centre_pull: give exactly one of file, http or command"),
        ("uplink: {targets: [{name: r, address: nowhere}]}\n", "uplink.targets[0].address: expected HOST:PORT"),
        ("power: {low_battery: 150}\n", "power.low_battery: 150 is out of range"),
    ])
    func errorsNameLineAndField(text: String, expected: String) {
        do {
            _ = try StationConfig.parse(head + text, file: "x.yaml", environment: [:])
            Issue.record("accepted a bad config")
        } catch {
            #expect(error.issues.contains { $0.description.contains(expected) }, "\(error.issues.map(\.description))")
        }
    }
}
