/// Why the registry refuses a batch: an HTTP status (400 malformed, 403 another station's, 409
/// inconsistent) and a message naming the field (`reports[3].status.stock.blanks: ...`).
public struct BatchRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: Int
    public var message: String
    public init(_ status: Int, _ message: String) {
        self.status = status
        self.message = message
    }
    public var description: String { "\(status): \(message)" }
}

/// The registry's rules for a batch, pure (no store, no clock), so the fuzzers can reach them and
/// every refusal says what and where (issue 13).
extension ReportBatch {
    /// The highest sequence number a report may carry (2^53: exact in every JSON reader; a station
    /// making a report a millisecond would take 285,000 years to reach it). Issue 13: Int64.max was
    /// accepted and left the station's `stored_through` stuck there.
    public static let maxSequence: Int64 = 1 << 53
    /// Card blanks a report may state: 0 to 10,000,000 (a national print run is 14,000 a regency).
    /// Bounded so sums over 15,000 stations and the daily rate cannot overflow (issue 13, hardening r7).
    public static let blanksRange = 0...10_000_000

    /// The request header a station sends with each batch: how many reports it has left to send,
    /// this batch's included (issue 17). A busy registry sizes the station's place in its line by it.
    public static let pendingHeader = "Ektp-Pending"
    /// The request header a station sends with `pendingHeader`: how many reports its batches
    /// hold (its `registry.batch_size`, 1 to 1,000), so the registry counts the batches it will
    /// send right. Absent (stations before it), `stationBatchSize`.
    public static let batchSizeHeader = "Ektp-Batch-Size"
    /// Reports in the batches stations send unless configured otherwise (ektpd's
    /// `registry.batch_size`); the registry reads `pendingHeader` as batches of this many when a
    /// station does not say (`batchSizeHeader`).
    public static let stationBatchSize = 200

    /// A batch's reports in sequence order, each number once (the first wins): stations send in
    /// order, but a relay or a courier may not, and a repeated number is a duplicate, not an error.
    public static func normalized(_ reports: [WireReport]) -> [WireReport] {
        var seen = Set<Int64>()
        return reports.sorted { $0.sequence < $1.sequence }.filter { seen.insert($0.sequence).inserted }
    }

    /// Checks a batch against the station its token belongs to: 400 (malformed), 403 (another
    /// station's records) or 409 (an event's number differs from its report's). Nothing is stored
    /// when it throws.
    public func check(from station: String, maxReports: Int = 1000) throws(BatchRefusal) {
        guard self.station == station else {
            throw BatchRefusal(403, "this token belongs to station \(station); it may not write records of station \(self.station.printable.prefix(80))")
        }
        guard !reports.isEmpty else { throw BatchRefusal(400, "reports: empty batch") }
        guard reports.count <= maxReports else { throw BatchRefusal(400, "reports: \(reports.count) reports in one batch; at most \(maxReports)") }
        for (i, r) in reports.enumerated() {
            let at = "reports[\(i)]"
            guard r.sequence > 0 else { throw BatchRefusal(400, "\(at).sequence: \(r.sequence) is not positive") }
            guard r.sequence <= Self.maxSequence else { throw BatchRefusal(400, "\(at).sequence: \(r.sequence) is over the ceiling of \(Self.maxSequence)") }
            switch r.kind {
            case .event:
                guard let e = r.event else { throw BatchRefusal(400, "\(at).event: missing for a report of kind event") }
                guard r.status == nil else { throw BatchRefusal(400, "\(at).status: not allowed in a report of kind event") }
                guard e.station == station else { throw BatchRefusal(403, "\(at).event.station: \(e.station) is not this token's station \(station)") }
                guard e.sequence == r.sequence else { throw BatchRefusal(409, "\(at).event.sequence: \(e.sequence) differs from the report's \(r.sequence)") }
            case .snapshot:
                guard let s = r.status else { throw BatchRefusal(400, "\(at).status: missing for a report of kind snapshot") }
                guard r.event == nil else { throw BatchRefusal(400, "\(at).event: not allowed in a report of kind snapshot") }
                guard s.station == station else { throw BatchRefusal(403, "\(at).status.station: \(s.station) is not this token's station \(station)") }
                for (field, value) in [("province", s.site.province), ("regency", s.site.regency), ("district", s.site.district)]
                where value.count > Site.maxNameLength {
                    throw BatchRefusal(400, "\(at).status.site.\(field): \(value.count) characters; at most \(Site.maxNameLength)")
                }
                if let b = s.stock?.blanks, !Self.blanksRange.contains(b) {
                    throw BatchRefusal(400, "\(at).status.stock.blanks: \(b) is outside \(Self.blanksRange.lowerBound) to \(Self.blanksRange.upperBound)")
                }
                for (j, d) in s.devices.enumerated() {
                    if let b = d.blanksRemaining, !Self.blanksRange.contains(b) {
                        throw BatchRefusal(400, "\(at).status.devices[\(j)].blanks_remaining: \(b) is outside \(Self.blanksRange.lowerBound) to \(Self.blanksRange.upperBound)")
                    }
                }
            }
        }
    }
}
