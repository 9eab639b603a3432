/// A report batch as the registry reads it to store it (issue 17, item 2).
///
/// Every report is read whole except the statuses of snapshots that are not the batch's newest:
/// ingest stores only the newest snapshot (it becomes the station's state) and takes from the
/// others their stock reading alone. Those are read for what the batch checks (`ReportBatch.check`)
/// and ingest look at: the station, the site, the stock and each device's blank count, kept in a
/// `StationStatus` whose other fields are empty or placeholders (`backend` is `IngestBatch.partial`, the kit `degraded` with no problems). Decoding 40
/// whole statuses of a 6-device kit in each batch of 200 was half the registry's CPU in a catch-up
/// (perf, 1,000 stations delivering 24 h each).
///
/// "Newest" is the rule ingest applies (`ReportBatch.normalized`): the snapshot with the highest
/// sequence, the first of them when a sequence comes twice. The rest of a partial snapshot (its kit,
/// its devices' other fields) is neither stored nor checked.
///
/// Errors: `DecodingError` with the coding path of the field (reports[i].status.site...), as
/// `JSONDecoder` gives for `ReportBatch`.
public struct IngestBatch: Decodable, Sendable {
    public var batch: ReportBatch

    init(batch: ReportBatch) { self.batch = batch }

    /// The batch in `bytes` (a request body, inflated): by `BatchReader` when it takes them, else
    /// by `JSONDecoder`, whose error (with the field's coding path) is the one thrown. Both give
    /// the same batch for the same bytes.
    public static func read(_ bytes: UnsafeRawBufferPointer) throws -> IngestBatch {
        if let fast = BatchReader.read(bytes) { return fast }
        return try JSONStyle.decoder().decode(IngestBatch.self, from: Data(bytes))
    }

    /// `read` without the fallback: nil when the fast reader does not take the bytes (for the
    /// fuzz target and the tests that hold it to JSONDecoder).
    public static func readFast(_ bytes: [UInt8]) -> IngestBatch? {
        bytes.withUnsafeBytes { BatchReader.read($0) }
    }

    /// The `backend` of a status read partially (never what a station reports: they say
    /// `simulated`, `libusb` or `udev`).
    public static let partial = "(partial)"

    enum Keys: String, CodingKey { case station, reports, sentAt = "sent_at", publicKey = "public_key" }

    /// What a report's first reading keeps.
    struct Light: Decodable {
        var sequence: Int64
        var kind: ReportKind
        var time: Timestamp
        var event: Event?
        var status: LightStatus?
    }

    struct LightStatus: Decodable {
        struct Device: Decodable {
            var blanksRemaining: Int?
            enum CodingKeys: String, CodingKey { case blanksRemaining = "blanks_remaining" }
        }

        var station: String
        var site: Site
        var stock: StockStatus?
        var devices: [Device]
    }

    /// Reads nothing: steps over a report on the second pass.
    struct Skip: Decodable { init(from decoder: any Decoder) throws {} }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        let station = try c.decode(String.self, forKey: .station)
        let sentAt = try c.decode(Timestamp.self, forKey: .sentAt)
        let publicKey = try c.decodeIfPresent(String.self, forKey: .publicKey)
        var first = try c.nestedUnkeyedContainer(forKey: .reports)
        var light: [Light] = []
        light.reserveCapacity(first.count ?? 0)
        while !first.isAtEnd { light.append(try first.decode(Light.self)) }
        let newest = Self.newest(light)
        var whole: WireReport?
        if let n = newest {
            var second = try c.nestedUnkeyedContainer(forKey: .reports)
            for _ in 0..<n { _ = try second.decode(Skip.self) }
            whole = try second.decode(WireReport.self)
        }
        batch = ReportBatch(station: station, sentAt: sentAt, reports: Self.reports(light, newest: newest, whole: whole), publicKey: publicKey)
    }

    /// The index of the newest snapshot by ingest's rule (`ReportBatch.normalized`): the highest
    /// sequence, the first of them when a sequence comes twice.
    static func newest(_ light: [Light]) -> Int? {
        var newest: Int?
        for (i, r) in light.enumerated() where r.kind == .snapshot {
            if let n = newest, light[n].sequence >= r.sequence { continue }
            newest = i
        }
        return newest
    }

    /// The batch's reports: the newest snapshot as read whole, the others from their first reading.
    static func reports(_ light: [Light], newest: Int?, whole: WireReport?) -> [WireReport] {
        light.enumerated().map { i, r in
            if i == newest, let whole { return whole }
            return WireReport(sequence: r.sequence, kind: r.kind, time: r.time, event: r.event, status: r.status.map(partialStatus))
        }
    }

    static func partialStatus(_ s: LightStatus) -> StationStatus {
        let none = Timestamp(millis: 0)
        let devices = s.devices.map { d in
            DeviceStatus(device: DeviceSnapshot(id: DeviceID(rawValue: ""), kind: .other, kindSource: partial, vendorID: 0, productID: 0,
                                                name: "", portPath: "", busNumber: 0, deviceNumber: 0),
                         health: .unknown, since: none, blanksRemaining: d.blanksRemaining)
        }
        return StationStatus(station: s.station, site: s.site, backend: partial, kit: KitStatus(state: .degraded, problems: [], since: none),
                             devices: devices, lastSequence: 0, startedAt: none, now: none, version: "", stock: s.stock)
    }
}

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
