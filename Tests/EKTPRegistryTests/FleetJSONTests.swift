import EKTPModel
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import EKTPTesting
import Synchronization
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

/// `GET /v1/fleet` without `at` builds the summary at most once per scope, minute and ingest (issue 17,
/// item 5), through the HTTP API, on both stores.
@Suite struct FleetCacheTests {
    @Test(arguments: Backend.allCases) func theFleetNowIsBuiltOncePerMinuteAndAgainAfterEachIngest(_ b: Backend) async throws {
        guard let o = try await openRegistry(b) else { return }
        let r = o.registry
        _ = try await r.ingest(ReportBatch(station: "s0", sentAt: T0, reports: [snapshot("s0", 1, site: sintang)]), from: "s0", receivedAt: T0)
        let national = try await r.issueViewerToken(name: "pusat", scope: .national, now: T0)
        let regency = try await r.issueViewerToken(name: "kapuas", scope: .regency(province: "Kalimantan Barat", regency: "Kapuas Hulu"), now: T0)
        // Whole minutes from T0 (1_790_000_000 s is 20 s past a minute; start on one).
        let minute = Timestamp(millis: (T0.millis / 60_000 + 1) * 60_000)
        let clock = Mutex(minute)
        let router = RegistryHTTP.router(registry: r, clock: .init(now: { clock.withLock { $0 } }), logger: Logger(label: "test"))
        try await Application(router: router).test(.router) { client in
            func fleet(_ token: String, _ query: String = "") async throws -> FleetSummary {
                let res = try await client.execute(uri: "/v1/fleet" + query, method: .get, headers: [.authorization: "Bearer \(token)"])
                #expect(res.status == .ok)
                return try JSONStyle.decode(FleetSummary.self, from: Array(res.body.readableBytesView))
            }
            let first = try await fleet(national)
            #expect(first.tally.stations == 1 && first.at == minute)
            // Later in the same minute, nothing written: the same summary, judged when it was built.
            clock.withLock { $0 = minute.adding(.seconds(30)) }
            #expect(try await fleet(national) == first)
            // Another scope is built on its own, never served the national tree.
            #expect(try await fleet(regency).tally.stations == 0)
            // An ingest this registry takes shows at once.
            _ = try await r.ingest(ReportBatch(station: "s1", sentAt: T0, reports: [snapshot("s1", 1, site: dedai, kit: .broken)]), from: "s1",
                                   receivedAt: minute.adding(.seconds(30)))
            let afterIngest = try await fleet(national)
            #expect(afterIngest.tally.stations == 2 && afterIngest.tally.broken == 1 && afterIngest.at == minute.adding(.seconds(30)))
            // A write this registry did not take (another registry on the same database) shows at the next minute...
            _ = try await r.store.transaction([SQLStatement("UPDATE stations SET condition = 'broken' WHERE id = 's0'")])
            clock.withLock { $0 = minute.adding(.seconds(59)) }
            #expect(try await fleet(national).tally.broken == 1)
            // ...and at once to a read with `at`, which is never cached.
            #expect(try await fleet(national, "?at=\(minute.adding(.seconds(59)).rfc3339)").tally.broken == 2)
            clock.withLock { $0 = minute.adding(.seconds(60)) }
            let next = try await fleet(national)
            #expect(next.tally.broken == 2 && next.at == minute.adding(.seconds(60)))
        }
    }
}
