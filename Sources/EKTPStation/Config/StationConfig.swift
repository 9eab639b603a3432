import EKTPHardware
import EKTPCore
import EKTPModel
import EKTPPlatform
import EKTPYAML

/// Which hardware backend the daemon runs on.
public enum BackendConfig: Sendable, Equatable {
    /// The real bus, through libudev and libusb.
    case real
    /// A scenario file's station (`station` nil: the scenario's only station, or the config's id).
    case simulated(scenario: String, station: String?)
}

/// The daemon's configuration: `ektpd.yaml`, documented in README.md ("Configuration").
public struct StationConfig: Sendable, Equatable {
    public var stationID: String
    public var site: Site
    public var backend: BackendConfig
    public var kit: KitProfile
    public var policy: HealthPolicy
    /// The control socket's path. Default: $RUNTIME_DIRECTORY/control.sock, else /run/ektpd/control.sock.
    public var socketPath: String
    /// The group allowed to read the control socket (mode 0660); nil keeps the daemon's group.
    public var socketGroup: String?
    /// Where durable state lives. Default: $STATE_DIRECTORY, else /var/lib/ektpd.
    public var stateDirectory: String
    public var logLevel: String
    /// The group the recording software runs in; the kit's device nodes must be usable by it.
    public var deviceGroup = "ektp"
    /// The recording server to keep up, when configured.
    public var server: ServerConfig?
    /// Where to learn when the centre last pulled, when configured.
    public var centrePull: SyncConfig?
    public var uplink: UplinkConfig?
    /// Power watch: on by default (a station without /sys/class/power_supply reports nothing).
    public var power: PowerConfig? = PowerConfig()
    /// The registry the outbox is delivered to, when configured.
    public var registry: RegistryUplinkConfig?
    /// Alert hooks and webhooks (on by default: hooks from /etc/ektpd/hooks.d when it exists).
    public var alerts = AlertConfig()
    /// A TCP listener for /metrics, besides the control socket.
    public var metrics: MetricsConfig?
    /// The outbox's size bound (its alarm and coalescing policy: Outbox).
    public var outboxMaxBytes: Int64 = 256 << 20
    /// Reports the journal holds in memory, in order, while the disk refuses them (EventJournal);
    /// past it the oldest events are dropped and counted. 10,000 reports is a few MB.
    public var outboxHoldLimit: Int = 10_000

    public static let defaultPath = "/etc/ektpd/ektpd.yaml"

    public static func defaultSocketPath(environment: [String: String]) -> String {
        if let rt = environment["RUNTIME_DIRECTORY"]?.split(separator: ":").first { return "\(rt)/control.sock" }
        return "/run/ektpd/control.sock"
    }

    /// Reads and checks a config file, and the scenario it names; throws every problem at once.
    public static func load(path: String, environment: [String: String]) throws(FieldIssues) -> StationConfig {
        guard let text = readWholeFile(path) else {
            throw FieldIssues([FieldIssue(file: path, mark: YAMLMark(line: 0, column: 0), field: "",
                                          message: "cannot read the config file (does it exist, and may ektpd read it?)")])
        }
        return try parse(text, file: path, environment: environment)
    }

    public static func parse(_ text: String, file: String, environment: [String: String]) throws(FieldIssues) -> StationConfig {
        let diag = FieldDiagnostics(file: file)
        guard let root = diag.root(text) else { try diag.check(); fatalError("unreachable") }

        var stationID = ""
        var site = Site(province: "", regency: "", district: "")
        if let st = root.map("station", required: true) {
            if let v = st.value("id", required: true), let id = v.string() {
                if isStationID(id) { stationID = id } else {
                    v.fail("'\(id)' is not a valid station id: use letters, digits, '-', '_' and '.', at most 64")
                }
            }
            if let s = st.map("site", required: true) {
                site = Site(province: s.string("province", required: true, maxLength: Site.maxNameLength) ?? "",
                            regency: s.string("regency", required: true, maxLength: Site.maxNameLength) ?? "",
                            district: s.string("district", required: true, maxLength: Site.maxNameLength) ?? "")
                s.finish()
            }
            st.finish()
        }

        var backend = BackendConfig.real
        var deviceGroup = "ektp"
        if let b = root.map("backend", required: true) {
            let type = b.value("type", required: true)?.word([("real", "real"), ("simulated", "simulated")])
            deviceGroup = b.string("device_group") ?? deviceGroup
            if type == "simulated" {
                if let v = b.value("scenario", required: true), let rel = v.string() {
                    let path = resolve(rel, relativeTo: file)
                    let station = b.string("station")
                    backend = .simulated(scenario: path, station: station ?? stationID)
                    // Check the scenario now: nothing starts half-way.
                    do {
                        let scenario = try Scenario.load(path: path)
                        let pick = station ?? (scenario.stations.contains { $0.id == stationID } ? stationID : nil)
                        if scenario.station(pick) == nil {
                            v.fail(station != nil
                                ? "scenario \(path) has no station '\(station!)'"
                                : "scenario \(path) has \(scenario.stations.count) stations and none is '\(stationID)': set backend.station")
                        }
                        backend = .simulated(scenario: path, station: pick)
                    } catch {
                        for i in error.issues { diag.include(i) }
                    }
                }
            } else if type == "real" {
                _ = b.value("scenario").map { $0.fail(N_("only used with type: simulated")) }
            }
            b.finish()
        }

        var kit = KitProfile.recording
        if let k = root.map("kit") {
            var reqs: [KitProfile.Requirement] = []
            for (key, _, value) in k.pairs() {
                guard let kind = DeviceKind(word: key), kind != .other else {
                    let hint = closest(key, DeviceKind.allCases.map(\.rawValue)).map { " (did you mean '\($0)'?)" } ?? ""
                    value.fail("unknown device kind\(hint): expected one of \(DeviceKind.allCases.filter { $0 != .other }.map(\.rawValue).joined(separator: ", "))")
                    continue
                }
                if let n = value.int(in: 0...16) { reqs.append(.init(kind: kind, count: n)) }
            }
            kit = KitProfile(requirements: reqs.sorted { $0.kind < $1.kind })
        }

        var policy = HealthPolicy()
        if let p = root.map("probes") {
            policy.interval = p.duration("interval", atLeast: .milliseconds(100)) ?? policy.interval
            policy.retryInterval = p.duration("retry_interval", atLeast: .milliseconds(50)) ?? policy.retryInterval
            policy.timeout = p.duration("timeout", atLeast: .milliseconds(10)) ?? policy.timeout
            policy.failAfter = p.int("fail_after", in: 1...100) ?? policy.failAfter
            policy.recoverAfter = p.int("recover_after", in: 1...100) ?? policy.recoverAfter
            policy.flapWindow = p.int("flap_window", in: 4...200) ?? policy.flapWindow
            policy.flapStart = p.value("flap_start")?.double(in: 0.01...1) ?? policy.flapStart
            policy.flapStop = p.value("flap_stop")?.double(in: 0...1) ?? policy.flapStop
            if policy.flapStop >= policy.flapStart, let v = p.value("flap_stop") {
                v.fail("must be lower than flap_start (\(policy.flapStart))")
            }
            if policy.timeout > policy.interval, let v = p.value("timeout") {
                v.fail("must not be longer than interval (\(formatDuration(policy.interval)))")
            }
            p.finish()
        }

        var socketPath = defaultSocketPath(environment: environment)
        var socketGroup: String?
        if let c = root.map("control") {
            if let v = c.value("socket"), let s = v.string() {
                if s.hasPrefix("/") && s.utf8.count < 108 { socketPath = s } else {
                    v.fail(N_("must be an absolute path shorter than 108 bytes (a Unix socket limit)"))
                }
            }
            socketGroup = c.string("group")
            c.finish()
        }
        var stateDirectory = environment["STATE_DIRECTORY"].flatMap { $0.split(separator: ":").first.map(String.init) } ?? "/var/lib/ektpd"
        if let v = root.value("state_directory"), let s = v.string() {
            if s.hasPrefix("/") { stateDirectory = s } else { v.fail(N_("must be an absolute path")) }
        }
        let server = root.map("server").flatMap(WatchConfigReader.server)
        let centrePull = root.map("centre_pull").flatMap(WatchConfigReader.sync)
        let uplink = root.map("uplink").flatMap(WatchConfigReader.uplink)
        var power: PowerConfig? = PowerConfig()
        if let v = root.value("power") {
            if case .scalar("false", _) = v.node.value { power = nil } else { power = v.map().map(WatchConfigReader.power) }
        }
        var registry: RegistryUplinkConfig?
        var outboxMax: Int64 = 256 << 20
        var holdLimit = 10_000
        if let r = root.map("registry") {
            var url: HTTPURL?
            if let v = r.value("url", required: true), let s = v.string() {
                url = HTTPURL(s)
                if url == nil { v.fail(N_("expected an https://HOST[:PORT] or http://HOST:PORT URL, like https://registry.example.id")) }
            }
            var token: String?
            switch (r.value("token"), r.value("token_file")) {
            case (let t?, nil): token = t.string()
            case (nil, let f?):
                if let path = f.string() {
                    // `$CREDENTIALS_DIRECTORY/NAME`: a systemd credential (LoadCredential= in ektpd.service).
                    let expanded = path.hasPrefix("$CREDENTIALS_DIRECTORY")
                        ? (environment["CREDENTIALS_DIRECTORY"] ?? "/run/credentials/ektpd.service") + path.dropFirst("$CREDENTIALS_DIRECTORY".count)
                        : path
                    let full = resolve(expanded, relativeTo: file)
                    if let why = othersMayRead(full) { f.fail(why) }
                    if let text = readWholeFile(full) {
                        token = text.split(whereSeparator: { $0 == "\n" || $0 == " " || $0 == "\r" }).first.map(String.init)
                        if token == nil { f.fail("\(full) is empty: put the token from `ektp-registry token issue` in it") }
                    } else {
                        f.fail("cannot read \(full) (does it exist, and may ektpd read it?)")
                    }
                }
            case (.some, .some): r.value("token_file")?.fail(N_("give either token or token_file, not both"))
            case (nil, nil): r.diag.report(r.node.mark, "registry", "needs token or token_file (from `ektp-registry token issue --station ID`)")
            }
            var http = HTTPClientSettings.read(r, section: "registry", configFile: file)
            http.gzip = r.bool("compress") ?? true
            let batch = r.int("batch_size", in: 1...1000)
            let heartbeat = r.duration("heartbeat", atLeast: .seconds(1))
            let spacing = r.duration("snapshot_spacing", atLeast: .zero)
            let base = r.duration("backoff_base", atLeast: .milliseconds(10))
            let maxBackoff = r.duration("backoff_max", atLeast: .milliseconds(10))
            let timeout = r.duration("timeout", atLeast: .milliseconds(100))
            if let mb = r.int("outbox_max_mb", in: 1...1_000_000) { outboxMax = Int64(mb) << 20 }
            if let n = r.int("outbox_hold_reports", in: 1...1_000_000) { holdLimit = n }
            if let url, let token {
                var c = RegistryUplinkConfig(url: url, token: token)
                c.http = http
                c.batchSize = batch ?? c.batchSize
                c.heartbeat = heartbeat ?? c.heartbeat
                c.snapshotSpacing = spacing ?? c.snapshotSpacing
                c.backoffBase = base ?? c.backoffBase
                c.backoffMax = maxBackoff ?? c.backoffMax
                c.timeout = timeout ?? c.timeout
                if c.backoffMax < c.backoffBase, let v = r.value("backoff_max") { v.fail(N_("must not be shorter than backoff_base")) }
                registry = c
            }
            r.finish()
        }
        let alerts = root.map("alerts").map { AlertConfig.read($0, configFile: file) } ?? AlertConfig()
        let metrics = root.map("metrics").flatMap(MetricsConfig.read)
        let logLevel = root.value("log_level")?.word([("debug", "debug"), ("info", "info"), ("notice", "notice"),
                                                      ("warning", "warning"), ("error", "error")]) ?? "info"
        root.finish()
        try diag.check()
        var config = StationConfig(stationID: stationID, site: site, backend: backend, kit: kit, policy: policy,
                                   socketPath: socketPath, socketGroup: socketGroup, stateDirectory: stateDirectory, logLevel: logLevel)
        config.server = server
        config.deviceGroup = deviceGroup
        config.centrePull = centrePull
        config.uplink = uplink
        config.power = power
        config.registry = registry
        config.outboxMaxBytes = outboxMax
        config.outboxHoldLimit = holdLimit
        config.alerts = alerts
        config.metrics = metrics
        return config
    }
}



/// A path in a config file is relative to the config file's folder.
func resolve(_ path: String, relativeTo file: String) -> String {
    if path.hasPrefix("/") { return path }
    guard let slash = file.lastIndex(of: "/") else { return path }
    return String(file[...slash]) + path
}

extension StationConfig {
    /// What is allowed but unwise, for check-config and the log: a registry over plain `http://`
    /// beyond this machine sends the token and the reports in clear (issue 14).
    public var warnings: [String] {
        var out: [String] = []
        if let r = registry, r.url.scheme == "http", !["127.0.0.1", "::1", "localhost"].contains(r.url.host) {
            out.append("registry.url \(r.url) is plain http: the token and every report cross the network in clear; use https:// (a local TLS relay in front is fine, on 127.0.0.1)")
        }
        return out
    }

    /// What in this config makes HTTP requests (and so needs libcurl): the registry, webhooks, an
    /// `http:` liveness probe, an `http:` centre-pull source. Empty when nothing does.
    public var httpUsers: [String] {
        var out: [String] = []
        if registry != nil { out.append("registry") }
        if !alerts.webhooks.isEmpty { out.append("alerts.webhooks") }
        if case .http = server?.probe { out.append("server.probe") }
        if case .http = centrePull?.source { out.append("centre_pull") }
        return out
    }
}

extension StationConfig {
    /// A config with every optional section off (no power watch either) and the default socket
    /// and state paths under `stateDirectory`: what `ektpd simulate` builds for each simulated
    /// station before it sets the sections the scenario calls for.
    public init(stationID: String, site: Site, backend: BackendConfig, kit: KitProfile, policy: HealthPolicy,
                stateDirectory: String) {
        self.stationID = stationID
        self.site = site
        self.backend = backend
        self.kit = kit
        self.policy = policy
        self.stateDirectory = stateDirectory
        socketPath = stateDirectory + "/control.sock"
        logLevel = "info"
        power = nil
    }
}
