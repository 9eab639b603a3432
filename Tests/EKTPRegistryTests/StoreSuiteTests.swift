import EKTPModel
import Foundation
import EKTPTesting
import Testing
@testable import EKTPRegistry

/// The one store suite, run against SQLite and against a real PostgreSQL.
enum Backend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite, postgres
    var testDescription: String { rawValue }
}

struct Opened {
    let registry: Registry
    let dir: URL
}

func openRegistry(_ backend: Backend, silentAfter: Duration = .seconds(3600), migrate: Bool = true) async throws -> Opened? {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ektp-reg-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let url: String
    switch backend {
    case .sqlite: url = "sqlite:" + dir.path + "/registry.sqlite3"
    case .postgres:
        guard let cluster = PostgresCluster.shared else {
            // CI installs PostgreSQL and sets this: there the PostgreSQL half must run, never skip.
            if ProcessInfo.processInfo.environment["EKTP_REQUIRE_POSTGRES"] == "1" {
                throw PostgresCluster.Unavailable(description: "EKTP_REQUIRE_POSTGRES=1 but PostgreSQL could not be started")
            }
            return nil
        }
        url = try cluster.newDatabase()
    }
    let store = try await StoreURL.open(url)
    let r = Registry(store: store, silentAfter: silentAfter)
    if migrate { try await r.migrate(now: T0) }
    return Opened(registry: r, dir: dir)
}

let T0 = Timestamp(seconds: 1_790_000_000)

func event(_ station: String, _ seq: Int64, at t: Timestamp = T0, type: EventType = .deviceHealth) -> WireReport {
    WireReport(sequence: seq, kind: .event, time: t,
               event: Event(sequence: seq, time: t, station: station, type: type, subject: "1-1:05ba:000a",
                            kind: .fingerprint, from: "ok", to: "failed", reason: "no response to GET_STATUS"))
}

func snapshot(_ station: String, _ seq: Int64, at t: Timestamp = T0, site: Site, kit: KitState = .ready,
              reasons: [String] = [], sync: SyncState? = nil, stock: Int? = nil, printers: [Health] = []) -> WireReport {
    let problems = reasons.map { KitProblem(kind: .fingerprint, severity: kit, reason: $0) }
    var devices: [DeviceStatus] = []
    for (i, h) in printers.enumerated() {
        let d = DeviceSnapshot(id: DeviceID(portPath: "1-\(i + 1)", vendorID: 0x0f49, productID: 0x0a00), kind: .cardPrinter,
                               kindSource: "test", vendorID: 0x0f49, productID: 0x0a00, name: "printer \(i + 1)",
                               portPath: "1-\(i + 1)", busNumber: 1, deviceNumber: i + 2)
        devices.append(DeviceStatus(device: d, health: h, flapping: false, since: t, reason: nil, code: nil, lastProbe: t))
    }
    let status = StationStatus(station: station, site: site, backend: "simulated", kit: KitStatus(state: kit, problems: problems, since: t),
                               devices: devices, lastSequence: seq, startedAt: T0, now: t, version: ektpVersion,
                               sync: sync.map { SyncStatus(state: $0, lastPull: nil, limitSeconds: 86400, reason: nil) },
                               stock: stock.map { StockStatus(blanks: $0, source: .operator, updatedAt: t) })
    return WireReport(sequence: seq, kind: .snapshot, time: t, status: status)
}

let sintang = Site(province: "Kalimantan Barat", regency: "Sintang", district: "Sintang")
let dedai = Site(province: "Kalimantan Barat", regency: "Sintang", district: "Dedai")

@Suite(.serialized) struct StoreSuiteTests {
    @Test(arguments: Backend.allCases) func migrationsRunOnceAndRecordTheirVersion(_ b: Backend) async throws {
        guard let o = try await openRegistry(b) else { return }
        #expect(try await o.registry.schemaVersion() == Schema.latest)
        #expect(try await o.registry.migrate(now: T0).isEmpty)
        try await o.registry.requireCurrentSchema()
        // Migration 8: the stations' site index is back in place of the wide one; on PostgreSQL
        // (built with lz4, as Debian's is) new report bodies and snapshots are lz4-compressed.
        if b == .postgres {
            let indexes = try await o.registry.store.query(SQLStatement("SELECT indexname FROM pg_indexes WHERE tablename = 'stations' ORDER BY indexname"))
            #expect(indexes.compactMap { $0[0].text }.filter { $0.hasPrefix("stations_") } == ["stations_condition", "stations_pkey", "stations_site"])
            let methods = try await o.registry.store.query(SQLStatement("""
                SELECT c.relname, a.attcompression::text FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
                WHERE a.attname = 'body' AND c.relname IN ('reports', 'station_snapshots') ORDER BY c.relname
                """))
            #expect(methods.map { [$0[0].text ?? "", $0[1].text ?? ""] } == [["reports", "l"], ["station_snapshots", "l"]])
        } else {
            let indexes = try await o.registry.store.query(SQLStatement("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'stations' AND sql IS NOT NULL ORDER BY name"))
            #expect(indexes.compactMap { $0[0].text } == ["stations_condition", "stations_site"])
        }
        await o.registry.store.close()
    }

    /// Migration 6 moves each station's newest snapshot out of the stations row: a database
    /// written at schema 5 keeps its snapshots, and new ones land beside them.
    @Test(arguments: Backend.allCases) func snapshotsStoredAtSchema5SurviveMigration6(_ b: Backend) async throws {
        guard let o = try await openRegistry(b, migrate: false) else { return }
        let r = o.registry
        _ = try await r.schemaVersion()
        for m in Schema.migrations(r.store.dialect) where m.version <= 5 {
            _ = try await r.store.transaction(m.statements.map { SQLStatement($0) } + [SQLStatement(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)", [.int(Int64(m.version)), .text(m.name), .int(T0.millis)])])
        }
        let status = try #require(snapshot("old-01", 3, site: dedai, kit: .broken, reasons: ["fingerprint scanner unplugged"]).status)
        let body = String(decoding: try JSONStyle.encode(status), as: UTF8.self)
        _ = try await r.store.transaction([SQLStatement("""
            INSERT INTO stations (id, province, regency, district, high_seq, first_heard, last_heard, snap_seq, snapshot, condition)
            VALUES (?, ?, ?, ?, 3, ?, ?, 3, ?, 'broken')
            """, [.text("old-01"), .text(dedai.province), .text(dedai.regency), .text(dedai.district),
                  .int(T0.millis), .int(T0.millis), .text(body)])])
        #expect(try await r.migrate(now: T0) == ["6 snapshots in a table of their own: the stations table stays narrow for the fleet's GROUP BY",
                                                 "7 the fleet's tallies read from one index (issue 17, item 5)",
                                                 "8 the fleet counted in memory: stations indexed by site alone; report bodies in lz4 (PostgreSQL)"])
        let old = try await r.station("old-01", at: T0)
        #expect(old.status?.kit.problems.first?.reason == "fingerprint scanner unplugged")
        #expect(old.view.condition == .broken)
        // A newer snapshot replaces it; an older one arriving late does not.
        _ = try await r.ingest(ReportBatch(station: "old-01", sentAt: T0, reports: [snapshot("old-01", 5, site: dedai, kit: .ready)]),
                               from: "old-01", receivedAt: T0)
        _ = try await r.ingest(ReportBatch(station: "old-01", sentAt: T0, reports: [snapshot("old-01", 4, site: dedai, kit: .broken, reasons: ["late"])]),
                               from: "old-01", receivedAt: T0)
        let now = try await r.station("old-01", at: T0)
        #expect(now.status?.lastSequence == 5 && now.status?.kit.state == .ready && now.view.condition == .ready)
        await r.store.close()
    }

    /// Transactions that arrive while a commit runs are committed together (SQLite's group commit),
    /// each still all or nothing: one that fails leaves nothing, the others are stored. On
    /// PostgreSQL each is its own transaction; the outcome is the same.
    @Test(arguments: Backend.allCases) func transactionsCommittedTogetherKeepTheirOwnAllOrNothing(_ b: Backend) async throws {
        guard let o = try await openRegistry(b) else { return }
        let store = o.registry.store
        _ = try await store.transaction([SQLStatement("CREATE TABLE group_test (k INTEGER PRIMARY KEY, v TEXT NOT NULL)", [])])
        // A row there before any of the 40 (on PostgreSQL they run in any order).
        _ = try await store.transaction([SQLStatement("INSERT INTO group_test (k, v) VALUES (?, ?)", [.int(1000), .text("before")])])
        let sqlite = store as? SQLiteStore
        // A commit in progress (as the leader would be): the 40 below wait and go together.
        sqlite?.group.withLock { $0.leading = true }
        let before = sqlite?.commits.load(ordering: .relaxed) ?? 0
        let outcomes = await withTaskGroup(of: (Int, Bool).self) { tasks in
            for i in 0..<40 {
                tasks.addTask {
                    // Number 7 writes its own rows, then one that was there before: it fails whole.
                    var statements = [SQLStatement("INSERT INTO group_test (k, v) VALUES (?, ?)", [.int(Int64(i)), .text("t\(i)")])]
                    if i == 7 { statements.append(SQLStatement("INSERT INTO group_test (k, v) VALUES (?, ?)", [.int(1000), .text("again")])) }
                    if i == 7 { statements.insert(SQLStatement("INSERT INTO group_test (k, v) VALUES (?, ?)", [.int(1007), .text("t7")]), at: 0) }
                    return (i, (try? await store.transaction(statements)) != nil)
                }
            }
            if let sqlite {
                while sqlite.group.withLock({ $0.pending.count }) < 40 { await Task.yield() }
                await sqlite.commitPending()
            }
            return await tasks.reduce(into: [Int: Bool]()) { $0[$1.0] = $1.1 }
        }
        #expect(outcomes.filter { !$0.value }.map(\.key) == [7], "only number 7 fails: \(outcomes.filter { !$0.value })")
        let rows = try await store.query(SQLStatement("SELECT k FROM group_test ORDER BY k", []))
        let keys = rows.compactMap { if case .int(let k) = $0.first { return k } else { return nil } }
        #expect(keys == (0..<40).filter { $0 != 7 }.map(Int64.init) + [1000], "7's rows (1007 and 7) are undone, the rest stored")
        if let sqlite {
            // 40 transactions, at most 32 a commit: two commits.
            #expect(sqlite.commits.load(ordering: .relaxed) - before == 2)
        }
    }

    @Test(arguments: Backend.allCases) func ingestIsIdempotent(_ b: Backend) async throws {
        guard let o = try await openRegistry(b) else { return }
        let r = o.registry
        let batch = ReportBatch(station: "s1", sentAt: T0, reports: [event("s1", 1), event("s1", 2), snapshot("s1", 3, site: sintang)])
        let first = try await r.ingest(batch, from: "s1", receivedAt: T0)
        #expect(first == IngestReply(station: "s1", storedThrough: 3, stored: 3, duplicates: 0))
        let again = try await r.ingest(batch, from: "s1", receivedAt: T0.adding(.seconds(5)))
        #expect(again == IngestReply(station: "s1", storedThrough: 3, stored: 0, duplicates: 3))
        let events = try await r.events(since: 0, station: nil, limit: 100)
        #expect(events.events.map(\.event.sequence) == [1, 2])
        await r.store.close()
    }

    /// Each report's row as the station sent it, on both stores (PostgreSQL stores a batch through
    /// one `unnest` of arrays, SQLite through VALUES lists): an event's type and body, a snapshot's
    /// NULL ones, and a batch half new, half held counted as such.
    @Test(arguments: Backend.allCases) func reportsAreStoredRowByRowAsSent(_ b: Backend) async throws {
        guard let o = try await openRegistry(b) else { return }
        let r = o.registry
        _ = try await r.ingest(ReportBatch(station: "s1", sentAt: T0, reports: [event("s1", 1), event("s1", 2)]), from: "s1", receivedAt: T0)
        let mixed = ReportBatch(station: "s1", sentAt: T0, reports: [event("s1", 2), snapshot("s1", 3, site: sintang), event("s1", 4)])
        #expect(try await r.ingest(mixed, from: "s1", receivedAt: T0) == IngestReply(station: "s1", storedThrough: 4, stored: 2, duplicates: 1))
        let rows = try await r.store.query(SQLStatement("SELECT seq, kind, type, body, time FROM reports WHERE station = ? ORDER BY seq", [.text("s1")]))
        #expect(rows.map { $0[0].int } == [1, 2, 3, 4])
        #expect(rows.map { $0[1].text } == ["event", "event", "snapshot", "event"])
        #expect(rows[2][2] == .null && rows[2][3] == .null, "a snapshot has no event type or body: \(rows[2])")
        let four = try #require(mixed.reports.last?.event)
        #expect(rows[3][2].text == four.type.rawValue)
        #expect(rows[3][3].text == String(decoding: four.jsonBytes(), as: UTF8.self))
        #expect(rows[3][4].int == mixed.reports.last?.time.millis)
        if b == .sqlite {
            await #expect(throws: StoreError.self) {
                _ = try await r.store.query(SQLStatement("SELECT ?", [.intArray([1])]))
            }
        }
        await r.store.close()
    }

    @Test(arguments: Backend.allCases) func outOfOrderBatchesAndGapsAreStoredBySequence(_ b: Backend) async throws {
        guard let o = try await openRegistry(b) else { return }
        let r = o.registry
        // A later batch first (the station re-sent after a lost reply), a gap (4: a coalesced snapshot).
        let late = try await r.ingest(ReportBatch(station: "s1", sentAt: T0, reports: [event("s1", 5), event("s1", 6)]), from: "s1", receivedAt: T0)
        #expect(late.storedThrough == 6)
        let early = try await r.ingest(ReportBatch(station: "s1", sentAt: T0, reports: [event("s1", 1), event("s1", 2), event("s1", 3)]), from: "s1", receivedAt: T0)
        #expect(early.storedThrough == 6)
        #expect(early.stored == 3)
        let detail = try await r.station("s1", at: T0)
        #expect(detail.recentEvents.map(\.sequence) == [1, 2, 3, 5, 6])
        #expect(detail.view.storedThrough == 6)
        // An older snapshot never replaces a newer one.
        _ = try await r.ingest(ReportBatch(station: "s1", sentAt: T0, reports: [snapshot("s1", 10, site: sintang, kit: .broken, reasons: ["no fingerprint scanner connected"])]), from: "s1", receivedAt: T0)
        _ = try await r.ingest(ReportBatch(station: "s1", sentAt: T0, reports: [snapshot("s1", 8, site: sintang, kit: .ready)]), from: "s1", receivedAt: T0)
        let view = try await r.station("s1", at: T0).view
        #expect(view.condition == .broken)
        #expect(view.reasons == ["no fingerprint scanner connected"])
        await r.store.close()
    }

    @Test(arguments: Backend.allCases) func anotherStationsRecordsAreRefusedAndNothingStored(_ b: Backend) async throws {
        guard let o = try await openRegistry(b) else { return }
        let r = o.registry
        await #expect(throws: RegistryError.self) {
            _ = try await r.ingest(ReportBatch(station: "s2", sentAt: T0, reports: [event("s2", 1)]), from: "s1", receivedAt: T0)
        }
        await #expect(throws: RegistryError.self) {
            _ = try await r.ingest(ReportBatch(station: "s1", sentAt: T0, reports: [event("s1", 1), event("s2", 2)]), from: "s1", receivedAt: T0)
        }
        #expect(try await r.events(since: 0, station: nil, limit: 10).events.isEmpty)
        #expect(try await r.sites(status: "all", at: T0).sites.isEmpty)
        await r.store.close()
    }

    /// A relay or a courier may reorder a batch or repeat a number: each report is stored once, by
    /// its number (schemathesis found the old refusal of a schema-valid batch).
    @Test(arguments: Backend.allCases) func aBatchInAnyOrderWithARepeatedNumberStoresEachOnce(_ b: Backend) async throws {
        guard let o = try await openRegistry(b) else { return }
        let r = o.registry
        let reply = try await r.ingest(ReportBatch(station: "s1", sentAt: T0, reports: [event("s1", 3), event("s1", 1), event("s1", 3), event("s1", 2)]),
                                       from: "s1", receivedAt: T0)
        #expect(reply.stored == 3 && reply.duplicates == 1 && reply.storedThrough == 3)
        #expect(try await r.events(since: 0, station: "s1", limit: 10).events.map(\.event.sequence) == [1, 2, 3])
        await r.store.close()
    }

    @Test(arguments: Backend.allCases) func tokensAreStoredHashedAndRevocable(_ b: Backend) async throws {
        guard let o = try await openRegistry(b) else { return }
        let r = o.registry
        let token = try await r.issueToken(station: "s1", now: T0)
        #expect(token.hasPrefix("ektp_") && token.count > 40)
        #expect(try await r.authenticate(authorization: "Bearer \(token)", now: T0) == "s1")
        let raw = try await r.store.query(SQLStatement("SELECT hash FROM tokens"))
        #expect(raw.count == 1 && raw[0][0].text != token && raw[0][0].text == Registry.hash(token))
        await #expect(throws: RegistryError(401, "unknown or revoked token")) { _ = try await r.authenticate(authorization: "Bearer ektp_wrong", now: T0) }
        #expect(try await r.revokeTokens(station: "s1", now: T0) == 1)
        await #expect(throws: RegistryError(401, "unknown or revoked token")) { _ = try await r.authenticate(authorization: "Bearer \(token)", now: T0) }
        await r.store.close()
    }

    /// Issue 14: rotation gives a new token and keeps the old one working for the grace period only.
    @Test(arguments: Backend.allCases) func rotatedTokensWorkUntilTheGraceEnds(_ b: Backend) async throws {
        guard let o = try await openRegistry(b) else { return }
        let r = o.registry
        let old = try await r.issueToken(station: "s1", now: T0)
        let (new, retiring) = try await r.rotateToken(station: "s1", grace: .seconds(7 * 86400), now: T0)
        #expect(retiring == 1 && new != old)
        let sixDays = T0.adding(.seconds(6 * 86400)), eightDays = T0.adding(.seconds(8 * 86400))
        #expect(try await r.authenticate(authorization: "Bearer \(old)", now: sixDays) == "s1")
        #expect(try await r.authenticate(authorization: "Bearer \(new)", now: sixDays) == "s1")
        await #expect(throws: RegistryError(401, "unknown or revoked token")) { _ = try await r.authenticate(authorization: "Bearer \(old)", now: eightDays) }
        #expect(try await r.authenticate(authorization: "Bearer \(new)", now: eightDays) == "s1")
        // A second rotation a day later does not lengthen the first token's grace.
        _ = try await r.rotateToken(station: "s1", grace: .seconds(7 * 86400), now: T0.adding(.seconds(86400)))
        await #expect(throws: RegistryError(401, "unknown or revoked token")) { _ = try await r.authenticate(authorization: "Bearer \(old)", now: T0.adding(.seconds(7 * 86400 + 1))) }
        #expect(try await r.authenticate(authorization: "Bearer \(new)", now: T0.adding(.seconds(7 * 86400 + 1))) == "s1")
        // Revoking ends every token now, the retiring ones too.
        #expect(try await r.revokeTokens(station: "s1", now: T0.adding(.seconds(2 * 86400))) == 3)
        await #expect(throws: RegistryError(401, "unknown or revoked token")) { _ = try await r.authenticate(authorization: "Bearer \(new)", now: T0.adding(.seconds(2 * 86400 + 1))) }
        #expect(try await r.tokens(station: "s1").count == 3)
        await r.store.close()
    }

    @Test(arguments: Backend.allCases) func fleetSummaryCountsByProvinceRegencyDistrict(_ b: Backend) async throws {
        guard let o = try await openRegistry(b, silentAfter: .seconds(3600)) else { return }
        let r = o.registry
        let late = T0.adding(.seconds(7200))
        _ = try await r.ingest(ReportBatch(station: "a", sentAt: T0, reports: [snapshot("a", 1, site: sintang, kit: .ready, sync: .fresh)]), from: "a", receivedAt: late)
        _ = try await r.ingest(ReportBatch(station: "b", sentAt: T0, reports: [snapshot("b", 1, site: dedai, kit: .broken, reasons: ["no iris scanner connected"], sync: .never)]), from: "b", receivedAt: T0)
        _ = try await r.ingest(ReportBatch(station: "c", sentAt: T0, reports: [snapshot("c", 1, site: dedai, kit: .degraded, sync: .stale)]), from: "c", receivedAt: late)
        _ = try await r.ingest(ReportBatch(station: "d", sentAt: T0, reports: [event("d", 1)]), from: "d", receivedAt: late)
        let f = try await r.fleet(at: late)
        #expect(f.tally.stations == 4 && f.tally.ready == 1 && f.tally.broken == 1 && f.tally.degraded == 1 && f.tally.unknown == 1)
        #expect(f.tally.silent == 1)  // b: heard at T0, two hours before
        #expect(f.tally.notPulled == 2)
        let kalbar = try #require(f.provinces.first { $0.name == "Kalimantan Barat" })
        #expect(kalbar.regencies.map(\.name) == ["Sintang"])
        #expect(kalbar.regencies[0].districts.map(\.name) == ["Dedai", "Sintang"])
        #expect(kalbar.regencies[0].districts[0].tally.broken == 1)
        let broken = try await r.sites(status: "broken", at: late)
        #expect(broken.sites.map(\.station) == ["b"])
        #expect(broken.sites[0].reasons == ["no iris scanner connected"])
        #expect(broken.sites[0].silent)
        #expect(try await r.sites(status: "unpulled", at: late).sites.map(\.station) == ["b", "c"])
        #expect(try await r.sites(status: "silent", at: late).sites.map(\.station) == ["b"])
        await #expect(throws: RegistryError.self) { _ = try await r.sites(status: "borken", at: late) }
        await r.store.close()
    }

    @Test(arguments: Backend.allCases) func serverAvailabilityAndPowerReachTheCentre(_ b: Backend) async throws {
        guard let o = try await openRegistry(b) else { return }
        let r = o.registry
        var report = snapshot("s1", 1, site: sintang)
        report.status!.server = ServerStatus(name: "recording server", state: .crashLoop, since: T0, pid: nil, restarts: 7,
                                             lastReason: "exited with status 1", nextStartAt: nil,
                                             availability: Availability(last24h: 0.625, last7d: 0.9, observed24hSeconds: 86400, observed7dSeconds: 604800))
        report.status!.power = PowerStatus(onMains: false, batteryPercent: 40, batteryLow: false, since: T0)
        _ = try await r.ingest(ReportBatch(station: "s1", sentAt: T0, reports: [report]), from: "s1", receivedAt: T0)
        let detail = try await r.station("s1", at: T0)
        #expect(detail.view.server == .crashLoop)
        #expect(detail.view.availability24h == 0.625)
        #expect(detail.view.onMains == false)
        #expect(detail.status?.server?.availability.last7d == 0.9)
        #expect(detail.reportsStored == 1)
        await r.store.close()
    }

    @Test(arguments: Backend.allCases) func blankStockRateAndDaysLeft(_ b: Backend) async throws {
        guard let o = try await openRegistry(b) else { return }
        let r = o.registry
        let office = Site(province: "Sulawesi Utara", regency: "Bolaang Mongondow Timur", district: "Kantor Dukcapil")
        // 7,000 blanks, 300 a day for five days, a restock of 1,000 on day 3 (not use).
        var blanks = 7000
        for day in 0...5 {
            if day == 3 { blanks += 1000 }
            let t = T0.adding(.seconds(Int64(day) * 86400))
            _ = try await r.ingest(ReportBatch(station: "p", sentAt: t, reports: [snapshot("p", Int64(day + 1), at: t, site: office, stock: blanks, printers: [.ok, .ok, .ok, .failed])]), from: "p", receivedAt: t)
            blanks -= 300
        }
        let at = T0.adding(.seconds(5 * 86400))
        let stock = try await r.stock(at: at)
        #expect(stock.count == 1)
        let s = stock[0]
        #expect(s.blanks == 6500)
        #expect(s.printers == 4 && s.printersWorking == 3)
        #expect(abs((s.perDay ?? 0) - 300) < 0.01)
        #expect(abs((s.daysLeft ?? 0) - 6500.0 / 300) < 0.01)
        #expect(try await r.fleet(at: at).tally.blanks == 6500)
        // A week's window: the readings of days 0-1 fall out of it at day 8 (only 3-5 are left, a
        // restock between 2 and 3 no longer in it either): 300 a day still.
        let later = try await r.stock(at: T0.adding(.seconds(8 * 86400)))
        #expect(abs((later.first?.perDay ?? 0) - 300) < 0.01)
        // Under an hour of readings: no rate.
        for (i, minutes) in [0, 30].enumerated() {
            let t = at.adding(.seconds(Int64(minutes) * 60 - 86400))
            _ = try await r.ingest(ReportBatch(station: "m", sentAt: t, reports: [snapshot("m", Int64(i + 1), at: t, site: office, stock: 900 - i * 10)]),
                                   from: "m", receivedAt: t)
        }
        // Rows stored before the bounds (issue 13: Int64.max, -1) are read without trapping.
        _ = try await r.ingest(ReportBatch(station: "q", sentAt: at, reports: [snapshot("q", 1, at: at, site: office, stock: 10)]), from: "q", receivedAt: at)
        _ = try await r.store.transaction([
            SQLStatement("INSERT INTO stock_days (station, day, time, blanks) VALUES ('q', ?, ?, ?)", [.int(at.millis / 86_400_000 - 2), .int(at.millis - 2 * 86_400_000), .int(Int64.max)]),
            SQLStatement("INSERT INTO stock_days (station, day, time, blanks) VALUES ('q', ?, ?, ?)", [.int(at.millis / 86_400_000 - 1), .int(at.millis - 86_400_000), .int(-1)]),
        ])
        let all = try await r.stock(at: at)
        #expect(all.map(\.station) == ["m", "p", "q"])
        #expect(all[0].perDay == nil && all[0].daysLeft == nil)
        #expect((all[2].perDay ?? 0) > 1e18)
        await r.store.close()
    }

    /// A batch's stock readings go in as one statement (issue 17, item 3), and keep what one upsert
    /// a snapshot kept: the latest reading of each day, the first of equal times, never over a
    /// stored reading of the same day that is as new. Station "one" gets the readings in one batch,
    /// "each" one batch a reading; their rows must be the same.
    @Test(arguments: Backend.allCases) func aBatchsStockReadingsKeepTheLatestOfEachDay(_ b: Backend) async throws {
        guard let o = try await openRegistry(b) else { return }
        let r = o.registry
        let day0 = Timestamp(millis: (T0.millis / 86_400_000) * 86_400_000)
        let hour = { (h: Int64) in day0.adding(.seconds(h * 3600)) }
        // (hour, blanks) in sequence order: day 0 out of time order and with a tie at 9 h; day 1
        // at 30 h and 26 h; day 2 at 50 h, older than the reading stored before (51 h).
        let readings: [(Int64, Int)] = [(5, 900), (9, 880), (7, 890), (9, 870), (30, 600), (26, 650), (50, 400)]
        // Stored before: day 0 at 4 h (older: replaced), day 1 at 30 h exactly (as new: kept),
        // day 2 at 51 h (newer: kept).
        for station in ["one", "each"] {
            for (day, h, blanks) in [(0, 4, 999), (1, 30, 222), (2, 51, 111)] as [(Int64, Int64, Int64)] {
                _ = try await r.store.transaction([SQLStatement("INSERT INTO stock_days (station, day, time, blanks) VALUES (?, ?, ?, ?)",
                                                                [.text(station), .int(day0.millis / 86_400_000 + day), .int(hour(h).millis), .int(blanks)])])
            }
        }
        let reports = readings.enumerated().map { i, x in snapshot("one", Int64(i + 1), at: hour(x.0), site: sintang, stock: x.1) }
        _ = try await r.ingest(ReportBatch(station: "one", sentAt: hour(52), reports: reports), from: "one", receivedAt: hour(52))
        for (i, x) in readings.enumerated() {
            let one = snapshot("each", Int64(i + 1), at: hour(x.0), site: sintang, stock: x.1)
            _ = try await r.ingest(ReportBatch(station: "each", sentAt: hour(52), reports: [one]), from: "each", receivedAt: hour(52))
        }
        func rows(_ station: String) async throws -> [[Int64]] {
            try await r.store.query(SQLStatement("SELECT day - ?, time, blanks FROM stock_days WHERE station = ? ORDER BY day",
                                                 [.int(day0.millis / 86_400_000), .text(station)])).map { $0.compactMap(\.int) }
        }
        let expected: [[Int64]] = [[0, hour(9).millis, 880], [1, hour(30).millis, 222], [2, hour(51).millis, 111]]
        #expect(try await rows("one") == expected)
        #expect(try await rows("each") == expected)
        // A courier's bundle may name a day per snapshot: 2,500 days go in as three statements
        // of at most 1,000 rows (4,000 parameters), and all of them are stored.
        let many = (0..<2500).map { i in snapshot("many", Int64(i + 1), at: day0.adding(.seconds(Int64(i) * 86400)), site: sintang, stock: i) }
        let statements = Registry.stockStatements(many, station: "many")
        #expect(statements.map(\.arguments.count) == [4000, 4000, 2000])
        _ = try await r.ingest(ReportBatch(station: "many", sentAt: hour(52), reports: many), from: "many", receivedAt: hour(52),
                               via: .courier, maxReports: 200_000)
        #expect(try await r.store.query(SQLStatement("SELECT COUNT(*) FROM stock_days WHERE station = 'many'")).first?.first?.int == 2500)
        await r.store.close()
    }
}

/// Hardening r11 and issue 14: libpq's sslmode in the database URL is honoured, never ignored. The
/// test cluster runs with ssl=on and a certificate from the centre's test CA.
@Suite struct PostgresTLSModeTests {
    func cluster() throws -> PostgresCluster? {
        guard let cluster = PostgresCluster.shared else {
            if ProcessInfo.processInfo.environment["EKTP_REQUIRE_POSTGRES"] == "1" {
                throw PostgresCluster.Unavailable(description: "EKTP_REQUIRE_POSTGRES=1 but PostgreSQL could not be started")
            }
            return nil
        }
        return cluster
    }

    func connects(_ url: String) async -> Bool {
        do {
            let store = try await StoreURL.open(url)
            defer { Task { await store.close() } }
            return try await Registry(store: store).schemaVersion() >= 0
        } catch {
            return false
        }
    }

    @Test func everyModeAgainstAServerWithTLSAndOnlyTheRightCAVerifies() async throws {
        guard let cluster = try cluster() else { return }
        let base = String(try cluster.newDatabase().prefix { $0 != "?" })
        let ca = cluster.pki + "/centre-ca.crt", other = cluster.pki + "/other-ca.crt"
        for q in ["sslmode=disable", "sslmode=prefer", "sslmode=require", "sslmode=verify-ca&sslrootcert=\(ca)", "sslmode=verify-full&sslrootcert=\(ca)"] {
            #expect(await connects(base + "?" + q), "\(q) did not connect")
        }
        // The store suite's own URL (verify-full) really runs over TLS, and disable really does not.
        for (q, tls) in [("sslmode=verify-full&sslrootcert=\(ca)", Int64(1)), ("sslmode=disable", Int64(0))] {
            let store = try await StoreURL.open(base + "?" + q)
            let rows = try await store.query(SQLStatement("SELECT CASE WHEN ssl THEN 1 ELSE 0 END FROM pg_stat_ssl WHERE pid = pg_backend_pid()"))
            #expect(rows.first?.first?.int == tls, "\(q): pg_stat_ssl says \(String(describing: rows.first?.first?.int))")
            await store.close()
        }
        // Another CA, or the system's store, does not verify the centre's certificate.
        for q in ["sslmode=verify-full&sslrootcert=\(other)", "sslmode=verify-ca&sslrootcert=\(other)", "sslmode=verify-full"] {
            #expect(!(await connects(base + "?" + q)), "\(q) connected to a server its CA did not sign")
        }
        await #expect { _ = try await StoreURL.open(base + "?sslmode=maybe") } throws: { "\($0)".contains("sslmode=maybe: expected disable") }
        await #expect { _ = try await StoreURL.open(base + "?sslcert=x.pem") } throws: { "\($0)".contains("parameter \"sslcert\" is not supported") }
        await #expect { _ = try await StoreURL.open(base + "?sslmode=verify-ca&sslrootcert=/nonexistent.pem") } throws: { "\($0)".contains("sslrootcert=/nonexistent.pem") }
    }

    /// A server that says "no TLS" (an 'N' to the SSLRequest, as a PostgreSQL with ssl=off answers):
    /// require and verify-full refuse to go on in clear.
    @Test func requireRefusesAServerWithoutTLS() async throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        listen(fd, 8)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        let port = UInt16(bigEndian: addr.sin_port)
        Thread.detachNewThread {
            while true {
                let c = accept(fd, nil, nil)
                if c < 0 { return }
                var request = [UInt8](repeating: 0, count: 8)
                _ = read(c, &request, 8)
                _ = write(c, "N", 1)
                close(c)
            }
        }
        defer { shutdown(fd, Int32(SHUT_RDWR)); close(fd) }
        for mode in ["require", "verify-full"] {
            await #expect { _ = try await StoreURL.open("postgres://postgres@127.0.0.1:\(port)/t?sslmode=\(mode)") } throws: {
                "\($0)".contains("sslmode=\(mode)")
            }
        }
    }
}
