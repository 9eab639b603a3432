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

/// How the dashboard shows itself: cookies marked Secure (the registry serves HTTPS), and the
/// time zone its times are written in (Indonesia's: WIB +07:00, WITA +08:00, WIT +09:00).
public struct DashboardSettings: Sendable {
    public var secureCookies: Bool
    /// Minutes east of UTC.
    public var utcOffsetMinutes: Int
    /// Where the compiled catalogues are (`L10n.localeDirectory()`: beside the binary, the build
    /// tree's, or /usr/share/locale).
    public var localeDirectory: String

    public init(secureCookies: Bool = false, utcOffsetMinutes: Int = 7 * 60, localeDirectory: String = L10n.localeDirectory()) {
        self.secureCookies = secureCookies
        self.utcOffsetMinutes = utcOffsetMinutes
        self.localeDirectory = localeDirectory
    }

    /// "+07:00", "WIB", "WITA", "WIT", "UTC", "-03:30": the zone as `serve --time-zone` takes it.
    public static func offset(parsing s: String) -> Int? {
        switch s.uppercased() {
        case "WIB": return 420
        case "WITA": return 480
        case "WIT": return 540
        case "UTC", "Z": return 0
        default: break
        }
        let chars = Array(s)
        guard chars.count == 6, chars[0] == "+" || chars[0] == "-", chars[3] == ":",
              let h = Int(String(chars[1...2])), let m = Int(String(chars[4...5])), h <= 14, m < 60 else { return nil }
        return (chars[0] == "-" ? -1 : 1) * (h * 60 + m)
    }

    /// The zone's name as an Indonesian reader knows it.
    var zoneName: String {
        switch utcOffsetMinutes {
        case 420: "WIB"
        case 480: "WITA"
        case 540: "WIT"
        case 0: "UTC"
        default:
            "UTC\(utcOffsetMinutes < 0 ? "-" : "+")\(abs(utcOffsetMinutes) / 60)\(abs(utcOffsetMinutes) % 60 == 0 ? "" : ":\(abs(utcOffsetMinutes) % 60)")"
        }
    }
}

/// The centre's dashboard (issue 15): HTML pages rendered on the server from the same queries as
/// the JSON API, for Dukcapil staff at the regency, the province and the centre. Every page needs
/// a session (a viewer account, `ektp-registry user add`) and shows only the viewer's scope.
///
/// Pages: `/` the fleet as a tree, worst first; `/cannot-enrol`; `/repairs`; `/attention` (not
/// pulled, not heard from); `/blanks`; `/stations/{id}`; `/search`. `/live` tells an open page a
/// report arrived (`/static/live.js` polls it every 2 s and swaps the page's <main>).
/// Forms (`/login`, `/logout`) carry a CSRF token: the login form's is a cookie it must match
/// (double submit), the logout form's the session's own.
public enum Dashboard {
    static let sessionCookie = "ektp_session"
    static let loginCookie = "ektp_login"
    /// A form body is at most this many bytes (a user name and a password fit many times over).
    static let maxForm = 8 << 10

    static let library: MustacheLibrary = {
        var l = MustacheLibrary()
        for (name, text) in DashboardTemplates.all {
            // The templates are compiled in: a parse error is a bug caught by the first test.
            do { try l.register(text, named: name) } catch { fatalError("dashboard template \(name): \(error)") }
        }
        return l
    }()

    /// Adds the dashboard's routes to the registry's router.
    public static func register(on router: Router<RegistryContext>, registry: Registry, clock: RegistryHTTP.Clock,
                                logger: Logger, settings: DashboardSettings) {
        let pages = Pages(registry: registry, clock: clock, settings: settings, languages: DashboardLanguages.load(settings.localeDirectory))
        router.get("/static/dashboard.css") { _, _ in
            staticFile(DashboardTemplates.css, type: "text/css; charset=utf-8")
        }
        router.get("/static/live.js") { _, _ in
            staticFile(DashboardTemplates.liveJS, type: "text/javascript; charset=utf-8")
        }
        router.get("/login") { request, _ in await pages.loginForm(request, error: nil, status: .ok) }
        router.post("/login") { request, _ in await pages.login(request, logger: logger) }
        router.post("/logout") { request, _ in await pages.logout(request) }
        router.get("/live") { request, _ in await pages.live(request) }
        for (path, key) in Pages.sections + [("/search", "search")] {
            router.get(RouterPath(path)) { request, _ in
                await pages.page(request, nav: key) { p, v, at in try await p.section(key, request, v, at) }
            }
        }
        router.get("/stations/:id") { request, context in
            let id = context.parameters.get("id") ?? ""
            return await pages.page(request, nav: "") { p, v, at in try await p.station(id, v, at) }
        }
    }

    static func staticFile(_ text: String, type: String) -> Response {
        Response(status: .ok, headers: [.contentType: type, .cacheControl: "max-age=3600", .init("X-Content-Type-Options")!: "nosniff"],
                 body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// What every HTML page is sent with: no script but the registry's own, no framing, no
    /// caching of a viewer's page, no referrer to another host.
    static var pageHeaders: HTTPFields {
        [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
         .init("Content-Security-Policy")!: "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
         .init("X-Content-Type-Options")!: "nosniff", .init("Referrer-Policy")!: "same-origin", .init("X-Frame-Options")!: "DENY"]
    }

    /// `application/x-www-form-urlencoded` (WHATWG URL standard, section 5): `+` is a space, `%XX`
    /// a byte; a bad escape is kept as written. Later duplicates win.
    static func form(_ bytes: ByteBuffer) -> [String: String] {
        var out: [String: String] = [:]
        for pair in bytes.readableBytesView.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let parts = pair.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            out[percentDecoded(parts[0])] = parts.count > 1 ? percentDecoded(parts[1]) : ""
        }
        return out
    }

    static func percentDecoded<C: Collection>(_ input: C) -> String where C.Element == UInt8 {
        let s = Array(input)
        var out: [UInt8] = []
        out.reserveCapacity(s.count)
        func hex(_ b: UInt8) -> UInt8? {
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): b - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): b - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): b - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        var i = 0
        while i < s.count {
            if s[i] == UInt8(ascii: "+") {
                out.append(0x20)
            } else if s[i] == UInt8(ascii: "%"), i + 2 < s.count, let h = hex(s[i + 1]), let l = hex(s[i + 2]) {
                out.append(h << 4 | l)
                i += 2
            } else {
                out.append(s[i])
            }
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// A percent-encoded query value (RFC 3986 unreserved characters kept).
    static func encoded(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(Character(Unicode.Scalar(b)))
            default:
                let h = Array("0123456789ABCDEF")
                out += "%\(h[Int(b >> 4)])\(h[Int(b & 15)])"
            }
        }
        return out
    }

    /// Only a path on this host may be a login's `next` (no `//host`, no scheme): an open
    /// redirect would let a link send a viewer elsewhere after logging in.
    static func safeNext(_ s: String?) -> String {
        guard let s, s.hasPrefix("/"), !s.hasPrefix("//"), !s.hasPrefix("/\\"), s.count <= 512,
              s.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7f }) else { return "/" }
        return s
    }
}
