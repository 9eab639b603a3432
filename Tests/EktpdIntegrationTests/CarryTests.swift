import EKTPModel
import EKTPStation
import EKTPPlatform
import EKTPCore
import Foundation
import Glibc
import EKTPTesting
import Testing

/// A station that cannot reach its registry (the URL points at a closed port), with a token file.
func offlineStation(_ reg: RunningRegistry) throws -> RunningDaemon {
    let (file, _) = try tokenFile(reg)
    let daemon = try RunningDaemon(scenario: standardKit, config: """
        registry: {url: "http://127.0.0.1:1", token_file: \(file), \(deliveryTimings)}
        """)
    try daemon.waitReady()
    return daemon
}

/// `ektpd export` into `dir`; the path of the bundle it wrote.
func export(_ daemon: RunningDaemon, to dir: String, since: Int64 = 0, extra: [String] = []) throws -> String {
    let r = try ektpd(["export", "--socket", daemon.socket, "--output", dir, "--since", "\(since)", "--json"] + extra)
    guard r.status == 0 else { throw HarnessError("export failed (\(r.status)): \(r.stderr)") }
    struct Written: Decodable { var path: String }
    return try JSONStyle.decode(Written.self, from: Array(r.stdout.utf8)).path
}

/// The daemon's public key as `openssl pkey -pubout` writes it, in a file.
func publicKeyFile(_ daemon: RunningDaemon, in dir: String) throws -> String {
    let out = dir + "/station.pub"
    let r = run(["openssl", "pkey", "-in", daemon.dir + "/state/station.key", "-pubout", "-out", out])
    guard r.status == 0 else { throw HarnessError("openssl pkey: \(r.stderr)") }
    return out
}

func importBundles(_ reg: RunningRegistry, _ files: [String], extra: [String] = []) -> CommandResult {
    run([registryBinary, "import", "--database", reg.database] + extra + files)
}

func scratchDirectory(_ tag: String) throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ektp-\(tag)-\(UUID().uuidString.prefix(8))").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

/// Issue 16: offline carry.
@Suite(.serialized) struct CarryTests {
    /// A station whose every pending report the registry already holds (a courier brought them,
    /// or a batch was stored and its answer lost) forgets them when the registry answers, and its
    /// status says delivery works at once: no failures, no error, stored through its last report
    /// (found by a helper: the old error and failure count stayed until the next heartbeat).
    @Test func aRegistryThatHoldsEverythingPendingClearsTheFailureAtOnce() throws {
        let scratch = try scratchDirectory("carry-held")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let reg = try RunningRegistry()
        // A port nothing listens on yet: the station's registry address, down for now.
        let port = freeLoopbackPort()
        let (file, _) = try tokenFile(reg)
        let daemon = try RunningDaemon(scenario: standardKit, config: """
            registry: {url: "http://127.0.0.1:\(port)", token_file: \(file), \(deliveryTimings)}
            """)
        try daemon.waitReady()
        _ = try ektpd(["inject", "--socket", daemon.socket, "fingerprint", "unplug"])
        let failing = try daemon.waitForStatus { $0.kit.state == .broken && ($0.delivery?.failures ?? 0) >= 2 && $0.delivery?.lastError != nil }
        // Everything the station numbered reaches the registry by courier.
        let bundle = try export(daemon, to: scratch)
        _ = run([registryBinary, "station", "add", "it-01", "--database", reg.database, "--public-key", try publicKeyFile(daemon, in: scratch)])
        let imported = importBundles(reg, [bundle])
        #expect(imported.status == 0, "\(imported.stdout)\(imported.stderr)")
        // The registry comes up at the station's address (the same database).
        reg.process.terminate()
        reg.process.waitUntilExit()
        let up = try RunningRegistry(extra: ["--listen", "127.0.0.1:\(port)"], database: reg.database)
        #expect(up.port == port)
        let clear = try daemon.waitForStatus { $0.delivery?.pending == 0 }
        #expect(clear.delivery?.failures == 0 && clear.delivery?.lastError == nil, "\(String(describing: clear.delivery))")
        #expect(clear.delivery?.storedThrough == clear.lastSequence && clear.lastSequence >= failing.lastSequence, "\(String(describing: clear.delivery))")
        #expect(daemon.terminate() == 0)
    }

    /// Export while the daemon runs; import at the registry; the station then goes online: no
    /// report is stored twice, none is sent again, and the station's outbox empties.
    @Test func exportImportThenOnlineStoresEachReportOnceAndSendsNoneAgain() throws {
        let scratch = try scratchDirectory("carry")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let reg = try RunningRegistry()
        let first = try offlineStation(reg)
        for fault in ["unplug", "replug", "unplug"] { _ = try ektpd(["inject", "--socket", first.socket, "fingerprint", fault]) }
        let broken = try first.waitForStatus { $0.kit.state == .broken }
        let pendingBefore = try #require(broken.delivery).pending
        let bundle = try export(first, to: scratch)
        #expect(bundle.hasPrefix(scratch + "/ektp-it-01-1-"), "\(bundle)")
        // Export changes nothing in the outbox.
        let (_, after) = try first.status()
        #expect((after?.delivery?.pending ?? -1) >= pendingBefore)

        // No key at the registry yet: held for review, not trusted, nothing stored.
        let held = importBundles(reg, [bundle, bundle])
        #expect(held.status == 0 && held.stdout.contains("held for review"), "\(held.stdout)\(held.stderr)")
        #expect(reg.request("GET", "/v1/stations/it-01").status == 404)
        let listed = run([registryBinary, "import", "--database", reg.database, "--pending"])
        #expect(listed.stdout.contains("station it-01") && listed.stdout.contains("SHA256:"))
        #expect(listed.stdout.split(separator: "\n").count == 1, "the same bundle twice is held once: \(listed.stdout)")
        // The key (as openssl prints it) is added; the held bundle goes in.
        let add = run([registryBinary, "station", "add", "it-01", "--database", reg.database, "--public-key", try publicKeyFile(first, in: scratch)])
        #expect(add.status == 0 && add.stdout.contains("SHA256:"), "\(add.stderr)")
        let retried = run([registryBinary, "import", "--database", reg.database, "--retry-pending"])
        #expect(retried.status == 0 && retried.stdout.contains("new, 0 already known"), "\(retried.stdout)\(retried.stderr)")
        let carried = try reg.get(StationDetail.self, "/v1/stations/it-01")
        #expect(carried.view.condition == .broken, "the centre sees the broken kit through the courier")
        #expect(carried.view.lastCourier != nil && carried.view.lastOnline == nil && !carried.view.silent)
        #expect(carried.publicKeyFingerprint?.hasPrefix("SHA256:") == true)
        // The same bundle again: every report already known.
        let again = importBundles(reg, [bundle])
        #expect(again.stdout.contains(": 0 new, "), "\(again.stdout)")

        // The station goes online (same state, the registry's real address).
        _ = first.terminate()
        let (file, _) = try tokenFile(reg)
        let online = try RunningDaemon(scenario: standardKit, config: """
            registry: {url: "\(reg.url)", token_file: \(file), \(deliveryTimings)}
            """, reuse: first.dir)
        try online.waitReady()
        let (status, detail) = try waitDelivered(online, reg)
        #expect(status.delivery?.pending == 0)
        #expect(detail.view.lastOnline != nil && detail.view.lastCourier != nil)
        let events = try reg.get(EventsReply.self, "/v1/events?station=it-01&limit=5000").events.map(\.event.sequence)
        #expect(Set(events).count == events.count, "a report stored twice")
        // Nothing that came by courier was sent again: the registry counted no duplicate online.
        let metrics = reg.request("GET", "/metrics").body
        #expect(metrics.contains("ektp_registry_reports_duplicate_total 0") || !metrics.contains("ektp_registry_reports_duplicate_total"),
                "\(metrics.split(separator: "\n").filter { $0.contains("duplicate") })")
    }

    /// One byte flipped anywhere, a truncated file, a bundle re-signed with another station's key,
    /// another regency's courier, another station's token: each refused with its reason, nothing stored.
    @Test func damagedForgedAndOutOfScopeBundlesAreRefusedWhole() throws {
        let scratch = try scratchDirectory("forged")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let reg = try RunningRegistry()
        let station = try offlineStation(reg)
        _ = try ektpd(["inject", "--socket", station.socket, "camera", "unplug"])
        _ = try station.waitForStatus { $0.kit.state == .broken }
        let bundle = try export(station, to: scratch)
        let add = run([registryBinary, "station", "add", "it-01", "--database", reg.database, "--public-key", try publicKeyFile(station, in: scratch),
                       "--province", "Kalimantan Barat", "--regency", "Sintang", "--district", "Dedai"])
        #expect(add.status == 0, "\(add.stderr)")
        let good = try Data(contentsOf: URL(fileURLWithPath: bundle))

        func refused(_ bytes: Data, _ name: String, expect: String, extra: [String] = []) throws {
            let path = scratch + "/" + name
            try bytes.write(to: URL(fileURLWithPath: path))
            let r = importBundles(reg, [path], extra: extra)
            #expect(r.status == 1 && r.stdout.contains("refused, nothing stored") && r.stdout.contains(expect), "\(name): \(r.stdout)\(r.stderr)")
            #expect(reg.request("GET", "/v1/stations/it-01").status == 404, "\(name): something was stored")
        }
        // A byte flipped in the file, at the start, in the middle, near the end: gzip's CRC-32 or its stream.
        for at in [12, good.count / 2, good.count - 9] {
            var b = good
            b[at] ^= 0x01
            try refused(b, "flip-\(at).bundle", expect: "not whole gzip")
        }
        try refused(good.prefix(good.count / 2), "truncated.bundle", expect: "not whole gzip")
        // A small file that would inflate to 256 MiB (a zip bomb): refused at the bound, not kept.
        try Data(count: 256 << 20).write(to: URL(fileURLWithPath: scratch + "/bomb"))
        #expect(run(["gzip", "-f", scratch + "/bomb"]).status == 0)
        try refused(try Data(contentsOf: URL(fileURLWithPath: scratch + "/bomb.gz")), "bomb.bundle", expect: "inflates past 64 MiB")
        // Inside the gzip, whole again: a byte of a report (its checksum), a byte of the header (the signature).
        let plain = try BundleExport.inflate(Array(good))
        func regzip(_ text: [UInt8], _ name: String) throws -> Data {
            try Data(text).write(to: URL(fileURLWithPath: scratch + "/" + name))
            #expect(run(["gzip", "-f", scratch + "/" + name]).status == 0)
            return try Data(contentsOf: URL(fileURLWithPath: scratch + "/" + name + ".gz"))
        }
        var report = plain
        let secondLine = plain.firstIndex(of: 0x0A)! + 1
        report[secondLine + 80] ^= 0x01
        try refused(try regzip(report, "report.txt"), "report.bundle", expect: "line 2: the report's checksum does not match")
        var header = plain
        let key = Array("\"created_at\":\"2".utf8)
        let at = try #require((0..<(plain.count - key.count)).first { Array(plain[$0..<($0 + key.count)]) == key })
        header[at + key.count - 1] ^= 0x01  // 2026 becomes 3026: still a time, no longer what was signed
        try refused(try regzip(header, "header.txt"), "header.bundle", expect: "the signature does not match")

        // Re-signed with another station's key, still claiming it-01.
        let otherKey = try StationKey.load(path: scratch + "/other.key", create: true)
        let text = try BundleExport.inflate(Array(good))
        var parsed = try CarryBundle.parse(text, sha256: sha256)
        parsed.header.publicKey = otherKey.publicKeyBase64
        let lines = text.split(separator: 0x0A).dropFirst().dropLast().map { Array($0.dropFirst(65)) }
        let forged = try CarryBundle.compose(header: parsed.header, reports: lines, sha256: sha256, sign: { try otherKey.sign($0) })
        try Data(forged).write(to: URL(fileURLWithPath: scratch + "/forged.txt"))
        #expect(run(["gzip", "-f", scratch + "/forged.txt"]).status == 0)
        try refused(try Data(contentsOf: URL(fileURLWithPath: scratch + "/forged.txt.gz")), "forged.bundle",
                    expect: "not by station it-01's registered key")

        // Uploaded by a courier of another regency, and with another station's token.
        let r2 = try RunningRegistry(database: reg.database)
        let courier = run([registryBinary, "token", "issue", "--database", reg.database, "--courier", "--province", "Riau", "--regency", "Dumai"])
        try (courier.stdout).write(toFile: scratch + "/courier", atomically: true, encoding: .utf8)
        chmod(scratch + "/courier", 0o644)
        let open = run([registryBinary, "import", "--registry", r2.url, "--token", scratch + "/courier", bundle])
        #expect(open.status == 4 && open.stderr.contains("is readable by every user"), "a courier token every user may read: \(open.stderr)")
        chmod(scratch + "/courier", 0o600)
        let up = run([registryBinary, "import", "--registry", r2.url, "--token", scratch + "/courier", bundle])
        #expect(up.status == 1 && up.stdout.contains("outside this courier's Dumai, Riau"), "\(up.stdout)\(up.stderr)")
        try (try r2.token("it-02") + "\n").write(toFile: scratch + "/it-02", atomically: true, encoding: .utf8)
        chmod(scratch + "/it-02", 0o600)
        let other = run([registryBinary, "import", "--registry", r2.url, "--token", scratch + "/it-02", bundle])
        #expect(other.status == 1 && other.stdout.contains("a station uploads only its own"), "\(other.stdout)")
        #expect(reg.request("GET", "/v1/stations/it-01").status == 404)
        // The right regency's courier gets it in.
        let sintang = run([registryBinary, "token", "issue", "--database", reg.database, "--courier", "--province", "Kalimantan Barat", "--regency", "Sintang"])
        try sintang.stdout.write(toFile: scratch + "/sintang", atomically: true, encoding: .utf8)
        chmod(scratch + "/sintang", 0o600)
        let ok = run([registryBinary, "import", "--registry", r2.url, "--token", scratch + "/sintang", bundle])
        #expect(ok.status == 0 && ok.stdout.contains("already known") && ok.stdout.contains(" new,"), "\(ok.stdout)\(ok.stderr)")
        #expect(reg.request("GET", "/v1/stations/it-01").status == 200)
        // A courier token may not deliver reports as a station.
        #expect(r2.request("POST", "/v1/reports", token: sintang.stdout.trimmingCharacters(in: .whitespacesAndNewlines),
                           body: batchJSON("it-01", 900...900)).status == 403)
        // A reinstalled station's new key replaces the old one, and says so; the old key's bundles are then refused.
        try otherKey.publicKeyPEM.write(toFile: scratch + "/other.pub", atomically: true, encoding: .utf8)
        let replace = run([registryBinary, "station", "add", "it-01", "--database", reg.database, "--public-key", scratch + "/other.pub"])
        #expect(replace.status == 0 && replace.stdout.contains("(replaces SHA256:"), "\(replace.stdout)\(replace.stderr)")
        let old = importBundles(reg, [bundle])
        #expect(old.status == 1 && old.stdout.contains("if the station was reinstalled"), "\(old.stdout)")
    }

    /// Two overlapping bundles and one imported twice: each report stored once.
    @Test func overlappingBundlesAndRepeatsStoreEachReportOnce() throws {
        let scratch = try scratchDirectory("overlap")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let reg = try RunningRegistry()
        let station = try offlineStation(reg)
        _ = try ektpd(["inject", "--socket", station.socket, "fingerprint", "unplug"])
        _ = try station.waitForStatus { $0.kit.state == .broken }
        let b1 = try export(station, to: scratch + "/")
        let firstLast = try #require(Int64(b1.split(separator: "-").last!.split(separator: ".").first!))
        _ = try ektpd(["inject", "--socket", station.socket, "fingerprint", "replug"])
        _ = try station.waitForStatus { $0.kit.state == .ready }
        let b2 = try export(station, to: scratch, since: firstLast - 1)
        #expect(b1 != b2)
        _ = run([registryBinary, "station", "add", "it-01", "--database", reg.database, "--public-key", try publicKeyFile(station, in: scratch)])
        let r = importBundles(reg, [b1, b2, b1])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines[1].contains("already known") && !lines[1].contains(" 0 already known"), "the overlap: \(lines[1])")
        #expect(lines[2].contains(": 0 new, "), "\(lines[2])")
        let d = try reg.get(StationDetail.self, "/v1/stations/it-01")
        let events = try reg.get(EventsReply.self, "/v1/events?station=it-01&limit=5000").events.map(\.event.sequence)
        #expect(Set(events).count == events.count)
        let lastOfB2 = try #require(Int64(b2.split(separator: "-").last!.split(separator: ".").first!))
        #expect(d.view.storedThrough == lastOfB2)
    }

    /// Export to a full disk and to a read-only one: a clear error, no file left, the outbox untouched.
    @Test func exportToAFullOrReadOnlyDiskSaysSoAndChangesNothing() throws {
        guard getuid() == 0 else {
            print("SKIPPED exportToAFullOrReadOnlyDisk...: mounting a tmpfs needs root (CI runs as root)")
            return
        }
        let scratch = try scratchDirectory("stick")
        defer { _ = system("umount '\(scratch)/stick' 2>/dev/null"); try? FileManager.default.removeItem(atPath: scratch) }
        try FileManager.default.createDirectory(atPath: scratch + "/stick", withIntermediateDirectories: true)
        guard system("mount -t tmpfs -o size=4k tmpfs '\(scratch)/stick'") == 0 else {
            print("SKIPPED exportToAFullOrReadOnlyDisk...: cannot mount a tmpfs here")
            return
        }
        // The stick is full: one page, taken by another file.
        _ = system("dd if=/dev/zero of='\(scratch)/stick/photos' bs=4k count=1 2>/dev/null")
        let reg = try RunningRegistry()
        let station = try offlineStation(reg)
        for _ in 0..<20 {
            _ = try ektpd(["inject", "--socket", station.socket, "fingerprint", "unplug"])
            _ = try ektpd(["inject", "--socket", station.socket, "fingerprint", "replug"])
        }
        _ = try station.waitForStatus { ($0.delivery?.pending ?? 0) > 30 }
        let (_, before) = try station.status()
        let full = try ektpd(["export", "--socket", station.socket, "--output", scratch + "/stick"])
        #expect(full.status == 1 && full.stderr.contains("is full"), "\(full.stdout)\(full.stderr)")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: scratch + "/stick")) ?? ["?"]) == ["photos"], "a partial file was left")
        #expect(system("mount -o remount,ro,size=1m '\(scratch)/stick'") == 0)
        let ro = try ektpd(["export", "--socket", station.socket, "--output", scratch + "/stick"])
        #expect(ro.status == 1 && ro.stderr.contains("read-only"), "\(ro.stdout)\(ro.stderr)")
        // A mount point that is not there: an error, not a file named like it.
        let missing = try ektpd(["export", "--socket", station.socket, "--output", scratch + "/not-mounted"])
        #expect(missing.status == 1 && missing.stderr.contains("no such directory (is the USB stick mounted there?)"), "\(missing.stderr)")
        #expect(!FileManager.default.fileExists(atPath: scratch + "/not-mounted"))
        let (_, after) = try station.status()
        #expect(after?.delivery?.pending ?? -1 >= before?.delivery?.pending ?? 0, "the outbox changed")
        // Stopped, the same export reads the outbox read-only and writes elsewhere.
        _ = station.terminate()
        let offline = try ektpd(["export", "--socket", station.socket, "--config", station.dir + "/ektpd.yaml", "--output", scratch])
        #expect(offline.status == 0 && offline.stdout.contains("wrote \(scratch)/ektp-it-01-1-"), "\(offline.stdout)\(offline.stderr)")
    }
}
