import EKTPModel
import EKTPTesting
import Testing

/// The registry's reading of a batch (issue 17, item 2): the newest snapshot whole, the others for
/// what the checks and ingest read; the same verdict as the whole reading.
@Suite struct IngestBatchTests {
    static let site = Site(province: "Kalimantan Barat", regency: "Sintang", district: "Dedai")

    static func status(_ seq: Int64, blanks: Int, printerBlanks: Int? = nil, station: String = "st-1") -> StationStatus {
        var printer = device(.cardPrinter, "1-6", .ok)
        printer.blanksRemaining = printerBlanks
        return StationStatus(station: station, site: site, backend: "simulated",
                             kit: KitStatus(state: .degraded, problems: [KitProblem(kind: .iris, severity: .degraded, reason: "slow")], since: Timestamp(seconds: 5)),
                             devices: [device(.fingerprint, "1-1", .ok), device(.iris, "1-2", .degraded, reason: "slow"), printer],
                             lastSequence: seq, startedAt: Timestamp(seconds: 1), now: Timestamp(seconds: seq), version: "1.0",
                             stock: StockStatus(blanks: blanks, source: .printer, updatedAt: Timestamp(seconds: seq)))
    }

    static func batch(_ reports: [WireReport]) -> ReportBatch {
        ReportBatch(station: "st-1", sentAt: Timestamp(seconds: 100), reports: reports, publicKey: nil)
    }

    static func event(_ seq: Int64) -> WireReport {
        WireReport(sequence: seq, kind: .event, time: Timestamp(seconds: seq),
                   event: Event(sequence: seq, time: Timestamp(seconds: seq), station: "st-1", type: .deviceHealth, subject: "1-2:0001:0002",
                                kind: .iris, from: "ok", to: "degraded", reason: "slow"))
    }

    static func snapshot(_ seq: Int64, blanks: Int, printerBlanks: Int? = nil) -> WireReport {
        WireReport(sequence: seq, kind: .snapshot, time: Timestamp(seconds: seq), status: status(seq, blanks: blanks, printerBlanks: printerBlanks))
    }

    @Test func theNewestSnapshotIsReadWholeAndTheOthersForStockAndChecks() throws {
        // Out of order, as a batch may come: the newest is sequence 6, in the middle.
        let sent = Self.batch([Self.snapshot(2, blanks: 900), Self.event(1), Self.snapshot(6, blanks: 700), Self.event(3), Self.snapshot(4, blanks: 800)])
        let bytes = try JSONStyle.encode(sent)
        let read = try JSONStyle.decode(IngestBatch.self, from: bytes).batch
        #expect(read.station == sent.station && read.sentAt == sent.sentAt && read.reports.map(\.sequence) == [2, 1, 6, 3, 4])
        #expect(read.reports.map(\.event) == sent.reports.map(\.event))
        #expect(read.reports[2] == sent.reports[2], "the newest is whole")
        for i in [0, 4] {
            let s = try #require(read.reports[i].status)
            #expect(s.backend == IngestBatch.partial && s.kit.problems.isEmpty)
            #expect(s.station == "st-1" && s.site == Self.site && s.stock == sent.reports[i].status?.stock)
            #expect(s.devices.count == 3)
        }
        // What ingest stores from it is the same: the newest snapshot after ordering, and every stock reading.
        #expect(ReportBatch.normalized(read.reports).last { $0.kind == .snapshot } == ReportBatch.normalized(sent.reports).last { $0.kind == .snapshot })
        #expect(read.reports.compactMap { $0.status?.stock } == sent.reports.compactMap { $0.status?.stock })
    }

    @Test func aSequenceSentTwiceKeepsItsFirstSnapshotWhole() throws {
        let first = Self.snapshot(5, blanks: 100), second = Self.snapshot(5, blanks: 200)
        let read = try JSONStyle.decode(IngestBatch.self, from: try JSONStyle.encode(Self.batch([first, second]))).batch
        #expect(read.reports[0] == first)
        #expect(read.reports[1].status?.backend == IngestBatch.partial)
        #expect(ReportBatch.normalized(read.reports) == [first])
    }

    @Test func anOlderSnapshotsBadBlankCountIsRefusedAsTheWholeReadingRefusesIt() throws {
        let sent = Self.batch([Self.snapshot(1, blanks: 10, printerBlanks: -4), Self.snapshot(2, blanks: 10)])
        let read = try JSONStyle.decode(IngestBatch.self, from: try JSONStyle.encode(sent)).batch
        func message(_ b: ReportBatch) -> String? {
            do { try b.check(from: "st-1"); return nil } catch { return "\(error.status) \(error.message)" }
        }
        #expect(message(read) != nil)
        #expect(message(read) == message(sent))
        #expect(message(read)?.contains("reports[0].status.devices[2].blanks_remaining") == true, "\(message(read) ?? "")")
    }

    @Test func theNewestSnapshotIsCheckedWholeAndAnErrorNamesItsPath() throws {
        var text = String(decoding: try JSONStyle.encode(Self.batch([Self.snapshot(1, blanks: 10), Self.snapshot(2, blanks: 10)])), as: UTF8.self)
        // Break the second (newest) snapshot's kit state.
        let last = try #require(text.ranges(of: "\"state\":\"degraded\"").last)
        text.replaceSubrange(last, with: "\"state\":\"exploded\"")
        #expect(throws: DecodingError.self) { try JSONStyle.decode(IngestBatch.self, from: Array(text.utf8)) }
        do { _ = try JSONStyle.decode(IngestBatch.self, from: Array(text.utf8)) } catch let DecodingError.dataCorrupted(c) {
            #expect(c.codingPath.map(\.stringValue).starts(with: ["reports", "Index 1", "status", "kit", "state"]), "\(c.codingPath.map(\.stringValue))")
        }
    }

    // MARK: BatchReader, the fast path (IngestBatch.read)

    static func slow(_ text: String) -> Result<ReportBatch, any Error> {
        Result { try JSONStyle.decode(IngestBatch.self, from: Array(text.utf8)).batch }
    }

    static func viaRead(_ text: String) -> Result<ReportBatch, any Error> {
        Result { try Array(text.utf8).withUnsafeBytes { try IngestBatch.read($0) }.batch }
    }

    /// Events with every field, escapes, non-ASCII text, args, unknown keys and white space, and
    /// snapshots out of order: the fast reader takes them and gives what JSONDecoder gives.
    @Test func theFastReaderGivesWhatJSONDecoderGives() throws {
        var full = Event(sequence: 7, time: Timestamp(millis: 1_790_000_000_123), station: "st-1", type: .deviceHealth, subject: "1-1:05ba:000a",
                         kind: .cardPrinter, deviceName: "Pencetak \"A\" — kartu 🙂", from: "ok", to: "failed",
                         reason: "tab\tnewline\nbackslash\\ slash / nul\u{00} del\u{7f} 日本")
        full.args = ["port": "1-1", "kind": "camera", "": "empty key"]
        let sent = Self.batch([Self.snapshot(2, blanks: 900), WireReport(sequence: 7, kind: .event, time: Timestamp(millis: 1_790_000_000_123), event: full),
                               Self.snapshot(6, blanks: 700, printerBlanks: 12), Self.event(3), Self.snapshot(4, blanks: 800)])
        let bytes = try JSONStyle.encode(sent)
        let fast = try #require(IngestBatch.readFast(bytes), "the fast reader takes what JSONStyle writes")
        #expect(fast.batch == (try JSONStyle.decode(IngestBatch.self, from: bytes)).batch)
        #expect(fast.batch.reports[1].event == full)
        // The same written by hand: white space everywhere, \u escapes (a surrogate pair too),
        // keys JSONDecoder ignores (of every JSON kind), nulls for optionals, a public key.
        let text = """
         { "station" : "st-1", "extra": {"a": [1, -2.5e+3, true, false, null, "x\\u00e9"]}, "sent_at":"2026-11-30T08:00:00Z",
           "reports": [ {"sequence": 9, "kind": "event", "time": "2026-11-30T08:00:00.5Z", "note": [],
             "event": {"sequence": 9, "time": "2026-11-30T08:00:00.5Z", "station": "st-1", "type": "kit.status", "subject": "kit",
                       "kind": null, "device_name": null, "from": "ready", "to": "degraded", "reason": "caf\\u00e9 \\ud83d\\ude00 \\/ \\b\\f\\r",
                       "code": "kit.degraded", "args": {"x": "1"}, "future_field": {"nested": {"deep": [[]]}}},
             "status": null} ],
           "public_key": "AAAA" }\t\n
        """
        let slow = try Self.slow(text).get()
        let taken = try #require(IngestBatch.readFast(Array(text.utf8)))
        #expect(taken.batch == slow)
        #expect(taken.batch.reports[0].event?.reason == "café 😀 / \u{08}\u{0c}\r")
    }

    /// What the fast reader leaves to JSONDecoder, and what `read` then gives: JSONDecoder's batch
    /// or its error.
    @Test(arguments: [
        // A known key twice (JSONDecoder keeps the first).
        #"{"station":"a","station":"b","sent_at":"2026-11-30T08:00:00Z","reports":[]}"#,
        // A number JSONDecoder may take as an integer, or refuse.
        #"{"station":"a","sent_at":"2026-11-30T08:00:00Z","reports":[{"sequence":1.0,"kind":"event","time":"2026-11-30T08:00:00Z"}]}"#,
        #"{"station":"a","sent_at":"2026-11-30T08:00:00Z","reports":[{"sequence":1e2,"kind":"event","time":"2026-11-30T08:00:00Z"}]}"#,
        #"{"station":"a","sent_at":"2026-11-30T08:00:00Z","reports":[{"sequence":-0,"kind":"event","time":"2026-11-30T08:00:00Z"}]}"#,
        #"{"station":"a","sent_at":"2026-11-30T08:00:00Z","reports":[{"sequence":99999999999999999999,"kind":"event","time":"2026-11-30T08:00:00Z"}]}"#,
        // An escaped key, a lone surrogate.
        #"{"st\u0061tion":"a","sent_at":"2026-11-30T08:00:00Z","reports":[]}"#,
        #"{"station":"\ud800","sent_at":"2026-11-30T08:00:00Z","reports":[]}"#,
        // null where a value is required, an unknown word, a bad time.
        #"{"station":null,"sent_at":"2026-11-30T08:00:00Z","reports":[]}"#,
        #"{"station":"a","sent_at":"2026-11-30T08:00:00Z","reports":[{"sequence":1,"kind":"rumour","time":"2026-11-30T08:00:00Z"}]}"#,
        #"{"station":"a","sent_at":"yesterday","reports":[]}"#,
        // Not JSON: in a key nobody reads, after the end, a trailing comma, a leading zero.
        #"{"station":"a","x":[1,],"sent_at":"2026-11-30T08:00:00Z","reports":[]}"#,
        #"{"station":"a","sent_at":"2026-11-30T08:00:00Z","reports":[]} x"#,
        #"{"station":"a","sent_at":"2026-11-30T08:00:00Z","reports":[],}"#,
        #"{"station":"a","x":01,"sent_at":"2026-11-30T08:00:00Z","reports":[]}"#,
        // Deeper than the fast reader goes.
        #"{"station":"a","x":"# + String(repeating: "[", count: 100) + String(repeating: "]", count: 100) + #","sent_at":"2026-11-30T08:00:00Z","reports":[]}"#,
    ])
    func whatTheFastReaderLeavesJSONDecoderAnswers(_ text: String) throws {
        #expect(IngestBatch.readFast(Array(text.utf8)) == nil, "the fast reader leaves it")
        switch (Self.slow(text), Self.viaRead(text)) {
        case (.success(let a), .success(let b)): #expect(a == b)
        case (.failure(let a), .failure(let b)): #expect("\(a)" == "\(b)", "the same error")
        case (let a, let b): Issue.record("JSONDecoder: \(a), read: \(b)")
        }
    }

    @Test func aByteOrderMarkIsLeftToJSONDecoder() {
        let bytes: [UInt8] = [0xEF, 0xBB, 0xBF] + Array(#"{"station":"a","sent_at":"2026-11-30T08:00:00Z","reports":[]}"#.utf8)
        #expect(IngestBatch.readFast(bytes) == nil)
        let slow = try? JSONStyle.decode(IngestBatch.self, from: bytes).batch
        let read = try? bytes.withUnsafeBytes { try IngestBatch.read($0) }.batch
        #expect(slow == read)
    }
}
