#if canImport(Glibc)
import Glibc
#endif
import EKTPHardware
import EKTPCore
import EKTPModel
import EKTPPlatform
import Synchronization

/// Where and how the station delivers its outbox (the `registry` section of ektpd.yaml).
public struct RegistryUplinkConfig: Sendable, Equatable {
    public var url: HTTPURL
    public var token: String
    /// TLS, proxy and gzip (ektpd.yaml's `registry.ca_file`, `pinned_public_key`, `client_cert`,
    /// `client_key`, `proxy`, `compress`).
    public var http = HTTPClientSettings(section: "registry")
    /// The station's Ed25519 public key (base64), sent with the batches until the registry has stored
    /// one after this start (issue 16); nil: none.
    public var publicKey: String?
    /// Reports in one POST.
    public var batchSize: Int = ReportBatch.stationBatchSize
    /// A snapshot at least this often, even when nothing changes (the registry's "heard from").
    public var heartbeat: Duration = .seconds(300)
    /// After a change, a new snapshot once this much time has passed since the last one.
    public var snapshotSpacing: Duration = .seconds(30)
    /// Exponential backoff after a failure: base, doubled per failure, capped; full jitter in [d/2, d].
    public var backoffBase: Duration = .seconds(2)
    public var backoffMax: Duration = .seconds(600)
    public var timeout: Duration = .seconds(20)

    public init(url: HTTPURL, token: String) {
        self.url = url
        self.token = token
    }
}

/// Delivers the outbox to the registry: in sequence order, in batches, with exponential backoff
/// and jitter after a failure. Delivery is at least once (a lost reply means a re-send); the
/// registry stores each (station, sequence) once, so it sees every report exactly once.
///
/// Synchronous and driven by the caller's clock: the daemon runs `round` on its own thread with
/// the wall clock, `ektpd simulate` on a scenario's clock. The jitter comes from a seeded generator,
/// so a simulation replays exactly.
public final class RegistryUplink: Sendable {
    public let config: RegistryUplinkConfig
    public let outbox: Outbox
    public let engine: StationEngine
    /// One connection cache for every batch (kept open between rounds).
    let client: HTTPClient

    struct State {
        /// When to try again after a failure (pure: EKTPCore).
        var backoff: DeliveryBackoff
        var nextAttempt: Timestamp?
        var lastDelivery: Timestamp?
        var lastError: String?
        var storedThrough: Int64 = 0
        var lastSnapshot: Timestamp?
        /// Ask the registry what it already holds (reports carried by courier) before sending: at
        /// the first round and after every failure (the link was down: a courier may have gone).
        var askStored = true
        /// The public key went with a batch the registry stored: later batches leave it out (it
        /// keeps the first it sees; once per start is enough, and the registry compares it once).
        var keyDelivered = false

        /// The registry answered (a batch stored, or which pending reports it holds): delivery
        /// works, the backoff starts again, and the station may forget through `storedThrough`.
        mutating func registryAnswered(storedThrough held: Int64?) {
            backoff.succeeded()
            nextAttempt = nil
            lastError = nil
            if let held { storedThrough = max(storedThrough, held) }
        }
    }
    private let state: Mutex<State>

    /// The network under the requests, when it is simulated (`ektpd simulate`): an error while it
    /// is down, and the request is not made. Nil: the real network.
    let link: (@Sendable () -> NetError?)?

    public init(config: RegistryUplinkConfig, outbox: Outbox, engine: StationEngine, seed: UInt64,
                link: (@Sendable () -> NetError?)? = nil) {
        self.link = link
        self.config = config
        self.outbox = outbox
        self.engine = engine
        self.client = HTTPClient(settings: config.http)
        self.state = Mutex(State(backoff: DeliveryBackoff(base: config.backoffBase, max: config.backoffMax, seed: seed),
                                 storedThrough: outbox.acknowledged))
    }

    /// What one round did.
    public struct Round: Sendable, Equatable {
        public var delivered = 0
        public var batches = 0
        /// Pending reports the registry already held (they went by courier): forgotten, not sent.
        public var forgotten = 0
        /// Whether the round spoke to the registry at all (false: a retry was not yet due).
        public var attempted = false
        public var error: String?
        /// When the next round is due (a retry after a failure, or the next heartbeat).
        public var next: Timestamp
    }

    /// Takes a snapshot into the outbox when one is due: something changed and the last one is
    /// `snapshotSpacing` old, or the heartbeat is due. Returns whether it took one. None before the
    /// first probe round is recorded (`StationEngine.isSettled`): a snapshot then showed every
    /// device "not yet checked", and the centre saw a healthy station as degraded for the first
    /// `snapshotSpacing` (30 s) after each start. The round's `kit.status` event wakes delivery.
    @discardableResult
    public func snapshotIfDue(now: Timestamp) -> Bool {
        guard engine.isSettled else { return false }
        let last = state.withLock { $0.lastSnapshot }
        let due: Bool
        if let last {
            due = now >= last.adding(config.heartbeat) || (engine.changedSinceSnapshot && now >= last.adding(config.snapshotSpacing))
        } else {
            due = true
        }
        guard due else { return false }
        engine.snapshot(now: now)
        state.withLock { s in s.lastSnapshot = now }
        return true
    }

    /// Delivers what is pending, batch after batch, unless a retry is not yet due. Blocks on the
    /// network: call it off the async pool.
    public func round(now: @Sendable () -> Timestamp, force: Bool = false) -> Round {
        var result = Round(next: now().adding(config.heartbeat))
        if !force, let due = state.withLock({ $0.nextAttempt }), now() < due {
            result.next = due
            return result
        }
        result.attempted = true
        if state.withLock({ $0.askStored }) {
            switch forgetCarried() {
            case .success(let (n, heldThrough)):
                // The registry answered: delivery works, whether or not anything is left to send
                // (a registry restarted after storing a batch whose answer was lost holds it all).
                state.withLock { s in
                    s.askStored = false
                    s.registryAnswered(storedThrough: heldThrough)
                }
                result.forgotten += n
            case .failure(let e):
                result.error = e.description
            }
        }
        while result.error == nil {
            let reports: [Outbox.Report]
            do { reports = try outbox.pending(limit: config.batchSize) } catch {
                result.error = error.description
                break
            }
            guard !reports.isEmpty else { break }
            // sent_at is a wall-clock time: the registry compares it with its own to see a skewed clock.
            switch send(reports, sentAt: engine.journal.wallNow ?? now()) {
            case .success(let reply):
                let sent = reports.map(\.sequence).filter { $0 <= reply.storedThrough }
                do { try outbox.acknowledge(sent) } catch {
                    result.error = error.description
                    break
                }
                result.delivered += sent.count
                result.batches += 1
                state.withLock { s in
                    s.keyDelivered = true
                    s.lastDelivery = now()
                    s.registryAnswered(storedThrough: reply.storedThrough)
                }
                if sent.count < reports.count {
                    result.error = "the registry holds only through \(reply.storedThrough), below this batch's \(reports.last!.sequence)"
                }
            case .failure(let e):
                result.error = e.description
            }
            if result.error != nil { break }
        }
        if let error = result.error {
            let t = now()
            let retry = state.withLock { s -> Timestamp in
                let wait = s.backoff.failed()
                s.lastError = error
                s.askStored = true
                let at = t.adding(wait)
                s.nextAttempt = at
                return at
            }
            result.next = retry
        }
        publish(now: now())
        return result
    }

    /// The delivery status into the engine (for `ektpd status` and the next snapshot).
    public func publish(now: Timestamp) {
        // Held in memory while the disk refuses: pending too, and delivered once written.
        let pending = outbox.pendingCount + engine.journal.heldCount
        let s = state.withLock { $0 }
        engine.update(delivery: DeliveryStatus(registry: config.url.description, pending: pending, storedThrough: s.storedThrough,
                                               lastDelivery: s.lastDelivery, lastError: s.lastError, failures: s.backoff.failures,
                                               nextAttempt: s.nextAttempt, overLimit: engine.journal.overLimit))
    }

    public var failures: Int { state.withLock { $0.backoff.failures } }

    /// Asks the registry which of the pending sequences it already holds (they went by courier,
    /// issue 16, or a batch was stored and its answer lost) and forgets those: they are never sent
    /// again. Returns how many it forgot, and the highest of them the registry holds (nil: none).
    /// A registry without the endpoint (404) holds nothing by courier.
    func forgetCarried() -> Result<(forgotten: Int, heldThrough: Int64?), NetError> {
        let pending: [Outbox.Report]
        do { pending = try outbox.pending(limit: 1) } catch { return .failure(NetError(error.description)) }
        guard let first = pending.first?.sequence else { return .success((0, nil)) }
        let last = max(first, outbox.lastSequence)
        if let down = link?() { return .failure(down) }
        let r = client.request("GET", config.url, path: "/v1/reports/stored?from=\(first)&to=\(last)",
                               headers: [("Authorization", "Bearer \(config.token)")], timeout: config.timeout)
        switch r {
        case .failure(let e): return .failure(e)
        case .success(let x) where x.status == 404: return .success((0, nil))
        case .success(let x):
            guard x.status == 200, let stored = try? JSONStyle.decode(StoredRanges.self, from: x.body) else {
                return .failure(NetError("registry \(config.url) answered \(x.status) to GET /v1/reports/stored"))
            }
            let ranges = stored.ranges.compactMap { r -> ClosedRange<Int64>? in
                guard r.count == 2 else { return nil }
                let lo = max(r[0], first), hi = min(r[1], last)
                return lo <= hi ? lo...hi : nil
            }
            guard !ranges.isEmpty else { return .success((0, nil)) }
            let before = outbox.pendingCount
            do { try outbox.acknowledge(ranges: ranges) } catch { return .failure(NetError(error.description)) }
            return .success((before - outbox.pendingCount, ranges.map(\.upperBound).max()))
        }
    }

    /// One POST of a batch; the registry's reply, or why it failed.
    func send(_ reports: [Outbox.Report], sentAt: Timestamp) -> Result<IngestReply, NetError> {
        let key = state.withLock { $0.keyDelivered } ? nil : config.publicKey
        let body = Self.batchBody(station: engine.stationID, sentAt: sentAt, reports: reports, publicKey: key)
        let url = config.url
        if let down = link?() { return .failure(down) }
        // How many reports wait in the outbox, this batch's among them: a busy registry places the
        // station in its line by the batches it will send, not only this one (issue 17).
        let pending = max(reports.count, outbox.pendingCount + engine.journal.heldCount)
        let r = client.request("POST", url, path: "/v1/reports",
                               headers: [("Authorization", "Bearer \(config.token)"), ("Content-Type", "application/json"),
                                         (ReportBatch.pendingHeader, "\(pending)"),
                                         (ReportBatch.batchSizeHeader, "\(config.batchSize)")],
                               body: body, timeout: config.timeout)
        switch r {
        case .failure(let e): return .failure(e)
        case .success(let x):
            if x.status == 429 || x.status == 503, let after = x.retryAfter {
                state.withLock { $0.backoff.busy(retryAfter: .seconds(after)) }
                return .failure(NetError("registry \(url) is busy (HTTP \(x.status)): it asks to retry in \(after) s"))
            }
            guard x.status == 200 else {
                let message = (try? JSONStyle.decode(ErrorReply.self, from: x.body))?.error ?? String(decoding: x.body.prefix(200), as: UTF8.self)
                return .failure(NetError("registry \(url) answered \(x.status): \(message)"))
            }
            do { return .success(try JSONStyle.decode(IngestReply.self, from: x.body)) } catch {
                return .failure(NetError("registry \(url) answered 200 with a body that is not an ingest reply"))
            }
        }
    }

    /// The batch as JSON, made from the outbox's stored bodies without decoding them again.
    static func batchBody(station: String, sentAt: Timestamp, reports: [Outbox.Report], publicKey: String? = nil) -> [UInt8] {
        let quotedStation = (try? JSONStyle.encode(station)) ?? Array("\"\"".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(reports.reduce(64) { $0 + $1.body.count + 96 })
        out += Array(#"{"#.utf8)
        if let publicKey { out += Array(#""public_key":"\#(publicKey)","#.utf8) }
        out += Array(#""reports":["#.utf8)
        for (i, r) in reports.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out += wireReport(r)
        }
        out += Array(#"],"sent_at":"\#(sentAt.rfc3339)","station":"#.utf8)
        out += quotedStation
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// One report as a batch (and a courier bundle) carries it: `{"kind":...,"sequence":...,"time":...,"event"|"status":BODY}`.
    public static func wireReport(_ r: Outbox.Report) -> [UInt8] {
        let key = r.kind == .event ? "event" : "status"
        var out = Array(#"{"kind":"\#(r.kind.rawValue)","sequence":\#(r.sequence),"time":"\#(r.time.rfc3339)","\#(key)":"#.utf8)
        out += r.body
        out.append(UInt8(ascii: "}"))
        return out
    }
}
