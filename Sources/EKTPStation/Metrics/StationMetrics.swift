#if canImport(Glibc)
import Glibc
#endif
import CoreMetrics
import EKTPCore
import EKTPModel
import EKTPPlatform
import Synchronization

/// The daemon's metrics in Prometheus text format, through swift-metrics with swift-prometheus's
/// registry behind it (a registry of its own, not the process-global one).
///
/// State (devices, kit, server, uplink, power, outbox) is read from the engine when scraped, so a
/// scrape always matches `ektpd status`; counters are bumped where things happen. Names follow
/// Prometheus conventions: `ektp_` prefix, base units (seconds, ratios), `_total` for counters.
public final class StationMetrics: Sendable {
    let metrics = MetricSet(help: StationMetrics.help)
    /// The supervisor's restart count already turned into counter increments.
    let restartsSeen = Mutex(0)

    /// Every family the daemon exports, with its HELP text: the list the shipped Prometheus rules are checked against.
    public static let help: [String: String] = [
        "ektp_station_info": "The station's identity and site; always 1.",
        "ektp_device_up": "1 when the device is usable (health ok or degraded), else 0.",
        "ektp_device_health": "1 for the device's current health state, 0 for the others.",
        "ektp_device_flapping": "1 while the device changes state too often to trust.",
        "ektp_printer_card_blanks": "Card blanks a printer reports in its hopper.",
        "ektp_kit_ready": "1 when the kit can enrol (ready or degraded), else 0.",
        "ektp_kit_state": "1 for the kit's current state (ready, degraded, broken), 0 for the others.",
        "ektp_server_up": "1 when the recording server is up and answers its liveness check.",
        "ektp_server_availability_ratio": "Share of the window the recording server was up.",
        "ektp_server_restarts_total": "Restarts of the recording server since the daemon started.",
        "ektp_sync_last_pull_timestamp_seconds": "When the centre last pulled this station's data.",
        "ektp_sync_fresh": "1 when the centre pulled within its limit, else 0.",
        "ektp_uplink_up": "1 when at least one uplink target answers, else 0.",
        "ektp_uplink_target_up": "1 when the uplink target answers, else 0.",
        "ektp_uplink_latency_seconds": "Time to connect to the uplink target at the last check.",
        "ektp_power_on_mains": "1 on mains power, 0 on battery.",
        "ektp_power_battery_ratio": "Lowest battery charge, 0 to 1.",
        "ektp_stock_card_blanks": "Card blanks the station holds (printers' count, or the operator's).",
        "ektp_outbox_reports": "Reports in the outbox waiting for the registry.",
        "ektp_outbox_oldest_age_seconds": "Age of the oldest report waiting in the outbox (0 when empty).",
        "ektp_outbox_writable": "1 when the outbox can be written, 0 while the disk refuses it.",
        "ektp_outbox_held_reports": "Reports held in memory because the disk refused them.",
        "ektp_outbox_lost_reports": "Reports lost since the daemon started (the disk refused them past the memory bound).",
        "ektp_delivery_errors_total": "Failed delivery rounds to the registry.",
        "ektp_delivery_reports_total": "Reports the registry acknowledged.",
        "ektp_delivery_last_success_timestamp_seconds": "When a delivery to the registry last worked.",
        "ektp_alerts_firing": "Alerts firing now, by severity.",
        "ektp_alert_notifications_total": "Alert notifications made (each goes to every hook and webhook).",
        "ektp_alert_deliveries_total": "Hook runs and webhook posts, by channel and result.",
        // The standard process metrics (Prometheus client libraries' names), from /proc/self.
        "process_resident_memory_bytes": "Resident memory size in bytes.",
        "process_cpu_seconds_total": "Total user and system CPU time spent in seconds.",
        "process_open_fds": "Number of open file descriptors.",
        "process_start_time_seconds": "Start time of the process since unix epoch in seconds.",
    ]

    public init() {}

    // MARK: counters, bumped where things happen

    func counter(_ name: String, _ labels: [(String, String)] = []) -> CoreMetrics.Counter {
        metrics.counter(name, labels)
    }

    public func deliveryRound(delivered: Int, failed: Bool) {
        if failed { counter("ektp_delivery_errors_total").increment() }
        if delivered > 0 { counter("ektp_delivery_reports_total").increment(by: delivered) }
    }

    public func alertNotified() { counter("ektp_alert_notifications_total").increment() }

    public func alertDelivery(_ channel: AlertDispatcher.Channel, _ result: AlertDispatcher.Result) {
        counter("ektp_alert_deliveries_total", [("channel", channel.rawValue), ("result", result.rawValue)]).increment()
    }

    // MARK: the scrape

    /// Prometheus text (format 0.0.4) for the station's state now.
    public func render(_ s: StationStatus, firing: [Alert], backlog: (count: Int, oldest: Timestamp?)) -> [UInt8] {
        if let server = s.server {
            // Fed from the supervisor's own count (it only grows); shown from the start, at 0.
            let new = restartsSeen.withLock { seen in defer { seen = max(seen, server.restarts) }; return max(0, server.restarts - seen) }
            counter("ektp_server_restarts_total", [("server", server.name)]).increment(by: new)
        }
        _ = counter("ektp_delivery_errors_total")
        _ = counter("ektp_alert_notifications_total")
        let process = ProcessFigures.read()
        if let process { metrics.advance("process_cpu_seconds_total", to: process.cpuSeconds) }
        return metrics.scrape { gauge in
            func flag(_ b: Bool) -> Double { b ? 1 : 0 }
            func seconds(_ t: Timestamp) -> Double { Double(t.millis) / 1000 }

            gauge("ektp_station_info", [("station", s.station), ("province", s.site.province), ("regency", s.site.regency),
                                        ("district", s.site.district), ("backend", s.backend), ("version", s.version)], 1)
            for d in s.devices {
                let id = [("device", d.device.id.rawValue), ("kind", d.device.kind.rawValue)]
                gauge("ektp_device_up", id + [("name", d.device.name)], flag(d.health.isUsable))
                for h in Health.allCases { gauge("ektp_device_health", id + [("health", h.rawValue)], flag(d.health == h)) }
                gauge("ektp_device_flapping", id, flag(d.flapping))
                if let b = d.blanksRemaining { gauge("ektp_printer_card_blanks", id, Double(b)) }
            }
            gauge("ektp_kit_ready", [], flag(s.kit.state != .broken))
            for k in [KitState.ready, .degraded, .broken] { gauge("ektp_kit_state", [("state", k.rawValue)], flag(s.kit.state == k)) }
            if let server = s.server {
                gauge("ektp_server_up", [("server", server.name)], flag(server.state == .up))
                gauge("ektp_server_availability_ratio", [("server", server.name), ("window", "24h")], server.availability.last24h)
                gauge("ektp_server_availability_ratio", [("server", server.name), ("window", "7d")], server.availability.last7d)
            }
            if let sync = s.sync {
                if let t = sync.lastPull { gauge("ektp_sync_last_pull_timestamp_seconds", [], seconds(t)) }
                gauge("ektp_sync_fresh", [], flag(sync.state == .fresh))
            }
            if let uplink = s.uplink, !uplink.targets.isEmpty {
                gauge("ektp_uplink_up", [], flag(uplink.targets.contains { $0.reachable == true }))
                for t in uplink.targets {
                    gauge("ektp_uplink_target_up", [("target", t.name)], flag(t.reachable == true))
                    if let l = t.latencyMillis { gauge("ektp_uplink_latency_seconds", [("target", t.name)], l / 1000) }
                }
            }
            if let power = s.power {
                if let m = power.onMains { gauge("ektp_power_on_mains", [], flag(m)) }
                if let b = power.batteryPercent { gauge("ektp_power_battery_ratio", [], Double(b) / 100) }
            }
            if let stock = s.stock { gauge("ektp_stock_card_blanks", [("source", stock.source.rawValue)], Double(stock.blanks)) }
            gauge("ektp_outbox_reports", [], Double(backlog.count + (s.outbox?.held ?? 0)))
            if let o = s.outbox {
                gauge("ektp_outbox_writable", [], flag(o.writable))
                gauge("ektp_outbox_held_reports", [], Double(o.held))
                gauge("ektp_outbox_lost_reports", [], Double(o.dropped))
            }
            gauge("ektp_outbox_oldest_age_seconds", [], backlog.oldest.map { max(0, Double(s.now.millis - $0.millis) / 1000) } ?? 0)
            if let d = s.delivery, let t = d.lastDelivery { gauge("ektp_delivery_last_success_timestamp_seconds", [], seconds(t)) }
            if let p = process {
                gauge("process_resident_memory_bytes", [], p.residentBytes)
                gauge("process_open_fds", [], p.openFDs)
            }
            gauge("process_start_time_seconds", [], seconds(s.startedAt))
            for sev in [AlertSeverity.warning, .critical] {
                gauge("ektp_alerts_firing", [("severity", sev.rawValue)], Double(firing.filter { $0.labels["severity"] == sev.rawValue }.count))
            }
        }
    }
}

/// This process's memory, CPU time and descriptors, from /proc/self (as Prometheus client libraries export them).
struct ProcessFigures {
    var residentBytes: Double
    var cpuSeconds: Double
    var openFDs: Double

    static func read() -> ProcessFigures? {
        guard let stat = readWholeFileText("/proc/self/stat"), let close = stat.lastIndex(of: ")"),
              let statm = readWholeFileText("/proc/self/statm") else { return nil }
        // fields after the command name: state is field 3; utime and stime are fields 14 and 15
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        let pages = statm.split(separator: " ")
        guard fields.count > 13, pages.count > 1, let utime = Double(fields[11]), let stime = Double(fields[12]),
              let resident = Double(pages[1]) else { return nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let pageSize = Double(sysconf(Int32(_SC_PAGESIZE)))
        var fds = 0.0
        if let dir = opendir("/proc/self/fd") {
            while let e = readdir(dir) { if e.pointee.d_name.0 != 0x2e { fds += 1 } }  // not "." or ".."
            closedir(dir)
            fds -= 1  // the directory's own descriptor
        }
        return ProcessFigures(residentBytes: resident * pageSize, cpuSeconds: (utime + stime) / ticks, openFDs: fds)
    }
}
