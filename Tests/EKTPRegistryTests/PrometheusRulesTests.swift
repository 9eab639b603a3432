import EKTPRegistry
import EKTPStation
import EKTPPlatform
import EKTPCore
import Foundation
import EKTPTesting
import Testing

@Suite struct PrometheusRulesTests {
    /// examples/prometheus/ektp-alerts.yml names only metric families the daemons export (their HELP tables).
    @Test func theShippedRulesUseOnlyMetricsTheDaemonsExport() throws {
        var root = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { root.deleteLastPathComponent() }
        let text = try String(contentsOfFile: root.path + "/examples/prometheus/ektp-alerts.yml", encoding: .utf8)
        var names: Set<String> = []
        var current = ""
        for c in text + " " {
            if c.isLetter || c.isNumber || c == "_" { current.append(c); continue }
            if current.hasPrefix("ektp_") { names.insert(current) }
            current = ""
        }
        let registry = names.filter { $0.hasPrefix("ektp_registry_") }
        let station = names.subtracting(registry)
        #expect(registry.count >= 3 && station.count >= 4)
        for n in registry {
            #expect(RegistryMetrics.help[n] != nil, "ektp-alerts.yml uses \(n), which ektp-registry does not export")
        }
        for n in station {
            #expect(StationMetrics.help[n] != nil, "ektp-alerts.yml uses \(n), which ektpd does not export")
        }
    }
}
