import EKTPModel
import EKTPStation
import EKTPPlatform
import EKTPCore
import Foundation
import Glibc
import EKTPTesting
import Testing

/// The test PKI (helpers/make-test-pki.sh, openssl), made once per test run: the centre's CA, a
/// server certificate for localhost and 127.0.0.1, one for another name, an expired one, a renewed
/// one, one from another CA, and a station's client certificate.
let testPKI: String = {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ektp-pki-\(getpid())").path
    let r = run(["bash", repoRoot + "/Tests/EktpdIntegrationTests/helpers/make-test-pki.sh", dir])
    precondition(r.status == 0, "make-test-pki.sh failed: \(r.stderr)")
    return dir
}()

func pki(_ name: String) -> String { testPKI + "/" + name }
func pin(_ name: String) throws -> String {
    try String(contentsOfFile: pki(name + ".pin"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
}

/// `ektp-registry serve` over HTTPS with `cert` (a name in the PKI), optionally requiring client
/// certificates; the test's own requests trust the centre's CA (and carry the station's certificate).
func tlsRegistry(cert: String = "server", requireClientCertificates: Bool = false, database: String? = nil) throws -> RunningRegistry {
    var extra = ["--tls-cert", pki(cert + ".crt"), "--tls-key", pki(cert + ".key")]
    if requireClientCertificates { extra += ["--client-ca", pki("client-ca.crt")] }
    let reg = try RunningRegistry(extra: extra, database: database)
    reg.clientSettings.caFile = pki("centre-ca.crt")
    if requireClientCertificates {
        reg.clientSettings.clientCert = pki("station.crt")
        reg.clientSettings.clientKey = pki("station.key")
    }
    return reg
}

/// A token for it-01 in a file only its owner reads (as check-config demands).
func tokenFile(_ reg: RunningRegistry) throws -> (path: String, token: String) {
    let token = try reg.token("it-01")
    let path = reg.dir + "/token"
    try (token + "\n").write(toFile: path, atomically: true, encoding: .utf8)
    chmod(path, 0o600)
    return (path, token)
}

/// Waits until the registry holds everything the daemon numbered (and the daemon says so).
func waitDelivered(_ daemon: RunningDaemon, _ reg: RunningRegistry, seconds: Double = 30,
                   until: (StationDetail) -> Bool = { _ in true }) throws -> (StationStatus, StationDetail) {
    let deadline = Date().addingTimeInterval(seconds)
    var last: (StationStatus?, StationDetail?) = (nil, nil)
    while Date() < deadline {
        let (_, s) = try daemon.status()
        let d = try? reg.get(StationDetail.self, "/v1/stations/it-01")
        last = (s, d)
        if let s, let d, s.delivery?.pending == 0, d.view.storedThrough == s.lastSequence, s.delivery?.lastError == nil, until(d) { return (s, d) }
        usleep(100_000)
    }
    throw HarnessError("not delivered: daemon \(last.0?.lastSequence ?? -1) pending \(last.0?.delivery?.pending ?? -1) error \(last.0?.delivery?.lastError ?? "none"), registry \(last.1?.view.storedThrough ?? -1)")
}

/// A TCP relay on loopback that records every byte both ways: what a carrier (or tcpdump) sees.
final class RecordingRelay: @unchecked Sendable {
    let port: UInt16
    private let listener: Int32
    private let lock = NSLock()
    private var bytes: [UInt8] = []
    private var stopped = false

    init(to target: UInt16) throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, len) } }
        listen(listener, 16)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &len) } }
        port = UInt16(bigEndian: addr.sin_port)
        self.listener = listener
        Thread.detachNewThread { [self] in
            while true {
                let c = accept(listener, nil, nil)
                if c < 0 { return }
                Thread.detachNewThread { self.pump(c, target) }
            }
        }
    }

    private func pump(_ client: Int32, _ target: UInt16) {
        let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = target.bigEndian
        let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        defer { close(client); close(upstream) }
        guard ok == 0 else { return }
        var fds = [pollfd(fd: client, events: Int16(POLLIN), revents: 0), pollfd(fd: upstream, events: Int16(POLLIN), revents: 0)]
        var buf = [UInt8](repeating: 0, count: 65536)
        while poll(&fds, 2, 60_000) > 0 {
            for (i, f) in fds.enumerated() where f.revents != 0 {
                let n = read(f.fd, &buf, buf.count)
                if n <= 0 { return }
                lock.withLock { bytes += buf[0..<n] }
                var off = 0
                while off < n {
                    let w = buf[off..<n].withUnsafeBytes { write(fds[1 - i].fd, $0.baseAddress, $0.count) }
                    if w <= 0 { return }
                    off += w
                }
            }
        }
    }

    var recorded: [UInt8] { lock.withLock { bytes } }

    func contains(_ text: String) -> Bool {
        let needle = Array(text.utf8), hay = recorded
        guard !needle.isEmpty, hay.count >= needle.count else { return false }
        for i in 0...(hay.count - needle.count) where hay[i] == needle[0] && Array(hay[i..<(i + needle.count)]) == needle { return true }
        return false
    }

    deinit { shutdown(listener, Int32(SHUT_RDWR)); close(listener) }
}

let deliveryTimings = "snapshot_spacing: 0s, heartbeat: 1h, backoff_base: 50ms, backoff_max: 300ms"

/// Issue 14: station to centre over TLS, through libcurl, against the registry's own HTTPS.
@Suite(.serialized) struct TLSTests {
    enum Trust: String, CaseIterable, CustomTestStringConvertible, Sendable {
        case caFile, pinnedKey, clientCertificate
        var testDescription: String { rawValue }
    }

    /// The station delivers over HTTPS trusting only the centre's CA; with the key pinned; with a
    /// client certificate where the registry requires one.
    @Test(arguments: Trust.allCases) func theStationDeliversOverHTTPS(_ trust: Trust) throws {
        let reg = try tlsRegistry(requireClientCertificates: trust == .clientCertificate)
        let (file, _) = try tokenFile(reg)
        var tlsKeys = "ca_file: \(pki("centre-ca.crt"))"
        if trust == .pinnedKey { tlsKeys += ", pinned_public_key: \"\(try pin("server"))\"" }
        if trust == .clientCertificate { tlsKeys += ", client_cert: \(pki("station.crt")), client_key: \(pki("station.key"))" }
        let daemon = try RunningDaemon(scenario: standardKit, config: """
            registry: {url: "\(reg.url)", token_file: \(file), \(tlsKeys), \(deliveryTimings)}
            """)
        try daemon.waitReady()
        #expect(try ektpd(["inject", "--socket", daemon.socket, "fingerprint", "unplug"]).status == 0)
        _ = try daemon.waitForStatus { $0.kit.state == .broken }
        // The registry's view follows the snapshot taken after the kit broke.
        let (status, detail) = try waitDelivered(daemon, reg) { $0.view.condition == .broken }
        #expect(detail.view.condition == .broken)
        #expect(status.delivery?.registry == reg.url && status.delivery?.failures == 0)
        // Issue 16: the station's key came with its first online delivery.
        #expect(detail.publicKeyFingerprint?.hasPrefix("SHA256:") == true)
    }

    struct Refusal: CustomTestStringConvertible, Sendable {
        var name: String
        var serverCertificate: String
        var requireClientCertificates = false
        var stationTLS: String
        var expected: [String]
        var testDescription: String { name }
    }

    static let refusals: [Refusal] = [
        Refusal(name: "another CA", serverCertificate: "untrusted", stationTLS: "ca_file: CA",
                expected: [": certificate is not trusted (", "set registry.ca_file to the centre's CA"]),
        Refusal(name: "the system store only", serverCertificate: "server", stationTLS: "",
                expected: [": certificate is not trusted (unable to get local issuer certificate): set registry.ca_file"]),
        Refusal(name: "wrong name", serverCertificate: "wrong-name", stationTLS: "ca_file: CA",
                expected: [": the certificate's name does not match localhost"]),
        Refusal(name: "expired", serverCertificate: "expired", stationTLS: "ca_file: CA",
                expected: [": certificate expired on 2025-11-01"]),
        Refusal(name: "pinned key mismatch", serverCertificate: "server", stationTLS: "ca_file: CA, pinned_public_key: \"PIN\"",
                expected: [": the server's public key does not match registry.pinned_public_key"]),
        Refusal(name: "client certificate missing", serverCertificate: "server", requireClientCertificates: true, stationTLS: "ca_file: CA",
                expected: [" requires a client certificate: set registry.client_cert and registry.client_key"]),
    ]

    /// Each refusal is named with its cause and the setting that fixes it, and nothing reaches the
    /// registry: it holds no report of the station afterwards.
    @Test(arguments: refusals) func aRefusedConnectionNamesItsCauseAndSendsNothing(_ r: Refusal) throws {
        let reg = try tlsRegistry(cert: r.serverCertificate, requireClientCertificates: r.requireClientCertificates)
        let (file, _) = try tokenFile(reg)
        let tlsKeys = r.stationTLS.replacingOccurrences(of: "CA", with: pki("centre-ca.crt"))
            .replacingOccurrences(of: "PIN", with: try pin("untrusted"))
        let daemon = try RunningDaemon(scenario: standardKit, config: """
            registry: {url: "\(reg.url)", token_file: \(file)\(tlsKeys.isEmpty ? "" : ", " + tlsKeys), \(deliveryTimings)}
            """)
        try daemon.waitReady()
        let s = try daemon.waitForStatus { ($0.delivery?.failures ?? 0) >= 2 }
        let error = s.delivery?.lastError ?? ""
        #expect(error.hasPrefix("localhost:\(reg.port)"), "\(error)")
        for e in r.expected { #expect(error.contains(e), "\(error)") }
        // Nothing was stored: the same database served in clear has never heard of it-01.
        let registryURL = reg.url
        _ = daemon.terminate()
        withExtendedLifetime(reg) {}
        let plain = try RunningRegistry(database: reg.database)
        #expect(plain.request("GET", "/v1/stations/it-01").status == 404, "a report reached \(registryURL)")
    }

    /// What crosses the network: through a recording relay the token never shows under HTTPS; the
    /// same relay in front of plain HTTP shows it (so the relay does record), with a gzip'd body.
    @Test func aRelayBetweenStationAndRegistrySeesNoByteOfTheToken() throws {
        for https in [true, false] {
            let reg = https ? try tlsRegistry() : try RunningRegistry()
            let (file, token) = try tokenFile(reg)
            let relay = try RecordingRelay(to: reg.port)
            let url = https ? "https://localhost:\(relay.port)" : "http://127.0.0.1:\(relay.port)"
            let daemon = try RunningDaemon(scenario: standardKit, config: """
                registry: {url: "\(url)", token_file: \(file), ca_file: \(pki("centre-ca.crt")), \(deliveryTimings)}
                """)
            try daemon.waitReady()
            _ = try ektpd(["inject", "--socket", daemon.socket, "camera", "unplug"])
            _ = try waitDelivered(daemon, reg)
            #expect(relay.recorded.count > 1000)
            if https {
                #expect(!relay.contains(token), "the token crossed the relay in clear")
                #expect(!relay.contains("Bearer") && !relay.contains("it-01") && !relay.contains("Sintang"))
            } else {
                #expect(relay.contains("Bearer " + token), "the relay records what it carries")
                #expect(relay.contains("Content-Encoding: gzip"))
                #expect(!relay.contains("Sintang"), "the body went gzip'd")
            }
        }
    }

    /// A renewed certificate is read on SIGHUP while a station keeps delivering: nothing is lost,
    /// and new connections get the new certificate.
    @Test func theRegistryReloadsItsCertificateOnSIGHUPWithoutLosingAReport() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ektp-renew-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func install(_ name: String) throws {
            for ext in ["crt", "key"] {
                try? FileManager.default.removeItem(atPath: "\(dir)/tls.\(ext).tmp")
                try FileManager.default.copyItem(atPath: pki("\(name).\(ext)"), toPath: "\(dir)/tls.\(ext).tmp")
                rename("\(dir)/tls.\(ext).tmp", "\(dir)/tls.\(ext)")
            }
        }
        try install("server")
        let reg = try RunningRegistry(extra: ["--tls-cert", dir + "/tls.crt", "--tls-key", dir + "/tls.key"])
        reg.clientSettings.caFile = pki("centre-ca.crt")
        let (file, _) = try tokenFile(reg)
        let daemon = try RunningDaemon(scenario: standardKit, config: """
            registry: {url: "\(reg.url)", token_file: \(file), ca_file: \(pki("centre-ca.crt")), \(deliveryTimings), batch_size: 2}
            """)
        try daemon.waitReady()
        func servedBy(_ name: String) throws -> Bool {
            var s = HTTPClientSettings(section: "test")
            s.caFile = pki("centre-ca.crt")
            s.pinnedPublicKey = try pin(name)
            return (try? HTTPClient(settings: s).request("GET", HTTPURL(reg.url)!, path: "/healthz", timeout: .seconds(5)).get().status) == 200
        }
        #expect(try servedBy("server") && !servedBy("renewed"))
        for (i, fault) in ["unplug", "replug", "unplug", "replug", "unplug", "replug"].enumerated() {
            #expect(try ektpd(["inject", "--socket", daemon.socket, "fingerprint", fault]).status == 0)
            if i == 2 {
                try install("renewed")
                kill(reg.process.processIdentifier, SIGHUP)
                try waitFor("the renewed certificate served") { (try? servedBy("renewed")) == true }
            }
        }
        #expect(try !servedBy("server"))
        let (status, _) = try waitDelivered(daemon, reg)
        let events = try reg.get(EventsReply.self, "/v1/events?station=it-01&limit=5000").events.map(\.event.sequence)
        #expect(Set(events).count == events.count)
        #expect(status.delivery?.failures == 0, "a delivery failed across the reload")
        #expect(reg.process.isRunning)
        // A reload that cannot read the files keeps serving the certificate it has.
        try "not a certificate".write(toFile: dir + "/tls.crt", atomically: true, encoding: .utf8)
        kill(reg.process.processIdentifier, SIGHUP)
        _ = try ektpd(["inject", "--socket", daemon.socket, "camera", "unplug"])
        _ = try waitDelivered(daemon, reg)
        #expect(try servedBy("renewed"))
    }

    /// Through a proxy: `proxy:` in the config, or `https_proxy` in the daemon's environment (as
    /// systemd's Environment= sets it); the proxy sees only a CONNECT, the token stays inside TLS.
    @Test func deliveryGoesThroughAProxyFromTheConfigOrTheEnvironment() throws {
        for viaEnvironment in [false, true] {
            let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ektp-proxy-\(UUID().uuidString.prefix(8))").path
            try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: scratch) }
            let proxy = Process()
            proxy.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            proxy.arguments = [repoRoot + "/Tests/EktpdIntegrationTests/helpers/connect-proxy.py", scratch]
            try proxy.run()
            defer { kill(proxy.processIdentifier, SIGKILL); proxy.waitUntilExit() }
            try waitFor("the proxy listening") { FileManager.default.fileExists(atPath: scratch + "/port") }
            let proxyURL = "http://127.0.0.1:" + (try String(contentsOfFile: scratch + "/port", encoding: .utf8))
            let reg = try tlsRegistry()
            let (file, _) = try tokenFile(reg)
            let daemon = try RunningDaemon(scenario: standardKit, config: """
                registry: {url: "\(reg.url)", token_file: \(file), ca_file: \(pki("centre-ca.crt")), \(deliveryTimings)\(viaEnvironment ? "" : ", proxy: \"\(proxyURL)\"")}
                """, environment: viaEnvironment ? ["https_proxy": proxyURL, "no_proxy": ""] : [:])
            try daemon.waitReady()
            _ = try waitDelivered(daemon, reg)
            let requests = (try? String(contentsOfFile: scratch + "/requests", encoding: .utf8)) ?? ""
            #expect(requests.hasPrefix("CONNECT localhost:\(reg.port) "), "the proxy saw: \(requests)")
        }
    }

    /// check-config names a TLS file that is missing or not PEM, with its line; the registry
    /// names a certificate or key it cannot use and does not start.
    @Test func tlsFilesThatCannotBeUsedAreNamed() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ektp-tlsfiles-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "ektp_secret\n".write(toFile: dir + "/token", atomically: true, encoding: .utf8)
        chmod(dir + "/token", 0o600)
        try "hello".write(toFile: dir + "/not-pem.crt", atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(atPath: pki("station.key"), toPath: dir + "/open.key")
        chmod(dir + "/open.key", 0o644)
        try """
        station:
          id: s1
          site: {province: P, regency: R, district: D}
        backend: {type: simulated, scenario: \(repoRoot)/scenarios/demo-kit.yaml}
        registry:
          url: https://registry.example.id
          token_file: \(dir)/token
          ca_file: \(dir)/missing.crt
          client_cert: \(dir)/not-pem.crt
          client_key: \(dir)/open.key
          pinned_public_key: "sha256//short"
        """.write(toFile: dir + "/ektpd.yaml", atomically: true, encoding: .utf8)
        let check = try ektpd(["check-config", dir + "/ektpd.yaml"])
        let all = check.stdout + check.stderr
        #expect(check.status == 4)
        #expect(all.contains("ektpd.yaml:8:") && all.contains("registry.ca_file: cannot read \(dir)/missing.crt"), "\(all)")
        #expect(all.contains("ektpd.yaml:9:") && all.contains("is not PEM"), "\(all)")
        #expect(all.contains("ektpd.yaml:10:") && all.contains("open.key is readable by every user"), "\(all)")
        #expect(all.contains("ektpd.yaml:11:") && all.contains("expected sha256//BASE64"), "\(all)")
        let bad = run([registryBinary, "serve", "--database", "sqlite:\(dir)/r.db", "--listen", "127.0.0.1:0",
                       "--tls-cert", dir + "/not-pem.crt", "--tls-key", pki("server.key")])
        #expect(bad.status == 1 && bad.stderr.contains("--tls-cert \(dir)/not-pem.crt: cannot be read as PEM certificates"), "\(bad.stderr)")
        let mismatch = run([registryBinary, "serve", "--database", "sqlite:\(dir)/r.db", "--listen", "127.0.0.1:0",
                            "--tls-cert", pki("server.crt"), "--tls-key", pki("station.key")])
        #expect(mismatch.status == 1 && mismatch.stderr.contains("does the key belong to the certificate?"), "\(mismatch.stderr)")
        let half = run([registryBinary, "serve", "--database", "sqlite:\(dir)/r.db", "--tls-cert", pki("server.crt")])
        #expect(half.status == 2 && half.stderr.contains("give both --tls-cert and --tls-key"))
    }

    /// A client about to sit idle closes its connection and frees libcurl's handle
    /// (`releaseConnection`, the uplink does it when its next round is more than 45 s away); the
    /// next request connects again over HTTPS, and later ones reuse that connection.
    @Test func aReleasedConnectionIsOpenedAgainOnTheNextRequest() throws {
        let reg = try tlsRegistry()
        let client = HTTPClient(settings: reg.clientSettings)
        let url = HTTPURL(reg.url)!
        func get() throws -> HTTPExchange { try client.request("GET", url, path: "/healthz", timeout: .seconds(5)).get() }
        let first = try get(), second = try get()
        #expect(first.status == 200 && first.newConnection && second.status == 200 && !second.newConnection)
        client.releaseConnection()
        client.releaseConnection()  // twice, and with nothing open: harmless
        let third = try get(), fourth = try get()
        #expect(third.status == 200 && third.newConnection, "\(third)")
        #expect(fourth.status == 200 && !fourth.newConnection)
        // A client that never made a request releases nothing and still works.
        let fresh = HTTPClient(settings: reg.clientSettings)
        fresh.releaseConnection()
        #expect(try fresh.request("GET", url, path: "/healthz", timeout: .seconds(5)).get().status == 200)
    }

    /// gzip'd batches are taken; a small body that inflates past the limit (a zip bomb), a body that
    /// is not gzip, and an encoding the registry does not know are refused and store nothing.
    @Test func gzipBodiesAreAcceptedAndBombsRefused() throws {
        let reg = try RunningRegistry()
        let token = try reg.token("s1")
        var gz = HTTPClientSettings(section: "test")
        gz.gzip = true
        let url = HTTPURL(reg.url)!
        let auth = [("Authorization", "Bearer \(token)"), ("Content-Type", "application/json")]
        let ok = try HTTPClient(settings: gz).request("POST", url, path: "/v1/reports", headers: auth, body: batchJSON("s1", 1...3), timeout: .seconds(10)).get()
        #expect(ok.status == 200, "\(String(decoding: ok.body, as: UTF8.self))")
        #expect(ok.uploaded < batchJSON("s1", 1...3).count)
        // One client keeps its connection: the next request reuses it.
        let client = HTTPClient(settings: gz)
        #expect(try client.request("GET", url, path: "/healthz", timeout: .seconds(5)).get().newConnection)
        #expect(try !client.request("GET", url, path: "/healthz", timeout: .seconds(5)).get().newConnection)
        let bomb = try HTTPClient(settings: gz).request("POST", url, path: "/v1/reports", headers: auth,
                                                        body: [UInt8](repeating: 0x20, count: 64 << 20), timeout: .seconds(30)).get()
        #expect(bomb.status == 413 && bomb.uploaded < 1 << 20, "\(bomb.status) after \(bomb.uploaded) bytes")
        #expect(String(decoding: bomb.body, as: UTF8.self).contains("inflates past the limit"))
        let notGzip = try HTTPClient().request("POST", url, path: "/v1/reports", headers: auth + [("Content-Encoding", "gzip")],
                                               body: batchJSON("s1", 4...5), timeout: .seconds(10)).get()
        #expect(notGzip.status == 400 && String(decoding: notGzip.body, as: UTF8.self).contains("not valid gzip"))
        let brotli = try HTTPClient().request("POST", url, path: "/v1/reports", headers: auth + [("Content-Encoding", "br")],
                                              body: batchJSON("s1", 4...5), timeout: .seconds(10)).get()
        #expect(brotli.status == 415)
        let stored = try reg.get(EventsReply.self, "/v1/events?station=s1").events.map(\.event.sequence)
        #expect(stored == [1, 2, 3])
    }

    /// Alert webhooks to an https:// receiver that the centre's CA signed.
    @Test func webhooksGoToAnHTTPSReceiver() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ektp-webhook-tls-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let (receiver, port) = try startWebhookReceiver(scratch, failFirst: 0, tls: (pki("server.crt"), pki("server.key")))
        defer { stopWebhookReceiver(receiver) }
        let daemon = try RunningDaemon(scenario: fourDevicesKit, config: """
            \(fastProbes)
            alerts:
              hooks_dir: \(scratch)/no-hooks
              group_wait: 100ms
              ca_file: \(pki("centre-ca.crt"))
              webhooks: ["https://localhost:\(port)/alerts/ektp"]
            """)
        try daemon.waitReady()
        _ = try ektpd(["inject", "--socket", daemon.socket, "camera", "unplug"])
        try waitFor("the webhook POST over HTTPS") { !files(scratch, ".json").isEmpty }
        let body = try String(contentsOfFile: files(scratch, ".json")[0], encoding: .utf8)
        #expect(body.contains("\"DeviceFailed\"") || body.contains("\"KitBroken\""))
    }

    /// A token file every user may read is refused, as ssh refuses such a key: by check-config and
    /// by run, with the file, line and the fix.
    @Test func aTokenFileReadableByOthersIsRefused() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ektp-tokmode-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "ektp_secret\n".write(toFile: dir + "/token", atomically: true, encoding: .utf8)
        chmod(dir + "/token", 0o644)
        try """
        station:
          id: s1
          site: {province: P, regency: R, district: D}
        backend: {type: simulated, scenario: \(repoRoot)/scenarios/demo-kit.yaml}
        control: {socket: \(dir)/control.sock}
        state_directory: \(dir)/state
        registry:
          url: https://registry.example.id
          token_file: \(dir)/token
        """.write(toFile: dir + "/ektpd.yaml", atomically: true, encoding: .utf8)
        let check = try ektpd(["check-config", dir + "/ektpd.yaml"])
        #expect(check.status != 0)
        #expect((check.stdout + check.stderr).contains("ektpd.yaml:9:") && (check.stdout + check.stderr).contains("is readable by every user (mode 644): chmod o-r"))
        let runResult = run([ektpdBinary, "run", "--config", dir + "/ektpd.yaml"])
        #expect(runResult.status != 0 && runResult.stderr.contains("readable by every user"))
        chmod(dir + "/token", 0o600)
        let fine = try ektpd(["check-config", dir + "/ektpd.yaml"])
        #expect(fine.status == 0 && !fine.stderr.contains("warning"))
        // Plain http to another host is allowed, with a warning that says what crosses the network.
        let plain = try String(contentsOfFile: dir + "/ektpd.yaml", encoding: .utf8)
            .replacingOccurrences(of: "https://registry.example.id", with: "http://registry.example.id:8470")
        try plain.write(toFile: dir + "/ektpd.yaml", atomically: true, encoding: .utf8)
        let warned = try ektpd(["check-config", dir + "/ektpd.yaml"])
        #expect(warned.status == 0 && warned.stderr.contains("warning: registry.url http://registry.example.id:8470 is plain http"), "\(warned.stderr)")
    }

    /// `ektp-registry token rotate`: the new token works at once and the old one for the grace period.
    @Test func rotatingATokenKeepsTheOldOneWorkingMeanwhile() throws {
        let reg = try RunningRegistry()
        let old = try reg.token("s1")
        let r = run([registryBinary, "token", "rotate", "--database", reg.database, "--station", "s1", "--grace", "7d"])
        #expect(r.status == 0, "\(r.stderr)")
        let new = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(new.hasPrefix("ektp_") && new != old)
        #expect(r.stderr.contains("1 older token(s) of s1 keep working until"))
        #expect(reg.request("POST", "/v1/reports", token: old, body: batchJSON("s1", 1...2)).status == 200)
        #expect(reg.request("POST", "/v1/reports", token: new, body: batchJSON("s1", 3...4)).status == 200)
        let list = run([registryBinary, "token", "list", "--database", reg.database, "--station", "s1"])
        #expect(list.status == 0 && list.stdout.contains("retiring") && list.stdout.contains("live"))
        #expect(!list.stdout.contains(old) && !list.stdout.contains(new))
        #expect(run([registryBinary, "token", "revoke", "--database", reg.database, "--station", "s1"]).status == 0)
        #expect(reg.request("POST", "/v1/reports", token: old, body: batchJSON("s1", 5...5)).status == 401)
        #expect(reg.request("POST", "/v1/reports", token: new, body: batchJSON("s1", 5...5)).status == 401)
    }
}

/// The processes `parent` started with the command line `ektpd http-helper ...` (from /proc).
func httpHelpers(of parent: pid_t) -> [pid_t] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { Int32($0) }.filter { pid in
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 2, Int32(fields[1]) == parent, fields[0] != "Z" else { return false }
        let cmdline = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))) ?? Data()
        return cmdline.split(separator: 0).dropFirst().first.map { String(decoding: $0, as: UTF8.self) } == "http-helper"
    }
}

/// A file of /proc read to its end (their size is 0, so a reader that trusts the size stops short).
func procFile(_ path: String) -> String {
    guard let h = FileHandle(forReadingAtPath: path) else { return "" }
    defer { try? h.close() }
    return String(decoding: (try? h.readToEnd()) ?? Data(), as: UTF8.self)
}

/// Whether `pid` is gone: exited and reaped by its parent (not a zombie).
func isGone(_ pid: pid_t) -> Bool { kill(pid, 0) != 0 && errno == ESRCH }

/// `parent`'s children that have exited and not been reaped (zombies), from /proc.
func zombies(of parent: pid_t) -> [pid_t] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { Int32($0) }.filter { pid in
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return false }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 2 && fields[0] == "Z" && Int32(fields[1]) == parent
    }
}


/// Issue 17, item 6: the daemon's requests come from `ektpd http-helper` (HTTPHelper), so the
/// daemon never loads libcurl, libssl or OpenSSL's TLS state.
@Suite(.serialized) struct HTTPHelperTests {
    static let command = HTTPHelper.Command(executable: ektpdBinary, argv: ["ektpd", "http-helper"])

    /// `ektpd run` delivers over HTTPS with neither libcurl nor libssl in its own memory map, and
    /// once its uplink releases the connection (its next round is an hour away) no helper is left:
    /// the idle station holds no TLS state. The next report starts a helper again and arrives.
    @Test func theDaemonDeliversFromAHelperAndKeepsNoneWhileIdle() throws {
        let reg = try tlsRegistry()
        let (file, _) = try tokenFile(reg)
        let daemon = try RunningDaemon(scenario: standardKit, config: """
            registry: {url: "\(reg.url)", token_file: \(file), ca_file: \(pki("centre-ca.crt")), \(deliveryTimings)}
            """)
        try daemon.waitReady()
        let pid = daemon.process.processIdentifier
        #expect(try ektpd(["inject", "--socket", daemon.socket, "fingerprint", "unplug"]).status == 0)
        _ = try waitDelivered(daemon, reg) { $0.view.condition == .broken }
        try waitFor("the helper to end after the uplink released its connection") { httpHelpers(of: pid).isEmpty }
        #expect(try ektpd(["inject", "--socket", daemon.socket, "fingerprint", "replug"]).status == 0)
        let (status, detail) = try waitDelivered(daemon, reg) { $0.view.condition != .broken }
        #expect(status.delivery?.failures == 0 && detail.view.storedThrough == status.lastSequence)
        try waitFor("the second helper to end") { httpHelpers(of: pid).isEmpty }
        #expect(zombies(of: pid).isEmpty, "the daemon left its helpers unreaped")
        let maps = procFile("/proc/\(pid)/maps")
        #expect(maps.contains("/libc.so.6"), "the daemon's map was not read whole")
        #expect(!maps.contains("libcurl"), "the daemon mapped libcurl")
        #expect(!maps.contains("libssl"), "the daemon mapped libssl")
    }

    /// The client commands load no library they do not use (issue 17, item 6: `ektpd status` at
    /// most half of `monit status`): neither libudev, libusb and zlib (loaded by the daemon at
    /// first use) nor libcurl and OpenSSL (only ever in the helper), as ld.so itself reports.
    @Test func theClientCommandsLoadNoDeviceCompressionOrTLSLibrary() throws {
        let daemon = try RunningDaemon(scenario: standardKit)
        try daemon.waitReady()
        for args in [["status", "--json"], ["status"], ["devices"], ["events", "--limit", "5"]] {
            let r = try ektpd(args + ["--socket", daemon.socket], environment: ["LD_DEBUG": "libs"])
            #expect(r.status == 0, "\(args): \(r.stderr.suffix(500))")
            #expect(r.stderr.contains("libc.so.6"), "ld.so reported nothing: \(r.stderr.prefix(300))")
            for lib in ["libudev", "libusb", "libz.so", "libcurl", "libssl", "libcrypto"] {
                #expect(!r.stderr.contains(lib), "ektpd \(args.joined(separator: " ")) loaded \(lib)")
            }
        }
    }

    /// Through a helper, a client gets the same answers and the same worded errors as in
    /// process; the helper holds libcurl, and `releaseConnection` ends it.
    @Test func aHelperAnswersAsTheClientWouldAndEndsOnRelease() throws {
        let reg = try tlsRegistry()
        let url = HTTPURL(reg.url)!
        let client = HTTPClient(settings: reg.clientSettings, helper: Self.command)
        let first = try client.request("GET", url, path: "/healthz", timeout: .seconds(5)).get()
        let second = try client.request("GET", url, path: "/healthz", timeout: .seconds(5)).get()
        #expect(first.status == 200 && first.newConnection && second.status == 200 && !second.newConnection)
        #expect(String(decoding: first.body, as: UTF8.self) == String(decoding: try HTTPClient(settings: reg.clientSettings, helper: nil)
            .request("GET", url, path: "/healthz", timeout: .seconds(5)).get().body, as: UTF8.self))
        let helper = try #require(client.helperProcessID)
        #expect(procFile("/proc/\(helper)/maps").contains("/libcurl"))
        client.releaseConnection()
        #expect(kill(helper, 0) != 0 && errno == ESRCH, "the helper was not ended and reaped")
        #expect(client.helperProcessID == nil)
        // An untrusted server: the helper words it exactly as the client in process does.
        var untrusting = reg.clientSettings
        untrusting.caFile = nil
        let viaHelper = HTTPClient(settings: untrusting, helper: Self.command).request("GET", url, path: "/healthz", timeout: .seconds(5))
        let inProcess = HTTPClient(settings: untrusting, helper: nil).request("GET", url, path: "/healthz", timeout: .seconds(5))
        guard case .failure(let a) = viaHelper, case .failure(let b) = inProcess else {
            Issue.record("an untrusted server was accepted")
            return
        }
        #expect(a.description == b.description && a.description.contains("certificate is not trusted"), "\(a) / \(b)")
    }

    /// What a helper answers is checked as the client's own exchange would be (the helper parses
    /// what the network sent): an HTTP status out of range, a Retry-After past a day, a body past
    /// the request's limit, a frame announcing 2 GiB and an unknown reply are each an error naming
    /// it, never a value the daemon computes with (a Retry-After of 10^18 s overflowed its backoff).
    @Test(arguments: [("status", "HTTP status 99999"), ("retry", "uploaded 0, Retry-After 1000000000000000000"),
                      ("body", "a body of 2000 bytes, more than 1000"), ("huge", "2147483647 bytes, more than 66536"),
                      ("garbage", "unknown reply 7")])
    func aHelpersAnswerIsCheckedAsTheClientsOwnWouldBe(_ mode: String, _ expected: String) throws {
        let script = repoRoot + "/Tests/EktpdIntegrationTests/helpers/bad-http-helper.py"
        let client = HTTPClient(settings: HTTPClientSettings(section: "test"),
                                helper: HTTPHelper.Command(executable: "/usr/bin/python3", argv: ["python3", script, mode]))
        let r = client.request("GET", HTTPURL("http://127.0.0.1:9")!, path: "/", timeout: .seconds(5), maxResponse: 1000)
        guard case .failure(let e) = r else {
            Issue.record("a wrong answer was taken: \(r)")
            return
        }
        #expect(e.description.contains("127.0.0.1:9: the HTTP helper's answer was refused: malformed frame: " + expected), "\(e)")
        #expect(client.helperProcessID == nil)
    }

    /// A helper that ended between requests (its idle exit, or killed) is replaced at the next
    /// request; one killed while it holds a request is reported as such, and the next request
    /// starts a new one.
    @Test func anEndedHelperIsReplacedAndOneKilledMidRequestIsReported() throws {
        let reg = try tlsRegistry()
        let url = HTTPURL(reg.url)!
        let client = HTTPClient(settings: reg.clientSettings,
                                helper: HTTPHelper.Command(executable: ektpdBinary, argv: ["ektpd", "http-helper", "--idle-seconds", "1"]))
        #expect(try client.request("GET", url, path: "/healthz", timeout: .seconds(5)).get().status == 200)
        let idle = try #require(client.helperProcessID)
        // Its idle exit is reaped at once (no zombie until the next request).
        try waitFor("the helper's idle exit, reaped") { isGone(idle) }
        #expect(try client.request("GET", url, path: "/healthz", timeout: .seconds(5)).get().status == 200)
        let next = try #require(client.helperProcessID)
        #expect(next != idle)
        kill(next, SIGKILL)
        try waitFor("the killed helper, reaped") { isGone(next) }
        #expect(try client.request("GET", url, path: "/healthz", timeout: .seconds(5)).get().status == 200)
        client.releaseConnection()
        #expect(httpHelpers(of: getpid()).isEmpty)

        // A server that takes the connection and never answers: the helper is killed meanwhile.
        let silent = try #require(try? tcpListen(host: "127.0.0.1", port: 0).get())
        defer { close(silent) }
        var addr = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(silent, $0, &len) } }
        let silentURL = HTTPURL("http://127.0.0.1:\(UInt16(bigEndian: addr.sin_port))")!
        let plain = HTTPClient(settings: HTTPClientSettings(section: "test"), helper: Self.command)
        let me = getpid()
        let killer = Thread {
            // The helper that holds the request, once it is there.
            for _ in 0..<500 {
                if let h = httpHelpers(of: me).first { kill(h, SIGKILL); return }
                usleep(10_000)
            }
        }
        killer.start()
        let r = plain.request("GET", silentURL, path: "/", timeout: .seconds(20))
        guard case .failure(let e) = r else {
            Issue.record("a silent server answered: \(r)")
            return
        }
        #expect(e.description.contains("the HTTP helper killed by signal 9 (SIGKILL) before answering"), "\(e)")
        #expect(plain.helperProcessID == nil)
    }
}
