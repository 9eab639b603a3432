#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Crypto
import EKTPModel
import Synchronization

/// A request the registry refuses, with the HTTP status it maps to and a message naming the problem.
public struct RegistryError: Error, CustomStringConvertible, Sendable, Equatable {
    public var status: Int
    public var description: String
    public init(_ status: Int, _ description: String) {
        self.status = status
        self.description = description
    }
    static func bad(_ m: String) -> RegistryError { RegistryError(400, m) }
}

/// The registry's logic, written once over `RegistryStore`: ingest, tokens and the fleet queries.
///
/// Ingest is idempotent: a report is stored once per (station, sequence), whatever order batches
/// arrive in and however often they are re-sent. Gaps in a station's sequence are normal (snapshots
/// coalesced in its outbox, numbers a crash left unused) and are not errors; the reply's
/// `stored_through` is the highest sequence held for the station, which the station acknowledges.
public final class Registry: Sendable {
    public let store: any RegistryStore
    /// A station not heard from for this long counts as silent.
    public let silentAfter: Duration
    /// Reports in one batch, at most.
    public static let maxBatch = 1000
    /// How many days of stock readings the rate is taken over.
    public static let stockWindowDays: Int64 = 7

    /// Why the last ingest could not be written (nil once one is written again): `/healthz` answers
    /// 503 with it (issue 13: it said "ok" while every ingest failed with "database or disk is full").
    let writeFailure = Mutex<String?>(nil)

    /// Ingests this registry has committed (each one may change a station's row): a cached fleet
    /// summary built before the latest is not used again.
    let writes = Atomic<UInt64>(0)
    /// `GET /v1/fleet` without `at`: the JSON last built for each scope, with the minute and the
    /// write count it was built at (see `currentFleetJSON`).
    let fleetCache = Mutex<[ViewScope: FleetCacheEntry]>([:])
    struct FleetCacheEntry { var minute: Int64; var writes: UInt64; var json: [UInt8] }
    /// What the fleet's tallies count, for every station, in memory (`FleetIndex`).
    let fleetIndex = FleetIndex()

    public init(store: any RegistryStore, silentAfter: Duration = .seconds(3600)) {
        self.store = store
        self.silentAfter = silentAfter
    }

    /// Nil when the database took the last write; else why it did not.
    public var writeProblem: String? { writeFailure.withLock { $0 } }

    // MARK: schema

    public func schemaVersion() async throws -> Int {
        let create = SQLStatement("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)")
        do { _ = try await store.transaction([create]) } catch {
            // PostgreSQL: two processes creating it at once, one loses on the catalog; it exists now.
            _ = try await store.transaction([create])
        }
        let rows = try await store.query(SQLStatement("SELECT MAX(version) FROM schema_migrations"))
        return Int(rows.first?.first?.int ?? 0)
    }

    /// Runs the migrations not yet run, each in its own transaction; returns their names.
    @discardableResult
    public func migrate(now: Timestamp, progress: (String) -> Void = { _ in }) async throws -> [String] {
        let current = try await schemaVersion()
        guard current <= Schema.latest else {
            throw StoreError("the database is at schema version \(current), newer than this ektp-registry knows (\(Schema.latest)): upgrade ektp-registry")
        }
        var applied: [String] = []
        for m in Schema.migrations(store.dialect) where m.version > current {
            progress("migration \(m.version): \(m.name)")
            var statements = m.statements.map { SQLStatement($0) }
            statements.append(SQLStatement("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                                           [.int(Int64(m.version)), .text(m.name), .int(now.millis)]))
            do {
                _ = try await store.transaction(statements)
            } catch {
                // Another process (serve, migrate, token issue started together on a new database:
                // field case 13) ran this migration first; each runs in one transaction, so it is
                // whole or absent. Only then is the failure not ours.
                if (try? await schemaVersion()) ?? 0 >= m.version { continue }
                throw error
            }
            applied.append("\(m.version) \(m.name)")
        }
        return applied
    }

    /// Refuses to serve a database whose schema is not this binary's.
    public func requireCurrentSchema() async throws {
        let v = try await schemaVersion()
        if v < Schema.latest { throw StoreError("the database is at schema version \(v), this ektp-registry needs \(Schema.latest): run `ektp-registry migrate`") }
        if v > Schema.latest { throw StoreError("the database is at schema version \(v), newer than this ektp-registry knows (\(Schema.latest)): upgrade ektp-registry") }
    }

    // MARK: tokens

    /// Makes a token for a station and stores only its hash; the token is shown once.
    public func issueToken(station: String, now: Timestamp) async throws -> String {
        try Self.checkStationID(station)
        let token = Self.newToken()
        _ = try await store.transaction([SQLStatement("INSERT INTO tokens (hash, station, issued_at) VALUES (?, ?, ?)",
                                                      [.text(Self.hash(token)), .text(station), .int(now.millis)])])
        return token
    }

    /// Rotation (issue 14): a new token for the station, while its live tokens keep working until
    /// `now + grace` (default 7 days), so a fleet can move to new tokens without refusing a report.
    /// A token already due to end sooner keeps its earlier end. Returns the new token and how many
    /// old ones now end at the grace's end.
    public func rotateToken(station: String, grace: Duration = .seconds(7 * 86400), now: Timestamp) async throws -> (token: String, retiring: Int) {
        try Self.checkStationID(station)
        let end = now.adding(grace).millis
        let r = try await store.transaction([SQLStatement("UPDATE tokens SET revoked_at = ? WHERE station = ? AND (revoked_at IS NULL OR revoked_at > ?) RETURNING hash",
                                                          [.int(end), .text(station), .int(end)])])
        let token = try await issueToken(station: station, now: now)
        return (token, r[0].count)
    }

    /// A station's tokens: when each was issued and when it ends (nil: never), newest first; never the token.
    public func tokens(station: String) async throws -> [(issued: Timestamp, ends: Timestamp?, hashPrefix: String)] {
        let rows = try await store.query(SQLStatement("SELECT issued_at, revoked_at, hash FROM tokens WHERE station = ? ORDER BY issued_at DESC", [.text(station)]))
        return rows.map { r in (Timestamp(millis: r[0].int ?? 0), r[1].int.map { Timestamp(millis: $0) }, String((r[2].text ?? "").prefix(12))) }
    }

    /// A new bearer token: `ektp_` and 32 random bytes in base64url.
    static func newToken() -> String {
        var rng = SystemRandomNumberGenerator()
        return "ektp_" + Base64URL.encode((0..<32).map { _ in UInt8.random(in: .min ... .max, using: &rng) })
    }

    /// Revokes every live token of a station; returns how many.
    public func revokeTokens(station: String, now: Timestamp) async throws -> Int {
        let r = try await store.transaction([SQLStatement("UPDATE tokens SET revoked_at = ? WHERE station = ? AND (revoked_at IS NULL OR revoked_at > ?) RETURNING hash",
                                                          [.int(now.millis), .text(station), .int(now.millis)])])
        return r[0].count
    }

    /// The station a bearer token belongs to, or a 401 naming what is wrong. A rotated token keeps
    /// working until its end (`revoked_at` in the future); `now` is the registry's clock.
    public func authenticate(authorization: String?, now: Timestamp) async throws -> String {
        switch try await principal(authorization: authorization, now: now) {
        case .station(let station): return station
        case .courier: throw RegistryError(403, "a courier token uploads signed bundles only (POST /v1/bundles)")
        }
    }

    static func hash(_ token: String) -> String {
        SHA256.hash(data: Array(token.utf8)).map { b in
            let h = "0123456789abcdef".utf8
            return String(decoding: [h[h.index(h.startIndex, offsetBy: Int(b >> 4))], h[h.index(h.startIndex, offsetBy: Int(b & 15))]], as: UTF8.self)
        }.joined()
    }

    static func checkStationID(_ id: String) throws {
        guard isStationID(id) else {
            throw RegistryError.bad("station ID \"\(id.printable.prefix(80))\": use 1 to 64 letters, digits, '-', '_' or '.', not starting with '-'")
        }
    }

    // MARK: ingest

    /// The batch rules live with the batch (EKTPModel, `ReportBatch.check`): pure, so the fuzzers
    /// reach them. These name them where the registry's code reads them.
    public static let maxSequence = ReportBatch.maxSequence
    public static let blanksRange = ReportBatch.blanksRange
    public static let maxNameLength = Site.maxNameLength

    static func normalized(_ reports: [WireReport]) -> [WireReport] { ReportBatch.normalized(reports) }

    /// Checks a batch against the station that sent it; throws 400, 403 or 409 before anything is stored.
    /// The batch rules (`ReportBatch.check`) as a `RegistryError` with their HTTP status.
    public static func validate(_ batch: ReportBatch, from station: String, maxReports: Int = maxBatch) throws {
        do { try batch.check(from: station, maxReports: maxReports) } catch let r as BatchRefusal {
            throw RegistryError(r.status, r.message)
        }
    }

    /// How a batch reached the registry: from the station over the network, or in a courier's bundle.
    public enum Delivery: String, Sendable { case online, courier }

    /// Stores a checked batch once; the reply says how far the station may forget. `via` says how
    /// it came (issue 16): online, the station was heard now and its clock is compared with ours;
    /// by courier, the station's news reached the centre now (it counts as heard, with the date),
    /// and the bundle's age says nothing of its clock.
    public func ingest(_ batch: ReportBatch, from station: String, receivedAt: Timestamp, via: Delivery = .online,
                       maxReports: Int = Registry.maxBatch) async throws -> IngestReply {
        try Self.validate(batch, from: station, maxReports: maxReports)
        let reports = Self.normalized(batch.reports)
        let channel = via == .online ? "last_online" : "last_courier"
        var statements: [SQLStatement] = [
            SQLStatement("""
                INSERT INTO stations (id, first_heard, last_heard, \(channel)) VALUES (?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET last_heard = CASE WHEN stations.last_heard < excluded.last_heard
                    THEN excluded.last_heard ELSE stations.last_heard END, \(channel) = excluded.\(channel)
                """, [.text(station), .int(receivedAt.millis), .int(receivedAt.millis), .int(receivedAt.millis)]),
        ]
        if via == .courier, let newest = reports.map(\.time.millis).max() {
            statements.append(SQLStatement("""
                UPDATE stations SET courier_news = CASE WHEN courier_news IS NULL OR courier_news < ? THEN ? ELSE courier_news END WHERE id = ?
                """, [.int(min(newest, receivedAt.millis)), .int(min(newest, receivedAt.millis)), .text(station)]))
        }
        if via == .online, let key = batch.publicKey {
            // The first key a station sends is kept (its token vouches for it); a different one later is not taken.
            guard let raw = Data(base64Encoded: key), raw.count == 32 else {
                throw RegistryError.bad("public_key: expected 32 bytes of base64 (an Ed25519 public key)")
            }
            statements.append(SQLStatement("""
                INSERT INTO station_keys (station, public_key, added_at, added_by) VALUES (?, ?, ?, 'online')
                ON CONFLICT (station) DO NOTHING
                """, [.text(station), .text(key), .int(receivedAt.millis)]))
        }
        let firstInsert = statements.count
        // The reports themselves: many rows to a statement on SQLite, one statement on PostgreSQL.
        let encoder = JSONStyle.encoder()
        var insertStatements = 0
        if store.dialect == .postgres {
            // PostgreSQL: the whole batch as one statement of seven parameters, five of them arrays
            // that unnest into rows (`type` and `body` are '' for a report without an event: NULL).
            // Planning a VALUES list of 250 rows x 7 parameters, and binding 1,750 of them, cost more
            // than storing the rows (Benchmarks/registry.py, ingest / COPY).
            var seqs: [Int64] = [], kinds: [String] = [], times: [Int64] = [], types: [String] = [], bodies: [String] = []
            seqs.reserveCapacity(reports.count); kinds.reserveCapacity(reports.count); times.reserveCapacity(reports.count)
            types.reserveCapacity(reports.count); bodies.reserveCapacity(reports.count)
            for r in reports {
                seqs.append(r.sequence); kinds.append(r.kind.rawValue); times.append(r.time.millis)
                types.append(r.event?.type.rawValue ?? "")
                bodies.append(r.event.map { String(decoding: $0.jsonBytes(), as: UTF8.self) } ?? "")
            }
            statements.append(SQLStatement("""
                WITH stored AS (
                    INSERT INTO reports (station, seq, kind, time, received_at, type, body)
                    SELECT ?, u.seq, u.kind, u.time, ?, NULLIF(u.type, ''), NULLIF(u.body, '')
                    FROM unnest(?::bigint[], ?::text[], ?::bigint[], ?::text[], ?::text[]) AS u(seq, kind, time, type, body)
                    ON CONFLICT (station, seq) DO NOTHING RETURNING 1)
                SELECT COUNT(*) FROM stored
                """, [.text(station), .int(receivedAt.millis), .intArray(seqs), .textArray(kinds), .intArray(times),
                      .textArray(types), .textArray(bodies)]))
            insertStatements = 1
        }
        // SQLite (PostgreSQL's statement is above): VALUES lists of 250 rows.
        for chunk in stride(from: 0, to: reports.count, by: 250) where store.dialect == .sqlite {
            let part = reports[chunk..<min(chunk + 250, reports.count)]
            var sql = "INSERT INTO reports (station, seq, kind, time, received_at, type, body) VALUES "
            var args: [SQLValue] = []
            args.reserveCapacity(part.count * 7)
            for (i, r) in part.enumerated() {
                sql += i == 0 ? "(?, ?, ?, ?, ?, ?, ?)" : ", (?, ?, ?, ?, ?, ?, ?)"
                var type: SQLValue = .null
                var body: SQLValue = .null
                if let e = r.event {
                    type = .text(e.type.rawValue)
                    // Written directly: the same bytes as JSONStyle's encoder, several times faster (issue 17).
                    body = .text(String(decoding: e.jsonBytes(), as: UTF8.self))
                }
                args += [.text(station), .int(r.sequence), .text(r.kind.rawValue), .int(r.time.millis), .int(receivedAt.millis), type, body]
            }
            // How many were new: a row back for each (SQLite has no DML in WITH; its rows come back
            // in-process). PostgreSQL counts them itself, above: a row back for each stored report
            // cost a fifth of its ingest.
            sql += " ON CONFLICT (station, seq) DO NOTHING RETURNING seq"
            statements.append(SQLStatement(sql, args))
            insertStatements += 1
        }
        // The newest snapshot sets the station's current state (never an older one over a newer).
        if let newest = reports.last(where: { $0.kind == .snapshot }), let s = newest.status {
            statements += Self.applySnapshot(s, sequence: newest.sequence, station: station, encoder: encoder)
        }
        // Every snapshot with blanks is a stock reading (the last of each day is kept).
        statements += Self.stockStatements(reports, station: station)
        // The station's reply and its row for the fleet index, with the station's clock against
        // ours (online only: from the time it says it sent the batch) set in the same statement.
        let last = reports[reports.count - 1].sequence
        var skew: [SQLValue] = []
        if via == .online {
            let s = batch.sentAt.millis.subtractingReportingOverflow(receivedAt.millis)
            skew = [s.overflow ? .null : .int(s.partialValue)]
        }
        statements.append(SQLStatement("""
            UPDATE stations SET high_seq = CASE WHEN high_seq < ? THEN ? ELSE high_seq END\(skew.isEmpty ? "" : ", clock_skew_ms = ?")
            WHERE id = ? RETURNING high_seq, \(FleetIndex.columns)
            """, [.int(last), .int(last)] + skew + [.text(station)]))
        let results: [[[SQLValue]]]
        do {
            results = try await store.transaction(statements)
            // The station's row as this transaction left it: the fleet's tallies count it now.
            fleetIndex.update(station, results[results.count - 1].first.flatMap { FleetIndex.Station(row: $0, from: 1) })
            writes.add(1, ordering: .releasing)
            writeFailure.withLock { $0 = nil }
        } catch {
            writeFailure.withLock { $0 = "\(error)" }
            throw error
        }
        let stored = results[firstInsert..<(firstInsert + insertStatements)].reduce(0) { total, rows in
            total + (store.dialect == .postgres ? Int(rows.first?.first?.int ?? 0) : rows.count)
        }
        let through = results[results.count - 1].first?.first?.int ?? last
        return IngestReply(station: station, storedThrough: through, stored: stored, duplicates: batch.reports.count - stored)
    }

    /// The batch's stock readings as upserts into `stock_days`: one for a batch's readings (none
    /// when no snapshot has one), one per `stockRowsPerStatement` days for a courier's bundle.
    ///
    /// A reading is a snapshot's `stock` (blanks, at `updated_at`); a station keeps one a UTC day,
    /// the latest. The batch's readings are first reduced to one a day (the latest; of equal times
    /// the first, as one upsert after another kept), so each statement touches each day once, and
    /// a reading never replaces a stored one of the same day that is as new or newer. One upsert a
    /// snapshot was 40 of a catch-up batch's 48 statements, each a round trip to PostgreSQL
    /// (issue 17, item 3). The days are a station's to say: a bundle of 200,000 reports may name
    /// as many, past PostgreSQL's 65,535 parameters a statement and SQLite's 32,766.
    static func stockStatements(_ reports: [WireReport], station: String) -> [SQLStatement] {
        var readings: [(day: Int64, time: Int64, blanks: Int64)] = []
        var index: [Int64: Int] = [:]
        for r in reports where r.kind == .snapshot {
            guard let stock = r.status?.stock else { continue }
            let time = stock.updatedAt.millis
            let day = time / 86_400_000
            if let i = index[day] {
                if time > readings[i].time { readings[i] = (day, time, Int64(stock.blanks)) }
            } else {
                index[day] = readings.count
                readings.append((day, time, Int64(stock.blanks)))
            }
        }
        return stride(from: 0, to: readings.count, by: stockRowsPerStatement).map { start in
            let part = readings[start..<min(start + stockRowsPerStatement, readings.count)]
            let values = Array(repeating: "(?, ?, ?, ?)", count: part.count).joined(separator: ", ")
            return SQLStatement("""
                INSERT INTO stock_days (station, day, time, blanks) VALUES \(values)
                ON CONFLICT (station, day) DO UPDATE SET time = excluded.time, blanks = excluded.blanks
                WHERE excluded.time > stock_days.time
                """, part.flatMap { [.text(station), .int($0.day), .int($0.time), .int($0.blanks)] })
        }
    }

    /// Days of stock readings in one upsert: 4,000 parameters.
    static let stockRowsPerStatement = 1_000

    /// The statements that make `s` the station's current state, unless a newer snapshot already
    /// is: the station's row, then its rows in `device_problems` (one per kit problem, replaced
    /// whole, and only when this snapshot is the one the station's row now holds).
    private static func applySnapshot(_ s: StationStatus, sequence: Int64, station: String, encoder: JSONEncoderLike) -> [SQLStatement] {
        let condition: SiteCondition = switch s.kit.state {
        case .ready: .ready
        case .degraded: .degraded
        case .broken: .broken
        }
        let reasons = s.kit.problems.map(\.reason).joined(separator: "\n")
        let notPulled = s.sync.map { $0.state == .stale || $0.state == .never } ?? false
        let printers = s.devices.filter { $0.device.kind == .cardPrinter }
        let working = printers.filter { $0.health == .ok || $0.health == .degraded }.count
        let body = (try? encoder.encode(s)).map { String(decoding: $0, as: UTF8.self) }
        let current = "EXISTS (SELECT 1 FROM stations WHERE id = ? AND snap_seq = ?)"
        // The snapshot itself, beside the station's row (migration 6), when it is the newest.
        let snapshotRow = body.map { b in
            [SQLStatement("""
                INSERT INTO station_snapshots (station, seq, body) SELECT ?, ?, ? WHERE \(current)
                ON CONFLICT (station) DO UPDATE SET seq = excluded.seq, body = excluded.body
                """, [.text(station), .int(sequence), .text(b), .text(station), .int(sequence)])]
        } ?? []
        var problems = [SQLStatement("DELETE FROM device_problems WHERE station = ? AND \(current)",
                                     [.text(station), .text(station), .int(sequence)])]
        for p in s.kit.problems {
            let d = p.device.flatMap { id in s.devices.first { $0.device.id == id } }
            problems.append(SQLStatement("""
                INSERT INTO device_problems (station, device, kind, model, port, health, severity, reason, since, code, args)
                SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE \(current) ON CONFLICT (station, device) DO NOTHING
                """, [.text(station), .text(p.device?.description ?? "kind:\(p.kind.rawValue)"), .text(p.kind.rawValue),
                      .text(d?.device.name ?? ""), .text(d?.device.portPath ?? ""), .text(d?.health.rawValue ?? "missing"),
                      .text(p.severity.rawValue), .text(p.reason), .int((d?.since ?? s.kit.since).millis),
                      p.code.map { .text($0) } ?? .null,
                      p.args.flatMap { try? encoder.encode($0) }.map { .text(String(decoding: $0, as: UTF8.self)) } ?? .null,
                      .text(station), .int(sequence)]))
        }
        return [SQLStatement("""
            UPDATE stations SET snap_seq = ?, province = ?, regency = ?, district = ?,
                condition = ?, condition_since = ?, reasons = ?, sync_state = ?, last_pull = ?, not_pulled = ?,
                server_state = ?, avail_24h = ?, on_mains = ?, blanks = ?, blanks_source = ?, blanks_at = ?,
                printers = ?, printers_working = ?
            WHERE id = ? AND snap_seq < ?
            """, [
                .int(sequence), .text(s.site.province), .text(s.site.regency), .text(s.site.district),
                .text(condition.rawValue), .int(s.kit.since.millis), .text(reasons),
                s.sync.map { .text($0.state.rawValue) } ?? .null, s.sync?.lastPull.map { .int($0.millis) } ?? .null,
                .int(notPulled ? 1 : 0),
                s.server.map { .text($0.state.rawValue) } ?? .null, s.server.map { .double($0.availability.last24h) } ?? .null,
                s.power?.onMains.map { .int($0 ? 1 : 0) } ?? .null,
                s.stock.map { .int(Int64($0.blanks)) } ?? .null, s.stock.map { .text($0.source.rawValue) } ?? .null,
                s.stock.map { .int($0.updatedAt.millis) } ?? .null,
                .int(Int64(printers.count)), .int(Int64(working)),
                .text(station), .int(sequence),
            ])] + snapshotRow + problems
    }

    // MARK: queries

    /// The fleet by province, regency and district, judged at `at`.
    /// Only the stations inside `scope` count (a regency's staff see their regency's tree).
    /// `now` (default `at`) is the time of the read: the tallies are counted from `FleetIndex`,
    /// which holds every write this registry made and the others' up to `now`'s minute.
    public func fleet(at: Timestamp, scope: ViewScope = .national, now: Timestamp? = nil) async throws -> FleetSummary {
        // The stock views are read while the tallies are counted.
        async let stockViews = stock(at: at, scope: scope)
        let rows = try await tallies(at: at, by: ["province", "regency", "district"], scope: scope, now: now)
        // `tallies` gives the districts in byte order already (the same in SQLite and PostgreSQL,
        // whatever their collation). Names are equal by bytes, as the database groups them
        // (`utf8Equals`): NFC and NFD spellings stay apart.
        struct Row { var p: String; var g: String; var d: String; var t: FleetTally }
        let list = rows.map { Row(p: $0.keys[0], g: $0.keys[1], d: $0.keys[2], t: $0.tally) }
        // The tree, built level by level without copying what is already built.
        var total = FleetTally()
        var provinces: [ProvinceSummary] = []
        var i = 0
        while i < list.count {
            let p = list[i].p
            var province = ProvinceSummary(name: p, tally: FleetTally(), regencies: [])
            while i < list.count && list[i].p.utf8Equals(p) {
                let g = list[i].g
                var regency = RegencySummary(name: g, tally: FleetTally(), districts: [])
                while i < list.count && list[i].p.utf8Equals(p) && list[i].g.utf8Equals(g) {
                    regency.tally.add(list[i].t)
                    regency.districts.append(DistrictSummary(name: list[i].d, tally: list[i].t))
                    i += 1
                }
                province.tally.add(regency.tally)
                province.regencies.append(regency)
            }
            total.add(province.tally)
            provinces.append(province)
        }
        return FleetSummary(at: at, silentAfterSeconds: silentAfter.wholeMilliseconds / 1000, tally: total,
                            provinces: provinces, stock: try await stockViews)
    }

    /// The fleet now, as `GET /v1/fleet` writes it (FleetJSON.swift, with a final newline), built at
    /// most once per scope, clock minute and committed ingest (issue 17, item 5: a summary of 15,000
    /// stations takes 50-90 ms to tally, and the centre's viewers ask for the same one again and again).
    ///
    /// - Fresh for this registry's own writes: an ingest it commits makes the next read build anew.
    /// - Another registry on the same PostgreSQL (scale-out) does not tell this one of its writes:
    ///   they show at the next minute, at the latest.
    /// - Within a minute the summary's `at` is the time of the read that built it, so a station's
    ///   silence (no report for `silentAfter`) is judged up to a minute early.
    public func currentFleetJSON(now: Timestamp, scope: ViewScope = .national) async throws -> [UInt8] {
        let minute = now.millis / 60_000
        let seen = writes.load(ordering: .acquiring)
        if let hit = fleetCache.withLock({ cache -> [UInt8]? in
            guard let e = cache[scope], e.minute == minute, e.writes == seen else { return nil }
            return e.json
        }) { return hit }
        var json = try await fleet(at: now, scope: scope).jsonBytes()
        json.append(0x0a)
        fleetCache.withLock { cache in
            // Old minutes go first; the scopes in use are a few hundred at most (one per regency).
            if cache.count >= 256 { cache = cache.filter { $0.value.minute == minute } }
            if cache.count >= 256 { cache.removeAll() }
            cache[scope] = FleetCacheEntry(minute: minute, writes: seen, json: json)
        }
        return json
    }

    /// The fleet's tallies grouped by `columns` (site columns, outermost first), judged at `at`, in
    /// byte order of their keys: counted from `FleetIndex` as `storedTallies` counts them in the
    /// database (the tests hold the two equal). `now` (default `at`): the time of the read; the
    /// index is loaded again at the first read of each of its minutes.
    /// Errors: the database's, when the index must be loaded and cannot be.
    public func tallies(at: Timestamp, by columns: [String], scope: ViewScope = .national,
                        now: Timestamp? = nil) async throws -> [(keys: [String], tally: FleetTally)] {
        precondition(columns.allSatisfy { ["province", "regency", "district"].contains($0) })
        return try await fleetIndex.tallies(now: now ?? at, load: {
            let rows = try await store.query(SQLStatement("SELECT id, \(FleetIndex.columns) FROM stations"))
            return rows.compactMap { r in r[0].text.flatMap { id in FleetIndex.Station(row: r, from: 1).map { (id, $0) } } }
        }, cutoff: at.millis - silentAfter.wholeMilliseconds, skewLimit: Self.clockSkewLimit.wholeMilliseconds,
           blanksRange: Self.blanksRange, columns: columns, scope: scope)
    }

    /// Loads the fleet index for `now`'s minute unless it is loaded already (`FleetIndexRefresh`
    /// calls it as each minute begins). Errors: the database's.
    public func refreshFleetIndex(now: Timestamp) async throws {
        _ = try await tallies(at: now, by: [], now: now)
    }

    /// The fleet's tallies grouped by `columns` (site columns, outermost first), judged at `at`: one
    /// GROUP BY in the database, read for this call (what `tallies` counts from memory).
    public func storedTallies(at: Timestamp, by columns: [String], scope: ViewScope = .national) async throws -> [(keys: [String], tally: FleetTally)] {
        precondition(columns.allSatisfy { ["province", "regency", "district"].contains($0) })
        let within = scope.condition()
        let cutoff = at.millis - silentAfter.wholeMilliseconds
        let keys = columns.joined(separator: ", ")
        // Aggregate FILTER (SQL:2003; SQLite 3.30, PostgreSQL 9.4) rather than SUM(CASE ...): the
        // sqlite3 shell at 15,000 stations, 45 -> 26-34 ms (18 ms with migration 7's covering index,
        // which migration 8 dropped once FleetIndex took the reads over).
        let rows = try await store.query(SQLStatement("""
            SELECT \(keys)\(columns.isEmpty ? "" : ", ")COUNT(*),
                COUNT(*) FILTER (WHERE condition = 'ready'),
                COUNT(*) FILTER (WHERE condition = 'degraded'),
                COUNT(*) FILTER (WHERE condition = 'broken'),
                COUNT(*) FILTER (WHERE condition = 'unknown'),
                COUNT(*) FILTER (WHERE last_heard < ?),
                CAST(SUM(not_pulled) AS BIGINT),
                CAST(COALESCE(SUM(blanks) FILTER (WHERE blanks BETWEEN 0 AND 10000000), 0) AS BIGINT),
                COUNT(*) FILTER (WHERE clock_skew_ms > ? OR clock_skew_ms < ?)
            FROM stations WHERE \(within.sql)\(columns.isEmpty ? "" : " GROUP BY \(keys)")
            """, [.int(cutoff), .int(Self.clockSkewLimit.wholeMilliseconds), .int(-Self.clockSkewLimit.wholeMilliseconds)] + within.args))
        let n = columns.count
        return rows.compactMap { r in
            var t = FleetTally()
            t.stations = Int(r[n].int ?? 0)
            guard t.stations > 0 else { return nil }  // no GROUP BY over an empty table: one row of nulls
            t.ready = Int(r[n + 1].int ?? 0); t.degraded = Int(r[n + 2].int ?? 0)
            t.broken = Int(r[n + 3].int ?? 0); t.unknown = Int(r[n + 4].int ?? 0); t.silent = Int(r[n + 5].int ?? 0)
            t.notPulled = Int(r[n + 6].int ?? 0); t.blanks = Int(r[n + 7].int ?? 0)
            t.clockSkewed = Int(r[n + 8].int ?? 0)
            return ((0..<n).map { r[$0].text ?? "" }, t)
        }
    }

    /// Stations with card blanks, the rate they use them at, and the days left.
    public func stock(at: Timestamp, scope: ViewScope = .national) async throws -> [StockView] {
        let within = scope.condition()
        let stations = try await store.query(SQLStatement("""
            SELECT id, province, regency, district, blanks, blanks_source, blanks_at, printers, printers_working
            FROM stations WHERE blanks IS NOT NULL AND \(within.sql)
            """, within.args))
        guard !stations.isEmpty else { return [] }
        let from = at.millis - Self.stockWindowDays * 86_400_000
        // The rate as the database reckons it (`dailyRate`'s rule, in SQL: each reading with the one
        // before it, a rise left out): 500 rows back rather than a row per station and day, which
        // PostgreSQL took 20 ms to hand over at 500 printing offices (issue 17, item 5).
        let rates = try await store.query(SQLStatement("""
            SELECT station,
                SUM(CAST(prev AS DOUBLE PRECISION) - CAST(blanks AS DOUBLE PRECISION)) FILTER (WHERE blanks <= prev),
                SUM(CAST(time AS DOUBLE PRECISION) - CAST(prev_time AS DOUBLE PRECISION)) FILTER (WHERE blanks <= prev)
            FROM (SELECT station, time, blanks, LAG(blanks) OVER w AS prev, LAG(time) OVER w AS prev_time
                  FROM stock_days WHERE time >= ? AND time <= ? WINDOW w AS (PARTITION BY station ORDER BY time)) AS pairs
            GROUP BY station
            """, [.int(from), .int(at.millis)]))
        var byStation: [String: Double] = [:]
        for r in rates {
            if let id = r[0].text, let rate = Self.dailyRate(used: r[1].double, span: r[2].double) { byStation[id] = rate }
        }
        var out: [StockView] = []
        for r in stations {
            let id = r[0].text ?? ""
            let blanks = Int(clamping: r[4].int ?? 0)
            let rate = byStation[id]
            out.append(StockView(station: id, site: Site(province: r[1].text ?? "", regency: r[2].text ?? "", district: r[3].text ?? ""),
                                 blanks: blanks, source: StockSource(rawValue: r[5].text ?? "") ?? .printer,
                                 updatedAt: Timestamp(millis: r[6].int ?? 0), perDay: rate,
                                 daysLeft: rate.flatMap { $0 > 0 ? Double(blanks) / $0 : nil },
                                 printers: Int(r[7].int ?? 0), printersWorking: Int(r[8].int ?? 0)))
        }
        return out.sorted { $0.station.utf8Precedes($1.station) }
    }

    /// Blanks used per day from a station's readings in the window: `used`, the decreases from
    /// each reading to the next, over `span`, the milliseconds those intervals cover. An interval
    /// with a restock (the count rose) is left out of both: what was used that day cannot be told.
    /// nil with under an hour of usable readings (or none). Summed in floating point: rows stored
    /// before the bounds (Int64.max, -1) must not trap a read (issue 13).
    static func dailyRate(used: Double?, span: Double?) -> Double? {
        guard let used, let span, span >= 3_600_000 else { return nil }
        return used / (span / 86_400_000)
    }

    static let siteColumns = """
        id, province, regency, district, condition, reasons, condition_since, last_heard, sync_state, last_pull,
        not_pulled, server_state, avail_24h, on_mains, blanks, high_seq, clock_skew_ms, last_online, last_courier, courier_news
        """

    /// A station clock off from the registry's by more than this is flagged (issue 12: 5 minutes,
    /// well above carrier-network latency and NTP's worst slew, well below a dead CMOS battery).
    public static let clockSkewLimit: Duration = .seconds(300)

    func siteView(_ r: [SQLValue], at: Timestamp) -> SiteView {
        let cutoff = at.millis - silentAfter.wholeMilliseconds
        let reasons = (r[5].text ?? "").split(separator: "\n").map(String.init)
        var view = SiteView(station: r[0].text ?? "", site: Site(province: r[1].text ?? "", regency: r[2].text ?? "", district: r[3].text ?? ""),
                        condition: SiteCondition(rawValue: r[4].text ?? "") ?? .unknown, reasons: reasons,
                        conditionSince: r[6].int.map { Timestamp(millis: $0) },
                        lastHeard: r[7].int.map { Timestamp(millis: $0) }, silent: (r[7].int ?? 0) < cutoff,
                        sync: r[8].text.flatMap { SyncState(rawValue: $0) }, lastPull: r[9].int.map { Timestamp(millis: $0) },
                        notPulled: (r[10].int ?? 0) != 0, server: r[11].text.flatMap { ServerState(rawValue: $0) },
                        availability24h: r[12].double, onMains: r[13].int.map { $0 != 0 }, blanks: r[14].int.map { Int($0) },
                        storedThrough: r[15].int ?? 0)
        view.clockSkewSeconds = r[16].int.map { $0 / 1000 }
        view.clockSkewed = r[16].int.map { abs($0) > Self.clockSkewLimit.wholeMilliseconds } ?? false
        view.lastOnline = r[17].int.map { Timestamp(millis: $0) }
        view.lastCourier = r[18].int.map { Timestamp(millis: $0) }
        view.courierNewsUntil = r[19].int.map { Timestamp(millis: $0) }
        return view
    }

    /// The statuses `GET /v1/sites?status=` accepts.
    public static let siteFilters = ["all", "ready", "degraded", "broken", "unknown", "silent", "unpulled", "skewed"]

    /// Stations in a condition, each with its reasons.
    public func sites(status: String, at: Timestamp, scope: ViewScope = .national) async throws -> SitesReply {
        let cutoff = at.millis - silentAfter.wholeMilliseconds
        let (condition, args): (String, [SQLValue]) = switch status {
        case "all": ("1 = 1", [])
        case "ready", "degraded", "broken", "unknown": ("condition = ?", [.text(status)])
        case "silent": ("last_heard < ?", [.int(cutoff)])
        case "unpulled": ("not_pulled = 1", [])
        case "skewed": ("(clock_skew_ms > ? OR clock_skew_ms < ?)", [.int(Self.clockSkewLimit.wholeMilliseconds), .int(-Self.clockSkewLimit.wholeMilliseconds)])
        default:
            throw RegistryError.bad("status \"\(status)\": expected one of \(Self.siteFilters.joined(separator: ", "))")
        }
        let within = scope.condition()
        let rows = try await store.query(SQLStatement("SELECT \(Self.siteColumns) FROM stations WHERE \(condition) AND \(within.sql)", args + within.args))
        let sites = rows.map { siteView($0, at: at) }.sorted { a, b in
            let x = [a.site.province, a.site.regency, a.site.district, a.station]
            let y = [b.site.province, b.site.regency, b.site.district, b.station]
            return x.lexicographicallyPrecedes(y) { $0.utf8Precedes($1) }
        }
        return SitesReply(at: at, status: status, sites: sites)
    }

    /// One station: its view, the latest snapshot, and its newest events (newest last).
    /// Outside `scope` it is a 404 like a station never heard of (a viewer learns nothing of another regency).
    public func station(_ id: String, at: Timestamp, events limit: Int = 50, scope: ViewScope = .national) async throws -> StationDetail {
        let within = scope.condition()
        let rows = try await store.query(SQLStatement("SELECT \(Self.siteColumns), (SELECT body FROM station_snapshots WHERE station = stations.id) FROM stations WHERE id = ? AND \(within.sql)", [.text(id)] + within.args))
        guard let r = rows.first else { throw RegistryError(404, "no station \(id.printable.prefix(80)) has reported to this registry\(scope == .national ? "" : " in your \(scope)")") }
        let decoder = JSONStyle.decoder()
        let status = r[20].text.flatMap { try? decoder.decode(StationStatus.self, from: Data($0.utf8)) }
        let events = try await store.query(SQLStatement(
            "SELECT body FROM reports WHERE station = ? AND kind = 'event' ORDER BY seq DESC LIMIT ?", [.text(id), .int(Int64(limit))]))
        let decoded = events.reversed().compactMap { $0[0].text.flatMap { try? decoder.decode(Event.self, from: Data($0.utf8)) } }
        let count = try await store.query(SQLStatement("SELECT COUNT(*) FROM reports WHERE station = ?", [.text(id)]))
        var detail = StationDetail(view: siteView(r, at: at), status: status, recentEvents: decoded, reportsStored: count.first?.first?.int ?? 0)
        detail.publicKeyFingerprint = try await stationKey(id).map { Self.fingerprint($0) }
        return detail
    }

    /// Events in the order the registry stored them, after `since` (a registry event ID).
    public func events(since: Int64, station: String?, limit: Int, scope: ViewScope = .national) async throws -> EventsReply {
        var sql = "SELECT id, received_at, body FROM reports WHERE kind = 'event' AND id > ?"
        var args: [SQLValue] = [.int(since)]
        if scope != .national {
            let within = scope.condition()
            sql += " AND station IN (SELECT id FROM stations WHERE \(within.sql))"
            args += within.args
        }
        if let station { sql += " AND station = ?"; args.append(.text(station)) }
        sql += " ORDER BY id LIMIT ?"
        args.append(.int(Int64(min(max(limit, 1), 5000))))
        let rows = try await store.query(SQLStatement(sql, args))
        let decoder = JSONStyle.decoder()
        var out: [RegistryEvent] = []
        for r in rows {
            guard let body = r[2].text, let e = try? decoder.decode(Event.self, from: Data(body.utf8)) else { continue }
            out.append(RegistryEvent(id: r[0].int ?? 0, receivedAt: Timestamp(millis: r[1].int ?? 0), event: e))
        }
        return EventsReply(events: out, next: rows.last?[0].int ?? since)
    }
}

/// What `applySnapshot` needs of an encoder (Foundation's JSONEncoder).
protocol JSONEncoderLike { func encode<T: Encodable>(_ value: T) throws -> Data }
extension JSONEncoder: JSONEncoderLike {}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}

/// base64url without padding (RFC 4648 §5), for tokens.
enum Base64URL {
    static func encode(_ bytes: [UInt8]) -> String {
        let table = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        var out: [UInt8] = []
        var i = 0
        while i + 2 < bytes.count {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out += [table[Int(n >> 18 & 63)], table[Int(n >> 12 & 63)], table[Int(n >> 6 & 63)], table[Int(n & 63)]]
            i += 3
        }
        let rest = bytes.count - i
        if rest == 1 {
            let n = UInt32(bytes[i]) << 16
            out += [table[Int(n >> 18 & 63)], table[Int(n >> 12 & 63)]]
        } else if rest == 2 {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            out += [table[Int(n >> 18 & 63)], table[Int(n >> 12 & 63)], table[Int(n >> 6 & 63)]]
        }
        return String(decoding: out, as: UTF8.self)
    }
}
