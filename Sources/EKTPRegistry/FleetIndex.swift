import EKTPModel
import Synchronization

/// The columns of every station that the fleet's tallies count, held in memory (issue 17, item 5:
/// `GET /v1/fleet?at=` at 15,000 stations took 58-101 ms, most of it reading 7,300 grouped rows
/// back from the database; counted here it takes about a millisecond).
///
/// How it stays true:
/// - **Loaded whole** from `stations` by the first read of each clock minute (the `now` a read
///   passes): 15,000 rows, 11 columns, once a minute.
/// - **This registry's own ingests** update it as they commit: the ingest transaction's last
///   statement returns the station's row as the transaction left it (`Registry.ingest`), so the
///   next read counts it at once, as the database would.
/// - **Writes it does not see** (another `ektp-registry serve` on the same PostgreSQL, a row changed
///   by hand) show at the next minute, at the latest: the rule `GET /v1/fleet`'s cache already had.
/// - A row is never replaced by an older one: `high_seq`, `snap_seq` and `last_heard` only grow in
///   the database (each is written as a maximum), so of two copies of a row the one with none of
///   them smaller is the later. A load that read a row before an ingest committed cannot undo what
///   the ingest put here.
///
/// Memory: about 120 bytes a station and 100 a district (2.5 MB at 15,000 in 7,300).
final class FleetIndex: Sendable {
    /// A station's counted columns besides its site and condition, as stored.
    struct Columns: Sendable, Equatable {
        var lastHeard: Int64
        var notPulled: Int64
        var blanks: Int64?
        var clockSkewMs: Int64?
        var highSeq: Int64
        var snapSeq: Int64

        /// Whether `self` may replace `old`: none of the columns that only grow is smaller.
        func isNoOlder(than old: Columns) -> Bool {
            highSeq >= old.highSeq && snapSeq >= old.snapSeq && lastHeard >= old.lastHeard
        }
    }

    /// One station's row as read back from the database.
    struct Station: Sendable, Equatable {
        var province: String
        var regency: String
        var district: String
        var condition: String
        var columns: Columns
    }

    /// The columns a load and an ingest read back, in this order (`Station.init(row:from:)`).
    static let columns = "province, regency, district, condition, last_heard, not_pulled, blanks, clock_skew_ms, high_seq, snap_seq"

    /// A station as held: its site interned (`State.sites`), its condition as a number; no strings,
    /// so a count walks 15,000 of them in well under a millisecond.
    private struct Entry {
        var site: Int32
        /// 0 ready, 1 degraded, 2 broken, 3 unknown, 4 any other value (counted in `stations` only).
        var condition: UInt8
        var columns: Columns

        func isNoOlder(than old: Entry) -> Bool { columns.isNoOlder(than: old.columns) }
    }

    /// A site, equal to another only with the same bytes (as the database sees it: "Café" in
    /// NFC and in NFD are two provinces there, and must be here; `String.utf8Equals`).
    private struct SiteKey: Hashable {
        let province: ByteString
        let regency: ByteString
        let district: ByteString

        init(_ site: Site) {
            province = ByteString(site.province)
            regency = ByteString(site.regency)
            district = ByteString(site.district)
        }

        var site: Site { Site(province: province.value, regency: regency.value, district: district.value) }

        func value(_ column: String) -> String {
            switch column {
            case "province": province.value
            case "regency": regency.value
            default: district.value
            }
        }
    }

    private struct State {
        var entries: [String: Entry] = [:]
        /// Every site seen, once; `Entry.site` is an index here. Never shrinks (7,300 districts).
        var sites: [SiteKey] = []
        var siteIDs: [SiteKey: Int32] = [:]
        /// `sites`' indices in byte order of (province, regency, district); sorted again only when
        /// a site is added (`ordered()`).
        var order: [Int32] = []
        /// The clock minute (Unix ms / 60,000) of the read that loaded it; nil before the first.
        var minute: Int64?

        /// `order`, brought up to date with `sites`.
        mutating func ordered() -> [Int32] {
            guard order.count != sites.count else { return order }
            let sites = self.sites
            order = (0..<Int32(sites.count)).sorted { a, b in
                let x = sites[Int(a)], y = sites[Int(b)]
                if x.province != y.province { return x.province.value.utf8Precedes(y.province.value) }
                if x.regency != y.regency { return x.regency.value.utf8Precedes(y.regency.value) }
                return x.district.value.utf8Precedes(y.district.value)
            }
            return order
        }

        mutating func entry(_ s: Station) -> Entry {
            let key = SiteKey(Site(province: s.province, regency: s.regency, district: s.district))
            let site: Int32
            if let known = siteIDs[key] { site = known } else {
                site = Int32(sites.count)
                sites.append(key)
                siteIDs[key] = site
            }
            let condition: UInt8 = switch s.condition {
            case "ready": 0
            case "degraded": 1
            case "broken": 2
            case "unknown": 3
            default: 4
            }
            return Entry(site: site, condition: condition, columns: s.columns)
        }
    }
    private let state = Mutex(State())

    /// The fleet's tallies grouped by `columns` (site columns, outermost first) for the stations in
    /// `scope`, in byte order of their keys, counted as `Registry.storedTallies`' SQL counts them:
    /// silent when `last_heard` < `cutoff` (Unix ms); blanks summed within `blanksRange`; clock
    /// skewed beyond ±`skewLimit` ms. The index is loaded again with `load` when its last load was
    /// in another minute than `now`'s. Errors are `load`'s (the database's), and leave the index
    /// as it was.
    func tallies(now: Timestamp, load: () async throws -> [(id: String, station: Station)], cutoff: Int64, skewLimit: Int64,
                 blanksRange: ClosedRange<Int>, columns: [String], scope: ViewScope) async throws -> [(keys: [String], tally: FleetTally)] {
        let minute = now.millis / 60_000
        var held = state.withLock { s -> (entries: [String: Entry], sites: [SiteKey], order: [Int32])? in
            s.minute == minute ? (s.entries, s.sites, s.ordered()) : nil
        }
        if held == nil {
            let loaded = try await load()
            held = state.withLock { s in
                var fresh: [String: Entry] = [:]
                fresh.reserveCapacity(loaded.count)
                for (id, station) in loaded { fresh[id] = s.entry(station) }
                // Rows an ingest put here while the load ran are kept where they are newer. (A row
                // missing from the load was made by an ingest after the load read the table: no
                // station is ever deleted.)
                for (id, mine) in s.entries {
                    if let read = fresh[id], read.isNoOlder(than: mine) { continue }
                    fresh[id] = mine
                }
                s.entries = fresh
                s.minute = minute
                return (s.entries, s.sites, s.ordered())
            }
        }
        let (entries, sites, order) = held!
        // Counted by site first (an array, no hashing), then the sites grouped by `columns`.
        let inScope = sites.map { scope.contains($0.site) }
        var bySite = [FleetTally](repeating: FleetTally(), count: sites.count)
        for e in entries.values where inScope[Int(e.site)] {
            let c = e.columns
            bySite[Int(e.site)].count(condition: e.condition, silent: c.lastHeard < cutoff, notPulled: c.notPulled,
                                      blanks: c.blanks.flatMap { blanksRange.contains(Int($0)) ? Int($0) : nil } ?? 0,
                                      clockSkewed: c.clockSkewMs.map { $0 > skewLimit || $0 < -skewLimit } ?? false)
        }
        func precedes(_ a: [String], _ b: [String]) -> Bool {
            for (x, y) in zip(a, b) where !x.utf8Equals(y) { return x.utf8Precedes(y) }
            return false
        }
        // Walked in the sites' byte order, a grouping by leading columns (province, regency,
        // district; or the columns after those the scope fixes) meets each group's sites one after
        // another, already in order: summed as they come, no hashing, no sort.
        var out: [(keys: [String], tally: FleetTally)] = []
        var inOrder = true
        for i in order {
            let t = bySite[Int(i)]
            guard t.stations > 0 else { continue }
            let site = sites[Int(i)]
            if let last = out.last, columns.indices.allSatisfy({ last.keys[$0].utf8Equals(site.value(columns[$0])) }) {
                out[out.count - 1].tally.add(t)
                continue
            }
            let key = columns.map { site.value($0) }
            if let last = out.last, !precedes(last.keys, key) { inOrder = false }
            out.append((key, t))
        }
        guard !inOrder else { return out }
        // Any other grouping (districts by name across provinces): merged and sorted.
        var groups: [[ByteString]: FleetTally] = [:]
        for g in out { groups[g.keys.map(ByteString.init), default: FleetTally()].add(g.tally) }
        return groups.map { (keys: $0.key.map(\.value), tally: $0.value) }.sorted { precedes($0.keys, $1.keys) }
    }

    /// A committed ingest's row for `id` (nil `row`: nothing came back; the next load reads it).
    func update(_ id: String, _ row: Station?) {
        guard let row else { return }
        state.withLock { s in
            // Kept even before the first load: a load running now may have read the table before
            // this ingest committed, and merges what is here.
            let entry = s.entry(row)
            if let old = s.entries[id], !entry.isNoOlder(than: old) { return }
            s.entries[id] = entry
        }
    }
}

extension FleetIndex.Station {
    /// From `FleetIndex.columns` at `offset` in a row; nil when a NOT NULL column came back null
    /// (a row this code does not know: left to the database's count at the next load).
    init?(row: [SQLValue], from offset: Int) {
        guard row.count >= offset + 10,
              let lastHeard = row[offset + 4].int, let highSeq = row[offset + 8].int, let snapSeq = row[offset + 9].int else { return nil }
        self.init(province: row[offset].text ?? "", regency: row[offset + 1].text ?? "", district: row[offset + 2].text ?? "",
                  condition: row[offset + 3].text ?? "",
                  columns: FleetIndex.Columns(lastHeard: lastHeard, notPulled: row[offset + 5].int ?? 0, blanks: row[offset + 6].int,
                                   clockSkewMs: row[offset + 7].int, highSeq: highSeq, snapSeq: snapSeq))
    }
}

extension FleetTally {
    /// Counts one station as `Registry.storedTallies`' SQL does: `condition` as `FleetIndex`
    /// numbers it (4, any other value, counts in `stations` only), `notPulled` summed as stored,
    /// `blanks` already limited to `Registry.blanksRange` (else 0).
    mutating func count(condition: UInt8, silent: Bool, notPulled: Int64, blanks: Int, clockSkewed: Bool) {
        stations += 1
        switch condition {
        case 0: ready += 1
        case 1: degraded += 1
        case 2: broken += 1
        case 3: unknown += 1
        default: break
        }
        if silent { self.silent += 1 }
        self.notPulled += Int(truncatingIfNeeded: notPulled)
        self.blanks += blanks
        if clockSkewed { self.clockSkewed += 1 }
    }
}
