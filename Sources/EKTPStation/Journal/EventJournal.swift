#if canImport(Glibc)
import Glibc
#endif
import EKTPCore
import EKTPModel
import EKTPPlatform
import Synchronization

/// The only way a report (an event or a status snapshot) comes into being on a station.
///
/// One call numbers the report, appends it durably to the outbox (SQLite, WAL, `synchronous=FULL`),
/// and only after the append has returned keeps it in the recent-events ring and hands it to the
/// subscribers (log, sd_notify, alerts). So whatever `ektpd events`, `ektpd status`, an alert, a hook
/// or the registry has seen is on disk, and a number is never given twice: after `kill -9` the next
/// start continues from the outbox's highest number (issue 12; the start-up race and the kill -9
/// losses measured in ../shared/field-cases/hardening/r1, r2).
///
/// When the disk refuses (full, read-only, an I/O error), reports are held in memory **in order**, up
/// to `holdLimit` of them, and every later append first retries the held ones (with a backoff of
/// 1 s doubling to 60 s on the monotonic clock, so a full disk is not hammered); `retryHeld()` does the
/// same for a caller's timer. Held snapshots superseded by a newer one are dropped (the outbox does
/// the same on disk). Past the bound the oldest held *events* are dropped, counted, logged, and once
/// the disk accepts again an `outbox` event of its own ("N reports lost") tells the registry the gap
/// is real. Held reports are not durable: a stop or a `kill -9` while the disk refuses loses them.
/// Their numbers are not given again: while holding, the journal writes the highest number it gave
/// into `OUTBOX.seq`, eight bytes overwritten in place (no new block is needed on a full disk), and
/// the next start continues above it and records the lost range as an `outbox` event.
///
/// Lock order: a caller may hold its own lock (the engine's) while it records; the journal never
/// calls out while holding its lock except to yield to `AsyncStream`s, which does not block.
public final class EventJournal: Sendable {
    /// A report waiting for the disk.
    struct Held {
        var sequence: Int64
        var kind: Outbox.Kind
        var time: Timestamp
        var body: [UInt8]
    }

    struct State {
        var lastSequence: Int64
        var ring: [Event] = []
        var subscribers: [Int: AsyncStream<Event>.Continuation] = [:]
        var nextSubscriber = 0
        var held: [Held] = []
        var heldEvents = 0
        var error: String?
        var unwritableSince: Timestamp?
        var dropped: Int64 = 0
        var droppedFirst: Int64?
        var droppedLast: Int64?
        /// Dropped reports not yet announced by an `outbox` event.
        var droppedUnannounced: Int64 = 0
        var failures = 0
        var nextRetryMono: Int64 = 0
        var finished = false
        /// The outbox file is over its size bound (its last append said so).
        var overLimit = false
        /// Open `batch` calls; while above zero, reports are numbered and gathered, not yet written.
        var batchDepth = 0
        /// Reports numbered in the open batch, in order (an event to show once written; nil: a snapshot).
        var gathered: [(Held, Event?)] = []
    }

    /// The outbox (nil: an in-memory journal, for engine tests on a virtual clock).
    public let outbox: Outbox?
    public let stationID: String
    /// Recent events kept for `ektpd events`.
    public let capacity: Int
    /// Reports held in memory at most while the disk refuses (documented in README: 10,000 is
    /// several days of a busy kit; a few MB).
    public let holdLimit: Int
    private let stamp: (@Sendable () -> Timestamp)?
    private let monotonic: @Sendable () -> Int64
    private let state: Mutex<State>
    /// `OUTBOX.seq`: the highest number given while holding (-1: none).
    private let highWaterFD: Int32

    /// - Parameters:
    ///   - outbox: where reports go; nil keeps them in memory only.
    ///   - stamp: the wall clock that stamps every report's `time` (the daemon's CLOCK_REALTIME);
    ///     nil keeps the time the caller gave (a simulation's clock, which is both).
    ///   - monotonic: milliseconds on a clock that never steps, for the retry backoff
    ///     (default CLOCK_MONOTONIC).
    public init(outbox: Outbox?, stationID: String, capacity: Int = 2000, holdLimit: Int = 10_000,
                stamp: (@Sendable () -> Timestamp)? = nil,
                monotonic: (@Sendable () -> Int64)? = nil) {
        self.outbox = outbox
        self.stationID = stationID
        self.capacity = capacity
        self.holdLimit = max(1, holdLimit)
        self.stamp = stamp
        self.monotonic = monotonic ?? { monotonicMillis() }
        let stored = outbox?.lastSequence ?? 0
        var fd: Int32 = -1
        var given: Int64 = 0
        if let outbox {
            fd = open(outbox.path + ".seq", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            if fd >= 0 {
                var v: Int64 = 0
                if pread(fd, &v, 8, 0) == 8 { given = Int64(littleEndian: v) } else {
                    var zero: Int64 = 0
                    _ = pwrite(fd, &zero, 8, 0)  // the eight bytes exist from now on
                    _ = fsync(fd)
                }
            }
        }
        highWaterFD = fd
        var initial = State(lastSequence: max(stored, given))
        if given > stored {
            // Numbers given while the disk refused, lost when the daemon stopped: say so, once.
            initial.droppedUnannounced = given - stored
            initial.droppedFirst = stored + 1
            initial.droppedLast = given
        }
        self.state = Mutex(initial)
        if given > stored { state.withLock { s in _ = announceDropped(&s) } }
    }

    deinit { if highWaterFD >= 0 { close(highWaterFD) } }

    // MARK: writing

    /// Numbers an event, stores it, then shows it. Returns it as stored (number and time set).
    @discardableResult
    public func record(_ event: Event) -> Event {
        var changed: OutboxStatus?
        let e = state.withLock { s -> Event in
            var e = event
            if let stamp { e.time = stamp() }
            s.lastSequence += 1
            e.sequence = s.lastSequence
            let body = (try? JSONStyle.encode(e)) ?? []
            let h = Held(sequence: e.sequence, kind: .event, time: e.time, body: body)
            if s.batchDepth > 0 {
                s.gathered.append((h, e))
                return e
            }
            changed = write(&s, h)
            show(&s, e)
            if let c = announceDropped(&s) { changed = changed ?? c }
            return e
        }
        if let changed { notify(changed) }
        return e
    }

    /// Numbers a status snapshot, lets `make` fill it in with its number, and stores it.
    /// Returns the number given.
    @discardableResult
    public func recordSnapshot(time: Timestamp, _ make: (Int64) -> StationStatus) -> Int64 {
        var changed: OutboxStatus?
        let seq = state.withLock { s -> Int64 in
            s.lastSequence += 1
            let seq = s.lastSequence
            var st = make(seq)
            st.outbox = status(s)
            let t = stamp?() ?? time
            let body = (try? JSONStyle.encode(st)) ?? []
            let h = Held(sequence: seq, kind: .snapshot, time: t, body: body)
            if s.batchDepth > 0 {
                s.gathered.append((h, nil))
                return seq
            }
            changed = write(&s, h)
            return seq
        }
        if let changed { notify(changed) }
        return seq
    }

    /// Group commit: the reports recorded while `body` runs (by any task) are numbered at once but
    /// written in one transaction when it returns (one fsync), and only then shown, in order, as
    /// every report is. The daemon's first probe round uses it: with 600 devices it was 600 fsyncs
    /// before READY (issue 17). Nesting is allowed; the outermost batch writes.
    public func batch<T>(_ body: () async throws -> T) async rethrows -> T {
        state.withLock { $0.batchDepth += 1 }
        do {
            let result = try await body()
            endBatch()
            return result
        } catch {
            endBatch()
            throw error
        }
    }

    private func endBatch() {
        var changed: OutboxStatus?
        state.withLock { s in
            s.batchDepth -= 1
            guard s.batchDepth == 0, !s.gathered.isEmpty else { return }
            let items = s.gathered
            s.gathered = []
            changed = writeAll(&s, items.map(\.0))
            for case (_, let e?) in items { show(&s, e) }
            if let c = announceDropped(&s) { changed = changed ?? c }
        }
        if let changed { notify(changed) }
    }

    /// Retries the held reports now if the backoff allows (a timer calls this). Returns whether
    /// anything is still held.
    @discardableResult
    public func retryHeld(force: Bool = false) -> Bool {
        var changed: OutboxStatus?
        let holding = state.withLock { s -> Bool in
            guard !s.held.isEmpty else { return false }
            if force { s.nextRetryMono = 0 }
            changed = flush(&s)
            if let c = announceDropped(&s) { changed = changed ?? c }
            return !s.held.isEmpty
        }
        if let changed { notify(changed) }
        return holding
    }

    /// Ends every subscription (the daemon is stopping). Later records are still stored.
    public func finish() {
        let subs = state.withLock { s -> [AsyncStream<Event>.Continuation] in
            s.finished = true
            defer { s.subscribers = [:] }
            return Array(s.subscribers.values)
        }
        for c in subs { c.finish() }
    }

    // MARK: reading

    /// The newest number given.
    public var lastSequence: Int64 { state.withLock { $0.lastSequence } }

    /// The wall-clock time reports are stamped with now (nil stamp: nil).
    public var wallNow: Timestamp? { stamp?() }

    /// Recent events after `sequence`, oldest first.
    public func events(sinceSequence seq: Int64, limit: Int = .max) -> [Event] {
        state.withLock { s in Array(s.ring.lazy.filter { $0.sequence > seq }.prefix(max(0, limit))) }
    }

    /// Recent events at or after `time`, oldest first.
    public func events(since time: Timestamp, limit: Int = .max) -> [Event] {
        state.withLock { s in Array(s.ring.lazy.filter { $0.time >= time }.prefix(max(0, limit))) }
    }

    /// Every event from now on, in order.
    public func subscribe() -> AsyncStream<Event> {
        let (stream, c) = AsyncStream<Event>.makeStream(bufferingPolicy: .unbounded)
        let key = state.withLock { s -> Int? in
            guard !s.finished else { return nil }
            s.nextSubscriber += 1
            s.subscribers[s.nextSubscriber] = c
            return s.nextSubscriber
        }
        // No onTermination: it would take the journal's lock from inside a task's cancellation while
        // `record` holds that lock to yield (which needs the task's status lock): a deadlock seen at
        // SIGTERM. A finished subscriber is dropped at the next yield instead.
        if key == nil { c.finish() }
        return stream
    }

    /// Whether the outbox can be written, and what is held (for status, alerts, metrics).
    public var outboxStatus: OutboxStatus { state.withLock { status($0) } }

    /// The outbox file is over its size bound (superseded snapshots are being coalesced).
    public var overLimit: Bool { state.withLock { $0.overLimit } }

    /// Reports held in memory now.
    public var heldCount: Int { state.withLock { $0.held.count } }

    // MARK: internals

    private func status(_ s: State) -> OutboxStatus {
        OutboxStatus(path: outbox?.path ?? "(memory)", writable: s.error == nil, error: s.error, held: s.held.count,
                     holdLimit: holdLimit, dropped: s.dropped, since: s.unwritableSince)
    }

    /// Appends `h` (after whatever is held, in order). Returns the new status when writability changed.
    private func write(_ s: inout State, _ h: Held) -> OutboxStatus? { writeAll(&s, [h]) }

    /// Appends `hs` in one transaction (after whatever is held, in order). Returns the new status
    /// when writability changed.
    private func writeAll(_ s: inout State, _ hs: [Held]) -> OutboxStatus? {
        guard let outbox, !hs.isEmpty else { return nil }
        let wasWritable = s.error == nil
        if s.held.isEmpty {
            do {
                s.overLimit = try outbox.append(hs.map { Outbox.Entry(sequence: $0.sequence, kind: $0.kind, time: $0.time, body: $0.body) })
                return nil
            } catch {
                s.error = Self.plain(error.description)
                s.unwritableSince = stamp?() ?? hs[0].time
                s.failures = 1
                s.nextRetryMono = monotonic() + 1000
                for h in hs { hold(&s, h) }
                return wasWritable ? status(s) : nil
            }
        }
        for h in hs { hold(&s, h) }
        return flush(&s)
    }

    private func hold(_ s: inout State, _ h: Held) {
        if highWaterFD >= 0 {
            var v = s.lastSequence.littleEndian
            if pwrite(highWaterFD, &v, 8, 0) == 8 { _ = fdatasync(highWaterFD) }
        }
        if h.kind == .snapshot, let i = s.held.lastIndex(where: { $0.kind == .snapshot }) {
            s.held.remove(at: i)  // superseded: the newest snapshot says all it said
        }
        s.held.append(h)
        if h.kind == .event { s.heldEvents += 1 }
        while s.held.count > holdLimit {
            let i = s.held.firstIndex { $0.kind == .event } ?? 0
            let gone = s.held.remove(at: i)
            if gone.kind == .event { s.heldEvents -= 1 }
            s.dropped += 1
            s.droppedUnannounced += 1
            s.droppedFirst = min(s.droppedFirst ?? gone.sequence, gone.sequence)
            s.droppedLast = max(s.droppedLast ?? gone.sequence, gone.sequence)
        }
    }

    /// Writes held reports in order while the disk accepts them (if the backoff allows).
    private func flush(_ s: inout State) -> OutboxStatus? {
        guard let outbox, !s.held.isEmpty else { return nil }
        let t = monotonic()
        guard t >= s.nextRetryMono else { return nil }
        while let h = s.held.first {
            do {
                s.overLimit = try outbox.append(sequence: h.sequence, kind: h.kind, time: h.time, body: h.body)
                s.held.removeFirst()
                if h.kind == .event { s.heldEvents -= 1 }
            } catch {
                s.error = Self.plain(error.description)
                s.failures += 1
                s.nextRetryMono = t + min(60_000, 1000 << Int64(min(s.failures - 1, 6)))
                return nil
            }
        }
        s.error = nil
        s.failures = 0
        s.unwritableSince = nil
        return status(s)
    }

    /// Once everything held is written, the count of reports lost past the bound becomes an event.
    private func announceDropped(_ s: inout State) -> OutboxStatus? {
        guard s.held.isEmpty, s.error == nil, s.droppedUnannounced > 0 else { return nil }
        let n = s.droppedUnannounced
        let range = "\(s.droppedFirst ?? 0)-\(s.droppedLast ?? 0)"
        s.droppedUnannounced = 0
        s.droppedFirst = nil
        s.droppedLast = nil
        s.lastSequence += 1
        let e = Event(sequence: s.lastSequence, time: stamp?() ?? (s.ring.last?.time ?? Timestamp(millis: 0)),
                      station: stationID, type: .outbox, about: .outbox, from: "unwritable", to: "lost",
                      reason: "\(n) report(s) (sequences \(range)) were lost: the disk refused them and they were held in memory past the bound of \(holdLimit), or when the daemon stopped")
        let body = (try? JSONStyle.encode(e)) ?? []
        _ = write(&s, Held(sequence: e.sequence, kind: .event, time: e.time, body: body))
        show(&s, e)
        return status(s)
    }

    private func show(_ s: inout State, _ e: Event) {
        s.ring.append(e)
        if s.ring.count > capacity + capacity / 4 { s.ring.removeFirst(s.ring.count - capacity) }
        var gone: [Int] = []
        for (key, c) in s.subscribers {
            if case .terminated = c.yield(e) { gone.append(key) }
        }
        for key in gone { s.subscribers[key] = nil }
    }

    /// A change of writability. Nothing is called back (a record may run under the caller's lock,
    /// r6 of the field cases: a callback that read the engine re-entered its lock); the daemon polls
    /// `outboxStatus`. Counted for tests.
    private func notify(_ st: OutboxStatus) {
        changes.withLock { $0 += 1 }
    }

    /// How many times the outbox went from writable to refusing or back.
    public var writabilityChanges: Int { changes.withLock { $0 } }
    private let changes = Mutex<Int>(0)

    /// SQLite's "database or disk is full" is said as a person would: "disk full".
    static func plain(_ sqliteText: String) -> String {
        let t = sqliteText.lowercased()
        if t.contains("disk is full") || t.contains("no space") { return "disk full" }
        if t.contains("readonly") || t.contains("read-only") { return "read-only file system" }
        if t.contains("disk i/o") { return "I/O error" }
        return sqliteText
    }
}
