import Logging
import NIOCore
import NIOSSL
import PostgresNIO

/// The store for a national fleet: PostgreSQL through postgres-nio's connection pool.
///
/// URL: `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=MODE&sslrootcert=FILE]`, the
/// parameters as libpq spells them (hardening r11: they were ignored, and `require` connected in
/// clear): `disable`; `allow` and `prefer` (TLS when the server offers it, unverified, as libpq);
/// `require` (TLS or no connection; the chain is checked only when `sslrootcert` is given, as
/// libpq does); `verify-ca` (the chain, against `sslrootcert` or the system's CAs); `verify-full`
/// (the chain and the host name). Without `sslmode`: `prefer`. Any other parameter is refused.
public final class PostgresStore: RegistryStore {
    public let dialect = SQLDialect.postgres
    public let label: String
    private let client: PostgresClient
    private let runner: Task<Void, Never>
    private let logger: Logger

    public init(url: String) throws {
        let parsed = try Self.parse(url)
        var config = PostgresClient.Configuration(host: parsed.host, port: parsed.port, username: parsed.user,
                                                  password: parsed.password, database: parsed.database, tls: try Self.tls(parsed))
        config.options.maximumConnections = 8
        config.options.minimumConnections = 0
        client = PostgresClient(configuration: config)
        var logger = Logger(label: "ektp-registry.postgres")
        logger.logLevel = .warning
        self.logger = logger
        let client = self.client
        runner = Task { await client.run() }
        label = "postgres \(parsed.user)@\(parsed.host):\(parsed.port)/\(parsed.database ?? parsed.user)"
    }

    public func transaction(_ statements: [SQLStatement]) async throws -> [[[SQLValue]]] {
        do {
            return try await client.withTransaction(logger: logger) { conn in
                var out: [[[SQLValue]]] = []
                for s in statements { out.append(try await Self.run(s, conn, logger)) }
                return out
            }
        } catch {
            throw StoreError(Self.describe(error))
        }
    }

    public func query(_ statement: SQLStatement) async throws -> [[SQLValue]] {
        do {
            return try await client.withConnection { conn in try await Self.run(statement, conn, self.logger) }
        } catch {
            throw StoreError(Self.describe(error))
        }
    }

    /// `COPY table (columns) FROM STDIN` (text format) of `rows`, in one transaction: PostgreSQL's
    /// fastest way in (issue 17 measures ingest against it). Values are escaped as the text format
    /// needs (backslash, tab, newline, carriage return; NULL as `\N`). `table` and `columns` go
    /// into the statement as given: never pass anything a client sent.
    public func copy(into table: String, columns: [String], rows: [[SQLValue]]) async throws {
        do {
            try await client.withTransaction(logger: logger) { conn in
                try await conn.copyFrom(table: table, columns: columns, logger: logger) { writer in
                    var buffer = ByteBuffer()
                    for row in rows {
                        for (i, v) in row.enumerated() {
                            if i > 0 { buffer.writeInteger(UInt8(ascii: "\t")) }
                            Self.writeCopyText(v, to: &buffer)
                        }
                        buffer.writeInteger(UInt8(ascii: "\n"))
                        if buffer.readableBytes > 1 << 20 {
                            try await writer.write(buffer)
                            buffer.clear()
                        }
                    }
                    if buffer.readableBytes > 0 { try await writer.write(buffer) }
                }
            }
        } catch {
            throw StoreError(Self.describe(error))
        }
    }

    private static func writeCopyText(_ v: SQLValue, to buffer: inout ByteBuffer) {
        switch v {
        case .null, .intArray, .textArray: buffer.writeString("\\N")  // COPY rows hold scalars only
        case .int(let i): buffer.writeString(String(i))
        case .double(let d): buffer.writeString(String(d))
        case .text(let t):
            for b in t.utf8 {
                switch b {
                case UInt8(ascii: "\\"): buffer.writeString("\\\\")
                case UInt8(ascii: "\t"): buffer.writeString("\\t")
                case UInt8(ascii: "\n"): buffer.writeString("\\n")
                case UInt8(ascii: "\r"): buffer.writeString("\\r")
                default: buffer.writeInteger(b)
                }
            }
        }
    }

    public func close() async {
        runner.cancel()
        _ = await runner.value
    }

    private static func run(_ s: SQLStatement, _ conn: PostgresConnection, _ logger: Logger) async throws -> [[SQLValue]] {
        var binds = PostgresBindings(capacity: s.arguments.count)
        for a in s.arguments {
            switch a {
            case .int(let i): binds.append(i)
            case .double(let d): binds.append(d)
            case .text(let t): binds.append(t)
            case .null: binds.appendNull()
            case .intArray(let a): binds.append(a)
            case .textArray(let a): binds.append(a)
            }
        }
        let rows = try await conn.query(PostgresQuery(unsafeSQL: s.postgresSQL, binds: binds), logger: logger)
        var out: [[SQLValue]] = []
        for try await row in rows {
            var values: [SQLValue] = []
            for cell in row {
                values.append(try value(of: cell))
            }
            out.append(values)
        }
        return out
    }

    private static func value(of cell: PostgresCell) throws -> SQLValue {
        guard cell.bytes != nil else { return .null }
        switch cell.dataType {
        case .int8: return .int(try cell.decode(Int64.self))
        case .int4: return .int(Int64(try cell.decode(Int32.self)))
        case .int2: return .int(Int64(try cell.decode(Int16.self)))
        case .float8: return .double(try cell.decode(Double.self))
        case .float4: return .double(Double(try cell.decode(Float.self)))
        case .bool: return .int(try cell.decode(Bool.self) ? 1 : 0)
        case .numeric:
            let text = try cell.decode(String.self)
            if let i = Int64(text) { return .int(i) }
            return .double(Double(text) ?? 0)
        default: return .text(try cell.decode(String.self))
        }
    }

    static func describe(_ error: any Error) -> String {
        if let e = error as? PSQLError {
            if let m = e.serverInfo?[.message] { return "PostgreSQL: \(m)" }
            return "PostgreSQL: \(e.code)"
        }
        return "PostgreSQL: \(String(reflecting: error))"
    }

    struct Parsed {
        var user: String; var password: String?; var host: String; var port: Int; var database: String?
        var sslmode = "prefer"
        var sslrootcert: String?
    }

    /// Connects once, outside the pool, and hangs up: a refusal (no TLS where `sslmode` requires it,
    /// a certificate not trusted, a wrong password, nothing listening) is said at once with its cause,
    /// where the pool would retry it quietly while the first query waits.
    static func probe(url: String) async throws {
        let p = try parse(url)
        let tls: PostgresConnection.Configuration.TLS
        switch try Self.tlsMode(p) {
        case .disable: tls = .disable
        case .prefer(let c): tls = .prefer(try NIOSSLContext(configuration: c))
        case .require(let c): tls = .require(try NIOSSLContext(configuration: c))
        }
        var config = PostgresConnection.Configuration(host: p.host, port: p.port, username: p.user, password: p.password,
                                                      database: p.database, tls: tls)
        config.options.connectTimeout = .seconds(10)
        do {
            let conn = try await PostgresConnection.connect(configuration: config, id: 0, logger: Logger(label: "ektp-registry.probe"))
            try await conn.close()
        } catch {
            throw StoreError("cannot connect to PostgreSQL at \(p.host):\(p.port) (sslmode=\(p.sslmode)): \(String(reflecting: error).prefix(300))")
        }
    }

    enum TLSMode { case disable, prefer(TLSConfiguration), require(TLSConfiguration) }

    /// libpq's sslmode as postgres-nio's TLS setting (the pool's).
    static func tls(_ p: Parsed) throws -> PostgresClient.Configuration.TLS {
        switch try tlsMode(p) {
        case .disable: return .disable
        case .prefer(let c): return .prefer(c)
        case .require(let c): return .require(c)
        }
    }

    /// libpq's sslmode and sslrootcert as a TLS mode and configuration.
    static func tlsMode(_ p: Parsed) throws -> TLSMode {
        var c = TLSConfiguration.makeClientConfiguration()
        c.minimumTLSVersion = .tlsv12
        if let root = p.sslrootcert {
            guard let certs = try? NIOSSLCertificate.fromPEMFile(root), !certs.isEmpty else {
                throw StoreError("database URL: sslrootcert=\(root): cannot read a PEM certificate there")
            }
            c.trustRoots = .certificates(certs)
        }
        switch p.sslmode {
        case "disable": return .disable
        case "allow", "prefer":
            c.certificateVerification = .none
            return .prefer(c)
        case "require":
            c.certificateVerification = p.sslrootcert == nil ? .none : .noHostnameVerification
            return .require(c)
        case "verify-ca":
            c.certificateVerification = .noHostnameVerification
            return .require(c)
        case "verify-full":
            c.certificateVerification = .fullVerification
            return .require(c)
        default:
            throw StoreError("database URL: sslmode=\(p.sslmode): expected disable, allow, prefer, require, verify-ca or verify-full")
        }
    }

    static func parse(_ url: String) throws -> Parsed {
        var rest = Substring(url)
        if rest.hasPrefix("postgresql://") { rest = rest.dropFirst("postgresql://".count) }
        else if rest.hasPrefix("postgres://") { rest = rest.dropFirst("postgres://".count) }
        var sslmode = "prefer"
        var sslrootcert: String?
        if let q = rest.firstIndex(of: "?") {
            for pair in rest[rest.index(after: q)...].split(separator: "&") where !pair.isEmpty {
                let kv = pair.split(separator: "=", maxSplits: 1)
                let key = String(kv[0]), value = kv.count > 1 ? String(kv[1]).removingPercentEncodingSimple : ""
                switch key {
                case "sslmode": sslmode = value
                case "sslrootcert": sslrootcert = value
                default: throw StoreError("database URL: parameter \"\(key)\" is not supported (sslmode and sslrootcert are)")
                }
            }
            rest = rest[..<q]
        }
        guard let at = rest.lastIndex(of: "@") else {
            throw StoreError("database URL: no user (postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE)")
        }
        let userinfo = rest[..<at]
        let hostpart = rest[rest.index(after: at)...]
        let user: String
        var password: String?
        if let c = userinfo.firstIndex(of: ":") {
            user = String(userinfo[..<c])
            password = String(userinfo[userinfo.index(after: c)...]).removingPercentEncodingSimple
        } else {
            user = String(userinfo)
        }
        guard !user.isEmpty else { throw StoreError("database URL: empty user name") }
        var hostport = hostpart
        var database: String?
        if let slash = hostpart.firstIndex(of: "/") {
            hostport = hostpart[..<slash]
            let db = hostpart[hostpart.index(after: slash)...]
            database = db.isEmpty ? nil : String(db)
        }
        var host = String(hostport)
        var port = 5432
        if let c = hostport.lastIndex(of: ":") {
            host = String(hostport[..<c])
            guard let p = Int(hostport[hostport.index(after: c)...]), (1...65535).contains(p) else {
                throw StoreError("database URL: port \"\(hostport[hostport.index(after: c)...])\" is not a port number")
            }
            port = p
        }
        guard !host.isEmpty else { throw StoreError("database URL: no host") }
        return Parsed(user: user, password: password, host: host, port: port, database: database,
                      sslmode: sslmode, sslrootcert: sslrootcert)
    }
}

extension String {
    /// %XX decoding for passwords in URLs (no Foundation).
    var removingPercentEncodingSimple: String {
        var bytes: [UInt8] = []
        var it = Array(utf8)[...]
        while let b = it.popFirst() {
            if b == UInt8(ascii: "%"), it.count >= 2, let v = UInt8(String(decoding: it.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(v)
                it = it.dropFirst(2)
            } else {
                bytes.append(b)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
