#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import EKTPModel
import EKTPPlatform
import Hummingbird
import Logging
import Mustache
import NIOCore

/// The dashboard's pages: each reads the registry inside the viewer's scope and returns the
/// Mustache context of its template (dictionaries of strings, arrays and booleans).
struct Pages: Sendable {
    /// Rows a list page shows at once (about 130 KB of HTML).
    static let rowsPerPage = 250
    let registry: Registry
    let clock: RegistryHTTP.Clock
    let settings: DashboardSettings
    let languages: DashboardLanguages
    /// Logins check a bcrypt hash (~0.3 s of CPU each): two at a time, a few waiting, the rest
    /// refused with 429, so a flood of password guesses cannot take the registry's CPU from ingest.
    let logins = Admission(maxInFlight: 2, maxQueue: 16, maxWait: .seconds(10))
    /// The reader's language for this request (`page` sets it from ?lang=, the cookie or Accept-Language).
    var t: Translator = .english

    typealias Context = [String: Any]

    // MARK: request plumbing

    /// The viewer of the request's session cookie, or nil. Sessions run on the wall clock (a
    /// person's working day), not on a simulation's scenario clock.
    func viewer(_ request: Request) async -> Viewer? {
        guard let token = request.cookies[Dashboard.sessionCookie]?.value, !token.isEmpty else { return nil }
        return try? await registry.session(token, now: wallClockNow())
    }

    /// Renders a page for a logged-in viewer; without a session: 303 to the login page, which
    /// comes back here afterwards. A refusal (404, 403, 400) is a page saying so.
    func page(_ request: Request, nav: String, _ build: (Pages, Viewer, Timestamp) async throws -> (title: String, template: String, context: Context)) async -> Response {
        var p = self
        p.t = languages.choose(request)
        return await p.localizedPage(request, nav: nav, build)
    }

    func localizedPage(_ request: Request, nav: String, _ build: (Pages, Viewer, Timestamp) async throws -> (title: String, template: String, context: Context)) async -> Response {
        guard let v = await viewer(request) else {
            let next = request.uri.path + (request.uri.query.map { "?" + $0 } ?? "")
            return Response(status: .seeOther, headers: [.location: "/login?next=\(Dashboard.encoded(next))", .cacheControl: "no-store"])
        }
        let at = clock.now()
        do {
            let (title, template, context) = try await build(self, v, at)
            var r = try await render(title: title, template: template, context: context, viewer: v, nav: nav, query: request.uri.queryParameters.get("q"), at: at)
            if let chosen = request.uri.queryParameters.get("lang"), languages.offers(chosen) {
                // The viewer's choice is kept for a year (the language switch links set it).
                r.setCookie(Cookie(name: DashboardLanguages.cookie, value: chosen, maxAge: 365 * 86400, path: "/",
                                   secure: settings.secureCookies, httpOnly: true, sameSite: .lax))
            }
            return r
        } catch let e as RegistryError {
            let status = HTTPResponse.Status(code: e.status)
            let title = e.status == 404 ? t.word("notFound") : t.word("forbidden")
            let r = try? await render(title: title, template: "message", context: ["text": t.sentence(e.description), "cls": "bad"], viewer: v, nav: nav, query: nil, at: at)
            return r.map { var r = $0; r.status = status; return r } ?? Response(status: status)
        } catch {
            return Response(status: .internalServerError, headers: Dashboard.pageHeaders,
                            body: .init(byteBuffer: ByteBuffer(string: "<!doctype html><title>registry error</title><p>registry error: \(escape("\(error)"))</p>")))
        }
    }

    func render(title: String, template: String, context: Context, viewer: Viewer?, nav: String, query: String?, at: Timestamp) async throws -> Response {
        var c = context
        c["t"] = t.words
        let body = Dashboard.library.render(c, withTemplate: template) ?? ""
        var layout: Context = ["t": t.words, "title": title, "body": body, "lang": t.language,
                               "languages": languages.switcher(current: t.language)]
        if let viewer {
            let version = try await registry.newestReportID()
            layout["viewer"] = [
                "name": viewer.name, "scopeText": scopeText(viewer.scope), "csrf": viewer.csrf ?? "",
                "version": String(version), "updated": time(at), "query": query ?? "",
                "nav": Self.sections.map { path, key -> Context in ["href": path, "word": t.word(key), "current": key == nav] },
            ] as Context
        }
        let html = Dashboard.library.render(layout, withTemplate: "layout") ?? ""
        return Response(status: .ok, headers: Dashboard.pageHeaders, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    func scopeText(_ s: ViewScope) -> String {
        switch s {
        case .national: t.word("national")
        case .province(let p): p
        case .regency(let p, let r): "\(r), \(p)"
        }
    }

    // MARK: login, logout, live

    func loginForm(_ request: Request, error: String?, status: HTTPResponse.Status, user: String = "") async -> Response {
        var p = self
        p.t = languages.choose(request)
        return await p.localizedLoginForm(request, error: error, status: status, user: user)
    }

    func localizedLoginForm(_ request: Request, error: String?, status: HTTPResponse.Status, user: String) async -> Response {
        if status == .ok, await viewer(request) != nil {
            return Response(status: .seeOther, headers: [.location: Dashboard.safeNext(request.uri.queryParameters.get("next"))])
        }
        let csrf = Registry.newToken()
        let next = Dashboard.safeNext(request.uri.queryParameters.get("next"))
        var response = (try? await render(title: t.word("loginTitle"), template: "login",
                                          context: ["csrf": csrf, "next": next, "error": error ?? "", "user": user],
                                          viewer: nil, nav: "", query: nil, at: clock.now())) ?? Response(status: .internalServerError)
        response.status = status
        if let chosen = request.uri.queryParameters.get("lang"), languages.offers(chosen) {
            response.setCookie(Cookie(name: DashboardLanguages.cookie, value: chosen, maxAge: 365 * 86400, path: "/",
                                      secure: settings.secureCookies, httpOnly: true, sameSite: .lax))
        }
        response.setCookie(Cookie(name: Dashboard.loginCookie, value: csrf, maxAge: 3600, path: "/login",
                                  secure: settings.secureCookies, httpOnly: true, sameSite: .strict))
        return response
    }

    func login(_ request: Request, logger: Logger) async -> Response {
        guard await logins.enter() else {
            logger.warning("dashboard logins refused: too many at once")
            var r = await loginForm(request, error: languages.choose(request).word("busy"), status: .tooManyRequests)
            r.headers[.retryAfter] = "\(logins.retryAfterSeconds())"
            return r
        }
        defer { logins.leave() }
        var request = request
        guard let body = try? await request.collectBody(upTo: Dashboard.maxForm) else {
            return await loginForm(request, error: "the form is larger than \(Dashboard.maxForm) bytes", status: .contentTooLarge)
        }
        let f = Dashboard.form(body)
        let user = f["user"] ?? ""
        guard let sent = f["csrf"], !sent.isEmpty, sent == request.cookies[Dashboard.loginCookie]?.value else {
            return await loginForm(request, error: t.word("formExpired"), status: .forbidden, user: user)
        }
        do {
            let (session, _) = try await registry.login(name: user, password: f["password"] ?? "", now: wallClockNow())
            logger.notice("dashboard login", metadata: ["user": "\(user.printable.prefix(64))"])
            var r = Response(status: .seeOther, headers: [.location: Dashboard.safeNext(f["next"]), .cacheControl: "no-store"])
            r.setCookie(Cookie(name: Dashboard.sessionCookie, value: session, maxAge: Int(Registry.sessionLifetime.wholeMilliseconds / 1000),
                               path: "/", secure: settings.secureCookies, httpOnly: true, sameSite: .strict))
            r.setCookie(Cookie(name: Dashboard.loginCookie, value: "", maxAge: 0, path: "/login", secure: settings.secureCookies, httpOnly: true, sameSite: .strict))
            return r
        } catch let e as RegistryError where e.status == 401 {
            logger.warning("dashboard login refused", metadata: ["user": "\(user.printable.prefix(64))"])
            return await loginForm(request, error: t.word("wrongLogin"), status: .unauthorized, user: user)
        } catch {
            return await loginForm(request, error: "\(error)", status: .badRequest, user: user)
        }
    }

    func logout(_ request: Request) async -> Response {
        var request = request
        guard let v = await viewer(request), let token = request.cookies[Dashboard.sessionCookie]?.value else {
            return Response(status: .seeOther, headers: [.location: "/login"])
        }
        let body = try? await request.collectBody(upTo: Dashboard.maxForm)
        guard let body, let sent = Dashboard.form(body)["csrf"], sent == v.csrf else {
            let r = try? await render(title: t.word("forbidden"), template: "message",
                                      context: ["text": t.word("formExpired"), "cls": "bad"], viewer: v, nav: "", query: nil, at: clock.now())
            return r.map { var r = $0; r.status = .forbidden; return r } ?? Response(status: .forbidden)
        }
        try? await registry.logout(token)
        var r = Response(status: .seeOther, headers: [.location: "/login"])
        r.setCookie(Cookie(name: Dashboard.sessionCookie, value: "", maxAge: 0, path: "/", secure: settings.secureCookies, httpOnly: true, sameSite: .strict))
        return r
    }

    /// `{"version": N, "updated": "..."}`: N changes whenever a report arrives.
    func live(_ request: Request) async -> Response {
        guard await viewer(request) != nil else {
            return Response(status: .unauthorized, headers: [.contentType: "application/json"],
                            body: .init(byteBuffer: ByteBuffer(string: #"{"error":"log in again"}"# + "\n")))
        }
        let version = (try? await registry.newestReportID()) ?? 0
        let body = #"{"version":\#(version),"updated":"\#(time(clock.now()))"}"#
        return Response(status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                        body: .init(byteBuffer: ByteBuffer(string: body + "\n")))
    }

    // MARK: formatting

    /// "2026-11-23 15:04 WIB".
    func time(_ t: Timestamp) -> String {
        let shifted = Timestamp(millis: t.millis + Int64(settings.utcOffsetMinutes) * 60_000).rfc3339
        let chars = Array(shifted)
        guard chars.count >= 16 else { return shifted }
        return String(chars[0..<10]) + " " + String(chars[11..<16]) + " " + settings.zoneName
    }

    /// How long, as a person says it: "5 min", "3 h 20 min", "4 d 2 h" ("4 hari 2 jam").
    static let spanWords = [N_("< 1 min"), N_("{m} min"), N_("{h} h"), N_("{h} h {m} min"), N_("{d} d"), N_("{d} d {h} h")]

    func span(_ from: Timestamp, _ to: Timestamp) -> String {
        let m = max(0, (to.millis - from.millis) / 60_000)
        if m < 1 { return t.text("< 1 min") }
        if m < 60 { return fill(t.text("{m} min"), ["m": "\(m)"]) }
        if m < 1440 { return m % 60 == 0 ? fill(t.text("{h} h"), ["h": "\(m / 60)"]) : fill(t.text("{h} h {m} min"), ["h": "\(m / 60)", "m": "\(m % 60)"]) }
        let h = m / 60
        return h % 24 == 0 ? fill(t.text("{d} d"), ["d": "\(h / 24)"]) : fill(t.text("{d} d {h} h"), ["d": "\(h / 24)", "h": "\(h % 24)"])
    }

    /// 14,000: the thousands grouped, as a person reads a count.
    func count(_ n: Int) -> String { L10n.count(n, separator: L10n.groupSeparator(t.text)) }

    func siteFields(_ s: Site, station: String) -> Context {
        ["province": s.province, "regency": s.regency, "district": s.district.isEmpty ? station : s.district,
         "station": station, "stationHref": "/stations/\(Dashboard.encoded(station))"]
    }

    // MARK: scope and filters

    /// The region a page is asked for (`?region=P` or `?region=P|R`, or `?province=&regency=`),
    /// inside the viewer's scope; none asked: the viewer's whole scope. Outside it: 403.
    func region(_ request: Request, _ v: Viewer) throws -> ViewScope {
        let q = request.uri.queryParameters
        var asked: ViewScope
        if let r = q.get("region"), !r.isEmpty {
            let parts = r.split(separator: "|", maxSplits: 1).map(String.init)
            asked = ViewScope(province: parts.first, regency: parts.count > 1 ? parts[1] : nil)
        } else {
            asked = ViewScope(province: q.get("province"), regency: q.get("regency"))
        }
        if asked == .national { asked = v.scope }
        guard asked.isWithin(v.scope) else {
            throw RegistryError(403, "\(scopeText(asked)) is outside what you may see (\(scopeText(v.scope)))")
        }
        return asked
    }

    /// The region choices inside the viewer's scope: the scope itself, its provinces and regencies.
    func regionOptions(_ v: Viewer, selected: ViewScope, at: Timestamp) async throws -> [Context] {
        let tree = try await registry.tallies(at: at, by: ["province", "regency"], scope: v.scope)
        var out: [Context] = [["value": "", "label": t.word("allRegions") + " (\(scopeText(v.scope)))", "selected": selected == v.scope]]
        var lastProvince: String?
        for row in tree.sorted(by: { $0.keys.lexicographicallyPrecedes($1.keys) }) {
            let p = row.keys[0], r = row.keys[1]
            if p != lastProvince, case .national = v.scope {
                out.append(["value": p, "label": p, "selected": selected == .province(p)])
            }
            lastProvince = p
            if v.scope != .regency(province: p, regency: r) {
                out.append(["value": "\(p)|\(r)", "label": "\(r) (\(p))", "selected": selected == .regency(province: p, regency: r)])
            }
        }
        return out
    }

    // MARK: pages

    /// The pages of the navigation bar: their paths and their keys (the words in DashboardText).
    static let sections = [("/", "overview"), ("/cannot-enrol", "cannotEnrol"), ("/repairs", "repairs"),
                           ("/attention", "attention"), ("/blanks", "blanks")]

    /// The page of a section (or the search page) for a request.
    func section(_ key: String, _ request: Request, _ v: Viewer, _ at: Timestamp) async throws -> (String, String, Context) {
        switch key {
        case "overview": try await overview(request, v, at)
        case "cannotEnrol": try await cannotEnrol(request, v, at)
        case "repairs": try await repairs(request, v, at)
        case "attention": try await attention(request, v, at)
        case "blanks": try await blanks(request, v, at)
        default: try await search(request, v, at)
        }
    }

    /// Worst first: more sites that cannot enrol, then silent, not pulled, degraded; then by name.
    static func worse(_ a: (String, FleetTally), _ b: (String, FleetTally)) -> Bool {
        let x = [a.1.broken, a.1.silent, a.1.notPulled, a.1.degraded], y = [b.1.broken, b.1.silent, b.1.notPulled, b.1.degraded]
        if x != y { return x.lexicographicallyPrecedes(y) == false }
        return a.0.utf8Precedes(b.0)
    }

    /// A line's state in words and colour: the worst thing about it.
    func verdict(_ n: FleetTally) -> (word: String, cls: String) {
        if n.broken > 0 { return ("\(count(n.broken)) \(t.word("broken").lowercased())", "bad") }
        if n.silent > 0 { return ("\(count(n.silent)) \(t.word("silent").lowercased())", "silent") }
        if n.notPulled > 0 { return ("\(count(n.notPulled)) \(t.word("notPulled").lowercased())", "warn") }
        if n.degraded > 0 { return ("\(count(n.degraded)) \(t.word("degraded").lowercased())", "warn") }
        if n.unknown == n.stations { return (t.word("unknown"), "unknown") }
        return (t.word("ready"), "ok")
    }

    func cells(_ n: FleetTally) -> [Context] {
        func c(_ key: String, _ x: Int, _ cls: String) -> Context { ["label": t.word(key), "n": count(x), "cls": x > 0 ? cls : ""] }
        return [c("stations", n.stations, ""), c("ready", n.ready, ""), c("degraded", n.degraded, "warn"), c("broken", n.broken, "bad"),
                c("silent", n.silent, "silent"), c("notPulled", n.notPulled, "warn"), c("cardBlanks", n.blanks, "")]
    }

    func line(_ name: String, _ n: FleetTally, href: String?, children: [Context]) -> Context {
        let v = verdict(n)
        return ["name": name.isEmpty ? "—" : name, "word": v.word, "cls": v.cls, "cells": cells(n), "href": href ?? false,
                "openWord": t.word("open"), "children": children, "hasChildren": !children.isEmpty]
    }

    func overview(_ request: Request, _ v: Viewer, _ at: Timestamp) async throws -> (String, String, Context) {
        let scope = try region(request, v)
        func href(_ p: String, _ r: String? = nil) -> String {
            "/?province=\(Dashboard.encoded(p))" + (r.map { "&regency=\(Dashboard.encoded($0))" } ?? "")
        }
        /// Two levels of the tree in one GROUP BY (country: province and regency; province: regency
        /// and district; regency: district), never the whole fleet's districts at once.
        let columns: [String] = switch scope {
        case .national: ["province", "regency"]
        case .province: ["regency", "district"]
        case .regency: ["district"]
        }
        let rows = try await registry.tallies(at: at, by: columns, scope: scope)
        var total = FleetTally()
        var outer: [String: (tally: FleetTally, inner: [(String, FleetTally)])] = [:]
        for r in rows {
            total.add(r.tally)
            outer[r.keys[0], default: (FleetTally(), [])].tally.add(r.tally)
            if r.keys.count > 1 { outer[r.keys[0]]!.inner.append((r.keys[1], r.tally)) }
        }
        let ordered = outer.map { ($0.key, $0.value) }.sorted { Self.worse(($0.0, $0.1.tally), ($1.0, $1.1.tally)) }
        var lines: [Context] = []
        var crumbs: [Context] = []
        var here = t.word("national")
        switch scope {
        case .national:
            for (p, o) in ordered {
                let children = o.inner.sorted { Self.worse($0, $1) }.map { line($0.0, $0.1, href: href(p, $0.0), children: []) }
                lines.append(line(p, o.tally, href: href(p), children: children))
            }
        case .province(let pname):
            if v.scope == .national { crumbs.append(["href": "/", "name": t.word("national")]) }
            here = pname
            for (g, o) in ordered {
                let children = o.inner.sorted { Self.worse($0, $1) }.map { line($0.0, $0.1, href: href(pname, g) + "#d-\(Dashboard.encoded($0.0))", children: []) }
                lines.append(line(g, o.tally, href: href(pname, g), children: children))
            }
        case .regency(let pname, let rname):
            if v.scope == .national { crumbs.append(["href": "/", "name": t.word("national")]) }
            if v.scope.regency == nil { crumbs.append(["href": href(pname), "name": pname]) }
            here = "\(rname), \(pname)"
            let sites = try await registry.sites(status: "all", at: at, scope: scope).sites
            let byDistrict = Dictionary(grouping: sites, by: { $0.site.district })
            for (d, o) in ordered {
                let children = (byDistrict[d] ?? []).map { s -> Context in
                    let c = t.condition(s.condition, silent: s.silent)
                    return ["name": s.station, "href": "/stations/\(Dashboard.encoded(s.station))", "word": c.word, "cls": c.cls,
                            "cells": [] as [Context], "reason": s.reasons.first.map(t.sentence) ?? ""]
                }
                var l = line(d, o.tally, href: nil, children: children)
                l["open"] = o.tally.broken > 0 || o.tally.silent > 0
                l["anchor"] = "d-\(Dashboard.encoded(d))"
                lines.append(l)
            }
        }
        if lines.count == 1 { lines[0]["open"] = true }
        let n = total
        let tiles: [Context] = [
            ["n": count(n.stations), "word": t.word("stations"), "cls": ""],
            ["n": count(n.broken), "word": t.word("broken"), "cls": n.broken > 0 ? "bad" : "ok"],
            ["n": count(n.degraded), "word": t.word("degraded"), "cls": n.degraded > 0 ? "warn" : "ok"],
            ["n": count(n.silent), "word": t.word("silent"), "cls": n.silent > 0 ? "silent" : "ok"],
            ["n": count(n.notPulled), "word": t.word("notPulled"), "cls": n.notPulled > 0 ? "warn" : "ok"],
            ["n": count(n.ready), "word": t.word("ready"), "cls": "ok"],
            ["n": count(n.blanks), "word": t.word("cardBlanks"), "cls": ""],
        ]
        let headings = ["stations", "ready", "degraded", "broken", "silent", "notPulled", "cardBlanks"].map { t.word($0) }
        return (t.word("overview"), "overview", ["lines": lines, "tiles": tiles, "crumbs": crumbs, "here": here, "columns": headings])
    }

    /// A problem device's row: its site, kind, model, port, reason (in the reader's language), since when.
    func problemFields(_ p: DeviceProblemView, at: Timestamp) -> Context {
        var c = siteFields(p.site, station: p.station)
        c["kind"] = t.text(p.kind.displayName)
        c["model"] = p.model
        c["port"] = p.port
        c["reason"] = t.reason(code: p.code, args: p.args, english: p.reason)
        c["since"] = time(p.since)
        c["forHowLong"] = span(p.since, at)
        return c
    }

    func kindFilter(_ request: Request) throws -> DeviceKind? {
        guard let k = request.uri.queryParameters.get("kind"), !k.isEmpty else { return nil }
        guard let kind = DeviceKind(rawValue: k) else {
            throw RegistryError.bad("kind=\(k.printable.prefix(40)): expected one of \(DeviceKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return kind
    }

    func kindOptions(_ selected: DeviceKind?) -> [Context] {
        [["value": "", "label": t.word("allKinds"), "selected": selected == nil]]
            + DeviceKind.allCases.map { ["value": $0.rawValue, "label": t.text($0.displayName), "selected": $0 == selected] }
    }

    func cannotEnrol(_ request: Request, _ v: Viewer, _ at: Timestamp) async throws -> (String, String, Context) {
        let scope = try region(request, v)
        let kind = try kindFilter(request)
        let sort = request.uri.queryParameters.get("sort") ?? "since"
        guard ["since", "site", "kind"].contains(sort) else { throw RegistryError.bad("sort=\(sort.printable.prefix(40)): expected since, site or kind") }
        var problems = try await registry.deviceProblems(scope: scope, kind: kind, brokenOnly: true)
        func siteKey(_ p: DeviceProblemView) -> [String] { [p.site.province, p.site.regency, p.site.district, p.station] }
        func less(_ a: [String], _ b: [String]) -> Bool { a.lexicographicallyPrecedes(b) { $0.utf8Precedes($1) } }
        problems.sort { a, b in
            switch sort {
            case "site": less(siteKey(a), siteKey(b))
            case "kind": a.kind != b.kind ? a.kind < b.kind : less(siteKey(a), siteKey(b))
            default: a.since != b.since ? a.since < b.since : less(siteKey(a), siteKey(b))
            }
        }
        // A page at a time over a slow link: a national list can run to thousands of rows.
        let pageNumber = Int(try RegistryHTTP.integer(request.uri.queryParameters.get("page"), name: "page", default: 1, in: 1...100_000))
        let shown = problems.dropFirst((pageNumber - 1) * Self.rowsPerPage).prefix(Self.rowsPerPage)
        let rows: [Context] = shown.map { problemFields($0, at: at) }
        var base = "/cannot-enrol?"
        if let r = request.uri.queryParameters.get("region") { base += "region=\(Dashboard.encoded(r))&" }
        if let kind { base += "kind=\(kind.rawValue)&" }
        let headers: [Context] = [
            ["word": t.word("site"), "href": base + "sort=site", "sorted": sort == "site" ? "ascending" : false],
            ["word": t.word("device"), "href": base + "sort=kind", "sorted": sort == "kind" ? "ascending" : false],
            ["word": t.word("port"), "href": false, "sorted": false],
            ["word": t.word("reason"), "href": false, "sorted": false],
            ["word": t.word("since"), "href": base + "sort=since", "sorted": sort == "since" ? "ascending" : false],
        ]
        let sites = Set(problems.map(\.station)).count
        var pager: Context = [:]
        if problems.count > Self.rowsPerPage {
            let pages = (problems.count + Self.rowsPerPage - 1) / Self.rowsPerPage
            pager = ["text": "\(count((pageNumber - 1) * Self.rowsPerPage + 1))–\(count((pageNumber - 1) * Self.rowsPerPage + shown.count)) / \(count(problems.count))",
                     "previous": pageNumber > 1 ? base + "sort=\(sort)&page=\(pageNumber - 1)" : false,
                     "next": pageNumber < pages ? base + "sort=\(sort)&page=\(pageNumber + 1)" : false]
        }
        return (t.word("cannotEnrol"), "cannotEnrol", [
            "rows": rows, "hasRows": !rows.isEmpty, "headers": headers, "count": count(sites), "sort": sort, "pager": pager.isEmpty ? false : pager,
            "regions": try await regionOptions(v, selected: scope, at: at), "kinds": kindOptions(kind), "hasKinds": true,
        ])
    }

    func repairs(_ request: Request, _ v: Viewer, _ at: Timestamp) async throws -> (String, String, Context) {
        let scope = try region(request, v)
        let kind = try kindFilter(request)
        let problems = try await registry.deviceProblems(scope: scope, kind: kind, brokenOnly: false)
            .filter { $0.health == .failed || $0.health == .missing }
            .sorted { $0.since != $1.since ? $0.since < $1.since : $0.station.utf8Precedes($1.station) }
        struct Group { var kind: DeviceKind; var model: String; var failed = 0; var missing = 0; var oldest: Timestamp }
        var groups: [String: Group] = [:]
        for p in problems {
            let key = "\(p.kind.rawValue)\u{1f}\(p.model)"
            var g = groups[key] ?? Group(kind: p.kind, model: p.model, oldest: p.since)
            if p.health == .failed { g.failed += 1 } else { g.missing += 1 }
            g.oldest = min(g.oldest, p.since)
            groups[key] = g
        }
        let ordered = groups.values.sorted { a, b in
            a.failed + a.missing != b.failed + b.missing ? a.failed + a.missing > b.failed + b.missing
                : a.kind != b.kind ? a.kind < b.kind : a.model.utf8Precedes(b.model)
        }
        let noneConnected = t.word("noneConnected")
        let groupRows: [Context] = ordered.map {
            ["kind": t.text($0.kind.displayName), "kindKey": $0.kind.rawValue, "model": $0.model.isEmpty ? noneConnected : $0.model,
             "failed": count($0.failed), "missing": count($0.missing), "longest": span($0.oldest, at)]
        }
        let rows: [Context] = problems.map { p in
            var c = problemFields(p, at: at)
            let h = t.health(p.health)
            c["model"] = p.model.isEmpty ? noneConnected : p.model
            c["health"] = h.word
            c["cls"] = h.cls
            return c
        }
        return (t.word("repairs"), "repairs", [
            "groups": groupRows, "hasGroups": !groupRows.isEmpty, "rows": rows,
            "failedTotal": count(problems.filter { $0.health == .failed }.count), "missingTotal": count(problems.filter { $0.health == .missing }.count),
            "stationCount": count(Set(problems.map(\.station)).count), "sort": "",
            "regions": try await regionOptions(v, selected: scope, at: at), "kinds": kindOptions(kind), "hasKinds": true,
        ])
    }

    func attention(_ request: Request, _ v: Viewer, _ at: Timestamp) async throws -> (String, String, Context) {
        let scope = try region(request, v)
        let unpulled = try await registry.sites(status: "unpulled", at: at, scope: scope).sites
            .sorted { ($0.lastPull?.millis ?? .min) < ($1.lastPull?.millis ?? .min) }
        let silent = try await registry.sites(status: "silent", at: at, scope: scope).sites
            .sorted { ($0.lastHeard?.millis ?? .min) < ($1.lastHeard?.millis ?? .min) }
        let never = t.word("never")
        let a: [Context] = unpulled.map { s in
            var c = siteFields(s.site, station: s.station)
            c["when"] = s.lastPull.map { time($0) } ?? never
            c["ago"] = s.lastPull.map { span($0, at) } ?? never
            return c
        }
        let b: [Context] = silent.map { s in
            var c = siteFields(s.site, station: s.station)
            c["when"] = s.lastHeard.map { time($0) } ?? never
            c["ago"] = s.lastHeard.map { span($0, at) } ?? never
            return c
        }
        return (t.word("attention"), "attention", [
            "notPulled": a, "hasNotPulled": !a.isEmpty, "notPulledCount": count(a.count),
            "silent": b, "hasSilent": !b.isEmpty, "silentCount": count(b.count),
        ])
    }

    func blanks(_ request: Request, _ v: Viewer, _ at: Timestamp) async throws -> (String, String, Context) {
        let scope = try region(request, v)
        let stock = try await registry.stock(at: at, scope: scope).sorted { a, b in
            switch (a.daysLeft, b.daysLeft) {
            case let (x?, y?): x < y
            case (_?, nil): true
            case (nil, _?): false
            case (nil, nil): a.blanks < b.blanks
            }
        }
        let rows: [Context] = stock.map { s in
            var c = siteFields(s.site, station: s.station)
            c["blanks"] = count(s.blanks)
            c["perDay"] = s.perDay.map { count(Int($0.rounded())) } ?? "—"
            c["daysLeft"] = s.daysLeft.map { d in d.isFinite ? "\(count(Int(min(d, 1e9).rounded(.down)))) d" : "—" } ?? "—"
            c["cls"] = s.daysLeft.map { $0 < 7 ? "bad" : $0 < 30 ? "warn" : "ok" } ?? "ok"
            c["printers"] = "\(s.printersWorking) / \(s.printers)"
            c["updated"] = time(s.updatedAt)
            return c
        }
        return (t.word("blanks"), "blanks", ["rows": rows, "hasRows": !rows.isEmpty])
    }

    func search(_ request: Request, _ v: Viewer, _ at: Timestamp) async throws -> (String, String, Context) {
        let q = request.uri.queryParameters.get("q") ?? ""
        let hits: [Context] = try await registry.search(q, scope: v.scope).map { h in
            let c = t.condition(h.condition)
            var x = siteFields(h.site, station: h.station)
            x["href"] = x["stationHref"]
            x["word"] = c.word
            x["cls"] = c.cls
            return x
        }
        return (t.word("search"), "search", ["query": q, "hits": hits, "hasHits": !hits.isEmpty])
    }

    func station(_ id: String, _ v: Viewer, _ at: Timestamp) async throws -> (String, String, Context) {
        let d = try await registry.station(id, at: at, events: 50, scope: v.scope)
        let view = d.view
        let c = t.condition(view.condition, silent: view.silent)
        var facts: [Context] = []
        func fact(_ label: String, _ value: String, _ cls: String = "") { facts.append(["label": label, "value": value, "cls": cls]) }
        fact(t.word("lastHeard"), view.lastHeard.map { "\(time($0)) (\(span($0, at)))" } ?? t.word("never"), view.silent ? "silent" : "")
        fact(t.word("lastPull"), view.lastPull.map { "\(time($0)) (\(span($0, at)))" } ?? t.word("never"), view.notPulled ? "warn" : "")
        if let s = d.status?.server {
            fact(t.word("server"), "\(s.name): \(s.state.rawValue)", s.state == .up ? "" : "bad")
            fact(t.word("availability24h"), percent(s.availability.last24h))
            fact(t.word("availability7d"), percent(s.availability.last7d))
        }
        if let u = d.status?.uplink {
            let up = u.targets.filter { $0.reachable == true }.count
            fact(t.word("uplink"), "\(u.defaultInterface ?? "—"): \(up) / \(u.targets.count)", up < u.targets.count ? "warn" : "")
        }
        if let p = d.status?.power, let mains = p.onMains {
            fact(t.word("power"), (mains ? t.word("onMains") : t.word("onBattery")) + (p.batteryPercent.map { ", \($0) %" } ?? ""), mains ? "" : "warn")
        }
        if let b = view.blanks { fact(t.word("cardBlanks"), count(b)) }
        if let courier = view.lastCourier { fact(t.word("courier"), time(courier)) }
        let devices: [Context] = (d.status?.devices ?? []).sorted { $0.device.kind < $1.device.kind }.map { s in
            let h = t.health(s.health)
            return ["kind": t.text(s.device.kind.displayName), "model": s.device.name, "port": s.device.portPath, "health": h.word, "cls": h.cls,
                    "reason": s.reason.map(t.sentence) ?? "", "since": time(s.since)]
        }
        // With the snapshot's problems (codes and parameters) the reasons are in the reader's language.
        let reasons = d.status.map { $0.kit.problems.map { t.reason(code: $0.code, args: $0.args, english: $0.reason) } }
            ?? view.reasons.map(t.sentence)
        let spans = try await registry.kitHistory(station: id, from: at.adding(.seconds(-7 * 86400)), to: at)
        let chart = KitChart.svg(spans, from: at.adding(.seconds(-7 * 86400)), to: at, dayLabel: { time($0).prefix(10).suffix(5).description })
        let events: [Context] = d.recentEvents.reversed().map { e in
            ["time": time(e.time), "text": eventText(e), "cls": e.to == "broken" || e.to == "failed" || e.to == "missing" ? "bad" : ""]
        }
        return ("\(view.site.district.isEmpty ? view.station : view.site.district): \(view.station)", "station", [
            "stationID": view.station, "province": view.site.province, "regency": view.site.regency, "district": view.site.district,
            "word": c.word, "cls": c.cls, "since": view.conditionSince.map { time($0) } ?? "—",
            "forHowLong": view.conditionSince.map { span($0, at) } ?? "—",
            "reasons": reasons, "hasReasons": !reasons.isEmpty,
            "skew": view.clockSkewed ? view.clockSkewSeconds.map { span(Timestamp(millis: 0), Timestamp(millis: abs($0) * 1000)) } ?? false : false,
            "facts": facts, "devices": devices, "hasDevices": !devices.isEmpty, "events": events,
            "chart": chart, "chartText": KitChart.summary(spans, word: { t.condition($0).word }, of: t.word("ofTime")),
        ])
    }

    func percent(_ x: Double) -> String {
        guard x.isFinite else { return "—" }
        return "\(Int((min(max(x, 0), 1) * 1000).rounded()) / 10).\(Int((min(max(x, 0), 1) * 1000).rounded()) % 10) %"
    }

    /// One event as a line a person reads: what, which device, from what to what, and why.
    /// In the reader's language: the kind, the states and the reason (each "; "-separated part
    /// through the catalogue or the template it was made from); the event type stays as sent.
    func eventText(_ e: Event) -> String {
        var s = e.type.rawValue
        if let k = e.kind { s = t.text(k.displayName) + (e.deviceName.map { " \($0)" } ?? "") + (e.subject.isEmpty ? "" : " (\(e.subject))") + ": " + s }
        else if !e.subject.isEmpty { s += " \(e.subject)" }
        if let f = e.from, let to = e.to { s += ": \(t.text(f)) → \(t.text(to))" } else if let to = e.to { s += ": \(t.text(to))" }
        // A kit's reasons come joined with "; ": each is read back on its own.
        if e.code != nil, let r = e.reason(t.text) { s += " — " + r }
        else if let r = e.reason, !r.isEmpty { s += " — " + r.components(separatedBy: "; ").map(t.sentence).joined(separator: "; ") }
        return s
    }
}

/// HTML-escapes text for the few places markup is built outside a template.
func escape(_ s: String) -> String {
    var out = ""
    out.reserveCapacity(s.utf8.count)
    for c in s {
        switch c {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.append(c)
        }
    }
    return out
}
