import EKTPModel
import Foundation
import EKTPTesting
import Testing
@testable import EKTPRegistry

/// `GET /v1/fleet` writes its body directly (issue 17); it must be the bytes JSONStyle writes.
@Suite struct FleetJSONTests {
    @Test func theDirectWriterGivesJSONStylesBytes() throws {
        var t = FleetTally()
        t.stations = 3; t.ready = 1; t.broken = 2; t.silent = 1; t.notPulled = 1; t.blanks = 14000; t.clockSkewed = 1
        let odd = "Ketungau \"Hulu\"\\ \n\t\u{1}/é 北"
        let summary = FleetSummary(
            at: Timestamp(millis: 1_790_000_000_123), silentAfterSeconds: 7200, tally: t,
            provinces: [ProvinceSummary(name: "Kalimantan Barat", tally: t, regencies: [
                RegencySummary(name: "Sintang", tally: t, districts: [DistrictSummary(name: odd, tally: t), DistrictSummary(name: "", tally: FleetTally())]),
            ])],
            stock: [
                StockView(station: "boltim", site: Site(province: "Sulawesi Utara", regency: "Bolaang Mongondow Timur", district: odd), blanks: 4480,
                          source: .printer, updatedAt: Timestamp(millis: 5), perDay: 360, daysLeft: 12.444444444444445, printers: 4, printersWorking: 3),
                StockView(station: "b2", site: Site(province: "P", regency: "R", district: "D"), blanks: 0, source: .operator,
                          updatedAt: Timestamp(millis: 0), perDay: 0.125, daysLeft: nil, printers: 0, printersWorking: 0),
                StockView(station: "b3", site: Site(province: "P", regency: "R", district: "D"), blanks: 1, source: .printer,
                          updatedAt: Timestamp(millis: 0), perDay: nil, daysLeft: 1e-7, printers: 1, printersWorking: 1),
            ])
        #expect(String(decoding: summary.jsonBytes(), as: UTF8.self) == String(decoding: try JSONStyle.encode(summary), as: UTF8.self))
        #expect(try JSONStyle.decode(FleetSummary.self, from: summary.jsonBytes()) == summary)
        let empty = FleetSummary(at: Timestamp(millis: 0), silentAfterSeconds: 0, tally: FleetTally(), provinces: [], stock: [])
        #expect(empty.jsonBytes() == (try JSONStyle.encode(empty)))
    }

    @Test func aStoresWholeFleetIsWrittenTheSameWay() async throws {
        let o = try #require(try await openRegistry(.sqlite))
        for (i, site) in [sintang, dedai, Site(province: "Papua", regency: "Nduga", district: "Kenyam")].enumerated() {
            _ = try await o.registry.ingest(ReportBatch(station: "s\(i)", sentAt: T0, reports: [snapshot("s\(i)", 1, site: site, kit: i == 1 ? .broken : .ready, stock: 100 * i)]),
                                            from: "s\(i)", receivedAt: T0)
        }
        let fleet = try await o.registry.fleet(at: T0)
        #expect(fleet.jsonBytes() == (try JSONStyle.encode(fleet)))
    }
}
