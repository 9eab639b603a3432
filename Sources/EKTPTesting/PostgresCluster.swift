#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A throwaway PostgreSQL for the store suite: initdb in a temp dir, started on a free port on
/// 127.0.0.1, stopped when the test process exits. nil (with a loud line) when the binaries are absent.
public final class PostgresCluster: @unchecked Sendable {
    public let port: Int
    public let dir: String
    /// The test PKI (Tests/EktpdIntegrationTests/helpers/make-test-pki.sh): the server runs with
    /// ssl=on and the centre CA's certificate for 127.0.0.1; every store test connects with
    /// sslmode=verify-full against that CA (issue 14).
    public let pki: String
    let bin: String
    private let lock = NSLock()
    private var databases = 0

    nonisolated(unsafe) static var stopCommand: String?

    public static let shared: PostgresCluster? = {
        do { return try PostgresCluster() } catch {
            let line = "\n*** PostgreSQL half SKIPPED: \(error) ***\n*** install postgresql (scripts/install-deps.sh does) to run it ***\n"
            FileHandle.standardError.write(Data(line.utf8))
            return nil
        }
    }()

    public struct Unavailable: Error, CustomStringConvertible {
        public var description: String
        public init(description: String) { self.description = description }
    }

    private init() throws {
        let fm = FileManager.default
        let versions = (try? fm.contentsOfDirectory(atPath: "/usr/lib/postgresql"))?.sorted() ?? []
        guard let v = versions.last(where: { fm.isExecutableFile(atPath: "/usr/lib/postgresql/\($0)/bin/initdb") }) else {
            throw Unavailable(description: "no /usr/lib/postgresql/*/bin/initdb")
        }
        bin = "/usr/lib/postgresql/\(v)/bin"
        dir = NSTemporaryDirectory() + "ektp-pg-\(getpid())"
        try? fm.removeItem(atPath: dir)
        try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
        port = Int(freeLoopbackPort())
        pki = dir + "/pki"
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        _ = try Self.sh("bash \(repo)/Tests/EktpdIntegrationTests/helpers/make-test-pki.sh \(pki)")
        let asRoot = getuid() == 0
        if asRoot {
            guard getpwnam("postgres") != nil else { throw Unavailable(description: "running as root and there is no postgres user for initdb") }
            _ = try Self.sh("chown postgres \(dir)")
        }
        func pg(_ cmd: String) throws -> String {
            asRoot ? try Self.sh("su postgres -s /bin/sh -c \"\(cmd)\"") : try Self.sh(cmd)
        }
        _ = try pg("\(bin)/initdb -D \(dir)/data -A trust -U postgres --no-sync")
        // The server's key must belong to the server's user and be private (PostgreSQL refuses it otherwise).
        _ = try Self.sh("cp \(pki)/server.crt \(pki)/server.key \(dir)/data/ && chmod 600 \(dir)/data/server.key" + (asRoot ? " && chown postgres \(dir)/data/server.crt \(dir)/data/server.key" : ""))
        _ = try pg("\(bin)/pg_ctl -D \(dir)/data -l \(dir)/log -w start -o '-p \(port) -k \(dir) -c listen_addresses=127.0.0.1 -c fsync=off -c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key'")
        let stop = "\(bin)/pg_ctl -D \(dir)/data -m immediate stop"
        Self.stopCommand = (asRoot ? "su postgres -s /bin/sh -c \"\(stop)\"" : stop) + " >/dev/null 2>&1; rm -rf \(dir)"
        atexit {
            if let c = PostgresCluster.stopCommand { _ = try? PostgresCluster.sh(c) }
        }
    }

    /// Runs `sql` on `database` (a URL from `newDatabase`) with psql; one line per row, columns
    /// separated by `|`.
    public func psql(_ database: String, _ sql: String) throws -> [String] {
        let out = try Self.sh("psql '\(database)' -tAq -c \"\(sql)\"")
        return out.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
    }

    /// A URL to a new, empty database.
    public func newDatabase() throws -> String {
        let n: Int = lock.withLock { databases += 1; return databases }
        let name = "t\(n)"
        _ = try Self.sh("psql -h 127.0.0.1 -p \(port) -U postgres -q -c 'CREATE DATABASE \(name)'")
        return "postgres://postgres@127.0.0.1:\(port)/\(name)?sslmode=verify-full&sslrootcert=\(pki)/centre-ca.crt"
    }

    @discardableResult
    public static func sh(_ command: String) throws -> String {
        // Output to a file, not a pipe: a server that pg_ctl starts would hold a pipe open for ever.
        let outFile = NSTemporaryDirectory() + "ektp-sh-\(getpid())-\(UInt64.random(in: 0...UInt64.max)).out"
        defer { unlink(outFile) }
        // system(3), not Foundation's Process: Process waits for descendants that inherit its fds.
        let status = system("(\(command)) </dev/null >\(outFile) 2>&1")
        let text = (try? String(contentsOfFile: outFile, encoding: .utf8)) ?? ""
        guard status == 0 else { throw Unavailable(description: "`\(command)` failed: \(text)") }
        return text
    }
}
