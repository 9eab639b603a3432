#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import EKTPPlatform
import Crypto
import EKTPModel

/// Who a bearer token speaks for: a station (its own reports), or a courier of a regency (the
/// signed bundles of that regency's stations, issue 16).
public enum Principal: Sendable, Equatable {
    case station(String)
    case courier(province: String, regency: String)
}

/// A bundle held for review.
public struct PendingBundle: Codable, Sendable, Equatable {
    /// The wire names: snake_case, written out (no key strategy: JSONStyle).
    enum CodingKeys: String, CodingKey {
        case id, station, reports, fingerprint, scope
        case receivedAt = "received_at"
        case firstSequence = "first_sequence"
        case lastSequence = "last_sequence"
    }

    public var id: Int64
    public var station: String
    public var receivedAt: Timestamp
    public var firstSequence: Int64
    public var lastSequence: Int64
    public var reports: Int
    public var fingerprint: String
    /// Who brought it: `local` or `courier:PROVINCE/REGENCY`.
    public var scope: String
}

extension Registry {
    /// The largest bundle file the registry takes (a bundle holds at most `CarryBundle.maxReports`).
    public static let maxBundleFile = 64 << 20

    /// `SHA256:...` of a base64 public key.
    static func fingerprint(_ base64Key: String) -> String {
        CarryBundle.fingerprint(publicKey: Array(Data(base64Encoded: base64Key) ?? Data()), sha256: { Array(SHA256.hash(data: $0)) })
    }

    /// The station's registered key (base64), or nil.
    public func stationKey(_ station: String) async throws -> String? {
        try await store.query(SQLStatement("SELECT public_key FROM station_keys WHERE station = ?", [.text(station)])).first?.first?.text
    }

    /// Registers (or replaces) a station's key, with its site when given (a courier's scope is
    /// checked against it before the station has reported online). Returns the new fingerprint
    /// and the one it replaced, if another key was registered.
    public func addStationKey(station: String, publicKey: [UInt8], site: Site?, now: Timestamp) async throws -> (fingerprint: String, replaced: String?) {
        try Self.checkStationID(station)
        guard publicKey.count == 32 else { throw RegistryError.bad("the public key is not 32 bytes (an Ed25519 key)") }
        let b64 = Data(publicKey).base64EncodedString()
        let old = try await stationKey(station)
        _ = try await store.transaction([SQLStatement("""
            INSERT INTO station_keys (station, public_key, added_at, added_by, province, regency, district) VALUES (?, ?, ?, 'operator', ?, ?, ?)
            ON CONFLICT (station) DO UPDATE SET public_key = excluded.public_key, added_at = excluded.added_at, added_by = 'operator',
                province = COALESCE(excluded.province, station_keys.province), regency = COALESCE(excluded.regency, station_keys.regency),
                district = COALESCE(excluded.district, station_keys.district)
            """, [.text(station), .text(b64), .int(now.millis), site.map { .text($0.province) } ?? .null,
                  site.map { .text($0.regency) } ?? .null, site.map { .text($0.district) } ?? .null])])
        return (Self.fingerprint(b64), old.flatMap { $0 == b64 ? nil : Self.fingerprint($0) })
    }

    /// A courier token for a regency's bundles; shown once, stored hashed.
    public func issueCourierToken(province: String, regency: String, now: Timestamp) async throws -> String {
        guard !province.isEmpty, !regency.isEmpty, province.count <= Site.maxNameLength, regency.count <= Site.maxNameLength else {
            throw RegistryError.bad("a courier token needs a province and a regency (at most \(Site.maxNameLength) characters each)")
        }
        let token = Self.newToken()
        _ = try await store.transaction([SQLStatement(
            "INSERT INTO tokens (hash, station, issued_at, scope, province, regency) VALUES (?, ?, ?, 'courier', ?, ?)",
            [.text(Self.hash(token)), .text("courier:\(province)/\(regency)"), .int(now.millis), .text(province), .text(regency)])])
        return token
    }

    /// Whom a bearer token speaks for, or a 401 naming what is wrong.
    public func principal(authorization: String?, now: Timestamp) async throws -> Principal {
        guard let authorization, !authorization.isEmpty else {
            throw RegistryError(401, "no Authorization header: send \"Authorization: Bearer TOKEN\" (a station's: ektp-registry token issue --station ID; a courier's: token issue --courier --province P --regency R)")
        }
        let t = try await bearerToken(authorization, now: now)
        switch t.scope {
        case "courier": return .courier(province: t.province ?? "", regency: t.regency ?? "")
        case "viewer", "scrape": throw RegistryError(403, "a \(t.scope) token reads and never writes: send reports with the station's own token")
        default: return .station(t.owner)
        }
    }

    /// A live token's row, for every kind of token (station, courier, viewer, scrape): its owner
    /// (`tokens.station`: the station ID, or "courier:P/R", "viewer:NAME", "scrape:NAME"), its scope
    /// and its province and regency. 401 for a header that is not `Bearer` or an unknown, revoked
    /// or expired token.
    func bearerToken(_ authorization: String, now: Timestamp) async throws -> (owner: String, scope: String, province: String?, regency: String?) {
        guard authorization.hasPrefix("Bearer ") else { throw RegistryError(401, "Authorization is not a Bearer token") }
        let token = String(authorization.dropFirst("Bearer ".count)).trimmingSpaces
        let rows = try await store.query(SQLStatement(
            "SELECT station, scope, province, regency FROM tokens WHERE hash = ? AND (revoked_at IS NULL OR revoked_at > ?)",
            [.text(Self.hash(token)), .int(now.millis)]))
        guard let r = rows.first, let owner = r[0].text else { throw RegistryError(401, "unknown or revoked token") }
        return (owner, r[1].text ?? "station", r[2].text, r[3].text)
    }

    /// Which of a station's sequences in `from...to` the registry holds, as closed ranges.
    public func storedRanges(station: String, from: Int64, to: Int64) async throws -> StoredRanges {
        guard to >= from else { return StoredRanges(station: station, ranges: []) }
        let rows = try await store.query(SQLStatement("SELECT seq FROM reports WHERE station = ? AND seq BETWEEN ? AND ? ORDER BY seq",
                                                      [.text(station), .int(from), .int(to)]))
        var ranges: [[Int64]] = []
        for row in rows {
            guard let s = row.first?.int else { continue }
            if let last = ranges.last, last[1] + 1 == s { ranges[ranges.count - 1][1] = s } else { ranges.append([s, s]) }
        }
        return StoredRanges(station: station, ranges: ranges)
    }

    /// Imports one bundle file (gzip) brought by `by` (nil: an operator at the registry itself):
    /// gzip, every checksum, the station's registered key and the signature, then the courier's
    /// scope; then ingests through the same idempotent path as online delivery. A bundle of a
    /// station with no key is held for review, not trusted. Refusals store nothing.
    public func importBundle(_ file: [UInt8], by: Principal?, now: Timestamp) async throws -> ImportOutcome {
        let text: [UInt8]
        switch Gzip.inflate(file, max: CarryBundle.maxBytes) {
        case .success(let t): text = t
        case .failure(.tooLarge):
            return ImportOutcome(result: .refused, reason: "the bundle inflates past \(CarryBundle.maxBytes >> 20) MiB: it is not one ektpd made")
        case .failure(.invalid(let why)):
            return ImportOutcome(result: .refused, reason: "the bundle is not whole gzip (\(why)): it is damaged or truncated")
        }
        let parsed: ParsedBundle
        do { parsed = try CarryBundle.parse(text, sha256: { Array(SHA256.hash(data: $0)) }) } catch {
            return ImportOutcome(result: .refused, reason: error.description)
        }
        let h = parsed.header
        var out = ImportOutcome(result: .refused, station: h.station)
        out.firstSequence = h.firstSequence
        out.lastSequence = h.lastSequence
        out.reports = h.reports
        out.fingerprint = CarryBundle.fingerprint(publicKey: parsed.publicKey, sha256: { Array(SHA256.hash(data: $0)) })
        // The signature first: a bundle not whole as signed is refused, whoever's it claims to be.
        guard let signer = try? Curve25519.Signing.PublicKey(rawRepresentation: parsed.publicKey),
              signer.isValidSignature(parsed.signature, for: parsed.signed) else {
            out.reason = "the signature does not match the bundle: it was changed after it was signed"
            return out
        }
        let scope: String
        switch by {
        case .station(let s)?:
            guard s == h.station else {
                out.reason = "a bundle of station \(h.station) sent with \(s)'s token: a station uploads only its own"
                return out
            }
            scope = "station:\(s)"
        case .courier(let province, let regency)?: scope = "courier:\(province)/\(regency)"
        case nil: scope = "local"
        }
        guard let registered = try await stationKey(h.station) else {
            // No key yet: held for review (`ektp-registry import --pending`), never trusted; the
            // same bundle brought again is held once.
            out.result = .pending
            out.reason = "the registry has no key for station \(h.station) (ektp-registry station add \(h.station) --public-key FILE, then ektp-registry import --retry-pending)"
            let held = try await store.query(SQLStatement(
                "SELECT id FROM pending_bundles WHERE station = ? AND first_seq = ? AND last_seq = ? AND fingerprint = ?",
                [.text(h.station), .int(h.firstSequence), .int(h.lastSequence), .text(out.fingerprint ?? "")]))
            if !held.isEmpty { return out }
            _ = try await store.transaction([SQLStatement("""
                INSERT INTO pending_bundles (station, received_at, first_seq, last_seq, reports, fingerprint, scope, bundle) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """, [.text(h.station), .int(now.millis), .int(h.firstSequence), .int(h.lastSequence), .int(Int64(h.reports)),
                      .text(out.fingerprint ?? ""), .text(scope), .text(Data(file).base64EncodedString())])])
            return out
        }
        guard Data(base64Encoded: registered).map(Array.init) == parsed.publicKey else {
            out.reason = "signed by \(out.fingerprint ?? "another key"), not by station \(h.station)'s registered key \(Self.fingerprint(registered))"
                + " (if the station was reinstalled and made a new key, register it: ektp-registry station add \(h.station) --public-key FILE)"
            return out
        }
        if case .courier(let province, let regency)? = by {
            let site = try await registeredSite(h.station)
            guard let site, !site.regency.isEmpty else {
                out.reason = "the registry does not know station \(h.station)'s regency, so no courier may bring its bundles: import it at the registry"
                return out
            }
            guard site.province == province, site.regency == regency else {
                out.reason = "station \(h.station) is in \(site.regency), \(site.province): outside this courier's \(regency), \(province)"
                return out
            }
        }
        let batch = ReportBatch(station: h.station, sentAt: h.createdAt, reports: parsed.reports)
        let reply: IngestReply
        do { reply = try await ingest(batch, from: h.station, receivedAt: now, via: .courier, maxReports: CarryBundle.maxReports) } catch let e as RegistryError {
            out.reason = e.description
            return out
        }
        out.result = .imported
        out.stored = reply.stored
        out.known = reply.duplicates
        return out
    }

    /// The site the registry holds for a station: from its reports, else from `station add`.
    func registeredSite(_ station: String) async throws -> Site? {
        let rows = try await store.query(SQLStatement("""
            SELECT s.province, s.regency, s.district, k.province, k.regency, k.district
            FROM station_keys k LEFT JOIN stations s ON s.id = k.station WHERE k.station = ?
            """, [.text(station)]))
        guard let r = rows.first else { return nil }
        if let regency = r[1].text, !regency.isEmpty { return Site(province: r[0].text ?? "", regency: regency, district: r[2].text ?? "") }
        guard let regency = r[4].text else { return nil }
        return Site(province: r[3].text ?? "", regency: regency, district: r[5].text ?? "")
    }

    /// Bundles held for review, oldest first.
    public func pendingBundles() async throws -> [PendingBundle] {
        let rows = try await store.query(SQLStatement(
            "SELECT id, station, received_at, first_seq, last_seq, reports, fingerprint, scope FROM pending_bundles ORDER BY id"))
        return rows.map { r in
            PendingBundle(id: r[0].int ?? 0, station: r[1].text ?? "", receivedAt: Timestamp(millis: r[2].int ?? 0),
                          firstSequence: r[3].int ?? 0, lastSequence: r[4].int ?? 0, reports: Int(r[5].int ?? 0),
                          fingerprint: r[6].text ?? "", scope: r[7].text ?? "")
        }
    }

    /// Tries the held bundles again: those whose station now has a key are imported or refused
    /// (and leave the list); the others stay.
    public func retryPending(now: Timestamp) async throws -> [ImportOutcome] {
        let rows = try await store.query(SQLStatement("SELECT id, scope, bundle, station FROM pending_bundles ORDER BY id"))
        var outcomes: [ImportOutcome] = []
        for r in rows {
            guard let id = r[0].int, let b64 = r[2].text, let file = Data(base64Encoded: b64) else { continue }
            let scope = r[1].text ?? "local"
            var by: Principal?
            if scope.hasPrefix("courier:") {
                let pr = scope.dropFirst("courier:".count).split(separator: "/", maxSplits: 1).map(String.init)
                by = .courier(province: pr.first ?? "", regency: pr.count > 1 ? pr[1] : "")
            } else if scope.hasPrefix("station:") {
                by = .station(String(scope.dropFirst("station:".count)))
            }
            // Still no key: it stays.
            guard let station = r[3].text, try await stationKey(station) != nil else { continue }
            let outcome = try await importBundle(Array(file), by: by, now: now)
            _ = try await store.transaction([SQLStatement("DELETE FROM pending_bundles WHERE id = ?", [.int(id)])])
            outcomes.append(outcome)
        }
        return outcomes
    }
}
