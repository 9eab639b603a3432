import ArgumentParser
import EKTPHardware
import EKTPModel
import EKTPStation
import EKTPPlatform

#if canImport(Glibc)
import Glibc
#endif

/// `ektpd export` (issue 16): the reports the registry lacks, in one signed bundle file for a
/// courier. Through the control socket while the daemon runs; from the outbox read-only (and the
/// key in the state directory) while it is stopped. Changes nothing in the outbox.
struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the reports the registry has not acknowledged to a signed bundle for a courier (a USB stick).",
        discussion: """
            The file is ektp-STATION-FIRST-LAST.bundle in --output (a directory; default: here), or --output FILE.
            It is written under a temporary name, fsync'd, renamed, read back and checked. Nothing leaves the
            outbox: a report is forgotten only when the registry says it holds it. Carry the file to the regency
            and run `ektp-registry import FILE` there. Exit codes: 0 written (or nothing to export), 1 the file
            could not be written, 3 the station's state cannot be read, 4 usage.
            """)

    @Option(name: .long, help: "A directory (the file gets the bundle's name) or a file path. Default: the current directory.")
    var output: String?
    @Option(name: .long, help: "Only reports numbered this or higher: after a bundle that ended at N, give N+1 (--since=N+1).")
    var since: Int64 = 0
    @Option(name: .long, help: "At most this many reports in one bundle (run again with --since for the rest).")
    var max: Int = 50_000
    @Option(name: .long, help: "The daemon's control socket (default: $EKTPD_SOCKET, else /run/ektpd/control.sock).")
    var socket: String?
    @Option(name: .long, help: "The config file, for reading the outbox when the daemon is not running.")
    var config: String = StationConfig.defaultPath
    @Flag(name: .long, help: "Print what was written as JSON.")
    var json = false

    func validate() throws {
        guard since >= 0 else { throw ValidationError("--since must be 0 or more") }
        guard (1...CarryBundle.maxReports).contains(max) else { throw ValidationError("--max must be from 1 to \(CarryBundle.maxReports)") }
    }

    func run() throws {
        let socketPath = socket ?? environment()["EKTPD_SOCKET"] ?? StationConfig.defaultSocketPath(environment: [:])
        let made: (bytes: [UInt8], key: [UInt8]?)
        switch fromDaemon(socketPath) {
        case .bundle(let b): made = (b, nil)
        case .nothing(let why):
            print(why)
            return
        case .unreachable(let why):
            // The daemon is not running: read its outbox and key directly.
            guard let offline = try fromStateDirectory(unreachable: why) else { return }
            made = (offline.0, offline.1)
        }
        let bytes = made.bytes, expectedKey = made.key
        let parsed: ParsedBundle
        do { parsed = try BundleExport.read(bytes, expectedKey: expectedKey) } catch {
            printError("ektpd: the bundle made is not valid (\(error)): nothing written")
            throw ExitCode(1)
        }
        let h = parsed.header
        let name = CarryBundle.fileName(station: h.station, first: h.firstSequence, last: h.lastSequence)
        var path = output ?? "."
        var st = stat()
        if stat(path, &st) == 0 {
            if (st.st_mode & S_IFMT) == S_IFDIR {
                path = path + (path.hasSuffix("/") ? "" : "/") + name
            } else if !path.hasSuffix(".bundle") {
                printError("ektpd: --output \(path) is a file, not a directory: give the stick's directory, or a file name ending in .bundle")
                throw ExitCode(4)
            }
        } else if !path.hasSuffix(".bundle") || path.hasSuffix("/") {
            // A missing mount point must not become a file named like it.
            printError("ektpd: --output \(path): no such directory (is the USB stick mounted there?); a file name must end in .bundle")
            throw ExitCode(1)
        }
        do { try writeDurably(bytes, to: path, mode: 0o644) } catch {
            let parent = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
            printError("ektpd: cannot write \(path): \(writeProblem(error.errno, directory: parent.isEmpty ? "/" : parent, size: bytes.count)); nothing was written")
            throw ExitCode(1)
        }
        // Read back what is on the medium and check it whole again.
        guard let back = readFileBytes(path, limit: bytes.count + 1), back == bytes, (try? BundleExport.read(back, expectedKey: expectedKey)) != nil else {
            printError("ektpd: \(path) does not read back as written: the medium is failing; use another")
            throw ExitCode(1)
        }
        if json {
            struct Written: Encodable { var path: String; var bytes: Int; var header: BundleHeader }
            writeOut((try? JSONStyle.encode(Written(path: path, bytes: bytes.count, header: h), pretty: true)) ?? [])
            print()
        } else {
            print(tr("wrote {path}", ["path": path]))
            print("  " + tr("station {station}, {n} report(s), sequences {first}-{last}",
                            ["station": h.station, "n": L10n.count(h.reports), "first": "\(h.firstSequence)", "last": "\(h.lastSequence)"]))
            print("  " + tr("from {start} to {end}, {bytes} bytes, signed by {fingerprint}",
                            ["start": h.firstTime.rfc3339, "end": h.lastTime.rfc3339, "bytes": L10n.count(bytes.count),
                             "fingerprint": CarryBundle.fingerprint(publicKey: parsed.publicKey, sha256: sha256)]))
            print("  " + tr("next: ektp-registry import {file} at the regency; the station forgets these reports once the registry has them",
                            ["file": path.split(separator: "/").last.map(String.init) ?? name]))
        }
    }

    enum DaemonAnswer { case bundle([UInt8]), nothing(String), unreachable(String) }

    func fromDaemon(_ socketPath: String) -> DaemonAnswer {
        let r: (status: Int, body: [UInt8])
        do { r = try ControlClient(socketPath: socketPath, timeoutMillis: 120_000).request("GET", "/v1/export?since=\(since)&max=\(max)") } catch {
            return .unreachable(error.description)
        }
        struct Problem: Decodable { var error: String }
        let message = (try? JSONStyle.decode(Problem.self, from: r.body))?.error ?? String(decoding: r.body.prefix(300), as: UTF8.self)
        switch r.status {
        case 200: return .bundle(r.body)
        case 404: return .nothing(message)
        default: return .unreachable("ektpd answered \(r.status): \(message)")
        }
    }

    func fromStateDirectory(unreachable: String) throws -> ([UInt8], [UInt8])? {
        let cfg: StationConfig
        do { cfg = try StationConfig.load(path: config, environment: environment()) } catch {
            printError("ektpd: \(unreachable); and the config \(config) cannot be read to export without the daemon:\n\(error.description)")
            throw ExitCode(3)
        }
        let outbox: Outbox
        let key: StationKey
        do {
            outbox = try Outbox(path: cfg.stateDirectory + "/outbox.sqlite3", readOnly: true)
            key = try StationKey.load(path: cfg.stateDirectory + "/" + StationKey.fileName, create: false)
        } catch {
            printError("ektpd: the daemon is not running (\(unreachable)) and its state cannot be read: \(error)")
            throw ExitCode(3)
        }
        let made: (bytes: [UInt8], header: BundleHeader)
        do {
            made = try BundleExport.make(outbox: outbox, station: cfg.stationID, site: cfg.site, key: key,
                                         since: since, max: max, now: wallClockNow())
        } catch {
            if error.description.hasPrefix("nothing to export") {
                print(error.description)
                return nil
            }
            printError("ektpd: \(error.description)")
            throw ExitCode(3)
        }
        return (made.bytes, key.publicKey)
    }
}

/// A write's errno in words: a full disk, a read-only stick, permissions.
func writeProblem(_ e: Int32, directory: String, size: Int) -> String {
    switch e {
    case ENOSPC: return "the disk at \(directory) is full (\(size) bytes needed)"
    case EROFS: return "\(directory) is read-only (is the stick's write-protect switch on?)"
    case EACCES: return "permission denied in \(directory)"
    default: return String(cString: strerror(e))
    }
}
