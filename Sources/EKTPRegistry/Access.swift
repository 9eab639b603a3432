#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import EKTPModel
import EKTPPlatform
import HummingbirdBcrypt
import NIOPosix

/// What part of the fleet a reader may see (issue 15): the whole country, one province, or one
/// regency (kabupaten/kota). Regency staff see only their regency, province staff their province,
/// the centre everything; a station's or courier's token reads nothing.
public enum ViewScope: Sendable, Hashable, CustomStringConvertible {
    case national
    case province(String)
    case regency(province: String, regency: String)

    /// From stored columns: both nil is national, a province alone a province.
    public init(province: String?, regency: String?) {
        switch (province?.isEmpty == false ? province : nil, regency?.isEmpty == false ? regency : nil) {
        case (let p?, let r?): self = .regency(province: p, regency: r)
        case (let p?, nil): self = .province(p)
        default: self = .national
        }
    }

    public var province: String? {
        switch self {
        case .national: nil
        case .province(let p), .regency(let p, _): p
        }
    }

    public var regency: String? {
        if case .regency(_, let r) = self { return r }
        return nil
    }

    /// Equal by the names' bytes, as the database compares them (`String.utf8Equals`): a viewer of
    /// "Café" in NFC is not a viewer of "Café" in NFD, nor served its cached fleet.
    public static func == (a: ViewScope, b: ViewScope) -> Bool {
        switch (a, b) {
        case (.national, .national): true
        case (.province(let p), .province(let q)): p.utf8Equals(q)
        case (.regency(let p, let r), .regency(let q, let s)): p.utf8Equals(q) && r.utf8Equals(s)
        default: false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .national: hasher.combine(0)
        case .province(let p): hasher.combine(1); hasher.combine(ByteString(p))
        case .regency(let p, let r): hasher.combine(2); hasher.combine(ByteString(p)); hasher.combine(ByteString(r))
        }
    }

    /// Whether a station at `site` is inside.
    public func contains(_ site: Site) -> Bool {
        switch self {
        case .national: true
        case .province(let p): site.province.utf8Equals(p)
        case .regency(let p, let r): site.province.utf8Equals(p) && site.regency.utf8Equals(r)
        }
    }

    /// Whether every station of this scope is also in `other`.
    public func isWithin(_ other: ViewScope) -> Bool {
        switch (other, self) {
        case (.national, _): true
        case (.province(let p), .province(let q)), (.province(let p), .regency(let q, _)): p.utf8Equals(q)
        case (.regency, .regency): self == other
        default: false
        }
    }

    /// A SQL condition on a table's `province`/`regency` columns (`prefix` names the table), with its
    /// arguments; "1 = 1" for the nation.
    func condition(_ prefix: String = "") -> (sql: String, args: [SQLValue]) {
        switch self {
        case .national: ("1 = 1", [])
        case .province(let p): ("\(prefix)province = ?", [.text(p)])
        case .regency(let p, let r): ("\(prefix)province = ? AND \(prefix)regency = ?", [.text(p), .text(r)])
        }
    }

    public var description: String {
        switch self {
        case .national: "national"
        case .province(let p): "province \(p)"
        case .regency(let p, let r): "regency \(r) (\(p))"
        }
    }
}

/// Who reads: a person logged in to the dashboard, a viewer's bearer token, or Prometheus's
/// scrape token (which reads `/metrics` and nothing else).
public struct Viewer: Sendable, Equatable {
    public enum Credential: String, Sendable { case session, token, scrape }
    public var name: String
    public var scope: ViewScope
    public var credential: Credential
    /// The session's CSRF token, which every form it posts must carry (nil for bearer tokens).
    public var csrf: String?

    public init(name: String, scope: ViewScope, credential: Credential, csrf: String? = nil) {
        self.name = name; self.scope = scope; self.credential = credential; self.csrf = csrf
    }
}

/// A viewer account as `user list` shows it (never the hash).
public struct ViewerAccount: Sendable, Equatable {
    public var name: String
    public var scope: ViewScope
    public var createdAt: Timestamp
}

extension Registry {
    /// bcrypt's cost for new passwords: 2^12 rounds, about 0.3 s on this project's 2-core machine
    /// (OWASP's password storage cheat sheet asks for at least 10).
    public static let bcryptCost: UInt8 = 12
    /// A session lasts this long from login (a working day and a half), then asks again.
    public static let sessionLifetime: Duration = .seconds(12 * 3600)
    /// Passwords shorter than this are refused (NIST SP 800-63B asks for at least 8).
    public static let minPasswordLength = 10

    static func checkUserName(_ name: String) throws {
        guard isStationID(name) else {
            throw RegistryError.bad("user name \"\(name.printable.prefix(80))\": use 1 to 64 letters, digits, '-', '_' or '.', not starting with '-'")
        }
    }

    static func checkScope(_ scope: ViewScope) throws {
        for n in [scope.province, scope.regency].compactMap({ $0 }) where n.isEmpty || n.count > Site.maxNameLength || !n.isPrintableName {
            throw RegistryError.bad("\"\(n.printable.prefix(80))\": a province or regency name is 1 to \(Site.maxNameLength) printable characters")
        }
    }

    /// bcrypt on NIO's thread pool: a hash costs ~0.3 s of CPU, which must not hold an event loop.
    static func bcrypt<T: Sendable>(_ body: @escaping @Sendable () -> T) async throws -> T {
        try await NIOThreadPool.singleton.runIfActive(body)
    }

    /// Adds a viewer account with a bcrypt hash of `password`; 409 when the name is taken.
    public func addUser(name: String, password: String, scope: ViewScope, now: Timestamp, cost: UInt8 = Registry.bcryptCost) async throws {
        try Self.checkUserName(name)
        try Self.checkScope(scope)
        guard password.count >= Self.minPasswordLength else {
            throw RegistryError.bad("the password is shorter than \(Self.minPasswordLength) characters")
        }
        let hash = try await Self.bcrypt { Bcrypt.hash(password, cost: cost) }
        let rows = try await store.transaction([SQLStatement("""
            INSERT INTO users (name, password_hash, province, regency, created_at) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (name) DO NOTHING RETURNING name
            """, [.text(name), .text(hash), scope.province.map { .text($0) } ?? .null, scope.regency.map { .text($0) } ?? .null, .int(now.millis)])])
        guard !rows[0].isEmpty else { throw RegistryError(409, "user \(name) exists: ektp-registry user passwd \(name) sets a new password") }
    }

    /// Sets a new password and ends the user's sessions.
    public func setPassword(name: String, password: String, cost: UInt8 = Registry.bcryptCost) async throws {
        guard password.count >= Self.minPasswordLength else {
            throw RegistryError.bad("the password is shorter than \(Self.minPasswordLength) characters")
        }
        let hash = try await Self.bcrypt { Bcrypt.hash(password, cost: cost) }
        let r = try await store.transaction([
            SQLStatement("UPDATE users SET password_hash = ? WHERE name = ? RETURNING name", [.text(hash), .text(name)]),
            SQLStatement("DELETE FROM sessions WHERE user_name = ?", [.text(name)]),
        ])
        guard !r[0].isEmpty else { throw RegistryError(404, "no user \(name)") }
    }

    /// Removes an account and its sessions; false when there was none.
    public func removeUser(name: String) async throws -> Bool {
        let r = try await store.transaction([
            SQLStatement("DELETE FROM users WHERE name = ? RETURNING name", [.text(name)]),
            SQLStatement("DELETE FROM sessions WHERE user_name = ?", [.text(name)]),
        ])
        return !r[0].isEmpty
    }

    public func users() async throws -> [ViewerAccount] {
        try await store.query(SQLStatement("SELECT name, province, regency, created_at FROM users ORDER BY name")).map {
            ViewerAccount(name: $0[0].text ?? "", scope: ViewScope(province: $0[1].text, regency: $0[2].text), createdAt: Timestamp(millis: $0[3].int ?? 0))
        }
    }

    /// Checks a password and opens a session: the session token (for the cookie; stored hashed)
    /// and its CSRF token. A wrong name and a wrong password get the same 401 and take the same
    /// time (an unknown name is checked against a dummy hash).
    public func login(name: String, password: String, now: Timestamp) async throws -> (session: String, csrf: String) {
        let row = try await store.query(SQLStatement("SELECT password_hash FROM users WHERE name = ? AND disabled_at IS NULL", [.text(name)])).first
        let hash = row?[0].text ?? Self.dummyHash
        let ok = try await Self.bcrypt { Bcrypt.verify(password, hash: hash) }
        guard ok, row != nil else { throw RegistryError(401, "wrong user name or password") }
        let session = Self.newToken(), csrf = Self.newToken()
        _ = try await store.transaction([
            SQLStatement("DELETE FROM sessions WHERE expires_at <= ?", [.int(now.millis)]),
            SQLStatement("INSERT INTO sessions (hash, user_name, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                         [.text(Self.hash(session)), .text(name), .text(csrf), .int(now.millis), .int(now.adding(Self.sessionLifetime).millis)]),
        ])
        return (session, csrf)
    }

    /// A bcrypt hash of a random string, at the same cost, so a login with an unknown name takes
    /// as long as one with a wrong password.
    static let dummyHash = Bcrypt.hash(newToken(), cost: bcryptCost)

    /// The viewer of a live session, or nil.
    public func session(_ token: String, now: Timestamp) async throws -> Viewer? {
        let rows = try await store.query(SQLStatement("""
            SELECT u.name, u.province, u.regency, s.csrf FROM sessions s JOIN users u ON u.name = s.user_name
            WHERE s.hash = ? AND s.expires_at > ? AND u.disabled_at IS NULL
            """, [.text(Self.hash(token)), .int(now.millis)]))
        guard let r = rows.first else { return nil }
        return Viewer(name: r[0].text ?? "", scope: ViewScope(province: r[1].text, regency: r[2].text), credential: .session, csrf: r[3].text)
    }

    /// Ends a session.
    public func logout(_ token: String) async throws {
        _ = try await store.transaction([SQLStatement("DELETE FROM sessions WHERE hash = ?", [.text(Self.hash(token))])])
    }

    /// A bearer token that reads the fleet within `scope` (`/v1` JSON reads, for scripts and
    /// Grafana); shown once, stored hashed.
    public func issueViewerToken(name: String, scope: ViewScope, now: Timestamp) async throws -> String {
        try Self.checkUserName(name)
        try Self.checkScope(scope)
        let token = Self.newToken()
        _ = try await store.transaction([SQLStatement(
            "INSERT INTO tokens (hash, station, issued_at, scope, province, regency) VALUES (?, ?, ?, 'viewer', ?, ?)",
            [.text(Self.hash(token)), .text("viewer:\(name)"), .int(now.millis),
             scope.province.map { .text($0) } ?? .null, scope.regency.map { .text($0) } ?? .null])])
        return token
    }

    /// A token for Prometheus's `authorization` setting: it reads `/metrics` only.
    public func issueScrapeToken(name: String, now: Timestamp) async throws -> String {
        try Self.checkUserName(name)
        let token = Self.newToken()
        _ = try await store.transaction([SQLStatement(
            "INSERT INTO tokens (hash, station, issued_at, scope) VALUES (?, ?, ?, 'scrape')",
            [.text(Self.hash(token)), .text("scrape:\(name)"), .int(now.millis)])])
        return token
    }

    /// Who may read: a session cookie's viewer, else the bearer token's. 401 without either (or
    /// with an unknown one); 403 for a station's or courier's token, which write and never read.
    public func reader(authorization: String?, session: String?, now: Timestamp, wallNow: Timestamp) async throws -> Viewer {
        if let authorization, !authorization.isEmpty {
            let t = try await bearerToken(authorization, now: now)
            let name = String(t.owner.split(separator: ":", maxSplits: 1).last ?? "")
            switch t.scope {
            case "viewer": return Viewer(name: name, scope: ViewScope(province: t.province, regency: t.regency), credential: .token)
            case "scrape": return Viewer(name: name, scope: .national, credential: .scrape)
            default:
                throw RegistryError(403, "a station's or courier's token sends reports and reads nothing: use a viewer's (ektp-registry token issue --viewer NAME)")
            }
        }
        if let session, !session.isEmpty, let v = try await self.session(session, now: wallNow) { return v }
        throw RegistryError(401, "reading the fleet needs a login (the dashboard) or \"Authorization: Bearer TOKEN\" (ektp-registry token issue --viewer NAME [--province P [--regency R]])")
    }
}

extension String {
    /// Printable, with no control characters (names a person reads on a page).
    var isPrintableName: Bool { unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value != 0x7f } }
}
