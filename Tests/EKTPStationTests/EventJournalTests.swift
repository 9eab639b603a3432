import EKTPModel
import Foundation
import Synchronization
import EKTPTesting
import Testing
@testable import EKTPStation
@testable import EKTPPlatform
@testable import EKTPCore

/// The event journal: numbered, stored, then shown; held in order while the disk refuses; a gap
/// past the bound announced (issue 12).
@Suite struct EventJournalTests {
    func event(_ n: Int) -> Event {
        Event(sequence: 0, time: Timestamp(seconds: 1_790_000_000 + Int64(n)), station: "s1", type: .deviceHealth,
              subject: "1-1:05ba:000a", kind: .fingerprint, from: "ok", to: n % 2 == 0 ? "ok" : "failed", reason: "event \(n)")
    }

    /// A monotonic clock the test moves (the retry backoff runs on it).
    final class ManualMillis: Sendable {
        let value = Mutex<Int64>(0)
        func advance(_ ms: Int64) { value.withLock { $0 += ms } }
        var read: @Sendable () -> Int64 { { self.value.withLock { $0 } } }
    }

    @Test func aBatchIsOneTransactionShownOnlyOnceStoredInOrder() async throws {
        let dir = TempDir()
        let path = dir.path + "/outbox.sqlite3"
        let journal = EventJournal(outbox: try Outbox(path: path), stationID: "s1")
        let first = journal.record(event(1))
        let other = try Outbox(path: path)
        await journal.batch {
            for i in 2...600 { journal.record(event(i)) }
            // Numbered, but neither stored nor shown until the batch ends: a kill -9 here loses
            // nothing anyone saw.
            #expect(journal.lastSequence == 600)
            #expect(journal.events(sinceSequence: first.sequence).isEmpty)
            #expect(try! other.pending().map(\.sequence) == [1])
        }
        #expect(journal.events(sinceSequence: 0).map(\.sequence) == Array(1...600))
        #expect(try other.pending(limit: 1000).map(\.sequence) == Array(1...600))
        #expect(try other.lastSequence == 600)
    }

    @Test func aBatchTheDiskRefusesIsHeldInOrderAndWrittenWhenItAccepts() async throws {
        let dir = TempDir()
        let path = dir.path + "/outbox.sqlite3"
        let outbox = try Outbox(path: path)
        let clock = ManualMillis()
        let journal = EventJournal(outbox: outbox, stationID: "s1", holdLimit: 100, monotonic: clock.read)
        journal.record(event(1))
        // The disk is full (SQLite's page limit), and the batch needs new pages.
        outbox.limitPages(outbox.pageCount)
        await journal.batch {
            for i in 2...5 {
                var e = event(i)
                e.reason = String(repeating: "x", count: 8000) + "#\(i)"
                journal.record(e)
            }
        }
        #expect(journal.outboxStatus.writable == false)
        #expect(journal.heldCount == 4)
        #expect(journal.events(sinceSequence: 0).map(\.sequence) == [1, 2, 3, 4, 5], "held reports are still shown, in order")
        outbox.limitPages(0)
        clock.advance(2_000)
        journal.retryHeld()
        #expect(journal.heldCount == 0)
        #expect(try Outbox(path: path).pending().map(\.sequence) == [1, 2, 3, 4, 5])
    }

    @Test func anEventIsOnDiskBeforeAnyoneSeesItAndNumbersContinueAfterARestart() async throws {
        let dir = TempDir()
        let path = dir.path + "/outbox.sqlite3"
        do {
            let journal = EventJournal(outbox: try Outbox(path: path), stationID: "s1")
            let stream = journal.subscribe()
            var seen: [Int64] = []
            for i in 1...5 {
                let e = journal.record(event(i))
                // What the caller (and every subscriber) gets back is already in the file, read by a
                // second connection as a restarted daemon would.
                let other = try Outbox(path: path)
                #expect(try other.pending().map(\.sequence).contains(e.sequence))
                seen.append(e.sequence)
            }
            #expect(seen == [1, 2, 3, 4, 5])
            journal.recordSnapshot(time: Timestamp(seconds: 1)) { seq in
                StationStatus(station: "s1", site: Site(province: "P", regency: "R", district: "D"), backend: "t",
                              kit: KitStatus(state: .ready, problems: [], since: Timestamp(seconds: 0)), devices: [],
                              lastSequence: seq, startedAt: Timestamp(seconds: 0), now: Timestamp(seconds: 1), version: "t")
            }
            journal.finish()
            var streamed: [Int64] = []
            for await e in stream { streamed.append(e.sequence) }
            #expect(streamed == [1, 2, 3, 4, 5], "subscribers see events (not snapshots), in order")
        }
        // No memory carried over: a kill -9 here loses nothing and the next number is 7.
        let again = EventJournal(outbox: try Outbox(path: path), stationID: "s1")
        #expect(again.record(event(7)).sequence == 7)
        let stored = try Outbox(path: path).pending()
        #expect(stored.map(\.sequence) == Array(1...7))
        #expect(stored[5].kind == .snapshot)
        let snap = try JSONStyle.decode(StationStatus.self, from: stored[5].body)
        #expect(snap.lastSequence == 6)
        #expect(snap.outbox?.writable == true)
    }

    /// Fills the outbox's file to its last page (SQLite's own "database or disk is full" from then
    /// on) after a first event, then records events `range` with 8 KB reasons, which need new pages.
    func refuse(_ outbox: Outbox, _ journal: EventJournal, _ range: ClosedRange<Int>, tag: String = "x") -> [Event] {
        journal.record(event(range.lowerBound - 1))
        outbox.limitPages(outbox.pageCount)
        return range.map { i in
            var e = event(i)
            e.reason = String(repeating: tag, count: 8000) + "#\(i)"
            return journal.record(e)
        }
    }

    @Test func whenTheDiskRefusesReportsAreHeldInOrderAndWrittenWhenItAccepts() throws {
        let dir = TempDir()
        let outbox = try Outbox(path: dir.path + "/outbox.sqlite3")
        let clock = ManualMillis()
        let journal = EventJournal(outbox: outbox, stationID: "s1", holdLimit: 1000, monotonic: clock.read)
        _ = refuse(outbox, journal, 2...40)
        let st = journal.outboxStatus
        #expect(!st.writable)
        #expect(st.error == "disk full")
        #expect(st.held > 0)
        #expect(st.problem?.hasPrefix("cannot write the outbox at \(outbox.path): disk full; \(st.held) report(s) held in memory") == true)
        #expect(journal.writabilityChanges == 1, "one change: it became unwritable")
        // Shown all the same (`ektpd events`), numbered without a gap.
        #expect(journal.events(sinceSequence: 0).map(\.sequence) == Array(1...40))
        // The alert and the status line read it from the station's status.
        let eval = AlertRules.evaluate(statusWith(st), blanksLow: 10)
        #expect(eval.conditions.contains { $0.name == "OutboxUnwritable" && $0.severity == .critical })

        // Space again; the backoff has not passed: nothing is tried yet.
        outbox.limitPages(0)
        #expect(journal.retryHeld() == true)
        clock.advance(60_000)
        #expect(journal.retryHeld() == false)
        #expect(journal.outboxStatus.writable)
        #expect(try outbox.pending(limit: 1000).map(\.sequence) == Array(1...40), "every report, in order, once")
        #expect(journal.writabilityChanges == 2)
        #expect(journal.record(event(41)).sequence == 41)
    }

    @Test func pastTheBoundTheOldestEventsGoAndTheGapIsReportedAsAnEvent() throws {
        let dir = TempDir()
        let outbox = try Outbox(path: dir.path + "/outbox.sqlite3")
        let clock = ManualMillis()
        let journal = EventJournal(outbox: outbox, stationID: "s1", holdLimit: 5, monotonic: clock.read)
        _ = refuse(outbox, journal, 2...12, tag: "y")
        let st = journal.outboxStatus
        #expect(st.held == 5)
        #expect(st.dropped >= 1)
        outbox.limitPages(0)
        clock.advance(120_000)
        journal.retryHeld()
        let stored = try outbox.pending(limit: 1000)
        let lost = try #require(stored.last)
        let e = try JSONStyle.decode(Event.self, from: lost.body)
        #expect(e.type == .outbox && e.to == "lost")
        #expect(e.reason?.contains("\(st.dropped) report(s)") == true, "\(e.reason ?? "")")
        // What was kept is in order and contiguous at the end; the lost ones are exactly the gap.
        let seqs = stored.map(\.sequence)
        #expect(seqs == seqs.sorted())
        #expect(Int64(seqs.count) + st.dropped == e.sequence)
    }

    /// A stop (or kill -9) while the disk refuses loses what was held, but never its numbers: the
    /// next start continues above them and says which were lost (found by a helper breaking it).
    @Test func numbersGivenWhileTheDiskRefusedAreNeverGivenAgain() throws {
        let dir = TempDir()
        let path = dir.path + "/outbox.sqlite3"
        var shown: [Int64: String] = [:]
        do {
            let outbox = try Outbox(path: path)
            let journal = EventJournal(outbox: outbox, stationID: "s1")
            for r in refuse(outbox, journal, 2...9, tag: "w") { shown[r.sequence] = r.reason }
            #expect(journal.heldCount > 0)
            // The daemon stops here with the disk still full: the held reports die with it.
        }
        let outbox = try Outbox(path: path)  // space again
        let journal = EventJournal(outbox: outbox, stationID: "s1")
        let next = journal.record(event(10))
        #expect(next.sequence == 11, "9 numbers were given, the lost-range event took 10")
        #expect(shown[next.sequence] == nil)
        let stored = try outbox.pending(limit: 100)
        let lost = try JSONStyle.decode(Event.self, from: try #require(stored.first { $0.sequence == 10 }).body)
        #expect(lost.type == .outbox && lost.to == "lost")
        #expect(lost.reason?.contains("(sequences 2-9)") == true, "\(lost.reason ?? "")")
        #expect(Set(stored.map(\.sequence)).count == stored.count)
    }

    @Test func heldSnapshotsAreSupersededByTheNewest() throws {
        let dir = TempDir()
        let outbox = try Outbox(path: dir.path + "/outbox.sqlite3")
        let clock = ManualMillis()
        let journal = EventJournal(outbox: outbox, stationID: "s1", monotonic: clock.read)
        _ = refuse(outbox, journal, 2...2, tag: "z")
        for _ in 0..<3 {
            journal.recordSnapshot(time: Timestamp(seconds: 5)) { seq in statusWith(nil, sequence: seq) }
        }
        #expect(journal.heldCount == 2, "the event and the newest snapshot")
        outbox.limitPages(0)
        clock.advance(2000)
        journal.retryHeld()
        #expect(try outbox.pending().map(\.sequence) == [1, 2, 5])
    }
}

func statusWith(_ outbox: OutboxStatus?, sequence: Int64 = 1) -> StationStatus {
    var s = StationStatus(station: "s1", site: Site(province: "P", regency: "R", district: "D"), backend: "t",
                          kit: KitStatus(state: .ready, problems: [], since: Timestamp(seconds: 0)), devices: [],
                          lastSequence: sequence, startedAt: Timestamp(seconds: 0), now: Timestamp(seconds: 1), version: "t")
    s.outbox = outbox
    return s
}
