#if canImport(Glibc)
import Glibc
#endif
import GRDB
import Synchronization

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
        pool = try Self.open(path, config)
        label = "sqlite \(path)"
    }

    /// Opens the pool, trying again for up to 10 s while another process holds the new file's
    /// lock. Processes that open a new database together (`serve` and `token issue` started at
    /// once, field case 13) race to switch it to WAL, and SQLite answers the loser "database is
    /// locked" at once, without waiting on the busy timeout (5 of 40 tries failed so, from either
    /// side). Opening again is harmless: the file is WAL by then, or the switch is tried again.
    static func open(_ path: String, _ config: Configuration) throws -> DatabasePool {
        let deadline = ContinuousClock.now.advanced(by: .seconds(10))
        while true {
            do {
                return try DatabasePool(path: path, configuration: config)
            } catch let e as DatabaseError where (e.resultCode == .SQLITE_BUSY || e.resultCode == .SQLITE_LOCKED) && ContinuousClock.now < deadline {
                usleep(UInt32.random(in: 5_000...30_000))
            } catch {
                throw StoreError("cannot open the registry database \(path): \(Self.describe(error))")
            }
        }
    }

    /// Runs the statements in one transaction, committed together with the transactions that
    /// arrived while the previous commit ran (group commit): each keeps its own all-or-nothing
    /// (a savepoint of its own when there are several), and all of them become durable with one
    /// WAL sync (`synchronous=FULL`). Why: a catch-up's writes are queued behind one writer and
    /// each paid its own sync; on this machine's virtual disk the same 1.44 M-report catch-up took
    /// 34 s or 136 s with the same CPU per report (28-29 us), as the disk's sync time moved.
    /// At most `groupLimit` transactions go in one commit.
    public func transaction(_ statements: [SQLStatement]) async throws -> [[[SQLValue]]] {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<[[[SQLValue]]], any Error>) in
            let lead = group.withLock { g -> Bool in
                g.pending.append(PendingWrite(statements: statements, done: c))
                if g.leading { return false }
                g.leading = true
                return true
            }
            if lead { Task { await self.commitPending() } }
        }
    }

    /// Transactions in one commit, at most.
    static let groupLimit = 32

    struct PendingWrite: Sendable {
        let statements: [SQLStatement]
        let done: CheckedContinuation<[[[SQLValue]]], any Error>
    }

    let group = Mutex<(pending: [PendingWrite], leading: Bool)>(([], false))
    /// Commits made by `transaction` (for tests: transactions that arrived together share one).
    let commits = Atomic<Int>(0)

    /// The leader's loop: commits what is pending, then what came meanwhile, until nothing is.
    func commitPending() async {
        while true {
            let batch = group.withLock { g -> [PendingWrite] in
                let take = Array(g.pending.prefix(Self.groupLimit))
                g.pending.removeFirst(take.count)
                if take.isEmpty { g.leading = false }
                return take
            }
            if batch.isEmpty { return }
            let results: [Result<[[[SQLValue]]], StoreError>]
            commits.add(1, ordering: .relaxed)
            do {
                results = try await pool.write { db in
                    if batch.count == 1 {
                        // Alone: its failure rolls the whole transaction back and is thrown.
                        return [.success(try batch[0].statements.map { try Self.run($0, db) })]
                    }
                    return batch.map { w in
                        var rows: [[[SQLValue]]] = []
                        do {
                            try db.inSavepoint {
                                rows = try w.statements.map { try Self.run($0, db) }
                                return .commit
                            }
                            return .success(rows)
                        } catch {
                            return .failure(StoreError(Self.describe(error)))
                        }
                    }
                }
            } catch {
                // Not committed: none of them is stored.
                results = Array(repeating: .failure(StoreError(Self.describe(error))), count: batch.count)
            }
            for (w, r) in zip(batch, results) { w.done.resume(with: r.mapError { $0 as any Error }) }
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
        let arguments = StatementArguments(try s.arguments.map { v -> DatabaseValue in
            switch v {
            case .int(let i): i.databaseValue
            case .double(let d): d.databaseValue
            case .text(let t): t.databaseValue
            case .null: .null
            case .intArray, .textArray: throw StoreError("SQLite has no array parameters: this statement is PostgreSQL's (\(s.sql.prefix(60))...)")
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
