#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import EKTPModel

/// One device that keeps a site from being ready, from the station's newest snapshot
/// (`device_problems`, filled at ingest): what the Cannot-enrol and Repairs pages list.
public struct DeviceProblemView: Sendable, Equatable {
    public var station: String
    public var site: Site
    /// The station's kit as a whole.
    public var condition: SiteCondition
    /// The device ID, or "kind:KIND" when no device of a needed kind is connected.
    public var device: String
    public var kind: DeviceKind
    /// The device's name from its USB descriptors ("U.are.U 4500"); empty when none is connected.
    public var model: String
    public var port: String
    public var health: Health
    /// How much this problem weighs on the kit: `broken` keeps the site from enrolling.
    public var severity: KitState
    /// The reason a technician acts on, as the station worded it.
    public var reason: String
    /// Since when the device has been in this health.
    public var since: Timestamp
    /// The reason as a code with parameters (issue 18), when the station sent them.
    public var code: String? = nil
    public var args: [String: String]? = nil
}

/// A station found by the dashboard's search box.
public struct SearchHit: Sendable, Equatable {
    public var station: String
    public var site: Site
    public var condition: SiteCondition
}

/// A kit state from one time on (the station page's 7-day picture).
public struct KitSpan: Sendable, Equatable {
    public var from: Timestamp
    public var to: Timestamp
    public var state: SiteCondition
}

extension Registry {
    /// Problem devices inside `scope` (and of `kind`, when given), with each station's site.
    /// `brokenOnly`: only the problems that keep a site from enrolling, at sites that cannot.
    /// Stations that cannot enrol but have no problem rows (a snapshot stored before schema 5)
    /// come with one row of kind `other` carrying the station's reasons, so no such site is
    /// left off the Cannot-enrol page.
    public func deviceProblems(scope: ViewScope, kind: DeviceKind? = nil, brokenOnly: Bool) async throws -> [DeviceProblemView] {
        let within = scope.condition("s.")
        var sql = """
            SELECT s.id, s.province, s.regency, s.district, s.condition, dp.device, dp.kind, dp.model, dp.port, dp.health,
                dp.severity, dp.reason, dp.since, dp.code, dp.args
            FROM device_problems dp JOIN stations s ON s.id = dp.station WHERE \(within.sql)
            """
        var args = within.args
        if brokenOnly { sql += " AND s.condition = 'broken' AND dp.severity = 'broken'" }
        if let kind { sql += " AND dp.kind = ?"; args.append(.text(kind.rawValue)) }
        let decoder = JSONStyle.decoder()
        var out = try await store.query(SQLStatement(sql, args)).map { r in
            var v = DeviceProblemView(station: r[0].text ?? "", site: Site(province: r[1].text ?? "", regency: r[2].text ?? "", district: r[3].text ?? ""),
                              condition: SiteCondition(rawValue: r[4].text ?? "") ?? .unknown, device: r[5].text ?? "",
                              kind: DeviceKind(rawValue: r[6].text ?? "") ?? .other, model: r[7].text ?? "", port: r[8].text ?? "",
                              health: Health(rawValue: r[9].text ?? "") ?? .unknown, severity: KitState(rawValue: r[10].text ?? "") ?? .broken,
                              reason: r[11].text ?? "", since: Timestamp(millis: r[12].int ?? 0))
            v.code = r[13].text
            v.args = r[14].text.flatMap { try? decoder.decode([String: String].self, from: Data($0.utf8)) }
            return v
        }
        if brokenOnly && kind == nil {
            let rows = try await store.query(SQLStatement("""
                SELECT s.id, s.province, s.regency, s.district, s.reasons, s.condition_since FROM stations s
                WHERE s.condition = 'broken' AND \(within.sql)
                    AND NOT EXISTS (SELECT 1 FROM device_problems dp WHERE dp.station = s.id AND dp.severity = 'broken')
                """, within.args))
            for r in rows {
                out.append(DeviceProblemView(station: r[0].text ?? "", site: Site(province: r[1].text ?? "", regency: r[2].text ?? "", district: r[3].text ?? ""),
                                             condition: .broken, device: "", kind: .other, model: "", port: "", health: .unknown, severity: .broken,
                                             reason: (r[4].text ?? "").split(separator: "\n").joined(separator: "; "),
                                             since: Timestamp(millis: r[5].int ?? 0)))
            }
        }
        return out
    }

    /// Stations whose ID, district or regency contains `text` (any case), inside `scope`; at most `limit`.
    public func search(_ text: String, scope: ViewScope, limit: Int = 50) async throws -> [SearchHit] {
        let needle = String(text.trimmingSpaces.prefix(64)).lowercased()
        guard !needle.isEmpty else { return [] }
        var escaped = ""
        for c in needle {
            if c == "\\" || c == "%" || c == "_" { escaped.append("\\") }
            escaped.append(c)
        }
        let like: SQLValue = .text("%\(escaped)%")
        let within = scope.condition()
        let rows = try await store.query(SQLStatement("""
            SELECT id, province, regency, district, condition FROM stations
            WHERE (LOWER(id) LIKE ? ESCAPE '\\' OR LOWER(district) LIKE ? ESCAPE '\\' OR LOWER(regency) LIKE ? ESCAPE '\\') AND \(within.sql)
            ORDER BY province, regency, district, id LIMIT ?
            """, [like, like, like] + within.args + [.int(Int64(limit))]))
        return rows.map {
            SearchHit(station: $0[0].text ?? "", site: Site(province: $0[1].text ?? "", regency: $0[2].text ?? "", district: $0[3].text ?? ""),
                      condition: SiteCondition(rawValue: $0[4].text ?? "") ?? .unknown)
        }
    }

    /// The station's kit state over `from...to` from its `kit.status` events, as spans that cover
    /// the window; before the first known state: `unknown`.
    public func kitHistory(station: String, from: Timestamp, to: Timestamp) async throws -> [KitSpan] {
        let decoder = JSONStyle.decoder()
        func state(_ body: String?) -> SiteCondition? {
            guard let body, let e = try? decoder.decode(Event.self, from: Data(body.utf8)), let to = e.to else { return nil }
            return SiteCondition(rawValue: to)
        }
        let before = try await store.query(SQLStatement("""
            SELECT body FROM reports WHERE station = ? AND kind = 'event' AND type = 'kit.status' AND time < ? ORDER BY time DESC, seq DESC LIMIT 1
            """, [.text(station), .int(from.millis)]))
        let within = try await store.query(SQLStatement("""
            SELECT time, body FROM reports WHERE station = ? AND kind = 'event' AND type = 'kit.status' AND time >= ? AND time <= ?
            ORDER BY time, seq LIMIT 5000
            """, [.text(station), .int(from.millis), .int(to.millis)]))
        var spans: [KitSpan] = []
        var current = KitSpan(from: from, to: from, state: state(before.first?[0].text) ?? .unknown)
        for r in within {
            guard let s = state(r[1].text) else { continue }
            let t = Timestamp(millis: r[0].int ?? from.millis)
            if s == current.state { continue }
            current.to = t
            if current.to > current.from { spans.append(current) }
            current = KitSpan(from: t, to: t, state: s)
        }
        current.to = to
        if current.to > current.from { spans.append(current) }
        return spans
    }

    /// The newest report's place in the registry's order: it changes whenever a report arrives,
    /// so an open page knows to refresh (`/live`).
    public func newestReportID() async throws -> Int64 {
        try await store.query(SQLStatement("SELECT MAX(id) FROM reports")).first?.first?.int ?? 0
    }
}
