#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import EKTPModel
import EKTPPlatform
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// The registry's request context: batches of up to 1,000 reports fit in 8 MiB.
public struct RegistryContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public init(source: Source) { coreContext = .init(source: source) }
    public var maxUploadSize: Int { RegistryHTTP.maxBody }
}

/// The HTTP API (docs/openapi.yaml): stations POST their reports; the centre reads the fleet.
public enum RegistryHTTP {
    public static let maxBody = 8 << 20

    /// The clock requests are judged by: the wall clock, or the time a simulation gives it
    /// (`serve --clock-file`). A station's own times are never taken at their word: a batch's
    /// `sent_at` is compared with this clock to flag a skewed station (issue 12).
    public struct Clock: Sendable {
        public var now: @Sendable () -> Timestamp
        public init(now: @escaping @Sendable () -> Timestamp) {
            self.now = now
        }

        /// A clock read from a file holding one RFC 3339 time, which a simulation rewrites as its
        /// scenario time advances (`ektpd simulate`). Until the file holds a time: `fallback`.
        public static func file(_ path: String, fallback: @escaping @Sendable () -> Timestamp) -> Clock {
            Clock(now: {
                guard let fd = Optional(open(path, O_RDONLY | O_CLOEXEC)), fd >= 0 else { return fallback() }
                defer { close(fd) }
                var buf = [UInt8](repeating: 0, count: 64)
                let n = read(fd, &buf, 64)
                guard n > 0 else { return fallback() }
                let text = String(decoding: buf[0..<n], as: UTF8.self).split(whereSeparator: { $0 == "\n" || $0 == " " }).first.map(String.init) ?? ""
                return Timestamp(rfc3339: text) ?? fallback()
            })
        }
    }

    /// The body as sent, or inflated when `Content-Encoding: gzip` (stations compress: carrier data
    /// is paid by the megabyte). Inflated, it may not pass `maxBody` either: a small bomb that would
    /// inflate to gigabytes is refused (413) before it is kept. Other encodings are a 415.
    static func decodeContent(_ buffer: ByteBuffer, encoding: String?) throws -> ByteBuffer {
        let e = (encoding ?? "").trimmingSpaces.lowercased()
        if e.isEmpty || e == "identity" { return buffer }
        guard e == "gzip" || e == "x-gzip" else {
            throw RegistryError(415, "Content-Encoding \(encoding ?? "") is not accepted: send gzip or none")
        }
        switch Gzip.inflate(Array(buffer.readableBytesView), max: maxBody) {
        case .success(let bytes): return ByteBuffer(bytes: bytes)
        case .failure(.tooLarge): throw RegistryError(413, "the gzip body inflates past the limit of \(maxBody) bytes: send smaller batches")
        case .failure(.invalid(let why)): throw RegistryError(400, "the body is not valid gzip (\(why))")
        }
    }

    /// How many batches a station still has to send, from its `Ektp-Pending` header (reports,
    /// this batch's included) at its `Ektp-Batch-Size` reports a batch (1 to 1,000; absent or
    /// unreadable: `ReportBatch.stationBatchSize`); 1 when `Ektp-Pending` is absent or not a whole
    /// number (older stations, other clients).
    static func batchesPending(_ request: Request) -> Int {
        guard let text = request.headers[HTTPField.Name(ReportBatch.pendingHeader)!], text.utf8.count <= 12,
              let reports = Int(text), reports > 0 else { return 1 }
        var size = ReportBatch.stationBatchSize
        if let b = request.headers[HTTPField.Name(ReportBatch.batchSizeHeader)!], b.utf8.count <= 4, let n = Int(b),
           (1...1000).contains(n) {
            size = n
        }
        return (reports + size - 1) / size
    }

    /// 429 with `Retry-After` (RFC 9110 10.2.3): the registry is taking all the writes it can; the
    /// Retry-After is the refused request's place in line (`Admission.retryAfterSeconds`).
    /// `key` books the place for the client (`Admission.key` of its credential).
    static func busy(_ admission: Admission, _ metrics: RegistryMetrics, weight: Int = 1, key: Int? = nil, again: Bool = false) -> Response {
        metrics.refusedBusy(again: again)
        let after = admission.retryAfterSeconds(weight: weight, key: key)
        let body = #"{"error":"the registry is busy (\#(admission.maxInFlight) writes running, \#(admission.maxQueue) waiting): retry in \#(after) s"}"#
        return Response(status: .tooManyRequests, headers: [.retryAfter: "\(after)", .contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(string: body + "\n")))
    }

    public static func router(registry: Registry, clock: Clock, logger: Logger, metrics: RegistryMetrics = RegistryMetrics(),
                              admission: Admission = Admission(),
                              bundleAdmission: Admission = Admission(maxInFlight: 1, maxQueue: 4),
                              dashboard: DashboardSettings = DashboardSettings()) -> Router<RegistryContext> {
        let router = Router(context: RegistryContext.self)
        router.add(middleware: MethodNotAllowedMiddleware<RegistryContext>())
        /// Who reads (issue 15): a dashboard session or a viewer's bearer token, and only its scope.
        /// A scrape token reads `/metrics` only.
        @Sendable func reader(_ request: Request, metrics: Bool = false) async throws -> Viewer {
            let v = try await registry.reader(authorization: request.headers[.authorization], session: request.cookies[Dashboard.sessionCookie]?.value,
                                              now: clock.now(), wallNow: wallClockNow())
            if v.credential == .scrape && !metrics { throw RegistryError(403, "a scrape token reads /metrics only") }
            if metrics && v.credential != .scrape && v.scope != .national {
                throw RegistryError(403, "/metrics covers the whole fleet: use a scrape token (ektp-registry token issue --scrape NAME) or a national viewer's")
            }
            return v
        }
        Dashboard.register(on: router, registry: registry, clock: clock, logger: logger, settings: dashboard)

        router.post("/v1/reports") { request, context -> Response in
            // Admitted before the body is read: a refused station's bytes stay in its socket. A station
            // told to come back is let in ahead of the others when it does (its booking is its token).
            let key = Admission.key(request.headers[.authorization])
            let verdict = await admission.admit(key: key)
            guard verdict == .admitted else {
                // A place for more than one batch only for a station that proves who it is: a few
                // hundred requests with made-up tokens and a huge Ektp-Pending booked the line 10
                // minutes ahead and locked real stations out (found by trying it: Retry-After
                // 206-600 s). One batch's place costs what a waiting request does, so it is booked
                // unchecked: a token lookup for every refusal made 15,000 stations reconnecting take
                // 123-233 s instead of 21-51, and 266 MB.
                let weight = batchesPending(request)
                let refused = await respond(logger) {
                    if weight > 1 { _ = try await registry.authenticate(authorization: request.headers[.authorization], now: clock.now()) }
                    return busy(admission, metrics, weight: weight, key: key, again: verdict == .refusedAgain)
                }
                if refused.status != .tooManyRequests { metrics.ingested(nil) }
                return refused
            }
            defer { admission.leave() }
            let response = await respond(logger) {
                let station = try await registry.authenticate(authorization: request.headers[.authorization], now: clock.now())
                var buffer: ByteBuffer
                do { buffer = try await request.body.collect(upTo: maxBody) } catch {
                    throw RegistryError(413, "body over the limit of \(maxBody) bytes: send smaller batches")
                }
                buffer = try decodeContent(buffer, encoding: request.headers[.contentEncoding])
                let batch = try readBatch(buffer)
                let receivedAt = clock.now()
                let reply = try await registry.ingest(batch, from: station, receivedAt: receivedAt)
                // A station sending a key other than the one held (reinstalled, a new state directory):
                // the registry keeps the old one (its bundles would be refused), so say so.
                if let sent = batch.publicKey, let held = try? await registry.stationKey(station), held != sent {
                    logger.warning("station \(station) sends the key \(Registry.fingerprint(sent)) but the registry holds \(Registry.fingerprint(held)) for it: if it was reinstalled, ektp-registry station add \(station) --public-key FILE")
                }
                logger.debug("ingest", metadata: ["station": "\(station)", "stored": "\(reply.stored)", "through": "\(reply.storedThrough)"])
                metrics.ingested(reply)
                return try json(reply)
            }
            if response.status != .ok { metrics.ingested(nil) }
            return response
        }
        // Which of the caller's own sequences the registry holds (the station then forgets what a
        // courier brought, issue 16).
        router.get("/v1/reports/stored") { request, _ -> Response in
            await respond(logger) {
                let station = try await registry.authenticate(authorization: request.headers[.authorization], now: clock.now())
                let q = request.uri.queryParameters
                guard q.get("from") != nil, q.get("to") != nil else { throw RegistryError.bad("from and to are required: ?from=SEQ&to=SEQ") }
                let from = try integer(q.get("from"), name: "from", default: 1, in: 1...Registry.maxSequence)
                let to = try integer(q.get("to"), name: "to", default: from, in: 1...Registry.maxSequence)
                return try json(try await registry.storedRanges(station: station, from: from, to: to))
            }
        }
        // A courier's signed bundle (issue 16): a courier token for the station's regency, or the
        // station's own token. 200 imported, 202 held for review, 422 refused (nothing stored).
        router.post("/v1/bundles") { request, _ -> Response in
            // One bundle inflates at a time (each may take up to CarryBundle.maxBytes while it is
            // checked), so a burst of bundles, or of bombs, cannot multiply the registry's memory.
            guard await bundleAdmission.enter() else { return busy(bundleAdmission, metrics) }
            defer { bundleAdmission.leave() }
            return await respond(logger) {
                let now = clock.now()
                let who = try await registry.principal(authorization: request.headers[.authorization], now: now)
                let buffer: ByteBuffer
                do { buffer = try await request.body.collect(upTo: Registry.maxBundleFile) } catch {
                    throw RegistryError(413, "bundle over the limit of \(Registry.maxBundleFile >> 20) MiB: export with a smaller --max")
                }
                let outcome = try await registry.importBundle(Array(buffer.readableBytesView), by: who, now: now)
                logger.notice("bundle \(outcome.result.rawValue)", metadata: ["station": "\(outcome.station ?? "?")", "stored": "\(outcome.stored ?? 0)",
                                                                      "reason": "\(outcome.reason ?? "")"])
                let status: HTTPResponse.Status = switch outcome.result {
                case .imported: .ok
                case .pending: .accepted
                case .refused: .unprocessableContent
                }
                return try json(outcome, status: status)
            }
        }
        router.get("/metrics") { request, _ -> Response in
            await respond(logger) {
                _ = try await reader(request, metrics: true)
                let t = try at(request, clock)
                let regencies = try await registry.tallies(at: t, by: ["province", "regency"], now: clock.now())
                var total = FleetTally()
                for r in regencies { total.add(r.tally) }
                let text = metrics.render(total: total, regencies: regencies, stock: try await registry.stock(at: t))
                return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                                body: .init(byteBuffer: ByteBuffer(bytes: text)))
            }
        }
        router.get("/v1/fleet") { request, _ -> Response in
            await respond(logger) {
                let v = try await reader(request)
                // Written directly: JSONEncoder took 186 ms for 15,000 stations (FleetJSON.swift).
                // Without `at`, the fleet now: built once a minute and again after each ingest.
                let bytes: [UInt8]
                if request.uri.queryParameters.get("at") == nil {
                    bytes = try await registry.currentFleetJSON(now: clock.now(), scope: v.scope)
                } else {
                    var b = try await registry.fleet(at: try at(request, clock), scope: v.scope, now: clock.now()).jsonBytes()
                    b.append(0x0a)
                    bytes = b
                }
                return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
            }
        }
        router.get("/v1/sites") { request, _ -> Response in
            await respond(logger) {
                let v = try await reader(request)
                let status = request.uri.queryParameters.get("status") ?? "all"
                return try json(try await registry.sites(status: status, at: try at(request, clock), scope: v.scope))
            }
        }
        router.get("/v1/stations/:id") { request, context -> Response in
            await respond(logger) {
                let v = try await reader(request)
                let id = context.parameters.get("id") ?? ""
                return try json(try await registry.station(id, at: try at(request, clock), scope: v.scope))
            }
        }
        router.get("/v1/events") { request, _ -> Response in
            await respond(logger) {
                let v = try await reader(request)
                let q = request.uri.queryParameters
                let since = try integer(q.get("since"), name: "since", default: 0)
                let limit = try integer(q.get("limit"), name: "limit", default: 500, in: 1...5000)
                return try json(try await registry.events(since: since, station: q.get("station"), limit: Int(limit), scope: v.scope))
            }
        }
        router.get("/openapi.yaml") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "application/yaml"],
                     body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.yaml)))
        }
        router.get("/healthz") { _, _ -> Response in
            await respond(logger) {
                _ = try await registry.schemaVersion()
                if let why = registry.writeProblem {
                    throw RegistryError(503, "cannot write the database: \(why)")
                }
                return Response(status: .ok, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: "ok\n")))
            }
        }
        return router
    }

    /// The time a query is judged at: `?at=` (RFC 3339), else the registry's clock (with a trusted
    /// station clock: the newest `sent_at` seen).
    static func at(_ request: Request, _ clock: Clock) throws -> Timestamp {
        if let s = request.uri.queryParameters.get("at") {
            guard let t = Timestamp(rfc3339: s) else { throw RegistryError.bad("at=\(s): not an RFC 3339 time from 1970 to 9999 (2026-11-23T08:00:00Z)") }
            return t
        }
        return clock.now()
    }

    /// A query parameter as a whole number in `range` (docs/openapi.yaml gives each its bounds).
    static func integer(_ s: String?, name: String, default d: Int64, in range: ClosedRange<Int64> = 0...Int64.max) throws -> Int64 {
        guard let s else { return d }
        guard let v = Int64(s), range.contains(v) else {
            let bounds = range.upperBound == .max ? ">= \(range.lowerBound)" : "from \(range.lowerBound) to \(range.upperBound)"
            throw RegistryError.bad("\(name)=\(s.prefix(40)): expected a whole number \(bounds)")
        }
        return v
    }

    static func decode<T: Decodable>(_ type: T.Type, _ buffer: ByteBuffer) throws -> T {
        try badJSONAs400 { try JSONStyle.decoder().decode(T.self, from: Data(buffer.readableBytesView)) }
    }

    /// A body that does not decode as a 400 naming the field ("reports[2].kind: ...").
    static func badJSONAs400<T>(_ read: () throws -> T) throws -> T {
        do {
            return try read()
        } catch let e as DecodingError {
            throw RegistryError.bad(describe(e))
        } catch {
            throw RegistryError.bad("body is not valid JSON: \(error)")
        }
    }

    /// A report batch for ingest (`IngestBatch.read`: the fast reader, else JSONDecoder), with
    /// `decode`'s errors.
    static func readBatch(_ buffer: ByteBuffer) throws -> ReportBatch {
        try badJSONAs400 { try buffer.withUnsafeReadableBytes { try IngestBatch.read($0) }.batch }
    }

    /// A decoding error as "reports[2].kind: ..." so the sender finds the field.
    static func describe(_ e: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            var out = ""
            for k in keys {
                if let i = k.intValue { out += "[\(i)]" } else { out += (out.isEmpty ? "" : ".") + snake(k.stringValue) }
            }
            return out.isEmpty ? "body" : out
        }
        switch e {
        case .dataCorrupted(let c):
            if c.codingPath.isEmpty { return "body is not valid JSON" }
            return "\(path(c.codingPath)): \(c.debugDescription)"
        case .keyNotFound(let k, let c):
            return "\(path(c.codingPath + [k])): missing"
        case .typeMismatch(let t, let c):
            return "\(path(c.codingPath)): expected \(typeWord(t))"
        case .valueNotFound(let t, let c):
            return "\(path(c.codingPath)): expected \(typeWord(t)), found null"
        @unknown default:
            return "body: \(e)"
        }
    }

    static func typeWord(_ t: Any.Type) -> String {
        switch t {
        case is String.Type: "a string"
        case is Int.Type, is Int64.Type, is Int32.Type: "a whole number"
        case is Double.Type: "a number"
        case is Bool.Type: "true or false"
        default: "\(t)".hasPrefix("Array") ? "an array" : "an object"
        }
    }

    static func snake(_ s: String) -> String {
        var out = ""
        for c in s {
            if c.isUppercase { out += "_" + c.lowercased() } else { out.append(c) }
        }
        return out
    }

    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
        var bytes = try JSONStyle.encode(value)
        bytes.append(0x0a)
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// Runs a handler; a refusal becomes its status with `{"error": "..."}`, anything else a 500 that is logged.
    static func respond(_ logger: Logger, _ body: () async throws -> Response) async -> Response {
        do {
            return try await body()
        } catch let e as RegistryError {
            return (try? json(ErrorReply(error: e.description), status: .init(code: e.status))) ?? Response(status: .init(code: e.status))
        } catch {
            logger.error("request failed: \(error)")
            return (try? json(ErrorReply(error: "registry error: \(error)"), status: .internalServerError)) ?? Response(status: .internalServerError)
        }
    }
}
