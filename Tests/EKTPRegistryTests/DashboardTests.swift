import EKTPModel
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import EKTPTesting
import Testing
@testable import EKTPRegistry

/// The dashboard through its HTTP interface (HummingbirdTesting's router client: the registry's
/// real router and a real SQLite store): login and sessions, CSRF, scopes on pages and JSON,
/// escaping of what stations send.
@Suite struct DashboardTests {
    static let kapuas = Site(province: "Kalimantan Barat", regency: "Kapuas Hulu", district: "Putussibau Utara")
    static let now = T0.adding(.seconds(3600))

    /// A station whose kit cannot enrol: `kind` at port 1-1 is `health`, named `name` (from its USB descriptor).
    static func broken(_ station: String, _ seq: Int64, site: Site, kind: DeviceKind = .fingerprint, name: String,
                       health: Health = .failed, at t: Timestamp = T0) -> WireReport {
        let id = DeviceID(portPath: "1-1", vendorID: 0x05ba, productID: 0x000a)
        let d = DeviceSnapshot(id: id, kind: kind, kindSource: "test", vendorID: 0x05ba, productID: 0x000a, name: name,
                               portPath: "1-1", busNumber: 1, deviceNumber: 2)
        // As KitEvaluator words it: a code and its parameters, with the English they make.
        let problem = health == .missing
            ? KitProblem(kind: kind, device: id, severity: .broken, code: .unplugged, args: ["kind": kind.rawValue, "name": name, "port": "1-1"])
            : KitProblem(kind: kind, device: id, severity: .broken, code: .failed, args: ["kind": kind.rawValue, "name": name, "port": "1-1", "why": "replug it"])
        let reason = problem.reason
        let status = StationStatus(station: station, site: site, backend: "simulated",
                                   kit: KitStatus(state: .broken, problems: [problem], since: t),
                                   devices: [DeviceStatus(device: d, health: health, since: t, reason: reason)],
                                   lastSequence: seq, startedAt: T0, now: t, version: ektpVersion)
        return WireReport(sequence: seq, kind: .snapshot, time: t, status: status)
    }

    struct Fixture {
        let registry: Registry
        let app: Application<RouterResponder<RegistryContext>>
    }

    /// A registry with Sintang (two stations: one broken, one ready) and Kapuas Hulu (one broken),
    /// a national viewer `pusat` and a Sintang viewer `sintang`, both with password "correct horse".
    static func fixture(_ backend: Backend = .sqlite) async throws -> Fixture? {
        guard let o = try await openRegistry(backend) else { return nil }
        let r = o.registry
        _ = try await r.ingest(ReportBatch(station: "sintang-01", sentAt: T0, reports: [broken("sintang-01", 1, site: sintang, name: "<script>alert(1)</script>")]),
                               from: "sintang-01", receivedAt: T0)
        _ = try await r.ingest(ReportBatch(station: "dedai-01", sentAt: T0, reports: [snapshot("dedai-01", 1, site: dedai)]), from: "dedai-01", receivedAt: T0)
        _ = try await r.ingest(ReportBatch(station: "kapuas-01", sentAt: T0, reports: [broken("kapuas-01", 1, site: kapuas, kind: .iris, name: "IriShield", health: .missing)]),
                               from: "kapuas-01", receivedAt: T0)
        try await r.addUser(name: "pusat", password: "correct horse", scope: .national, now: T0, cost: 4)
        try await r.addUser(name: "sintang", password: "correct horse", scope: .regency(province: "Kalimantan Barat", regency: "Sintang"), now: T0, cost: 4)
        // English pages (no catalogue), whatever the build tree holds; `indonesian()` tests the other.
        let router = RegistryHTTP.router(registry: r, clock: .init(now: { now }), logger: Logger(label: "test"),
                                         dashboard: DashboardSettings(localeDirectory: o.dir.path + "/no-locale"))
        return Fixture(registry: r, app: Application(router: router))
    }

    /// The value of a cookie a response sets.
    static func cookie(_ r: TestResponse, _ name: String) -> String? {
        for v in r.headers[values: .setCookie] where v.hasPrefix(name + "=") {
            return String(v.dropFirst(name.count + 1).prefix { $0 != ";" })
        }
        return nil
    }

    static func text(_ r: TestResponse) -> String { String(buffer: r.body) }

    /// Logs in through the form as a browser does; returns the session cookie.
    static func login(_ client: some TestClientProtocol, _ user: String, _ password: String = "correct horse") async throws -> String {
        let form = try await client.execute(uri: "/login", method: .get)
        let csrf = try #require(cookie(form, Dashboard.loginCookie))
        #expect(text(form).contains("value=\"\(csrf)\""))
        let r = try await client.execute(uri: "/login", method: .post,
                                         headers: [.contentType: "application/x-www-form-urlencoded", .cookie: "\(Dashboard.loginCookie)=\(csrf)"],
                                         body: ByteBuffer(string: "csrf=\(csrf)&user=\(user)&password=\(password.replacingOccurrences(of: " ", with: "+"))&next=%2F"))
        #expect(r.status == .seeOther)
        return try #require(cookie(r, Dashboard.sessionCookie))
    }

    @Test func aPageWithoutASessionGoesToLoginAndComesBack() async throws {
        let f = try #require(try await Self.fixture())
        try await f.app.test(.router) { client in
            let r = try await client.execute(uri: "/cannot-enrol?kind=iris", method: .get)
            #expect(r.status == .seeOther)
            #expect(r.headers[.location] == "/login?next=%2Fcannot-enrol%3Fkind%3Diris")
            let live = try await client.execute(uri: "/live", method: .get)
            #expect(live.status == .unauthorized)
        }
    }

    @Test func aWrongPasswordAndAFormWithoutItsTokenAreRefused() async throws {
        let f = try #require(try await Self.fixture())
        try await f.app.test(.router) { client in
            let form = try await client.execute(uri: "/login", method: .get)
            let csrf = try #require(Self.cookie(form, Dashboard.loginCookie))
            #expect(form.headers[values: .setCookie].first { $0.hasPrefix(Dashboard.loginCookie) }?.contains("HttpOnly") == true)
            let wrong = try await client.execute(uri: "/login", method: .post,
                                                 headers: [.contentType: "application/x-www-form-urlencoded", .cookie: "\(Dashboard.loginCookie)=\(csrf)"],
                                                 body: ByteBuffer(string: "csrf=\(csrf)&user=pusat&password=wrong+horse"))
            #expect(wrong.status == .unauthorized)
            #expect(Self.text(wrong).contains("Wrong user name or password"))
            #expect(Self.cookie(wrong, Dashboard.sessionCookie) == nil)
            let unknown = try await client.execute(uri: "/login", method: .post,
                                                   headers: [.contentType: "application/x-www-form-urlencoded", .cookie: "\(Dashboard.loginCookie)=\(csrf)"],
                                                   body: ByteBuffer(string: "csrf=\(csrf)&user=nobody&password=correct+horse"))
            #expect(unknown.status == .unauthorized)
            // The right password, but the form's token missing (a form posted from another site).
            let forged = try await client.execute(uri: "/login", method: .post,
                                                  headers: [.contentType: "application/x-www-form-urlencoded"],
                                                  body: ByteBuffer(string: "user=pusat&password=correct+horse"))
            #expect(forged.status == .forbidden)
            #expect(Self.cookie(forged, Dashboard.sessionCookie) == nil)

            let session = try await Self.login(client, "pusat")
            let noToken = try await client.execute(uri: "/logout", method: .post,
                                                   headers: [.contentType: "application/x-www-form-urlencoded", .cookie: "\(Dashboard.sessionCookie)=\(session)"],
                                                   body: ByteBuffer(string: ""))
            #expect(noToken.status == .forbidden)
            let page = try await client.execute(uri: "/", method: .get, headers: [.cookie: "\(Dashboard.sessionCookie)=\(session)"])
            #expect(page.status == .ok)
            let csrf2 = try #require(Self.text(page).firstMatch(of: /name="csrf" value="([^"]+)"/)?.1)
            let out = try await client.execute(uri: "/logout", method: .post,
                                               headers: [.contentType: "application/x-www-form-urlencoded", .cookie: "\(Dashboard.sessionCookie)=\(session)"],
                                               body: ByteBuffer(string: "csrf=\(csrf2)"))
            #expect(out.status == .seeOther)
            let after = try await client.execute(uri: "/", method: .get, headers: [.cookie: "\(Dashboard.sessionCookie)=\(session)"])
            #expect(after.status == .seeOther, "the session ended at logout")
        }
        // Stored hashed with bcrypt, never as written.
        let hash = try await f.registry.store.query(SQLStatement("SELECT password_hash FROM users WHERE name = 'pusat'")).first?.first?.text
        #expect(hash?.hasPrefix("$2b$") == true && hash?.contains("correct") == false)
    }

    @Test(arguments: Backend.allCases) func aRegencyViewerSeesOnlyItsRegencyOnPagesAndInJSON(_ b: Backend) async throws {
        guard let f = try await Self.fixture(b) else { return }
        let viewerToken = try await f.registry.issueViewerToken(name: "sintang-api", scope: .regency(province: "Kalimantan Barat", regency: "Sintang"), now: T0)
        try await f.app.test(.router) { client in
            let session = try await Self.login(client, "sintang")
            let cookie: HTTPFields = [.cookie: "\(Dashboard.sessionCookie)=\(session)"]
            let page = Self.text(try await client.execute(uri: "/cannot-enrol", method: .get, headers: cookie))
            #expect(page.contains("data-station=\"sintang-01\""))
            #expect(!page.contains("kapuas-01") && !page.contains("Kapuas Hulu"))
            let overview = Self.text(try await client.execute(uri: "/", method: .get, headers: cookie))
            #expect(overview.contains("Sintang") && !overview.contains("Kapuas"))
            let other = try await client.execute(uri: "/stations/kapuas-01", method: .get, headers: cookie)
            #expect(other.status == .notFound)
            let outside = try await client.execute(uri: "/cannot-enrol?region=Kalimantan+Barat%7CKapuas+Hulu", method: .get, headers: cookie)
            #expect(outside.status == .forbidden)
            let search = Self.text(try await client.execute(uri: "/search?q=01", method: .get, headers: cookie))
            #expect(search.contains("sintang-01") && !search.contains("kapuas-01"))
            // The JSON reads take the same scope, by session or by a viewer's token.
            for h: HTTPFields in [cookie, [.authorization: "Bearer \(viewerToken)"]] {
                let sites = try JSONStyle.decode(SitesReply.self, from: Array(Self.text(try await client.execute(uri: "/v1/sites", method: .get, headers: h)).utf8))
                #expect(Set(sites.sites.map(\.station)) == ["sintang-01", "dedai-01"])
                let fleet = try JSONStyle.decode(FleetSummary.self, from: Array(Self.text(try await client.execute(uri: "/v1/fleet", method: .get, headers: h)).utf8))
                #expect(fleet.tally.stations == 2 && fleet.provinces.flatMap(\.regencies).map(\.name) == ["Sintang"])
                #expect(try await client.execute(uri: "/v1/stations/kapuas-01", method: .get, headers: h).status == .notFound)
                let events = Self.text(try await client.execute(uri: "/v1/events", method: .get, headers: h))
                #expect(!events.contains("kapuas-01"))
                #expect(try await client.execute(uri: "/metrics", method: .get, headers: h).status == .forbidden)
            }
            // The national viewer sees both regencies.
            let pusat = try await Self.login(client, "pusat")
            let all = Self.text(try await client.execute(uri: "/cannot-enrol", method: .get, headers: [.cookie: "\(Dashboard.sessionCookie)=\(pusat)"]))
            #expect(all.contains("data-station=\"sintang-01\"") && all.contains("data-station=\"kapuas-01\""))
        }
    }

    @Test func readsNeedAReadersCredentialAndMetricsAScrapeToken() async throws {
        let f = try #require(try await Self.fixture())
        let station = try await f.registry.issueToken(station: "sintang-01", now: T0)
        let scrape = try await f.registry.issueScrapeToken(name: "prometheus", now: T0)
        let national = try await f.registry.issueViewerToken(name: "grafana", scope: .national, now: T0)
        try await f.app.test(.router) { client in
            for path in ["/v1/fleet", "/v1/sites", "/v1/stations/sintang-01", "/v1/events", "/metrics"] {
                #expect(try await client.execute(uri: path, method: .get).status == .unauthorized, "\(path) without a credential")
                let s = try await client.execute(uri: path, method: .get, headers: [.authorization: "Bearer \(station)"])
                #expect(s.status == .forbidden, "\(path) with a station's token")
                #expect(Self.text(s).contains("reads nothing"))
            }
            #expect(try await client.execute(uri: "/v1/fleet", method: .get, headers: [.authorization: "Bearer \(scrape)"]).status == .forbidden)
            let m = try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer \(scrape)"])
            #expect(m.status == .ok && Self.text(m).contains("ektp_registry_stations"))
            #expect(try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer \(national)"]).status == .ok)
            // A reader's token never writes.
            let post = try await client.execute(uri: "/v1/reports", method: .post, headers: [.authorization: "Bearer \(national)", .contentType: "application/json"],
                                                body: ByteBuffer(string: #"{"station":"sintang-01","sent_at":"2026-11-23T08:00:00Z","reports":[]}"#))
            #expect(post.status == .forbidden)
            // Station tokens cannot open the dashboard either: pages take a session only.
            #expect(try await client.execute(uri: "/", method: .get, headers: [.authorization: "Bearer \(station)"]).status == .seeOther)
        }
    }

    @Test func whatAStationSendsIsShownAsTextNeverAsMarkup() async throws {
        let f = try #require(try await Self.fixture())
        try await f.app.test(.router) { client in
            let session = try await Self.login(client, "pusat")
            let cookie: HTTPFields = [.cookie: "\(Dashboard.sessionCookie)=\(session)"]
            for path in ["/cannot-enrol", "/repairs", "/stations/sintang-01", "/"] {
                let r = try await client.execute(uri: path, method: .get, headers: cookie)
                #expect(r.status == .ok)
                #expect(r.headers[.init("Content-Security-Policy")!]?.contains("script-src 'self'") == true)
                let html = Self.text(r)
                #expect(!html.contains("<script>alert"), "\(path) carries the device name as markup")
                if path != "/" { #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "\(path) does not show the name") }
            }
        }
    }

    @Test(arguments: Backend.allCases) func cannotEnrolFiltersByKindAndRepairsCountByKindAndModel(_ b: Backend) async throws {
        guard let f = try await Self.fixture(b) else { return }
        try await f.app.test(.router) { client in
            let cookie: HTTPFields = [.cookie: "\(Dashboard.sessionCookie)=\(try await Self.login(client, "pusat"))"]
            let iris = Self.text(try await client.execute(uri: "/cannot-enrol?kind=iris", method: .get, headers: cookie))
            #expect(iris.contains("data-station=\"kapuas-01\"") && !iris.contains("data-station=\"sintang-01\""))
            #expect(iris.contains("is unplugged: plug it back into port 1-1"))
            #expect(try await client.execute(uri: "/cannot-enrol?kind=toaster", method: .get, headers: cookie).status == .badRequest)
            let repairs = Self.text(try await client.execute(uri: "/repairs", method: .get, headers: cookie))
            let rows = repairs.matches(of: /<tr data-kind="(\w+)"><td>[^<]*<\/td><td>([^<]*)<\/td><td class="num">(\d+)<\/td><td class="num">(\d+)<\/td>/)
                .map { "\($0.1) \($0.2) broken \($0.3) missing \($0.4)" }
            #expect(rows.sorted() == ["fingerprint &lt;script&gt;alert(1)&lt;/script&gt; broken 1 missing 0", "iris IriShield broken 0 missing 1"])
        }
    }

    @Test(arguments: Backend.allCases) func aRepairReportedClearsTheSiteAndChangesTheLiveVersion(_ b: Backend) async throws {
        guard let f = try await Self.fixture(b) else { return }
        try await f.app.test(.router) { client in
            let cookie: HTTPFields = [.cookie: "\(Dashboard.sessionCookie)=\(try await Self.login(client, "pusat"))"]
            let before = Self.text(try await client.execute(uri: "/live", method: .get, headers: cookie))
            _ = try await f.registry.ingest(ReportBatch(station: "sintang-01", sentAt: T0, reports: [snapshot("sintang-01", 2, at: T0.adding(.seconds(60)), site: sintang)]),
                                            from: "sintang-01", receivedAt: T0.adding(.seconds(60)))
            let after = Self.text(try await client.execute(uri: "/live", method: .get, headers: cookie))
            #expect(before != after)
            let page = Self.text(try await client.execute(uri: "/cannot-enrol", method: .get, headers: cookie))
            #expect(!page.contains("data-station=\"sintang-01\"") && page.contains("data-station=\"kapuas-01\""))
            let station = Self.text(try await client.execute(uri: "/stations/sintang-01", method: .get, headers: cookie))
            #expect(station.contains("<svg") && station.contains("Ready"))
        }
    }

    @Test func viewerAccountsCheckNamesScopesAndPasswords() async throws {
        let o = try #require(try await openRegistry(.sqlite))
        await #expect(throws: RegistryError.self) { try await o.registry.addUser(name: "-x", password: "long enough!", scope: .national, now: T0, cost: 4) }
        await #expect(throws: RegistryError.self) { try await o.registry.addUser(name: "x", password: "short", scope: .national, now: T0, cost: 4) }
        try await o.registry.addUser(name: "x", password: "long enough!", scope: .province("Kalimantan Barat"), now: T0, cost: 4)
        do {
            try await o.registry.addUser(name: "x", password: "long enough!", scope: .national, now: T0, cost: 4)
            Issue.record("a second user x was added")
        } catch let e as RegistryError { #expect(e.status == 409) }
        #expect(try await o.registry.users().map(\.scope) == [.province("Kalimantan Barat")])
        let (session, _) = try await o.registry.login(name: "x", password: "long enough!", now: T0)
        #expect(try await o.registry.session(session, now: T0)?.scope == .province("Kalimantan Barat"))
        #expect(try await o.registry.session(session, now: T0.adding(Registry.sessionLifetime)) == nil, "a session ends after its lifetime")
        try await o.registry.setPassword(name: "x", password: "another one!", cost: 4)
        #expect(try await o.registry.session(session, now: T0) == nil, "a new password ends the sessions")
        #expect(try await o.registry.removeUser(name: "x"))
        await #expect(throws: RegistryError.self) { try await o.registry.login(name: "x", password: "another one!", now: T0) }
    }

    /// Compiles po/id.po with msgfmt into `dir` (as make install and scripts/l10n.sh do).
    static func compileCatalogue(into dir: String) throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        try FileManager.default.createDirectory(atPath: dir + "/id/LC_MESSAGES", withIntermediateDirectories: true)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/msgfmt")
        p.arguments = ["-o", dir + "/id/LC_MESSAGES/ektpd.mo", root + "/po/id.po"]
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
    }

    /// Issue 18: a station that runs in English reports an unplugged scanner (a code and its
    /// parameters beside the English); the dashboard shows it in Bahasa Indonesia by default and
    /// to a browser asking for it, in English to one asking for English or choosing it.
    @Test func theReasonIsInTheReadersLanguageNotTheStations() async throws {
        let f = try #require(try await Self.fixture())
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ektp-locale-\(UUID().uuidString)").path
        try Self.compileCatalogue(into: dir)
        let router = RegistryHTTP.router(registry: f.registry, clock: .init(now: { Self.now }), logger: Logger(label: "test"),
                                         dashboard: DashboardSettings(localeDirectory: dir))
        try await Application(router: router).test(.router) { client in
            let session = try await Self.login(client, "pusat")
            let cookie = "\(Dashboard.sessionCookie)=\(session)"
            let byDefault = Self.text(try await client.execute(uri: "/cannot-enrol", method: .get, headers: [.cookie: cookie]))
            #expect(byDefault.contains("<html lang=\"id\">") && byDefault.contains("Tidak dapat merekam"))
            #expect(byDefault.contains("pemindai iris IriShield di port 1-1 tercabut: colokkan kembali ke port 1-1"), "the reason in Indonesian")
            let english = Self.text(try await client.execute(uri: "/cannot-enrol", method: .get, headers: [.cookie: cookie, .acceptLanguage: "en-GB,en;q=0.9,id;q=0.5"]))
            #expect(english.contains("<html lang=\"en\">") && english.contains("iris scanner IriShield at 1-1 is unplugged: plug it back into port 1-1"))
            let asked = Self.text(try await client.execute(uri: "/repairs", method: .get, headers: [.cookie: cookie, .acceptLanguage: "id-ID,id;q=0.9,en;q=0.8"]))
            #expect(asked.contains("Perbaikan") && asked.contains("pemindai iris"))
            // A choice of English is kept in a cookie.
            let chosen = try await client.execute(uri: "/?lang=en", method: .get, headers: [.cookie: cookie])
            #expect(Self.cookie(chosen, DashboardLanguages.cookie) == "en" && Self.text(chosen).contains("Cannot enrol"))
            // Numbers keep the reader's grouping; the JSON never changes with the language.
            let json = Self.text(try await client.execute(uri: "/v1/sites?status=broken", method: .get, headers: [.cookie: cookie, .acceptLanguage: "id"]))
            #expect(json.contains("is unplugged: plug it back into port 1-1") && !json.contains("tercabut"))
        }
        #expect(DashboardLanguages.preferred("fr, en;q=0.5, id;q=0.8") == "id")
        #expect(DashboardLanguages.preferred("en-US") == "en" && DashboardLanguages.preferred("fr") == nil)
    }

    /// A flood of password guesses is refused past a few at a time (429 with Retry-After) instead
    /// of queueing bcrypt work without bound; a real login afterwards works.
    @Test func aFloodOfLoginsIsRefusedPastAFewAtATime() async throws {
        let f = try #require(try await Self.fixture())
        try await f.app.test(.router) { client in
            let form = try await client.execute(uri: "/login", method: .get)
            let csrf = try #require(Self.cookie(form, Dashboard.loginCookie))
            let statuses = try await withThrowingTaskGroup(of: (Int, String?).self) { group in
                for _ in 0..<60 {
                    group.addTask {
                        let r = try await client.execute(uri: "/login", method: .post,
                                                         headers: [.contentType: "application/x-www-form-urlencoded", .cookie: "\(Dashboard.loginCookie)=\(csrf)"],
                                                         body: ByteBuffer(string: "csrf=\(csrf)&user=pusat&password=guess+guess+guess"))
                        return (Int(r.status.code), r.headers[.retryAfter])
                    }
                }
                var out: [(Int, String?)] = []
                for try await s in group { out.append(s) }
                return out
            }
            #expect(statuses.allSatisfy { $0.0 == 401 || $0.0 == 429 }, "\(statuses.map(\.0))")
            #expect(statuses.contains { $0.0 == 429 && $0.1 != nil }, "no guess was refused: \(statuses.map(\.0))")
            #expect(statuses.filter { $0.0 == 401 }.count >= 2)
            _ = try await Self.login(client, "pusat")
        }
    }

    @Test func formsAndRedirectsAreDecodedSafely() {
        #expect(Dashboard.form(ByteBuffer(string: "a=1+2&b=%3Cx%3E&c=%zz&d")) == ["a": "1 2", "b": "<x>", "c": "%zz", "d": ""])
        #expect(Dashboard.safeNext("/cannot-enrol?kind=iris") == "/cannot-enrol?kind=iris")
        for bad in ["//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:alert(1)", nil] {
            #expect(Dashboard.safeNext(bad) == "/")
        }
        #expect(DashboardSettings.offset(parsing: "WITA") == 480 && DashboardSettings.offset(parsing: "+05:30") == 330)
        #expect(DashboardSettings.offset(parsing: "+25:00") == nil)
    }
}
