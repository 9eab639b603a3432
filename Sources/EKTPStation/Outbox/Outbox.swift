#if canImport(Glibc)
import Glibc
#endif
import CSQLite3
import EKTPCore
import EKTPModel
import EKTPPlatform
import Synchronization

/// A problem with the outbox file, saying what to do.
public struct OutboxError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ d: String) { description = d }
}

/// The station's durable queue of reports for the registry: every event (and status snapshot) with
/// the station's sequence number, kept until the registry acknowledges it.
///
/// SQLite in WAL mode with `synchronous=FULL`: an append has reached the disk when it returns, so a
/// power cut or `kill -9` loses nothing that was appended, and the file is never left torn (SQLite's
/// journal). Only the `EventJournal` appends here, and it numbers reports from `lastSequence`: a
/// restarted daemon continues from the highest number ever appended.
///
/// Size policy, when the file grows past `maxBytes` (a full disk, a week without network):
/// 1. raise the alarm (`overLimit` and a log line from the caller);
/// 2. coalesce: snapshots superseded by a newer snapshot are deleted (the newest always stays);
/// 3. events are never dropped: appending continues past the limit until the disk itself refuses,
///    and then the append throws (the journal holds the report in memory and retries).
///
/// `@unchecked Sendable`: the sqlite3 connection is used only while holding `lock`.
public final class Outbox: @unchecked Sendable {
    public enum Kind: String, Sendable { case event, snapshot }

    public struct Report: Equatable, Sendable {
        public var sequence: Int64
        public var kind: Kind
        public var time: Timestamp
        /// The report as JSON (the project's JSON style).
        public var body: [UInt8]
    }

    public let path: String
    public let maxBytes: Int64
    private let lock = Mutex<Void>(())
    private let db: OpaquePointer

    /// Opens (or makes) the outbox. `readOnly`: only reads, changes nothing, creates nothing
    /// (`ektpd export` while the daemon is stopped).
    public init(path: String, maxBytes: Int64 = 256 << 20, readOnly: Bool = false) throws(OutboxError) {
        self.path = path
        self.maxBytes = maxBytes
        var handle: OpaquePointer?
        let flags = readOnly ? SQLITE_OPEN_READONLY | SQLITE_OPEN_FULLMUTEX : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX
        let rc = sqlite3_open_v2(path, &handle, flags, nil)
        guard rc == SQLITE_OK, let handle else {
            let why = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            if let handle { sqlite3_close(handle) }
            throw OutboxError("cannot open the outbox \(path): \(why)")
        }
        db = handle
        if readOnly {
            do throws(OutboxError) {
                try exec("PRAGMA busy_timeout=5000")
                guard try scalarInt("PRAGMA user_version") >= 1 else { throw OutboxError("\(path) is not an ektpd outbox") }
            } catch {
                sqlite3_close(db)
                throw error
            }
            return
        }
        do throws(OutboxError) {
            try exec("PRAGMA journal_mode=WAL")
            try exec("PRAGMA synchronous=FULL")
            try exec("PRAGMA busy_timeout=5000")
            try exec("PRAGMA cache_size=-256")  // 256 KiB: the outbox is small and append-mostly
            let check = try scalarText("PRAGMA quick_check")
            guard check == "ok" else { throw OutboxError("the outbox \(path) is damaged (\(check)): move it aside; ektpd starts a new one") }
            try migrate()
        } catch {
            sqlite3_close(db)
            throw error
        }
    }

    deinit { sqlite3_close(db) }

    /// Versioned schema: `PRAGMA user_version` says which migrations have run.
    private func migrate() throws(OutboxError) {
        let version = try scalarInt("PRAGMA user_version")
        if version < 1 {
            try exec("""
                BEGIN;
                CREATE TABLE IF NOT EXISTS reports (
                    seq  INTEGER PRIMARY KEY,
                    kind TEXT NOT NULL CHECK (kind IN ('event', 'snapshot')),
                    time INTEGER NOT NULL,
                    body BLOB NOT NULL
                );
                CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
                INSERT OR IGNORE INTO meta (key, value) VALUES ('acked', 0), ('last', 0);
                PRAGMA user_version = 1;
                COMMIT;
                """)
        }
    }

    /// The highest sequence number ever appended (acknowledged ones included).
    public var lastSequence: Int64 {
        (try? lock.withLock { _ throws(OutboxError) in try scalarInt("SELECT value FROM meta WHERE key = 'last'") }) ?? 0
    }

    /// The highest sequence number the registry has acknowledged.
    public var acknowledged: Int64 {
        (try? lock.withLock { _ throws(OutboxError) in try scalarInt("SELECT value FROM meta WHERE key = 'acked'") }) ?? 0
    }

    /// One report to append: its number, kind, time and encoded body.
    public struct Entry: Sendable {
        public var sequence: Int64
        public var kind: Kind
        public var time: Timestamp
        public var body: [UInt8]
        public init(sequence: Int64, kind: Kind, time: Timestamp, body: [UInt8]) {
            self.sequence = sequence
            self.kind = kind
            self.time = time
            self.body = body
        }
    }

    /// Appends a report durably. Returns true when the file is over its size bound (the alarm).
    @discardableResult
    public func append(sequence: Int64, kind: Kind, time: Timestamp, body: [UInt8]) throws(OutboxError) -> Bool {
        try append([Entry(sequence: sequence, kind: kind, time: time, body: body)])
    }

    /// Appends reports durably in one transaction (group commit: one fsync for all of them, issue
    /// 17: 600 devices at start were 600 fsyncs before READY). All or none. Returns true when the
    /// file is over its size bound (the alarm).
    @discardableResult
    public func append(_ entries: [Entry]) throws(OutboxError) -> Bool {
        guard let high = entries.map(\.sequence).max() else { return false }
        return try lock.withLock { _ throws(OutboxError) -> Bool in
            try exec("BEGIN IMMEDIATE")
            do throws(OutboxError) {
                for e in entries {
                    try run("INSERT INTO reports (seq, kind, time, body) VALUES (?1, ?2, ?3, ?4)",
                            [.int(e.sequence), .text(e.kind.rawValue), .int(e.time.millis), .blob(e.body)])
                }
                try run("UPDATE meta SET value = max(value, ?1) WHERE key = 'last'", [.int(high)])
                try exec("COMMIT")
            } catch {
                try? exec("ROLLBACK")
                throw error
            }
            // Committed: the report is stored. What follows must not throw, or the caller would
            // hold (and later re-append) a report that is already here.
            guard let size = try? sizeLocked(), size > maxBytes else { return false }
            // Over the bound: coalesce superseded snapshots; events stay.
            try? run("DELETE FROM reports WHERE kind = 'snapshot' AND seq < (SELECT max(seq) FROM reports WHERE kind = 'snapshot')", [])
            return ((try? sizeLocked()) ?? size) > maxBytes
        }
    }

    /// Appends an event (its own sequence number).
    @discardableResult
    public func append(_ event: Event) throws(OutboxError) -> Bool {
        let body: [UInt8]
        do { body = try JSONStyle.encode(event) } catch { throw OutboxError("cannot encode event \(event.sequence): \(error)") }
        return try append(sequence: event.sequence, kind: .event, time: event.time, body: body)
    }

    /// Reports not yet acknowledged, oldest first, from sequence `from` on.
    public func pending(from: Int64 = 0, limit: Int = 500) throws(OutboxError) -> [Report] {
        try lock.withLock { _ throws(OutboxError) -> [Report] in
            var out: [Report] = []
            try query("SELECT seq, kind, time, body FROM reports WHERE seq >= ?2 ORDER BY seq LIMIT ?1",
                      [.int(Int64(limit)), .int(from)]) { stmt in
                let bytes = Int(sqlite3_column_bytes(stmt, 3))
                let body = sqlite3_column_blob(stmt, 3).map { Array(UnsafeRawBufferPointer(start: $0, count: bytes)) } ?? []
                out.append(Report(sequence: sqlite3_column_int64(stmt, 0),
                                  kind: Kind(rawValue: String(cString: sqlite3_column_text(stmt, 1))) ?? .event,
                                  time: Timestamp(millis: sqlite3_column_int64(stmt, 2)), body: body))
            }
            return out
        }
    }

    /// The registry stored these reports (a batch just sent): forget them. Only what was sent is
    /// forgotten: an event numbered earlier but appended after the batch was read stays pending.
    public func acknowledge(_ sequences: [Int64]) throws(OutboxError) {
        guard let high = sequences.max() else { return }
        try lock.withLock { _ throws(OutboxError) in
            try exec("BEGIN IMMEDIATE")
            do throws(OutboxError) {
                try run("UPDATE meta SET value = max(value, ?1) WHERE key = 'acked'", [.int(high)])
                for s in sequences { try run("DELETE FROM reports WHERE seq = ?1", [.int(s)]) }
                try exec("COMMIT")
            } catch {
                try? exec("ROLLBACK")
                throw error
            }
        }
    }

    /// The registry holds these ranges of sequences (they came by courier): forget them.
    public func acknowledge(ranges: [ClosedRange<Int64>]) throws(OutboxError) {
        guard let high = ranges.map(\.upperBound).max() else { return }
        try lock.withLock { _ throws(OutboxError) in
            try exec("BEGIN IMMEDIATE")
            do throws(OutboxError) {
                try run("UPDATE meta SET value = max(value, ?1) WHERE key = 'acked'", [.int(high)])
                for r in ranges { try run("DELETE FROM reports WHERE seq BETWEEN ?1 AND ?2", [.int(r.lowerBound), .int(r.upperBound)]) }
                try exec("COMMIT")
            } catch {
                try? exec("ROLLBACK")
                throw error
            }
        }
    }

    /// How many reports wait for the registry.
    public var pendingCount: Int {
        (try? lock.withLock { _ throws(OutboxError) in Int(try scalarInt("SELECT count(*) FROM reports")) }) ?? 0
    }

    /// Reports waiting and the time of the oldest (for metrics): one query.
    public var backlog: (count: Int, oldest: Timestamp?) {
        var out: (Int, Timestamp?) = (0, nil)
        try? lock.withLock { _ throws(OutboxError) in
            try query("SELECT count(*), min(time) FROM reports", []) { stmt in
                out.0 = Int(sqlite3_column_int64(stmt, 0))
                if sqlite3_column_type(stmt, 1) != SQLITE_NULL { out.1 = Timestamp(millis: sqlite3_column_int64(stmt, 1)) }
            }
        }
        return out
    }

    /// The registry stored everything up to `sequence`: forget it (a lower number changes nothing).
    public func acknowledge(through sequence: Int64) throws(OutboxError) {
        try lock.withLock { _ throws(OutboxError) in
            try exec("BEGIN IMMEDIATE")
            do throws(OutboxError) {
                try run("UPDATE meta SET value = max(value, ?1) WHERE key = 'acked'", [.int(sequence)])
                try run("DELETE FROM reports WHERE seq <= (SELECT value FROM meta WHERE key = 'acked')", [])
                try exec("COMMIT")
            } catch {
                try? exec("ROLLBACK")
                throw error
            }
        }
    }

    /// Caps the file at `pages` database pages (`PRAGMA max_page_count`; 0 lifts the cap to
    /// SQLite's maximum). Past the cap an append fails exactly as on a full disk (SQLITE_FULL,
    /// "database or disk is full"): the tests of the journal's disk-full path use it.
    public func limitPages(_ pages: Int64) {
        lock.withLock { _ in _ = try? exec("PRAGMA max_page_count = \(pages <= 0 ? 4_294_967_294 : pages)") }
    }

    /// Pages the file has now.
    public var pageCount: Int64 { (try? lock.withLock { _ throws(OutboxError) in try scalarInt("PRAGMA page_count") }) ?? 0 }

    /// Bytes the file uses (pages in use).
    public var sizeBytes: Int64 { (try? lock.withLock { _ throws(OutboxError) in try sizeLocked() }) ?? 0 }

    private func sizeLocked() throws(OutboxError) -> Int64 {
        try scalarInt("SELECT (SELECT page_count FROM pragma_page_count) * (SELECT page_size FROM pragma_page_size)")
            - scalarInt("SELECT (SELECT freelist_count FROM pragma_freelist_count) * (SELECT page_size FROM pragma_page_size)")
    }

    // MARK: sqlite3 helpers

    enum Value { case int(Int64), text(String), blob([UInt8]) }

    private func failure(_ what: String) -> OutboxError {
        OutboxError("outbox \(path): \(what): \(String(cString: sqlite3_errmsg(db)))")
    }

    private func exec(_ sql: String) throws(OutboxError) {
        guard sqlite3_exec(db, sql, nil, nil, nil) == SQLITE_OK else { throw failure("'\(sql.prefix(40))' failed") }
    }

    private func run(_ sql: String, _ values: [Value]) throws(OutboxError) {
        try query(sql, values) { _ in }
    }

    private func query(_ sql: String, _ values: [Value], row: (OpaquePointer) -> Void) throws(OutboxError) {
        var stmt: OpaquePointer?
        guard sqlite3_prepare_v2(db, sql, -1, &stmt, nil) == SQLITE_OK, let stmt else { throw failure("cannot prepare '\(sql.prefix(40))'") }
        defer { sqlite3_finalize(stmt) }
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        for (i, v) in values.enumerated() {
            let idx = Int32(i + 1)
            switch v {
            case .int(let n): sqlite3_bind_int64(stmt, idx, n)
            case .text(let s): sqlite3_bind_text(stmt, idx, s, -1, transient)
            case .blob(let b): _ = b.withUnsafeBytes { sqlite3_bind_blob(stmt, idx, $0.baseAddress, Int32($0.count), transient) }
            }
        }
        while true {
            let rc = sqlite3_step(stmt)
            if rc == SQLITE_ROW { row(stmt); continue }
            if rc == SQLITE_DONE { return }
            throw failure("'\(sql.prefix(40))' failed")
        }
    }

    private func scalarInt(_ sql: String) throws(OutboxError) -> Int64 {
        var v: Int64 = 0
        try query(sql, []) { v = sqlite3_column_int64($0, 0) }
        return v
    }

    private func scalarText(_ sql: String) throws(OutboxError) -> String {
        var v = ""
        try query(sql, []) { v = String(cString: sqlite3_column_text($0, 0)) }
        return v
    }
}
