#if canImport(Glibc)
import Glibc
#endif
import EKTPPlatform
import EKTPCore
import EKTPModel

/// Courier bundles on the station's side (issue 16): made from the outbox, signed with the
/// station's key, gzip'd; and read back (inflated, every checksum and the signature checked).
/// Making one changes nothing in the outbox: a report leaves it only when the registry says it
/// holds it (online, or by `GET /v1/reports/stored` after a courier brought it).
public enum BundleExport {
    /// A bundle of the outbox's reports from sequence `since` on, at most `max` of them.
    /// - Returns: the file's bytes (gzip) and its header; throws when there is nothing to export.
    public static func make(outbox: Outbox, station: String, site: Site?, key: StationKey, since: Int64 = 0,
                            max: Int = 50_000, now: Timestamp) throws(BundleError) -> (bytes: [UInt8], header: BundleHeader) {
        var reports: [Outbox.Report]
        do { reports = try outbox.pending(from: since, limit: Swift.min(max, CarryBundle.maxReports)) } catch {
            throw BundleError("cannot read the outbox: \(error)")
        }
        guard !reports.isEmpty else {
            throw BundleError(since > 0 ? "nothing to export from sequence \(since) on: the outbox holds nothing the registry lacks there"
                                        : "nothing to export: the registry holds every report (the outbox is empty)")
        }
        // Under the readers' bound: fewer reports (the rest go in the next bundle, --since).
        var header: BundleHeader
        var text: [UInt8]
        repeat {
            header = BundleHeader(station: station, site: site, createdAt: now, firstSequence: reports[0].sequence,
                                  lastSequence: reports[reports.count - 1].sequence,
                                  firstTime: reports.map(\.time).min()!, lastTime: reports.map(\.time).max()!,
                                  reports: reports.count, publicKey: key.publicKeyBase64)
            do {
                text = try CarryBundle.compose(header: header, reports: reports.map(RegistryUplink.wireReport), sha256: sha256,
                                               sign: { bytes in try key.sign(bytes) })
            } catch {
                throw BundleError("cannot make the bundle: \(error)")
            }
            if text.count > CarryBundle.maxBytes && reports.count > 1 { reports = Array(reports.prefix(reports.count / 2)) } else { break }
        } while true
        guard let z = Gzip.deflate(text) else { throw BundleError("cannot compress the bundle (zlib)") }
        return (z, header)
    }

    /// Inflates a bundle file (gzip), refusing past `CarryBundle.maxBytes`.
    public static func inflate(_ gz: [UInt8]) throws(BundleError) -> [UInt8] {
        switch Gzip.inflate(gz, max: CarryBundle.maxBytes) {
        case .success(let text): return text
        case .failure(.tooLarge): throw BundleError("the bundle inflates past \(CarryBundle.maxBytes >> 20) MiB: it is not one ektpd made")
        case .failure(.invalid(let why)): throw BundleError("the bundle is not whole gzip (\(why)): it is damaged or truncated")
        }
    }

    /// Reads a bundle file and checks it whole: gzip, every report's checksum, and the signature
    /// against the key it names (and `expectedKey`, when given, must be that key).
    public static func read(_ gz: [UInt8], expectedKey: [UInt8]? = nil) throws(BundleError) -> ParsedBundle {
        let parsed = try CarryBundle.parse(try inflate(gz), sha256: sha256)
        if let expectedKey, expectedKey != parsed.publicKey {
            throw BundleError("the bundle is signed by another key than this station's")
        }
        guard ed25519Verify(publicKey: parsed.publicKey, message: parsed.signed, signature: parsed.signature) else {
            throw BundleError("the signature does not match: the bundle was changed after the station signed it")
        }
        return parsed
    }
}
