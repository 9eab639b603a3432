// Registry and outbox benchmarks: `swift run -c release ektp-bench [postgres://...]`, used by Benchmarks/run.py.
// Prints one JSON object of results.
import EKTPModel
import EKTPRegistry
import EKTPStation
import Foundation
import GRDB
import Hummingbird
import HummingbirdTesting
import Logging

func now() -> Double { Date().timeIntervalSince1970 }
let T0 = Timestamp(seconds: 1_790_000_000)

func batches(station: String, count: Int, size: Int) -> [ReportBatch] {
    var out: [ReportBatch] = []
    var seq: Int64 = 0
    while seq < Int64(count) {
        var reports: [WireReport] = []
        for _ in 0..<size {
            seq += 1
            let e = Event(sequence: seq, time: T0, station: station, type: .deviceHealth, subject: "1-1:05ba:000a",
                          kind: .fingerprint, from: "ok", to: "failed", reason: "no response to GET_STATUS: replug it or check the cable")
            reports.append(WireReport(sequence: seq, kind: .event, time: T0, event: e))
        }
        out.append(ReportBatch(station: station, sentAt: T0, reports: reports))
    }
    return out
}

/// Registry ingest against fair raw baselines of the same rows, same durability (issue 17): the
/// rows encoded before the clock starts, then per batch of 500 one transaction of multi-row INSERTs
/// (250 rows a statement, as ingest does), and on PostgreSQL also `COPY ... FROM STDIN`.
func ingest(url: String, copy: ((any RegistryStore, [[[SQLValue]]]) async throws -> Void)? = nil) async throws -> [String: Double] {
    let store = try await StoreURL.open(url)
    let registry = Registry(store: store)
    try await registry.migrate(now: T0)
    let n = 20_000
    let input = batches(station: "bench", count: n, size: 500)
    var t = now()
    for b in input { _ = try await registry.ingest(b, from: "bench", receivedAt: T0) }
    let ingestRate = Double(n) / (now() - t)
    let columns = "station, seq, kind, time, received_at, type, body"
    _ = try await store.transaction([SQLStatement("CREATE TABLE raw_reports (station TEXT, seq BIGINT, kind TEXT, time BIGINT, received_at BIGINT, type TEXT, body TEXT, UNIQUE (station, seq))")])
    // Encoded outside the timed loop: the baseline is the database's work only.
    let rows = batches(station: "raw", count: n, size: 500).map(rawRows)
    t = now()
    for batch in rows {
        var statements: [SQLStatement] = []
        for chunk in stride(from: 0, to: batch.count, by: 250).map({ Array(batch[$0..<min($0 + 250, batch.count)]) }) {
            let values = Array(repeating: "(?, ?, ?, ?, ?, ?, ?)", count: chunk.count).joined(separator: ", ")
            statements.append(SQLStatement("INSERT INTO raw_reports (\(columns)) VALUES \(values)", chunk.flatMap { $0 }))
        }
        _ = try await store.transaction(statements)
    }
    let rawRate = Double(n) / (now() - t)
    var out = ["ingest_per_s": ingestRate, "raw_per_s": rawRate, "ratio": ingestRate / rawRate]
    if let copy {
        _ = try await store.transaction([SQLStatement("TRUNCATE raw_reports")])
        let copyRows = batches(station: "copy", count: n, size: 500).map(rawRows)
        t = now()
        try await copy(store, copyRows)
        let copyRate = Double(n) / (now() - t)
        out["copy_per_s"] = copyRate
        out["copy_ratio"] = ingestRate / copyRate
    }
    await store.close()
    return out
}

/// Reading a batch's request body (issue 17, item 2): 200 reports, every fifth a snapshot of a
/// 6-device kit, as JSON; `ReportBatch` read whole against `IngestBatch` (the registry's reading:
/// older snapshots partially), interleaved, 21 rounds of 50 batches; medians in us per report.
func decoding() throws -> [String: Double] {
    func dev(_ kind: DeviceKind, _ port: String) -> DeviceStatus {
        DeviceStatus(device: DeviceSnapshot(id: DeviceID(portPath: port, vendorID: 0x05ba, productID: 0x000a), kind: kind, kindSource: "catalogue",
                                            vendorID: 0x05ba, productID: 0x000a, name: "DigitalPersona U.are.U 4500", manufacturer: "DigitalPersona",
                                            serial: "SN-\(port)", portPath: port, busNumber: 1, deviceNumber: 4, speed: .full,
                                            nodes: ["/dev/bus/usb/001/004"]),
                     health: .ok, since: T0, lastProbe: T0)
    }
    let kit = [dev(.fingerprint, "1-1"), dev(.iris, "1-2"), dev(.camera, "1-3"), dev(.signaturePad, "1-4"), dev(.cardPrinter, "1-5"), dev(.cardReader, "1-6")]
    var reports: [WireReport] = []
    for seq in Int64(1)...200 {
        if seq % 5 == 0 {
            let status = StationStatus(station: "bench", site: Site(province: "Kalimantan Barat", regency: "Sintang", district: "Dedai"), backend: "libusb",
                                       kit: KitStatus(state: .ready, problems: [], since: T0), devices: kit, lastSequence: seq, startedAt: T0, now: T0,
                                       version: "1.0", stock: StockStatus(blanks: 2000, source: .printer, updatedAt: T0))
            reports.append(WireReport(sequence: seq, kind: .snapshot, time: T0, status: status))
        } else {
            reports.append(WireReport(sequence: seq, kind: .event, time: T0,
                                      event: Event(sequence: seq, time: T0, station: "bench", type: .deviceHealth, subject: "1-1:05ba:000a",
                                                   kind: .fingerprint, from: "ok", to: "failed", reason: "no response to GET_STATUS: replug it or check the cable")))
        }
    }
    let body = try JSONStyle.encode(ReportBatch(station: "bench", sentAt: T0, reports: reports))
    var whole: [Double] = [], ingest: [Double] = [], fast: [Double] = []
    precondition(IngestBatch.readFast(body) != nil, "the fast reader takes what stations send")
    for _ in 0..<21 {
        var t = now()
        for _ in 0..<50 { let n = try JSONStyle.decode(ReportBatch.self, from: body).reports.count; precondition(n == 200) }
        whole.append((now() - t) / 10_000 * 1e6)
        t = now()
        for _ in 0..<50 { let n = try JSONStyle.decode(IngestBatch.self, from: body).batch.reports.count; precondition(n == 200) }
        ingest.append((now() - t) / 10_000 * 1e6)
        t = now()
        for _ in 0..<50 { let n = try body.withUnsafeBytes { try IngestBatch.read($0) }.batch.reports.count; precondition(n == 200) }
        fast.append((now() - t) / 10_000 * 1e6)
    }
    return ["whole_us_per_report": whole.sorted()[10], "ingest_us_per_report": ingest.sorted()[10],
            "fast_us_per_report": fast.sorted()[10], "body_kib": Double(body.count) / 1024]
}

/// One batch's rows for the raw baselines: what ingest stores for each report.
func rawRows(_ b: ReportBatch) -> [[SQLValue]] {
    let enc = JSONStyle.encoder()
    return b.reports.map { r in
        [.text(b.station), .int(r.sequence), .text("event"), .int(r.time.millis), .int(T0.millis),
         .text(r.event!.type.rawValue), .text(String(decoding: try! enc.encode(r.event!), as: UTF8.self))]
    }
}

func fleet(url: String) async throws -> [String: Double] {
    let store = try await StoreURL.open(url)
    let registry = Registry(store: store)
    try await registry.migrate(now: T0)
    // 15,000 stations in 7,300 districts (about 500 regencies in 38 provinces); 500 printing offices.
    var statements: [SQLStatement] = []
    let conditions = ["ready", "ready", "ready", "degraded", "broken", "unknown"]
    for i in 0..<15_000 {
        let district = i % 7_300
        let regency = district % 514
        let province = regency % 38
        let blanks: SQLValue = i < 500 ? .int(Int64(2000 + i)) : .null
        statements.append(SQLStatement("""
            INSERT INTO stations (id, province, regency, district, first_heard, last_heard, condition, not_pulled, blanks, blanks_source, blanks_at, printers, printers_working)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [.text("st-\(i)"), .text("Province \(province)"), .text("Regency \(regency)"), .text("District \(district)"),
                  .int(T0.millis), .int(T0.millis - Int64(i % 7) * 1_800_000), .text(conditions[i % conditions.count]),
                  .int(Int64(i % 9 == 0 ? 1 : 0)), blanks, i < 500 ? .text("operator") : .null, i < 500 ? .int(T0.millis) : .null,
                  .int(i < 500 ? 4 : 0), .int(i < 500 ? 3 : 0)]))
        if i < 500 {
            for d in 0..<8 {
                statements.append(SQLStatement("INSERT INTO stock_days (station, day, time, blanks) VALUES (?, ?, ?, ?)",
                                               [.text("st-\(i)"), .int(T0.millis / 86_400_000 - Int64(d)), .int(T0.millis - Int64(d) * 86_400_000), .int(Int64(2000 + i + d * 300))]))
            }
        }
    }
    for chunk in stride(from: 0, to: statements.count, by: 2000) {
        _ = try await store.transaction(Array(statements[chunk..<min(chunk + 2000, statements.count)]))
    }
    var times: [Double] = []
    var encodeTimes: [Double] = []
    var summary: FleetSummary?
    for _ in 0..<21 {
        let t = now()
        let s = try await registry.fleet(at: T0)
        let t2 = now()
        _ = s.jsonBytes()  // what GET /v1/fleet writes (FleetJSON.swift)
        encodeTimes.append((now() - t2) * 1000)
        times.append((t2 - t) * 1000)
        summary = s
    }
    // The first read of a minute: the fleet index is loaded from the database, then counted.
    var coldTimes: [Double] = []
    for i in 0..<21 {
        let t = now()
        _ = try await registry.fleet(at: T0, now: T0.adding(.seconds(Int64(60 * (i + 1)))))
        coldTimes.append((now() - t) * 1000)
    }
    // Where the summary's time goes: the counts from the index, the same GROUP BY in the database
    // (what the index replaced), and the stock views alone.
    var talliesTimes: [Double] = [], storedTimes: [Double] = [], stockTimes: [Double] = []
    for _ in 0..<21 {
        let t0 = now()
        _ = try await registry.storedTallies(at: T0, by: ["province", "regency", "district"])
        storedTimes.append((now() - t0) * 1000)
        let t = now()
        _ = try await registry.tallies(at: T0, by: ["province", "regency", "district"])
        let t2 = now()
        _ = try await registry.stock(at: T0)
        stockTimes.append((now() - t2) * 1000)
        talliesTimes.append((t2 - t) * 1000)
    }
    // A Prometheus scrape of the registry: tallies by regency, the stock views, the text.
    let metrics = RegistryMetrics()
    var scrapeTimes: [Double] = []
    var scrapeBytes = 0
    for _ in 0..<21 {
        let t = now()
        let regencies = try await registry.tallies(at: T0, by: ["province", "regency"])
        var total = FleetTally()
        for r in regencies { total.add(r.tally) }
        scrapeBytes = metrics.render(total: total, regencies: regencies, stock: try await registry.stock(at: T0)).count
        scrapeTimes.append((now() - t) * 1000)
    }
    let dashboard = try await dashboardPages(registry: registry, store: store)
    await store.close()
    precondition(scrapeBytes > 100_000)
    precondition(summary?.tally.stations == 15_000)
    precondition(summary!.provinces.reduce(0) { $0 + $1.regencies.reduce(0) { $0 + $1.districts.count } } == 7_300)
    return ["fleet_ms_median": times.sorted()[10], "fleet_json_ms_median": encodeTimes.sorted()[10],
            "fleet_tallies_ms_median": talliesTimes.sorted()[10], "fleet_stock_ms_median": stockTimes.sorted()[10],
            "fleet_stored_tallies_ms_median": storedTimes.sorted()[10], "fleet_first_of_minute_ms_median": coldTimes.sorted()[10],
            "metrics_ms_median": scrapeTimes.sorted()[10], "metrics_kib": Double(scrapeBytes) / 1024].merging(dashboard) { a, _ in a }
}

/// The dashboard's Overview and Cannot-enrol pages for the 15,000 stations `fleet` made (issue 15:
/// overview under 300 KB and 200 ms): a broken device for each station that cannot enrol, a
/// national viewer logged in, 21 requests of each page over real HTTP on loopback; medians.
func dashboardPages(registry: Registry, store: any RegistryStore) async throws -> [String: Double] {
    let broken = try await store.query(SQLStatement("SELECT id FROM stations WHERE condition = 'broken'"))
    var statements: [SQLStatement] = []
    let kinds: [(String, String)] = [("fingerprint", "U.are.U 4500 Fingerprint Reader"), ("iris", "IriShield USB MK 2120U"),
                                     ("camera", "HD Pro Webcam C920"), ("signature_pad", "Topaz SignatureGem 1X5-HID Pad")]
    for (i, r) in broken.enumerated() {
        let (kind, model) = kinds[i % kinds.count]
        statements.append(SQLStatement("""
            INSERT INTO device_problems (station, device, kind, model, port, health, severity, reason, since) VALUES (?, ?, ?, ?, '1-1', 'failed', 'broken', ?, ?)
            """, [r[0], .text("1-1:05ba:000a"), .text(kind), .text(model),
                  .text("\(model) at 1-1 failed: no response to GET_STATUS: replug it or check the cable"), .int(T0.millis - Int64(i) * 60_000)]))
    }
    for chunk in stride(from: 0, to: statements.count, by: 2000) {
        _ = try await store.transaction(Array(statements[chunk..<min(chunk + 2000, statements.count)]))
    }
    try await registry.addUser(name: "bench", password: "benchmark-password", scope: .national, now: T0, cost: 4)
    let (session, _) = try await registry.login(name: "bench", password: "benchmark-password", now: Timestamp(millis: Int64(now() * 1000)))
    let router = RegistryHTTP.router(registry: registry, clock: .init(now: { T0 }), logger: Logger(label: "bench"))
    return try await Application(router: router).test(.live) { client in
        var out: [String: Double] = [:]
        for (name, path) in [("overview", "/"), ("cannot_enrol", "/cannot-enrol")] {
            var times: [Double] = []
            var bytes = 0
            for _ in 0..<21 {
                let t = now()
                let r = try await client.execute(uri: path, method: .get, headers: [.cookie: "ektp_session=\(session)"])
                times.append((now() - t) * 1000)
                precondition(r.status == .ok, "\(path): \(r.status)")
                bytes = r.body.readableBytes
            }
            out["dashboard_\(name)_ms_median"] = times.sorted()[10]
            out["dashboard_\(name)_kib"] = Double(bytes) / 1024
        }
        // GET /v1/fleet over HTTP (issue 17, item 5): with `at`, built by every request (what a read
        // right after an ingest costs); without, the fleet now, built once per minute and ingest.
        for (name, path) in [("built", "/v1/fleet?at=\(T0.rfc3339)"), ("now", "/v1/fleet")] {
            var times: [Double] = []
            for _ in 0..<21 {
                let t = now()
                let r = try await client.execute(uri: path, method: .get, headers: [.cookie: "ektp_session=\(session)"])
                times.append((now() - t) * 1000)
                precondition(r.status == .ok && r.body.readableBytes > 500_000, "\(path): \(r.status), \(r.body.readableBytes) bytes")
            }
            out["fleet_http_\(name)_ms_median"] = times.sorted()[10]
        }
        return out
    }
}

func outbox() throws -> [String: Double] {
    let dir = NSTemporaryDirectory() + "ektp-bench-outbox-\(getpid())"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let o = try Outbox(path: dir + "/outbox.sqlite3")
    let n = 2000
    let t = now()
    for i in 1...n {
        try o.append(Event(sequence: Int64(i), time: T0, station: "bench", type: .deviceHealth, subject: "1-1:05ba:000a",
                           kind: .fingerprint, from: "ok", to: "failed", reason: "no response"))
    }
    let appends = Double(n) / (now() - t)
    // The journal: number, encode, append with synchronous=FULL, keep in the ring, fan out; the only
    // way a station report comes into being (issue 12).
    let journal = EventJournal(outbox: try Outbox(path: dir + "/journal.sqlite3"), stationID: "bench")
    let stream = journal.subscribe()
    let t2 = now()
    for _ in 1...n {
        journal.record(Event(sequence: 0, time: T0, station: "bench", type: .deviceHealth, subject: "1-1:05ba:000a",
                             kind: .fingerprint, from: "ok", to: "failed", reason: "no response"))
    }
    let recorded = Double(n) / (now() - t2)
    journal.finish()
    _ = stream
    precondition(journal.lastSequence == Int64(n))
    return ["outbox_appends_per_s": appends, "journal_events_per_s": recorded]
}

var results: [String: [String: Double]] = [:]
let dir = NSTemporaryDirectory() + "ektp-bench-\(getpid())"
try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: dir) }
// EKTP_BENCH_ONLY=postgres_ingest,sqlite_fleet runs only those parts (to profile one with perf).
let only = ProcessInfo.processInfo.environment["EKTP_BENCH_ONLY"].map { Set($0.split(separator: ",").map(String.init)) }
func wanted(_ part: String) -> Bool { only?.contains(part) ?? true }
if wanted("sqlite_ingest") {
    FileHandle.standardError.write(Data("ingest (SQLite)...\n".utf8))
    results["sqlite_ingest"] = try await ingest(url: "sqlite:\(dir)/ingest.sqlite3")
}
if wanted("sqlite_fleet") {
    FileHandle.standardError.write(Data("fleet summary (SQLite, 15,000 stations)...\n".utf8))
    results["sqlite_fleet"] = try await fleet(url: "sqlite:\(dir)/fleet.sqlite3")
}
if wanted("decoding") {
    FileHandle.standardError.write(Data("decoding batches...\n".utf8))
    results["decoding"] = try decoding()
}
if wanted("outbox") {
    FileHandle.standardError.write(Data("outbox appends...\n".utf8))
    results["outbox"] = try outbox()
}
if CommandLine.arguments.count > 2 && wanted("postgres_ingest") {
    FileHandle.standardError.write(Data("ingest (PostgreSQL)...\n".utf8))
    results["postgres_ingest"] = try await ingest(url: CommandLine.arguments[1]) { store, batches in
        // One COPY per batch of 500, each its own transaction, as ingest commits per batch.
        guard let pg = store as? PostgresStore else { return }
        for rows in batches {
            try await pg.copy(into: "raw_reports", columns: ["station", "seq", "kind", "time", "received_at", "type", "body"], rows: rows)
        }
    }
}
if CommandLine.arguments.count > 2 && wanted("postgres_fleet") {
    FileHandle.standardError.write(Data("fleet (PostgreSQL)...\n".utf8))
    results["postgres_fleet"] = try await fleet(url: CommandLine.arguments[2])
}
print(String(decoding: try JSONSerialization.data(withJSONObject: results, options: [.sortedKeys, .prettyPrinted]), as: UTF8.self))
