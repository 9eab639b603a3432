import CoreMetrics
import Prometheus
import Synchronization

/// One daemon's metrics: swift-metrics counters and gauges over a swift-prometheus registry of its
/// own (not the process-global one), rendered as Prometheus text with HELP lines.
///
/// Counters are made once and bumped where things happen. Gauges are set in a scrape
/// (`scrape { set in }`): a series not set in a scrape leaves the output (a device that is gone).
public final class MetricSet: Sendable {
    let registry = PrometheusCollectorRegistry()
    let factory: PrometheusMetricsFactory
    let help: [String: String]

    struct State {
        var gauges: [String: CoreMetrics.Gauge] = [:]
        var counters: [String: CoreMetrics.Counter] = [:]
        var floatingCounters: [String: (counter: CoreMetrics.FloatingPointCounter, value: Double)] = [:]
    }
    let state = Mutex(State())

    /// `help`: each family's HELP text, by name.
    public init(help: [String: String]) {
        self.help = help
        factory = PrometheusMetricsFactory(registry: registry)
    }

    static func key(_ name: String, _ labels: [(String, String)]) -> String {
        name + labels.map { "|\($0.0)=\($0.1)" }.joined()
    }

    /// The counter for a series, made on first use (it shows, at 0, from then on).
    public func counter(_ name: String, _ labels: [(String, String)] = []) -> CoreMetrics.Counter {
        let key = Self.key(name, labels)
        return state.withLock { s in
            if let c = s.counters[key] { return c }
            let c = CoreMetrics.Counter(label: name, dimensions: labels, factory: factory)
            s.counters[key] = c
            return c
        }
    }

    /// Moves a counter of fractional values (CPU seconds) up to `total`, a figure that only grows.
    public func advance(_ name: String, to total: Double) {
        state.withLock { s in
            let entry = s.floatingCounters[name] ?? (CoreMetrics.FloatingPointCounter(label: name, dimensions: [], factory: factory), 0)
            if total > entry.value { entry.counter.increment(by: total - entry.value) }
            s.floatingCounters[name] = (entry.counter, max(entry.value, total))
        }
    }

    /// Sets gauges for one scrape, then returns the text. Gauges not set in `body` are removed.
    public func scrape(_ body: (_ set: (_ name: String, _ labels: [(String, String)], _ value: Double) -> Void) -> Void) -> [UInt8] {
        state.withLock { s in
            var touched: Set<String> = []
            body { name, labels, value in
                let key = Self.key(name, labels)
                touched.insert(key)
                if let g = s.gauges[key] { g.record(value); return }
                let g = CoreMetrics.Gauge(label: name, dimensions: labels, factory: factory)
                s.gauges[key] = g
                g.record(value)
            }
            for (key, g) in s.gauges where !touched.contains(key) {
                g.destroy()
                s.gauges[key] = nil
            }
        }
        return PrometheusText.withHelp(registry.emitToBuffer(), help)
    }
}
