import EKTPCore
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
            // ...to a read with `at` too: its tallies are counted from the same index (FleetIndex),
            // which holds this registry's writes at once and the others' from the next minute.
            #expect(try await fleet(national, "?at=\(minute.adding(.seconds(59)).rfc3339)").tally.broken == 1)
            clock.withLock { $0 = minute.adding(.seconds(60)) }
            let next = try await fleet(national)
            #expect(next.tally.broken == 2 && next.at == minute.adding(.seconds(60)))
            #expect(try await fleet(national, "?at=\(minute.adding(.seconds(59)).rfc3339)").tally.broken == 2)
        }
    }
}

/// The fleet's tallies are counted in memory (`FleetIndex`, issue 17, item 5); the database's
/// GROUP BY (`storedTallies`) is what they must equal, on both stores.
@Suite struct FleetIndexTests {
    static func sorted(_ rows: [(keys: [String], tally: FleetTally)]) -> [String] {
        rows.map { "\($0.keys) \($0.tally)" }.sorted { $0.utf8Precedes($1) }
    }

    @Test(arguments: Backend.allCases) func theCountsInMemoryAreTheDatabasesWhateverTheWritesAndTheScope(_ b: Backend) async throws {
        guard let o = try await openRegistry(b, silentAfter: .seconds(3600)) else { return }
        defer { try? FileManager.default.removeItem(at: o.dir) }
        let r = o.registry
        // Another `ektp-registry serve` on the same database: its writes reach `r` only by loading.
        let other = Registry(store: r.store, silentAfter: .seconds(3600))
        let sites = [sintang, dedai, Site(province: "Kalimantan Barat", regency: "Kapuas Hulu", district: "Putussibau Utara"),
                     Site(province: "Papua", regency: "Nduga", district: "Kenyam"), Site(province: "Papua", regency: "Nduga", district: "Mbua"),
                     // the same regency and district names in another province: merged when grouped by name alone
                     Site(province: "Papua", regency: "Sintang", district: "Dedai"), Site(province: "Éa", regency: "Nduga", district: "Mbua"),
                     // one name in NFC and in NFD: two provinces to the database, so two here
                     Site(province: "Caf\u{E9}", regency: "R", district: "D"), Site(province: "Cafe\u{301}", regency: "R", district: "D")]
        let kits: [KitState] = [.ready, .degraded, .broken]
        let syncs: [SyncState?] = [nil, .fresh, .stale, .never]
        var rng = SplitMix64(seed: 17)  // the same data again when it fails
        let minute = Timestamp(millis: (T0.millis / 60_000 + 1) * 60_000)
        var seq: [String: Int64] = [:]
        // Stations write in three rounds: a snapshot each (any site, state, sync, stock, clock), at
        // times spread over three hours, some through the other registry, some an older snapshot
        // after a newer one (the database keeps the newer; so must the index).
        func round(_ n: Int, through registry: (Int) -> Registry, at base: Timestamp) async throws {
            for i in 0..<n {
                let id = "st-\(Int.random(in: 0..<40, using: &rng))"
                let next = (seq[id] ?? 0) + Int64.random(in: 1...3, using: &rng)
                seq[id] = next
                let sent = next > 2 && Bool.random(using: &rng) ? next - 2 : next  // sometimes stale
                let received = base.adding(.seconds(Int64.random(in: -10_800...0, using: &rng)))
                let skew = [0, 30, -400, 900][Int.random(in: 0..<4, using: &rng)]
                let report = snapshot(id, sent, at: received, site: sites.randomElement(using: &rng)!, kit: kits.randomElement(using: &rng)!,
                                      sync: syncs.randomElement(using: &rng)!, stock: Bool.random(using: &rng) ? Int.random(in: 0...5000, using: &rng) : nil)
                _ = try await registry(i).ingest(ReportBatch(station: id, sentAt: received.adding(.seconds(Int64(skew))), reports: [report]),
                                                 from: id, receivedAt: received)
            }
        }
        let groupings = [["province", "regency", "district"], ["province", "regency"], ["regency", "district"], ["district"], []]
        let scopes: [ViewScope] = [.national, .province("Kalimantan Barat"), .regency(province: "Papua", regency: "Nduga"), .province("Aceh"),
                                   .province("Caf\u{E9}"), .regency(province: "Cafe\u{301}", regency: "R")]
        func check(now: Timestamp, _ label: String) async throws {
            for columns in groupings {
                for scope in scopes {
                    for at in [now, now.adding(.seconds(-3_000)), now.adding(.seconds(-7_200)), now.adding(.seconds(3_600))] {
                        let memory = Self.sorted(try await r.tallies(at: at, by: columns, scope: scope, now: now))
                        let stored = Self.sorted(try await r.storedTallies(at: at, by: columns, scope: scope))
                        // By bytes: Swift's == would take the NFC and NFD names for one.
                        #expect(memory.map { Array($0.utf8) } == stored.map { Array($0.utf8) }, "\(label): \(columns) \(scope) at \(at)")
                    }
                }
            }
        }
        try await round(40, through: { _ in r }, at: minute)
        try await check(now: minute, "first load")
        // This registry's own writes count at once, within the minute it loaded in.
        try await round(40, through: { _ in r }, at: minute)
        try await check(now: minute.adding(.seconds(20)), "own writes")
        // The other registry's writes: not yet in this minute (the count is the last load's plus
        // this registry's own)...
        let before = try await r.tallies(at: minute, by: [], now: minute.adding(.seconds(30)))
        try await round(30, through: { _ in other }, at: minute)
        #expect(try await r.tallies(at: minute, by: [], now: minute.adding(.seconds(40))).map(\.tally) == before.map(\.tally))
        // ...and at the next minute, the database's count again, mixed writes and all.
        try await round(30, through: { i in i % 2 == 0 ? other : r }, at: minute.adding(.seconds(60)))
        try await check(now: minute.adding(.seconds(60)), "next minute")
        #expect(try await r.tallies(at: minute, by: []).first?.tally.stations ?? 0 > 20)
    }

    /// `ektp-registry serve` loads the index as each minute begins (FleetIndexRefresh), so a read
    /// counts what the database held then, and does not load it itself.
    @Test(arguments: Backend.allCases) func theIndexIsLoadedAsTheMinuteBeginsNotByTheRead(_ b: Backend) async throws {
        guard let o = try await openRegistry(b) else { return }
        defer { try? FileManager.default.removeItem(at: o.dir) }
        let r = o.registry
        let other = Registry(store: r.store)
        let minute = Timestamp(millis: (T0.millis / 60_000 + 1) * 60_000)
        _ = try await other.ingest(ReportBatch(station: "a", sentAt: minute, reports: [snapshot("a", 1, at: minute, site: sintang)]), from: "a", receivedAt: minute)
        // The refresher reads the clock before its load and again after it: the second read says
        // the load is done.
        let (loaded, done) = AsyncStream.makeStream(of: Void.self)
        let reads = Mutex(0)
        let clock = RegistryHTTP.Clock(now: {
            if reads.withLock({ $0 += 1; return $0 }) == 2 { done.yield() }
            return minute.adding(.seconds(1))
        })
        let refresher = Task { try await FleetIndexRefresh(registry: r, clock: clock, logger: Logger(label: "test")).run() }
        for await _ in loaded { break }
        // Written by the other registry after the load: not counted in this minute.
        _ = try await other.ingest(ReportBatch(station: "b", sentAt: minute, reports: [snapshot("b", 1, at: minute, site: dedai, kit: .broken)]), from: "b", receivedAt: minute)
        let counted = try await r.tallies(at: minute, by: ["district"], now: minute.adding(.seconds(30)))
        #expect(counted.map(\.keys) == [["Sintang"]] && counted.first?.tally.ready == 1)
        refresher.cancel()
        _ = await refresher.result
        // The next minute's read loads it (no refresher now): both stations.
        #expect(try await r.tallies(at: minute, by: [], now: minute.adding(.seconds(60))).first?.tally.stations == 2)
    }
}
