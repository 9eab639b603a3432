import EKTPModel

/// A value bound to, or read from, a statement. The registry's SQL uses only these four types, so
/// one text of each statement runs on SQLite and on PostgreSQL; the two arrays are bound to
/// PostgreSQL only (`unnest($n::bigint[], ...)` in statements written for `.postgres`), and SQLite
/// refuses a statement that has one.
public enum SQLValue: Sendable, Equatable {
    case int(Int64)
    case double(Double)
    case text(String)
    case null
    /// PostgreSQL only: a `bigint[]` parameter.
    case intArray([Int64])
    /// PostgreSQL only: a `text[]` parameter (no NULL elements: write '' and NULLIF in the SQL).
    case textArray([String])

    var int: Int64? {
        switch self {
        case .int(let v): v
        case .double(let d): Int64(d)
        case .text(let t): Int64(t)
        case .null, .intArray, .textArray: nil
        }
    }

    var double: Double? {
        switch self {
        case .int(let v): Double(v)
        case .double(let d): d
        case .text(let t): Double(t)
        case .null, .intArray, .textArray: nil
        }
    }

    var text: String? {
        if case .text(let t) = self { return t }
        return nil
    }
}

/// One statement with its arguments, written with `?` placeholders (PostgreSQL's `$n` are made from them).
public struct SQLStatement: Sendable {
    public var sql: String
    public var arguments: [SQLValue]
    public init(_ sql: String, _ arguments: [SQLValue] = []) {
        self.sql = sql
        self.arguments = arguments
    }
}

/// The two SQL dialects, for the few places they differ (schema only).
public enum SQLDialect: String, Sendable {
    case sqlite, postgres
}

/// A problem with the registry's database, said so an operator can act.
public struct StoreError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ d: String) { description = d }
}

/// Where the registry keeps its data: one SQL database, SQLite or PostgreSQL.
///
/// The registry's logic (`Registry`) is written once against this; each store only runs statements.
/// Every statement returns its rows (writes use `RETURNING` where the count matters).
public protocol RegistryStore: Sendable {
    var dialect: SQLDialect { get }
    /// A description without secrets, for logs ("sqlite /var/lib/ektp-registry/registry.sqlite3").
    var label: String { get }
    /// Runs the statements in order in one transaction; returns each statement's rows.
    func transaction(_ statements: [SQLStatement]) async throws -> [[[SQLValue]]]
    /// Runs one read.
    func query(_ statement: SQLStatement) async throws -> [[SQLValue]]
    func close() async
}

extension SQLStatement {
    /// `?` placeholders as PostgreSQL's `$1, $2, ...` (no `?` appears inside the registry's string literals).
    var postgresSQL: String {
        var out = ""
        out.reserveCapacity(sql.utf8.count + 16)
        var n = 0
        for c in sql {
            if c == "?" {
                n += 1
                out += "$\(n)"
            } else {
                out.append(c)
            }
        }
        return out
    }
}

/// Opens the store a URL names: `sqlite:PATH` (or a plain path) or `postgres://user[:password]@host[:port]/db`.
public enum StoreURL {
    public static func open(_ url: String) async throws -> any RegistryStore {
        if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
            try await PostgresStore.probe(url: url)
            return try PostgresStore(url: url)
        }
        var path = url
        if path.hasPrefix("sqlite://") { path.removeFirst("sqlite://".count) }
        else if path.hasPrefix("sqlite:") { path.removeFirst("sqlite:".count) }
        guard !path.isEmpty else { throw StoreError("database URL \"\(url)\": no file path (sqlite:/var/lib/ektp-registry/registry.sqlite3)") }
        if path.contains("://") {
            throw StoreError("database URL \"\(url)\": unknown scheme; use sqlite:PATH or postgres://user@host:port/database")
        }
        return try SQLiteStore(path: path)
    }
}
