#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import EKTPHardware
import EKTPCore
import EKTPModel
import EKTPPlatform
import EKTPYAML

/// The control socket's endpoints. Reads are for anyone who can open the socket (mode 0660, the
/// `control.group`); actions are for root only (SO_PEERCRED).
///
/// - `GET /v1/ping`
/// - `GET /v1/status`: `StationStatus`; the header field `Ektpd-Kit-State` repeats `kit.state`, so
///   `ektpd status --json` passes the body through and takes its exit code without decoding it.
///   `?format=text` or `?format=devices`: what `ektpd status` or `ektpd devices` prints, as
///   `text/plain`, in the first of `lang`'s colon-separated catalogue languages (`id_ID:id`) this
///   station has a catalogue for, else English (`StatusText`).
/// - `GET /v1/devices`, `GET /v1/devices/{id}`: `DeviceStatus`
/// - `GET /v1/events?since=SEQ|RFC3339|10m&limit=N`: `[Event]`, oldest first
/// - `POST /v1/recheck`: probe every device now
/// - `GET /v1/alerts`: `[Alert]` firing now (Alertmanager's shape)
/// - `GET /metrics`: Prometheus text format
/// - `GET /v1/export?since=SEQ&max=N`: a signed courier bundle (gzip) of what the registry lacks;
///   changes nothing (a read, for whoever may open the socket: root and group ektp)
/// - `POST /v1/simulated/faults` `{"device": "fp", "fault": "unplug", ...}`: simulated backend only
public struct ControlAPI: Sendable {
    /// The header field on `GET /v1/status` that carries the kit's state (ready, degraded or broken).
    public static let kitStateHeader = "Ektpd-Kit-State"
    public let engine: StationEngine
    public let simulated: SimulatedBackend?
    public let waker: Waker
    public let now: @Sendable () -> Timestamp
    /// The Prometheus text for `/metrics`.
    public var metrics: (@Sendable () -> [UInt8])?
    /// The alerts firing now.
    public var alerts: (@Sendable () -> [Alert])?
    /// A courier bundle of the outbox from a sequence on, at most so many reports (issue 16).
    public var export: (@Sendable (_ since: Int64, _ max: Int) -> Result<[UInt8], BundleError>)?
    /// The catalogues the text renderings are made in, read once each.
    let languages = StatusLanguages()

    public init(engine: StationEngine, simulated: SimulatedBackend?, waker: Waker, now: @escaping @Sendable () -> Timestamp,
                metrics: (@Sendable () -> [UInt8])? = nil, alerts: (@Sendable () -> [Alert])? = nil) {
        self.metrics = metrics
        self.alerts = alerts
        self.engine = engine
        self.simulated = simulated
        self.waker = waker
        self.now = now
    }

    public func handle(_ r: ControlRequest) -> ControlResponse {
        let parts = r.path.split(separator: "/", omittingEmptySubsequences: true)
        if parts == ["metrics"] {
            guard r.method == "GET" || r.method == "HEAD" else { return .error(405, "\(r.method) is not allowed on /metrics") }
            guard let metrics else { return .error(404, "metrics are not enabled") }
            return ControlResponse(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: metrics())
        }
        switch (r.method, parts.count > 1 && parts[0] == "v1" ? parts[1] : "") {
        case ("GET", "ping"):
            // Health that tells the truth (issue 13): a daemon that cannot store reports is not well.
            let o = engine.journal.outboxStatus
            if engine.journal.outbox != nil, !o.writable { return .error(503, o.problem ?? "cannot write the outbox") }
            return .json(["ok": true])
        case ("GET", "status"):
            var status = engine.status(now: now())
            if let alerts { status.alerts = alerts().compactMap(FiringAlert.init) }
            // Pending as it is now (the uplink's figure is from its last round): on disk plus held in
            // memory while the disk refuses. Counted here, for a person asking, not in every status
            // the alert rules and metrics build.
            if status.delivery != nil, let outbox = engine.journal.outbox {
                status.delivery?.pending = outbox.pendingCount + engine.journal.heldCount
            }
            var response: ControlResponse
            switch r.query["format"] {
            case nil, "json": response = .json(status)
            case "text", "devices":
                let text = StatusText(catalog: languages.catalog(r.query["lang"] ?? ""))
                let rendered = r.query["format"] == "text" ? text.render(status) : text.renderDevices(status)
                response = ControlResponse(status: 200, contentType: "text/plain; charset=utf-8", body: Array(rendered.utf8))
            case let f?:
                return .error(400, "format must be json, text or devices, got '\(f.printable)'")
            }
            response.headers = [(Self.kitStateHeader, status.kit.state.rawValue)]
            return response
        case ("GET", "devices"):
            if parts.count == 3 {
                let id = DeviceID(rawValue: String(parts[2]))
                guard let d = engine.device(id) else { return .error(404, "no device '\(parts[2])': `ektpd devices` lists them") }
                return .json(d)
            }
            return .json(engine.status(now: now()).devices)
        case ("GET", "events"): return events(r)
        case ("GET", "alerts"): return ControlResponse(status: 200, body: Alert.encode(alerts?() ?? []))
        case ("POST", "recheck"):
            guard r.peerUID == 0 else { return .error(403, "recheck is for root only") }
            engine.recheckAll(now: now())
            waker.wake()
            return .json(["accepted": true], status: 202)
        case ("PUT", "stock"):
            // The operator's count of card blanks: for the office, not only root (group ektp).
            struct Body: Decodable { var blanks: Int }
            guard let b = try? JSONStyle.decode(Body.self, from: r.body) else {
                return .error(400, "body must be {\"blanks\": N}, N a whole number")
            }
            guard (0...10_000_000).contains(b.blanks) else { return .error(400, "blanks: \(b.blanks) is not between 0 and 10000000") }
            let e = engine.setStock(blanks: b.blanks, now: now())
            return .json(e)
        case ("GET", "export"):
            guard let export else { return .error(503, "this station has no signing key (see the daemon's log): no bundles") }
            let since = r.query["since"].map { Int64($0) } ?? 0
            let max = r.query["max"].map { Int($0) } ?? 50_000
            guard let since, since >= 0 else { return .error(400, "since must be a sequence number (0 or more), got '\(r.query["since"] ?? "")'") }
            guard let max, (1...CarryBundle.maxReports).contains(max) else {
                return .error(400, "max must be a whole number from 1 to \(CarryBundle.maxReports), got '\(r.query["max"] ?? "")'")
            }
            switch export(since, max) {
            case .success(let bytes): return ControlResponse(status: 200, contentType: "application/gzip", body: bytes)
            case .failure(let e): return .error(e.description.hasPrefix("nothing to export") ? 404 : 500, e.description)
            }
        case ("POST", "simulated"):
            guard parts.count == 3, parts[2] == "faults" else { return .error(404, "no such endpoint: \(r.path)") }
            return inject(r)
        case (_, "ping"), (_, "status"), (_, "devices"), (_, "events"), (_, "recheck"), (_, "simulated"), (_, "stock"), (_, "alerts"), (_, "export"):
            return .error(405, "\(r.method) is not allowed on \(r.path)")
        default:
            return .error(404, "no such endpoint: \(r.path) (try /v1/status, /v1/devices, /v1/events)")
        }
    }

    func events(_ r: ControlRequest) -> ControlResponse {
        var limit = 500
        if let l = r.query["limit"] {
            guard let n = Int(l), n > 0, n <= 10_000 else { return .error(400, "limit must be a whole number from 1 to 10000, got '\(l)'") }
            limit = n
        }
        guard let since = r.query["since"], !since.isEmpty else {
            return .json(engine.events(sinceSequence: 0, limit: .max).suffix(limit).map { $0 })
        }
        if let seq = Int64(since) { return .json(engine.events(sinceSequence: seq, limit: limit)) }
        if let t = Timestamp(rfc3339: since) { return .json(engine.events(since: t, limit: limit)) }
        // Report times are wall-clock times (the journal stamps them): "the last 10 minutes" on that clock.
        if let d = parseDuration(since) { return .json(engine.events(since: (engine.journal.wallNow ?? now()).adding(.zero - d), limit: limit)) }
        return .error(400, "since must be a sequence number, an RFC 3339 time (1970-9999) or a duration like 10m (at most 10 years), got '\(since.prefix(64))'")
    }

    /// The body of `POST /v1/simulated/faults`.
    public struct FaultRequest: Codable, Sendable {
        /// The wire names: snake_case, written out (no key strategy: JSONStyle).
        enum CodingKeys: String, CodingKey {
            case device, fault, speed, delay, count
            case failRatio = "fail_ratio"
        }

        public var device: String
        public var fault: String
        public var failRatio: Double?
        public var speed: String?
        public var delay: String?
        public var count: Int?
        public init(device: String, fault: String, failRatio: Double? = nil, speed: String? = nil, delay: String? = nil, count: Int? = nil) {
            self.device = device
            self.fault = fault
            self.failRatio = failRatio
            self.speed = speed
            self.delay = delay
            self.count = count
        }
    }

    func inject(_ r: ControlRequest) -> ControlResponse {
        guard r.peerUID == 0 else { return .error(403, "fault injection is for root only") }
        guard let sim = simulated else { return .error(409, "fault injection needs the simulated backend; this daemon runs on real hardware") }
        let req: FaultRequest
        do {
            req = try JSONStyle.decode(FaultRequest.self, from: r.body)
        } catch {
            return .error(400, "body must be JSON like {\"device\": \"fp\", \"fault\": \"unplug\"}: \(describe(error))")
        }
        let fault: SimulatedFault
        switch req.fault {
        case "unplug": fault = .unplug
        case "replug": fault = .replug
        case "unresponsive": fault = .unresponsive
        case "intermittent":
            let ratio = req.failRatio ?? 0.5
            guard (0...1).contains(ratio) else { return .error(400, "fail_ratio must be between 0 and 1") }
            fault = .intermittent(failRatio: ratio)
        case "slow_link":
            let speeds: [String: USBSpeed] = ["low": .low, "full": .full, "high": .high, "super": .super]
            guard let s = speeds[req.speed ?? "full"] else { return .error(400, "speed must be low, full, high or super") }
            fault = .slowLink(s)
        case "permission_denied": fault = .permissionDenied
        case "latency":
            guard let d = req.delay.flatMap(parseDuration) else { return .error(400, "latency needs delay, like \"3s\"") }
            fault = .latency(d)
        case "blanks":
            guard let n = req.count, n >= 0 else { return .error(400, "blanks needs count, a whole number >= 0") }
            fault = .blanks(n)
        case "blanks_out": fault = .blanks(0)
        case "ribbon_out": fault = .ribbonOut
        case "recover": fault = .recover
        default:
            return .error(400, "unknown fault '\(req.fault)': expected one of \(SimulatedFault.words.joined(separator: ", "))")
        }
        do {
            try sim.apply(fault, to: req.device)
        } catch {
            return .error(404, error.description)
        }
        // Faults that do not change the bus show at the next probe: make it now.
        engine.recheckAll(now: now())
        waker.wake()
        return .json(["accepted": true], status: 202)
    }
}

func describe(_ error: any Error) -> String {
    switch error {
    case DecodingError.keyNotFound(let key, _): return "field '\(key.stringValue)' is missing"
    case DecodingError.typeMismatch(_, let ctx), DecodingError.valueNotFound(_, let ctx):
        return "field '\(ctx.codingPath.map(\.stringValue).joined(separator: "."))' has the wrong type"
    case DecodingError.dataCorrupted(let ctx): return ctx.codingPath.isEmpty ? "not valid JSON" : "field '\(ctx.codingPath.map(\.stringValue).joined(separator: "."))' is invalid"
    default: return "\(error)"
    }
}
