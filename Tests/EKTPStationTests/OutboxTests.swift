import EKTPModel
import Foundation
import EKTPTesting
import Testing
@testable import EKTPStation
@testable import EKTPPlatform
@testable import EKTPCore

@Suite struct OutboxTests {
    func event(_ seq: Int64) -> Event {
        Event(sequence: seq, time: Timestamp(seconds: 1_790_000_000 + seq), station: "s1", type: .deviceHealth,
              subject: "1-1:05ba:000a", kind: .fingerprint, from: "ok", to: "failed", reason: "no response")
    }

    @Test func appendsInOrderSurvivesReopenAndForgetsWhatIsAcknowledged() throws {
        let dir = TempDir()
        let path = dir.path + "/outbox.sqlite3"
        do {
            let o = try Outbox(path: path)
            #expect(o.lastSequence == 0)
            for i in 1...10 { try o.append(event(Int64(i))) }
            try o.append(sequence: 11, kind: .snapshot, time: Timestamp(seconds: 1), body: Array("{}".utf8))
        }
        let o = try Outbox(path: path)  // a new process would see the same
        #expect(o.lastSequence == 11)
        let pending = try o.pending()
        #expect(pending.map(\.sequence) == Array(1...11))
        #expect(pending[10].kind == .snapshot)
        #expect(try JSONStyle.decode(Event.self, from: pending[0].body) == event(1))
        try o.acknowledge(through: 4)
        #expect(try o.pending().map(\.sequence) == Array(5...11))
        try o.acknowledge(through: 2)  // an older acknowledgement changes nothing
        #expect(o.acknowledged == 4)
        #expect(try o.pending(limit: 3).map(\.sequence) == [5, 6, 7])
        #expect(throws: OutboxError.self) { try o.append(event(5)) }  // a sequence number is never reused
    }

    @Test func overTheSizeBoundSnapshotsAreCoalescedAndEventsKept() throws {
        let dir = TempDir()
        let o = try Outbox(path: dir.path + "/outbox.sqlite3", maxBytes: 48 * 1024)
        let big = [UInt8](repeating: 0x41, count: 4 * 1024)
        var seq: Int64 = 0
        for i in 0..<24 {
            seq += 1
            try o.append(sequence: seq, kind: .snapshot, time: Timestamp(seconds: Int64(i)), body: big)
            seq += 1
            try o.append(event(seq))
        }
        let pending = try o.pending(limit: 1000)
        #expect(pending.filter { $0.kind == .event }.count == 24)              // no event dropped
        let snapshots = pending.filter { $0.kind == .snapshot }.map(\.sequence)
        #expect(snapshots.count < 12)                                          // superseded ones coalesced
        #expect(snapshots.last == 47)                                          // the newest always kept
        #expect(o.sizeBytes <= 48 * 1024)
        // events alone past the bound: kept, and the alarm says so
        var over = false
        for _ in 0..<16 {
            seq += 1
            over = try o.append(sequence: seq, kind: .event, time: Timestamp(seconds: 0), body: big)
        }
        #expect(over)
        #expect(try o.pending(limit: 10_000).filter { $0.kind == .event }.count == 40)
    }

    @Test func aDamagedFileIsAClearErrorAndIsNotOverwritten() throws {
        let dir = TempDir()
        let path = dir.write("outbox.sqlite3", String(repeating: "not a database ", count: 100))
        do {
            _ = try Outbox(path: path)
            Issue.record("opened a damaged outbox")
        } catch {
            #expect(error.description.contains(path))
        }
        #expect(try String(contentsOfFile: path, encoding: .utf8).hasPrefix("not a database"))
    }
}

@Suite struct OutboxAcknowledgeTests {
    @Test func onlyWhatWasSentIsForgottenSoALateLowerNumberStaysPending() throws {
        let dir = TempDir()
        let o = try Outbox(path: dir.path + "/outbox.sqlite3")
        for s: Int64 in [1, 2, 4] { try o.append(sequence: s, kind: .event, time: Timestamp(seconds: s), body: Array("{}".utf8)) }
        let batch = try o.pending().map(\.sequence)
        // Number 3 (numbered before 4, stored after the batch was read) arrives late.
        try o.append(sequence: 3, kind: .event, time: Timestamp(seconds: 3), body: Array("{}".utf8))
        try o.acknowledge(batch)
        #expect(try o.pending().map(\.sequence) == [3])
        #expect(o.pendingCount == 1)
        #expect(o.acknowledged == 4)
    }
}
