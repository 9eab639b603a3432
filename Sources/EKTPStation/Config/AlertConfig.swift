import EKTPCore
import EKTPModel
import EKTPPlatform
import EKTPYAML

/// The `alerts:` section: where notifications go and the life cycle's timing.
public struct AlertConfig: Sendable, Equatable {
    /// Executables run on each notification (run-parts style; a missing directory means no hooks).
    public var hooksDirectory = "/etc/ektpd/hooks.d"
    /// A hook still running after this is killed (its whole process group).
    public var hookTimeout: Duration = .seconds(10)
    /// Webhook URLs (Alertmanager receivers), POSTed the notification's JSON.
    public var webhooks: [HTTPURL] = []
    public var webhookTimeout: Duration = .seconds(10)
    /// TLS and proxy for `https://` webhooks (`alerts.ca_file`, `client_cert`, `client_key`,
    /// `pinned_public_key`, `proxy`).
    public var webhookHTTP = HTTPClientSettings(section: "alerts")
    /// A failed hook run or webhook POST is tried again this many times...
    public var retries = 3
    /// ...after this delay, doubling each time.
    public var retryDelay: Duration = .seconds(30)
    public var lifecycle = AlertLifecycle.Config()
    /// `BlanksLow` fires below this many card blanks.
    public var blanksLow = 500

    public init() {}

    static func read(_ a: YAMLMap, configFile: String) -> AlertConfig {
        var c = AlertConfig()
        c.webhookHTTP = HTTPClientSettings.read(a, section: "alerts", configFile: configFile)
        if let v = a.value("hooks_dir"), let s = v.string() {
            if s.hasPrefix("/") { c.hooksDirectory = s } else { v.fail(N_("must be an absolute path")) }
        }
        c.hookTimeout = a.duration("hook_timeout", atLeast: .milliseconds(100)) ?? c.hookTimeout
        c.webhookTimeout = a.duration("webhook_timeout", atLeast: .milliseconds(100)) ?? c.webhookTimeout
        c.retries = a.int("retries", in: 0...20) ?? c.retries
        c.retryDelay = a.duration("retry_delay", atLeast: .milliseconds(10)) ?? c.retryDelay
        c.lifecycle.groupWait = a.duration("group_wait", atLeast: .zero) ?? c.lifecycle.groupWait
        c.lifecycle.repeatInterval = a.duration("repeat_interval", atLeast: .seconds(1)) ?? c.lifecycle.repeatInterval
        c.blanksLow = a.int("blanks_low", in: 0...10_000_000) ?? c.blanksLow
        if let list = a.list("webhooks") {
            for v in list {
                guard let s = v.string() else { continue }
                if let u = HTTPURL(s) { c.webhooks.append(u) } else {
                    v.fail("'\(s)' is not an http:// or https://HOST[:PORT]/PATH URL")
                }
            }
        }
        a.finish()
        return c
    }
}

/// The `metrics:` section: Prometheus text on the control socket always, and on TCP when `listen` is set.
public struct MetricsConfig: Sendable, Equatable {
    public var host: String
    public var port: UInt16

    static func read(_ m: YAMLMap) -> MetricsConfig? {
        defer { m.finish() }
        guard let v = m.value("listen", required: true), let s = v.string() else { return nil }
        guard let colon = s.lastIndex(of: ":"), let port = UInt16(s[s.index(after: colon)...]) else {
            v.fail(N_("expected HOST:PORT, like 127.0.0.1:9471"))
            return nil
        }
        var host = String(s[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host.isEmpty { host = "0.0.0.0" }
        return MetricsConfig(host: host, port: port)
    }
}
