import GRDB

/// The registry's default store: one SQLite file through GRDB, in WAL mode (readers never wait for
/// the writer), `synchronous=FULL` (a stored report survives a power cut).
public final class SQLiteStore: RegistryStore {
    public let dialect = SQLDialect.sqlite
    public let label: String
    private let pool: DatabasePool

    public init(path: String) throws {
        var config = Configuration()
        // Another process (`token issue` while `serve` starts, field case 13) may hold the write lock,
        // even while GRDB switches a new file to WAL: wait for it rather than fail "database is locked".
        config.busyMode = .timeout(10)
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            try db.execute(sql: "PRAGMA busy_timeout = 5000")
        }
        config.label = "ektp-registry"
        do {
            pool = try DatabasePool(path: path, configuration: config)
        } catch {
            throw StoreError("cannot open the registry database \(path): \(Self.describe(error))")
        }
        label = "sqlite \(path)"
    }

    public func transaction(_ statements: [SQLStatement]) async throws -> [[[SQLValue]]] {
        do {
            return try await pool.write { db in
                try statements.map { try Self.run($0, db) }
            }
        } catch {
            throw StoreError(Self.describe(error))
        }
    }

    public func query(_ statement: SQLStatement) async throws -> [[SQLValue]] {
        do {
            return try await pool.read { db in try Self.run(statement, db) }
        } catch {
            throw StoreError(Self.describe(error))
        }
    }

    public func close() async {
        try? pool.close()
    }

    private static func run(_ s: SQLStatement, _ db: Database) throws -> [[SQLValue]] {
        let arguments = StatementArguments(s.arguments.map { v -> DatabaseValue in
            switch v {
            case .int(let i): i.databaseValue
            case .double(let d): d.databaseValue
            case .text(let t): t.databaseValue
            case .null: .null
            }
        })
        // Small statements are prepared once; batch inserts (their text varies with the batch) are not.
        let statement = s.arguments.count <= 24 ? try db.cachedStatement(sql: s.sql) : try db.makeStatement(sql: s.sql)
        let cursor = try Row.fetchCursor(statement, arguments: arguments)
        var rows: [[SQLValue]] = []
        while let row = try cursor.next() {
            rows.append(row.databaseValues.map { dv in
                switch dv.storage {
                case .null: .null
                case .int64(let i): .int(i)
                case .double(let d): .double(d)
                case .string(let s): .text(s)
                case .blob(let b): .text(String(decoding: b, as: UTF8.self))
                }
            })
        }
        return rows
    }

    static func describe(_ error: any Error) -> String {
        if let e = error as? DatabaseError { return "SQLite: \(e.message ?? "\(e.resultCode)") (\(e.sql ?? ""))" }
        return "\(error)"
    }
}
