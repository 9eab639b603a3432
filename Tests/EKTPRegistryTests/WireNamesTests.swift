import EKTPModel
import EKTPStation
import Foundation
import Testing

/// The JSON key names on the wire do not change when the types write them out as `CodingKeys`
/// instead of JSONEncoder's snake_case strategy (issue 17: the strategy was 40 % of reading a
/// batch). Each file under wire/ was written by the build before that change (ektpd status --json
/// of a daemon with a recording server, a power supply on battery and printer stock; the registry's
/// /v1 answers and `ektpd simulate --json` after the Sintang courier scenario), with the few fields
/// those runs leave empty filled in by hand. Each is read with JSONStyle and written back: a key
/// the types spell differently is either refused on reading or missing from the writing.
@Suite struct WireNamesTests {
    static let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("wire").path

    func roundTrip<T: Codable>(_ type: T.Type, _ file: String) throws {
        let bytes = try #require(FileManager.default.contents(atPath: Self.dir + "/" + file), "wire/\(file)")
        let value = try JSONStyle.decode(T.self, from: Array(bytes))
        let written = try JSONStyle.encode(value)
        let before = try JSONSerialization.jsonObject(with: bytes)
        let after = try JSONSerialization.jsonObject(with: Data(written))
        #expect(try Self.canonical(before) == Self.canonical(after),
                "\(file): written back as \(String(decoding: written, as: UTF8.self).prefix(400))")
        #expect(Self.camelKeys(after).isEmpty, "\(file): keys not in snake_case: \(Self.camelKeys(after))")
    }

    static func canonical(_ o: Any) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: o, options: [.sortedKeys]), as: UTF8.self)
    }

    /// Keys with an upper-case letter, except under the maps whose keys are data (`args`).
    static func camelKeys(_ o: Any, under parent: String = "") -> Set<String> {
        if let d = o as? [String: Any] {
            var out = Set<String>()
            for (k, v) in d {
                if parent != "args", k.contains(where: \.isUppercase) { out.insert(k) }
                out.formUnion(camelKeys(v, under: k))
            }
            return out
        }
        if let a = o as? [Any] { return a.reduce(into: Set<String>()) { $0.formUnion(camelKeys($1, under: parent)) } }
        return []
    }

    @Test func aStationsStatusKeepsItsNames() throws { try roundTrip(StationStatus.self, "station-status.json") }
    @Test func theFleetKeepsItsNames() throws { try roundTrip(FleetSummary.self, "fleet-summary.json") }
    @Test func theSitesKeepTheirNames() throws { try roundTrip(SitesReply.self, "sites-reply.json") }
    @Test func aStationsDetailKeepsItsNames() throws { try roundTrip(StationDetail.self, "station-detail.json") }
    @Test func eventsKeepTheirNames() throws { try roundTrip(EventsReply.self, "events-reply.json") }
    @Test func theSimulationsTalliesKeepTheirNames() throws {
        try roundTrip(AlertTally.self, "alert-tally.json")
        try roundTrip([CourierTrip].self, "courier-trips.json")
    }

    /// Names that the wire files do not reach, against the names the snake_case strategy makes
    /// of the Swift names (the strategy is Foundation's; only the expected names are written here).
    @Test func theRestKeepTheirNames() throws {
        let batch = ReportBatch(station: "s", sentAt: Timestamp(millis: 0), reports: [], publicKey: "k")
        #expect(try keys(batch) == ["public_key", "reports", "sent_at", "station"])
        #expect(try keys(IngestReply(station: "s", storedThrough: 3, stored: 1, duplicates: 0)) == ["duplicates", "station", "stored", "stored_through"])
    }

    func keys<T: Encodable>(_ v: T) throws -> [String] {
        let o = try JSONSerialization.jsonObject(with: Data(try JSONStyle.encode(v))) as! [String: Any]
        return o.keys.sorted()
    }
}
