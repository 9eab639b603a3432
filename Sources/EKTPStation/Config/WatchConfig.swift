import EKTPCore
import EKTPModel
import EKTPPlatform
import EKTPYAML

/// Reads the `server`, `centre_pull`, `uplink` and `power` sections of ektpd.yaml.
enum WatchConfigReader {
    static func server(_ m: YAMLMap) -> ServerConfig? {
        let name = m.string("name") ?? "recording server"
        var mode: ServerConfig.Mode?
        let command = m.value("command").flatMap(argv)
        let unit = m.string("unit")
        switch (command, unit) {
        case (let c?, nil): mode = .command(c)
        case (nil, let u?): mode = .unit(u)
        case (.some, .some): m.value("unit")?.fail(N_("give either command or unit, not both"))
        case (nil, nil): m.diag.report(m.node.mark, m.path.isEmpty ? "server" : m.path, "needs command (a child the daemon runs) or unit (a systemd unit)")
        }
        var probe: LivenessProbe?
        var interval: Duration?, timeout: Duration?
        if let l = m.map("liveness", required: true) {
            let choices = [l.value("tcp"), l.value("http"), l.value("command")].compactMap { $0 }
            if choices.count != 1 {
                l.diag.report(l.node.mark, l.path, "give exactly one of tcp, http or command")
            }
            if let v = l.value("tcp"), let s = v.string() {
                if let (h, p) = hostPort(s) { probe = .tcp(host: h, port: p) } else { v.fail(N_("expected HOST:PORT, like 127.0.0.1:8080")) }
            }
            if let v = l.value("http"), let s = v.string() {
                if let (h, p, path) = httpURL(s) {
                    probe = .http(host: h, port: p, path: path, expectStatus: l.int("expect_status", in: 100...599) ?? 200)
                } else { v.fail(N_("expected a plain http:// URL, like http://127.0.0.1:8080/health")) }
            } else { _ = l.value("expect_status") }
            if let v = l.value("command"), let a = argv(v) { probe = .command(a) }
            interval = l.duration("interval", atLeast: .milliseconds(50))
            timeout = l.duration("timeout", atLeast: .milliseconds(10))
            l.finish()
        }
        var policy = SupervisorPolicy()
        var stopGrace: Duration?
        if let r = m.map("restart") {
            policy.failAfter = r.int("fail_after", in: 1...100) ?? policy.failAfter
            policy.startGrace = r.duration("start_grace") ?? policy.startGrace
            policy.initialBackoff = r.duration("initial_backoff", atLeast: .milliseconds(10)) ?? policy.initialBackoff
            policy.maxBackoff = r.duration("max_backoff", atLeast: .milliseconds(10)) ?? policy.maxBackoff
            policy.crashLoopRestarts = r.int("crash_loop_restarts", in: 1...1000) ?? policy.crashLoopRestarts
            policy.crashLoopWindow = r.duration("crash_loop_window", atLeast: .seconds(1)) ?? policy.crashLoopWindow
            policy.onCrashLoop = r.value("on_crash_loop")?.word([("slow", SupervisorPolicy.OnCrashLoop.slow), ("stop", .stop)]) ?? policy.onCrashLoop
            policy.resetAfter = r.duration("reset_after", atLeast: .seconds(1)) ?? policy.resetAfter
            stopGrace = r.duration("stop_grace", atLeast: .milliseconds(10))
            if policy.maxBackoff < policy.initialBackoff, let v = r.value("max_backoff") { v.fail(N_("must not be shorter than initial_backoff")) }
            r.finish()
        }
        let systemctl = m.string("systemctl")
        m.finish()
        guard let mode, let probe else { return nil }
        var c = ServerConfig(name: name, mode: mode, probe: probe)
        c.interval = interval ?? c.interval
        c.timeout = timeout ?? c.timeout
        c.policy = policy
        c.stopGrace = stopGrace ?? c.stopGrace
        c.systemctl = systemctl ?? c.systemctl
        return c
    }

    static func sync(_ m: YAMLMap) -> SyncConfig? {
        var source: PullSource?
        let given = ["file", "http", "command"].filter { m.keys.contains($0) }
        if given.count != 1 { m.diag.report(m.node.mark, m.path, "give exactly one of file, http or command") }
        if let v = m.value("file"), let s = v.string() {
            if s.hasPrefix("/") { source = .file(s) } else { v.fail(N_("must be an absolute path")) }
        }
        if let v = m.value("http"), let s = v.string() {
            if let (h, p, path) = httpURL(s) { source = .http(host: h, port: p, path: path) } else { v.fail(N_("expected a plain http:// URL")) }
        }
        if let v = m.value("command"), let a = argv(v) { source = .command(a) }
        let limit = m.duration("limit", atLeast: .seconds(1))
        let interval = m.duration("interval", atLeast: .milliseconds(50))
        m.finish()
        guard let source else { return nil }
        var c = SyncConfig(source: source)
        c.limit = limit ?? c.limit
        c.interval = interval ?? c.interval
        return c
    }

    static func uplink(_ m: YAMLMap) -> UplinkConfig? {
        var targets: [UplinkConfig.Target] = []
        for item in m.list("targets", required: true) ?? [] {
            guard let t = item.map() else { continue }
            let name = t.string("name", required: true)
            if let v = t.value("address", required: true), let s = v.string() {
                if let (h, p) = hostPort(s) { targets.append(.init(name: name ?? s, host: h, port: p)) } else {
                    v.fail(N_("expected HOST:PORT, like registry.example.id:443"))
                }
            }
            t.finish()
        }
        var c = UplinkConfig(targets: targets)
        c.interval = m.duration("interval", atLeast: .milliseconds(50)) ?? c.interval
        c.timeout = m.duration("timeout", atLeast: .milliseconds(10)) ?? c.timeout
        c.failAfter = m.int("fail_after", in: 1...100) ?? c.failAfter
        if let v = m.value("proc_root"), let s = v.string() { if s.hasPrefix("/") { c.procRoot = s } else { v.fail(N_("must be an absolute path")) } }
        m.finish()
        return c
    }

    static func power(_ m: YAMLMap) -> PowerConfig {
        var c = PowerConfig()
        if let v = m.value("root"), let s = v.string() { if s.hasPrefix("/") { c.root = s } else { v.fail(N_("must be an absolute path")) } }
        c.interval = m.duration("interval", atLeast: .milliseconds(50)) ?? c.interval
        c.lowBattery = m.int("low_battery", in: 0...100) ?? c.lowBattery
        m.finish()
        return c
    }

    /// A command as a list of words (never a shell string).
    static func argv(_ v: YAMLValue) -> [String]? {
        guard let items = v.list() else { return nil }
        let words = items.compactMap { $0.string() }
        guard words.count == items.count else { return nil }
        guard let first = words.first, !first.isEmpty else {
            v.fail(N_("a command needs at least the program, as a list: [/usr/bin/prog, --flag]"))
            return nil
        }
        return words
    }

    static func hostPort(_ s: String) -> (String, UInt16)? {
        guard let colon = s.lastIndex(of: ":"), let port = UInt16(s[s.index(after: colon)...]), port > 0 else { return nil }
        var host = String(s[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return host.isEmpty ? nil : (host, port)
    }

    static func httpURL(_ s: String) -> (String, UInt16, String)? {
        guard s.hasPrefix("http://") else { return nil }
        let rest = s.dropFirst(7)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = String(rest[..<slash])
        let path = slash == rest.endIndex ? "/" : String(rest[slash...])
        if let (h, p) = hostPort(authority) { return (h, p, path) }
        return authority.isEmpty || authority.contains(":") ? nil : (authority, 80, path)
    }
}
