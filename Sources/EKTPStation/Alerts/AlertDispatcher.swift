#if canImport(Glibc)
import Glibc
#endif
import EKTPCore
import EKTPModel
import EKTPPlatform
import Logging
import Synchronization

/// Sends each notification to every hook and webhook, each on a thread of its own: a slow, failing
/// or hanging receiver never delays the daemon, another receiver or the next notification. A failed
/// delivery is tried again `retries` times, `retryDelay` apart and doubling; every failure is logged.
public final class AlertDispatcher: Sendable {
    /// Where a notification went and how it ended, for metrics.
    public enum Channel: String, Sendable { case hook, webhook }
    public enum Result: String, Sendable { case ok, failed, timeout }

    public let config: AlertConfig
    let logger: Logger
    let onDelivery: @Sendable (Channel, Result) -> Void
    /// The newest notification handed to each receiver (hook path or webhook URL), by number: a
    /// retry of an older one is dropped once a newer one went out, so a receiver's last word is the
    /// station's current state (field case 08: a retried "firing" arrived after the "resolved").
    /// The station is one alert group (Alertmanager's group_by station), so newer supersedes older.
    let newest = Mutex<[String: Int]>([:])
    let counter = Mutex<Int>(0)
    /// One HTTP client (one connection cache) per webhook URL, in `config.webhooks` order.
    let webhookClients: [HTTPClient]

    public init(config: AlertConfig, logger: Logger, onDelivery: @escaping @Sendable (Channel, Result) -> Void = { _, _ in }) {
        self.config = config
        self.webhookClients = config.webhooks.map { _ in HTTPClient(settings: config.webhookHTTP) }
        self.logger = logger
        self.onDelivery = onDelivery
    }

    /// The `EKTP_*` variables of a notification. Per-alert values are joined in alert order (reasons
    /// with "; ", the rest with ","), so a grouped notification still reads in one line.
    public static func variables(_ n: AlertLifecycle.Notification) -> [String: String] {
        let p = n.payload
        let alerts = p.alerts
        let firing = alerts.filter { $0.status == "firing" }
        let severity = (firing.isEmpty ? alerts : firing).compactMap { AlertSeverity(rawValue: $0.labels["severity"] ?? "") }.max() ?? .warning
        func join(_ key: String, labels: Bool = true, _ sep: String = ",") -> String {
            alerts.compactMap { labels ? $0.labels[key] : $0.annotations[key] }.joined(separator: sep)
        }
        let first = alerts.first?.labels ?? [:]
        return [
            "EKTP_EVENT": n.isRepeat ? "alert.repeat" : "alert.\(p.status)",
            "EKTP_STATUS": p.status,
            "EKTP_REPEAT": n.isRepeat ? "1" : "0",
            "EKTP_ALERT": join("alertname"),
            "EKTP_ALERT_COUNT": "\(alerts.count)",
            "EKTP_SEVERITY": severity.rawValue,
            "EKTP_STATION": p.groupLabels["station"] ?? "",
            "EKTP_PROVINCE": first["province"] ?? "",
            "EKTP_REGENCY": first["regency"] ?? "",
            "EKTP_DISTRICT": first["district"] ?? "",
            "EKTP_SITE": [first["province"], first["regency"], first["district"]].compactMap { $0 }.joined(separator: "/"),
            "EKTP_DEVICE": join("device"),
            "EKTP_DEVICE_KIND": join("kind"),
            "EKTP_DEVICE_NAME": join("device_name", labels: false),
            "EKTP_FROM": join("from", labels: false),
            "EKTP_TO": join("to", labels: false),
            "EKTP_REASON": join("description", labels: false, "; "),
            // The summary in the station's language (issue 18), its English beside it for scripts.
            "EKTP_SUMMARY": alerts.compactMap { $0.annotations["summary"].map(L10n.sentence) }.joined(separator: "; "),
            "EKTP_SUMMARY_EN": join("summary", labels: false, "; "),
            "EKTP_FINGERPRINT": alerts.map(\.fingerprint).joined(separator: ","),
        ]
    }

    /// The payload hooks read and webhooks receive: each alert's `summary` in the station's language,
    /// with `summary_en` keeping the English when they differ (issue 18); unchanged in English.
    public static func localized(_ p: AlertNotification) -> AlertNotification {
        var p = p
        if let en = p.commonAnnotations["summary"], L10n.sentence(en) != en {
            p.commonAnnotations["summary"] = L10n.sentence(en)
            p.commonAnnotations["summary_en"] = en
        }
        for i in p.alerts.indices {
            guard let en = p.alerts[i].annotations["summary"] else { continue }
            let shown = L10n.sentence(en)
            if shown != en {
                p.alerts[i].annotations["summary"] = shown
                p.alerts[i].annotations["summary_en"] = en
            }
        }
        return p
    }

    public func dispatch(_ n: AlertLifecycle.Notification) {
        let payload = Self.localized(n.payload).encoded()
        let vars = Self.variables(n)
        let what = "\(vars["EKTP_EVENT"]!) \(vars["EKTP_ALERT"]!)"
        let (hooks, refused) = HookRunner.list(config.hooksDirectory)
        for r in refused { logger.error("hook \(r.path) not run: \(r.reason)") }
        let env = HookRunner.environment(vars)
        let number = counter.withLock { c -> Int in c += 1; return c }
        for hook in hooks {
            retrying("hook \(hook) (\(what))", receiver: hook, number: number, channel: .hook) { [config] in
                let run = HookRunner.run(hook, stdin: payload, environment: env, timeout: config.hookTimeout)
                let tail = run.output.isEmpty ? "" : "; it printed: \(run.output.suffix(500))"
                switch run.outcome {
                case .succeeded: return (.ok, "")
                case .failed(let why): return (.failed, why + tail)
                case .timedOut: return (.timeout, "still running after \(spokenDuration(config.hookTimeout)): killed (pid \(run.pid ?? 0) and its group)\(tail)")
                }
            }
        }
        for url in config.webhooks {
            retrying("webhook \(url) (\(what))", receiver: "\(url)", number: number, channel: .webhook) { [config] in
                let r = self.webhookClient(url).request("POST", url, path: url.prefix.isEmpty ? "/" : "",
                                                        headers: [("Content-Type", "application/json")], body: payload,
                                                        timeout: config.webhookTimeout, maxResponse: 64 << 10)
                switch r {
                case .success(let x) where (200..<300).contains(x.status): return (.ok, "")
                case .success(let x): return (.failed, "answered HTTP \(x.status): \(String(decoding: x.body.prefix(300), as: UTF8.self))")
                case .failure(let e): return (.failed, e.description)
                }
            }
        }
    }

    func webhookClient(_ url: HTTPURL) -> HTTPClient {
        webhookClients[config.webhooks.firstIndex(of: url) ?? 0]
    }

    func retrying(_ what: String, receiver: String, number: Int, channel: Channel, _ attempt: @escaping @Sendable () -> (Result, String)) {
        let retries = config.retries, delay = config.retryDelay, logger = self.logger, onDelivery = self.onDelivery
        newest.withLock { $0[receiver] = max($0[receiver] ?? 0, number) }
        detachThread { [self] in
            for n in 0...retries {
                if n > 0, let latest = self.newest.withLock({ $0[receiver] }), latest > number {
                    logger.notice("\(what) not retried: a newer notification for this station's alerts went to it since")
                    return
                }
                let (result, why) = attempt()
                onDelivery(channel, result)
                if result == .ok {
                    logger.info("\(what) delivered\(n > 0 ? " on try \(n + 1)" : "")")
                    return
                }
                guard n < retries else {
                    logger.error("\(what) failed\(n > 0 ? ", giving up after \(n + 1) tries" : ""): \(why)")
                    return
                }
                let wait = delay * (1 << min(n, 16))
                logger.warning("\(what) failed (try \(n + 1) of \(retries + 1)), again in \(spokenDuration(wait)): \(why)")
                var ts = timespec(tv_sec: Int(wait.components.seconds), tv_nsec: Int(wait.components.attoseconds / 1_000_000_000))
                var left = timespec()
                while nanosleep(&ts, &left) != 0 && errno == EINTR { ts = left }
            }
        }
    }
}
