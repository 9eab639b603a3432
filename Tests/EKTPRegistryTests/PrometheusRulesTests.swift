import EKTPRegistry
import Foundation
import Testing

@Suite struct RegistryPrometheusRulesTests {
    @Test func theShippedRulesUseOnlyMetricsTheRegistryExports() throws {
        var root = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { root.deleteLastPathComponent() }
        let text = try String(contentsOfFile: root.path + "/examples/prometheus/ektp-alerts.yml", encoding: .utf8)
        var names: Set<String> = []
        var current = ""
        for c in text + " " {
            if c.isLetter || c.isNumber || c == "_" { current.append(c); continue }
            if current.hasPrefix("ektp_registry_") { names.insert(current) }
            current = ""
        }
        #expect(names.count >= 3)
        for n in names {
            #expect(RegistryMetrics.help[n] != nil, "examples/prometheus/ektp-alerts.yml uses \(n), which ektp-registry does not export")
        }
    }
}
