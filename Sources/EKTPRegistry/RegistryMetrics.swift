import CoreMetrics
import EKTPModel
import EKTPPlatform

/// The registry's `/metrics` (Prometheus text, through swift-metrics over swift-prometheus): the
/// fleet's condition by regency, read from the store when scraped, and ingest counters.
public final class RegistryMetrics: Sendable {
    let metrics = MetricSet(help: RegistryMetrics.help)

    public static let help: [String: String] = [
        "ektp_registry_stations": "Stations known to the registry, by the condition of their kit.",
        "ektp_registry_stations_silent": "Stations not heard from within the registry's silence limit.",
        "ektp_registry_stations_not_pulled": "Stations whose data the centre has not pulled within the limit (or ever).",
        "ektp_registry_card_blanks": "Card blanks held by the stations that report them.",
        "ektp_registry_regency_stations": "Stations by province, regency and kit condition (silent and not_pulled counted apart).",
        "ektp_registry_stock_days_left": "Days until a printing station runs out of card blanks at its recent rate.",
        "ektp_registry_ingest_requests_total": "Report batches received, by result.",
        "ektp_registry_ingest_refused_again_total": "Report batches refused (429) although the station came back at the time its Retry-After gave: admission overbooked its line.",
        "ektp_registry_reports_stored_total": "Reports stored (new ones).",
        "ektp_registry_reports_duplicate_total": "Reports received again and ignored (delivery is at least once).",
    ]

    public init() {}

    func counter(_ name: String, _ labels: [(String, String)] = []) -> CoreMetrics.Counter {
        metrics.counter(name, labels)
    }

    /// A write refused with 429 (admission control); `again` when it came back at its booked time.
    public func refusedBusy(again: Bool = false) {
        counter("ektp_registry_ingest_requests_total", [("result", "busy")]).increment()
        if again { counter("ektp_registry_ingest_refused_again_total").increment() }
    }

    /// One POST /v1/reports: accepted (with what it stored) or rejected.
    public func ingested(_ reply: IngestReply?) {
        counter("ektp_registry_ingest_requests_total", [("result", reply == nil ? "rejected" : "ok")]).increment()
        if let reply {
            counter("ektp_registry_reports_stored_total").increment(by: reply.stored)
            counter("ektp_registry_reports_duplicate_total").increment(by: reply.duplicates)
        }
    }

    /// The text for a scrape: the whole fleet's tally, the tallies by province and regency (from
    /// `Registry.tallies`), and the stock views.
    public func render(total: FleetTally, regencies: [(keys: [String], tally: FleetTally)], stock: [StockView]) -> [UInt8] {
        _ = counter("ektp_registry_ingest_requests_total", [("result", "ok")])
        _ = counter("ektp_registry_ingest_requests_total", [("result", "rejected")])
        _ = counter("ektp_registry_ingest_requests_total", [("result", "busy")])
        _ = counter("ektp_registry_ingest_refused_again_total")
        return metrics.scrape { gauge in
            func conditions(_ t: FleetTally) -> [(String, Int)] {
                [("ready", t.ready), ("degraded", t.degraded), ("broken", t.broken), ("unknown", t.unknown)]
            }
            for (c, n) in conditions(total) { gauge("ektp_registry_stations", [("condition", c)], Double(n)) }
            gauge("ektp_registry_stations_silent", [], Double(total.silent))
            gauge("ektp_registry_stations_not_pulled", [], Double(total.notPulled))
            gauge("ektp_registry_card_blanks", [], Double(total.blanks))
            for r in regencies {
                let site = [("province", r.keys[0]), ("regency", r.keys[1])]
                for (c, n) in conditions(r.tally) + [("silent", r.tally.silent), ("not_pulled", r.tally.notPulled)] {
                    gauge("ektp_registry_regency_stations", site + [("condition", c)], Double(n))
                }
            }
            for s in stock {
                if let d = s.daysLeft { gauge("ektp_registry_stock_days_left", [("station", s.station)], d) }
            }
        }
    }
}
