import Foundation
import Testing
@testable import EKTPStation

/// The metric names in a rules file (`ektp_...`), by whether they are the registry's.
func metricNames(inRules path: String) throws -> (station: Set<String>, registry: Set<String>) {
    let text = try String(contentsOfFile: path, encoding: .utf8)
    var names: Set<String> = []
    var current = ""
    for c in text + " " {
        if c.isLetter || c.isNumber || c == "_" { current.append(c); continue }
        if current.hasPrefix("ektp_") { names.insert(current) }
        current = ""
    }
    return (names.filter { !$0.hasPrefix("ektp_registry_") }, names.filter { $0.hasPrefix("ektp_registry_") })
}

@Suite struct PrometheusRulesTests {
    @Test func theShippedRulesUseOnlyMetricsTheDaemonExports() throws {
        var root = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { root.deleteLastPathComponent() }
        let names = try metricNames(inRules: root.path + "/examples/prometheus/ektp-alerts.yml")
        #expect(names.station.count >= 4)
        for n in names.station {
            #expect(StationMetrics.help[n] != nil, "examples/prometheus/ektp-alerts.yml uses \(n), which ektpd does not export")
        }
    }
}
