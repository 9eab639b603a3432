#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The first line of a courier bundle: whose reports, which, and the key that signed them.
public struct BundleHeader: Codable, Sendable, Equatable {
    /// The wire names: snake_case, written out (no key strategy: JSONStyle).
    enum CodingKeys: String, CodingKey {
        case format, station, site, reports
        case createdAt = "created_at"
        case firstSequence = "first_sequence"
        case lastSequence = "last_sequence"
        case firstTime = "first_time"
        case lastTime = "last_time"
        case publicKey = "public_key"
    }

    /// Always `CarryBundle.format`.
    public var format: String
    public var station: String
    /// The station's site as its config says (the registry trusts its own record, not this).
    public var site: Site?
    public var createdAt: Timestamp
    public var firstSequence: Int64
    public var lastSequence: Int64
    public var firstTime: Timestamp
    public var lastTime: Timestamp
    /// How many report lines follow.
    public var reports: Int
    /// The station's Ed25519 public key, 32 bytes in base64.
    public var publicKey: String

    public init(station: String, site: Site?, createdAt: Timestamp, firstSequence: Int64, lastSequence: Int64,
                firstTime: Timestamp, lastTime: Timestamp, reports: Int, publicKey: String) {
        format = CarryBundle.format
        self.station = station
        self.site = site
        self.createdAt = createdAt
        self.firstSequence = firstSequence
        self.lastSequence = lastSequence
        self.firstTime = firstTime
        self.lastTime = lastTime
        self.reports = reports
        self.publicKey = publicKey
    }
}

/// Why a bundle cannot be taken, naming the line (1-based, in the uncompressed text) and the problem.
public struct BundleError: Error, CustomStringConvertible, Sendable, Equatable {
    public var description: String
    public init(_ d: String) { description = d }
}

/// A bundle whose lines and checksums are whole; its signature is still to be checked by the reader
/// (`signed` with `signature` against the station's registered key).
public struct ParsedBundle: Sendable {
    public var header: BundleHeader
    public var reports: [WireReport]
    /// Exactly the bytes the signature covers: every line before the signature line.
    public var signed: [UInt8]
    /// The Ed25519 signature, 64 bytes.
    public var signature: [UInt8]
    /// The public key the header names, 32 bytes.
    public var publicKey: [UInt8]
}

/// Offline carry (issue 16): a station's reports in one file for a USB stick, as MOSIP's
/// registration client keeps packets for a later upload. The file is gzip (RFC 1952) of UTF-8
/// text, one item a line, each line ending in LF:
///
///     {"format":"ektp-bundle/1","station":...,"reports":N,"public_key":...}   the header (JSON)
///     SHA256HEX REPORT                    N lines: a report as in a batch (JSON), after its SHA-256
///     signature BASE64                    Ed25519 (RFC 8032) over every byte of the lines above
///
/// gzip's CRC-32 catches a damaged file, each checksum a damaged report, and the signature any
/// change at all, or a bundle made by anyone but the station.
public enum CarryBundle {
    public static let format = "ektp-bundle/1"
    /// Reports in one bundle at most (a bundle is one file on a stick; `ektpd export` makes more).
    public static let maxReports = 200_000
    /// The largest uncompressed bundle a reader inflates (a zip bomb is refused past it, after at
    /// most this much memory); `ektpd export` makes bundles under it (50,000 events are about 30 MB).
    public static let maxBytes = 64 << 20

    /// The uncompressed text of a bundle.
    /// - Parameters:
    ///   - reports: each report's JSON as in a batch (`{"kind":...,"sequence":...}`), oldest first.
    ///   - sha256: SHA-256 of bytes (32 bytes).
    ///   - sign: the station's Ed25519 signature (64 bytes) of the bytes given.
    public static func compose(header: BundleHeader, reports: [[UInt8]], sha256: ([UInt8]) throws -> [UInt8],
                               sign: ([UInt8]) throws -> [UInt8]) throws -> [UInt8] {
        var out = try JSONStyle.encode(header)
        out.append(0x0A)
        for r in reports {
            out += Array(hex(try sha256(r)).utf8)
            out.append(0x20)
            out += r
            out.append(0x0A)
        }
        let signature = try sign(out)
        out += Array("signature \(Data(signature).base64EncodedString())\n".utf8)
        return out
    }

    /// Reads the text of a bundle: the header, every report with its checksum, the signature line.
    /// Throws naming the first problem and its line; checks no signature (the caller has the key).
    public static func parse(_ text: [UInt8], sha256: ([UInt8]) -> [UInt8]) throws(BundleError) -> ParsedBundle {
        guard text.last == 0x0A else { throw BundleError("the bundle does not end with a whole line: it is truncated") }
        var lines = text.split(separator: 0x0A, omittingEmptySubsequences: false)
        lines.removeLast()  // after the final LF
        guard lines.count >= 2 else { throw BundleError("line 1: too short to be a bundle (no header, reports and signature)") }
        let header: BundleHeader
        do { header = try JSONStyle.decode(BundleHeader.self, from: Array(lines[0])) } catch {
            throw BundleError("line 1: not a bundle header (\(error))")
        }
        guard header.format == format else { throw BundleError("line 1: format \(header.format.printable), this reader knows \(format)") }
        guard isStationID(header.station) else { throw BundleError("line 1: station \(header.station.printable) is not a station ID") }
        guard (1...maxReports).contains(header.reports) else { throw BundleError("line 1: reports \(header.reports) is outside 1 to \(maxReports)") }
        guard let key = Data(base64Encoded: header.publicKey), key.count == 32 else {
            throw BundleError("line 1: public_key is not 32 bytes of base64")
        }
        guard lines.count == header.reports + 2 else {
            throw BundleError("the header says \(header.reports) reports and the bundle has \(max(0, lines.count - 2)): it is truncated or padded")
        }
        var reports: [WireReport] = []
        reports.reserveCapacity(header.reports)
        for n in 1...header.reports {
            let line = lines[n]
            guard line.count > 66, line[line.startIndex + 64] == 0x20 else { throw BundleError("line \(n + 1): expected a SHA-256 and a report") }
            let sum = String(decoding: line.prefix(64), as: UTF8.self)
            let body = Array(line.dropFirst(65))
            guard sum == hex(sha256(body)) else { throw BundleError("line \(n + 1): the report's checksum does not match: it was changed or damaged") }
            let r: WireReport
            do { r = try JSONStyle.decode(WireReport.self, from: body) } catch {
                throw BundleError("line \(n + 1): not a report (\(error))")
            }
            guard (header.firstSequence...max(header.firstSequence, header.lastSequence)).contains(r.sequence) else {
                throw BundleError("line \(n + 1): sequence \(r.sequence) is outside the header's \(header.firstSequence)-\(header.lastSequence)")
            }
            if let last = reports.last, r.sequence <= last.sequence {
                throw BundleError("line \(n + 1): sequence \(r.sequence) does not follow \(last.sequence)")
            }
            if let e = r.event, e.station != header.station {
                throw BundleError("line \(n + 1): an event of station \(e.station.printable) in \(header.station)'s bundle")
            }
            reports.append(r)
        }
        let sigLine = lines[lines.count - 1]
        guard sigLine.starts(with: Array("signature ".utf8)),
              let sig = Data(base64Encoded: String(decoding: sigLine.dropFirst(10), as: UTF8.self)), sig.count == 64 else {
            throw BundleError("line \(lines.count): expected the signature line (signature BASE64 of 64 bytes)")
        }
        let signedCount = text.count - sigLine.count - 1
        return ParsedBundle(header: header, reports: reports, signed: Array(text[0..<signedCount]),
                            signature: Array(sig), publicKey: Array(key))
    }

    /// `ektp-STATION-FIRST-LAST.bundle`, safe on vfat (a USB stick): the station ID's letters and
    /// digits, `-` and `_`; anything else becomes `_`.
    public static func fileName(station: String, first: Int64, last: Int64) -> String {
        let safe = String(station.unicodeScalars.map { s -> Character in
            (s.isASCII && (s.properties.isAlphabetic || ("0"..."9").contains(s) || s == "-" || s == "_")) ? Character(s) : "_"
        })
        return "ektp-\(safe)-\(first)-\(last).bundle"
    }

    /// Lowercase hexadecimal.
    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for b in bytes { out += [digits[Int(b >> 4)], digits[Int(b & 15)]] }
        return String(decoding: out, as: UTF8.self)
    }

    /// A key's fingerprint as ssh prints one: `SHA256:` and the unpadded base64 of its SHA-256.
    public static func fingerprint(publicKey: [UInt8], sha256: ([UInt8]) -> [UInt8]) -> String {
        var b = Data(sha256(publicKey)).base64EncodedString()
        while b.hasSuffix("=") { b.removeLast() }
        return "SHA256:" + b
    }
}

/// What became of one bundle: imported (how many reports were new and how many known), held for
/// review (no key for the station yet), or refused whole with the reason (nothing stored).
public struct ImportOutcome: Codable, Sendable, Equatable {
    /// The wire names: snake_case, written out (no key strategy: JSONStyle).
    enum CodingKeys: String, CodingKey {
        case result, station, reports, stored, known, reason, fingerprint
        case firstSequence = "first_sequence"
        case lastSequence = "last_sequence"
    }

    public enum Result: String, Codable, Sendable { case imported, pending, refused }
    public var result: Result
    public var station: String?
    public var firstSequence: Int64?
    public var lastSequence: Int64?
    public var reports: Int?
    /// New reports stored.
    public var stored: Int?
    /// Reports the registry already held (online, or from an earlier bundle).
    public var known: Int?
    public var reason: String?
    /// The key that signed the bundle.
    public var fingerprint: String?

    public init(result: Result, station: String? = nil, reason: String? = nil) {
        self.result = result
        self.station = station
        self.reason = reason
    }
}
