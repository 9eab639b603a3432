/// A report batch read straight from its bytes, for the registry's ingest (issue 17, item 2): the
/// same `IngestBatch` that `JSONDecoder` gives, without Codable's containers.
///
/// Why our own reader: after the key strategy went (JSONStyle), perf still put half the registry's
/// CPU in a catch-up in JSONDecoder, most of it not in scanning the JSON but in Codable's generic
/// machinery (a keyed container, a box and a metadata lookup for every object and field) for 160
/// events and 40 snapshots a batch. No other JSON library is at hand offline; this reader is about
/// 400 lines and reads only the batch's fixed shape. Measured with ektp-bench's `decoding` rows
/// (BENCHMARKS.md, a batch of 200 with every fifth a 6-device snapshot): 17.8 us a report through
/// JSONDecoder, 4.5-4.9 us through this reader (`fast_us_per_report`).
///
/// It is a fast path, never the only path: it answers nil for anything it does not take, and the
/// caller then reads the bytes with `JSONDecoder` (`IngestBatch.read`), which gives the batch or the
/// error with its field's path. So it need only be right when it answers: then it gives exactly what
/// `JSONDecoder` gives (the `batch` fuzz target checks this on every input). It answers nil for:
/// invalid JSON, a key it knows given twice (JSONDecoder keeps the first), an escaped key, a number
/// other than a plain integer where an integer goes, `null` where a value is required, a value of
/// the wrong type, an unknown enum word or time, nesting deeper than 64, a byte order mark.
/// Unknown keys are stepped over (validated) as JSONDecoder ignores them. The newest snapshot is
/// read whole by JSONDecoder from its own bytes, as `IngestBatch` reads it.
struct BatchReader {
    struct Bail: Error {}

    let p: UnsafeRawBufferPointer
    var i = 0

    init(_ p: UnsafeRawBufferPointer) { self.p = p }

    // The keys each object reads, in the order its `switch` numbers them (made once, not per key).
    static let batchKeys: [StaticString] = ["station", "sent_at", "reports", "public_key"]
    static let reportKeys: [StaticString] = ["sequence", "kind", "time", "event", "status"]
    static let eventKeys: [StaticString] = ["sequence", "time", "station", "type", "subject", "kind", "device_name", "from", "to", "reason", "code", "args"]
    static let statusKeys: [StaticString] = ["station", "site", "stock", "devices"]
    static let deviceKeys: [StaticString] = ["blanks_remaining"]
    static let siteKeys: [StaticString] = ["province", "regency", "district"]
    static let stockKeys: [StaticString] = ["blanks", "source", "updated_at"]

    static func read(_ bytes: UnsafeRawBufferPointer) -> IngestBatch? {
        var r = BatchReader(bytes)
        return try? r.batch()
    }

    // MARK: the batch's shape

    mutating func batch() throws -> IngestBatch {
        var station: String?, sentAt: Timestamp?, publicKey: String?
        // Each report's first reading and where its bytes are (the newest snapshot is read whole).
        var reports: [(light: IngestBatch.Light, range: Range<Int>)]?
        var object = try fields(Self.batchKeys)
        while let field = try next(&object) {
            switch field {
            case 0: station = try string()
            case 1: sentAt = try timestamp()
            case 2:
                var list: [(light: IngestBatch.Light, range: Range<Int>)] = []
                list.reserveCapacity(ReportBatch.stationBatchSize)
                try open(UInt8(ascii: "["))
                var firstItem = true
                while try nextItem(&firstItem) {
                    ws()
                    let start = i
                    let light = try report()
                    list.append((light: light, range: start..<i))
                }
                reports = list
            case 3: publicKey = try null() ? nil : string()
            default: try skip(depth: 1)
            }
        }
        ws()
        guard i == p.count, let station, let sentAt, let reports else { throw Bail() }
        // The newest snapshot by ingest's rule (highest sequence, first occurrence), read whole.
        let light = reports.map(\.light)
        let newest = IngestBatch.newest(light)
        var whole: WireReport?
        if let n = newest {
            let range = reports[n].range
            whole = try JSONStyle.decoder().decode(WireReport.self, from: Data(UnsafeRawBufferPointer(rebasing: p[range])))
        }
        return IngestBatch(batch: ReportBatch(station: station, sentAt: sentAt, reports: IngestBatch.reports(light, newest: newest, whole: whole),
                                              publicKey: publicKey))
    }

    mutating func report() throws -> IngestBatch.Light {
        var sequence: Int64?, kind: ReportKind?, time: Timestamp?, event: Event?, status: IngestBatch.LightStatus?
        var object = try fields(Self.reportKeys)
        while let field = try next(&object) {
            switch field {
            case 0: sequence = try int64()
            case 1: kind = try word(ReportKind.self)
            case 2: time = try timestamp()
            case 3: event = try null() ? nil : self.event()
            case 4: status = try null() ? nil : lightStatus()
            default: try skip(depth: 2)
            }
        }
        guard let sequence, let kind, let time else { throw Bail() }
        return IngestBatch.Light(sequence: sequence, kind: kind, time: time, event: event, status: status)
    }

    mutating func event() throws -> Event {
        var sequence: Int64?, time: Timestamp?, station: String?, type: EventType?, subject: String?
        var kind: DeviceKind?, deviceName: String?, from: String?, to: String?, reason: String?, code: String?
        var args: [String: String]?
        var object = try fields(Self.eventKeys)
        while let field = try next(&object) {
            switch field {
            case 0: sequence = try int64()
            case 1: time = try timestamp()
            case 2: station = try string()
            case 3: type = try word(EventType.self)
            case 4: subject = try string()
            case 5: kind = try null() ? nil : word(DeviceKind.self)
            case 6: deviceName = try null() ? nil : string()
            case 7: from = try null() ? nil : string()
            case 8: to = try null() ? nil : string()
            case 9: reason = try null() ? nil : string()
            case 10: code = try null() ? nil : string()
            case 11: args = try null() ? nil : stringMap()
            default: try skip(depth: 4)
            }
        }
        guard let sequence, let time, let station, let type, let subject else { throw Bail() }
        // What was sent (the public init would recognise a code in the reason).
        return Event(sequence: sequence, time: time, station: station, type: type, subject: subject, kind: kind,
                     deviceName: deviceName, from: from, to: to, reason: reason, code: code, args: args)
    }

    mutating func lightStatus() throws -> IngestBatch.LightStatus {
        var station: String?, site: Site?, stock: StockStatus?, devices: [IngestBatch.LightStatus.Device]?
        var object = try fields(Self.statusKeys)
        while let field = try next(&object) {
            switch field {
            case 0: station = try string()
            case 1: site = try self.site()
            case 2: stock = try null() ? nil : self.stock()
            case 3:
                var list: [IngestBatch.LightStatus.Device] = []
                try open(UInt8(ascii: "["))
                var firstItem = true
                while try nextItem(&firstItem) {
                    var blanks: Int?
                    var device = try fields(Self.deviceKeys)
                    while let field = try next(&device) {
                        if field == 0 {
                            blanks = try null() ? nil : int()
                        } else {
                            try skip(depth: 6)
                        }
                    }
                    list.append(IngestBatch.LightStatus.Device(blanksRemaining: blanks))
                }
                devices = list
            default: try skip(depth: 4)
            }
        }
        guard let station, let site, let devices else { throw Bail() }
        return IngestBatch.LightStatus(station: station, site: site, stock: stock, devices: devices)
    }

    mutating func site() throws -> Site {
        var province: String?, regency: String?, district: String?
        var object = try fields(Self.siteKeys)
        while let field = try next(&object) {
            switch field {
            case 0: province = try string()
            case 1: regency = try string()
            case 2: district = try string()
            default: try skip(depth: 5)
            }
        }
        guard let province, let regency, let district else { throw Bail() }
        return Site(province: province, regency: regency, district: district)
    }

    mutating func stock() throws -> StockStatus {
        var blanks: Int?, source: StockSource?, updatedAt: Timestamp?
        var object = try fields(Self.stockKeys)
        while let field = try next(&object) {
            switch field {
            case 0: blanks = try int()
            case 1: source = try word(StockSource.self)
            case 2: updatedAt = try timestamp()
            default: try skip(depth: 5)
            }
        }
        guard let blanks, let source, let updatedAt else { throw Bail() }
        return StockStatus(blanks: blanks, source: source, updatedAt: updatedAt)
    }

    mutating func stringMap() throws -> [String: String] {
        var out: [String: String] = [:]
        try open(UInt8(ascii: "{"))
        var first = true
        while let k = try nextKey(&first) {
            let key = try text(k)
            // A key given twice: JSONDecoder keeps the first.
            guard out[key] == nil else { throw Bail() }
            out[key] = try string()
        }
        return out
    }

    // MARK: values

    mutating func ws() {
        while i < p.count {
            let c = p[i]
            guard c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 else { return }
            i += 1
        }
    }

    /// Consumes `c` (after white space).
    mutating func open(_ c: UInt8) throws {
        ws()
        guard i < p.count, p[i] == c else { throw Bail() }
        i += 1
    }

    /// The next key of an object opened with `open("{")`, its bytes' range (between the quotes,
    /// no escapes), with the colon consumed; nil at the closing brace.
    mutating func nextKey(_ first: inout Bool) throws -> Range<Int>? {
        ws()
        guard i < p.count else { throw Bail() }
        if p[i] == UInt8(ascii: "}") { i += 1; return nil }
        if !first {
            guard p[i] == UInt8(ascii: ",") else { throw Bail() }
            i += 1
            ws()
        }
        first = false
        guard i < p.count, p[i] == UInt8(ascii: "\"") else { throw Bail() }
        let start = i + 1
        var j = start
        while j < p.count, p[j] != UInt8(ascii: "\"") {
            guard p[j] != UInt8(ascii: "\\"), p[j] >= 0x20, p[j] < 0x80 else { throw Bail() }
            j += 1
        }
        guard j < p.count else { throw Bail() }
        i = j + 1
        try open(UInt8(ascii: ":"))
        return start..<j
    }

    /// Whether an array opened with `open("[")` has another item (consuming the comma).
    mutating func nextItem(_ first: inout Bool) throws -> Bool {
        ws()
        guard i < p.count else { throw Bail() }
        if p[i] == UInt8(ascii: "]") { i += 1; return false }
        if !first {
            guard p[i] == UInt8(ascii: ",") else { throw Bail() }
            i += 1
        }
        first = false
        return true
    }

    /// An object being read field by field: the keys it knows and which of them came.
    struct Fields {
        let names: [StaticString]
        var seen: UInt32 = 0
        var first = true
    }

    /// Opens an object whose known keys are `names` (at most 32).
    mutating func fields(_ names: [StaticString]) throws -> Fields {
        try open(UInt8(ascii: "{"))
        return Fields(names: names)
    }

    /// The next field's index in the object's `names` (-1 for a key the reader steps over), its
    /// colon consumed; nil at the closing brace.
    mutating func next(_ object: inout Fields) throws -> Int? {
        guard let k = try nextKey(&object.first) else { return nil }
        return try known(k, object.names, &object.seen)
    }

    /// The index of key `k` in `names`, or -1 for a key the reader steps over; a known key given
    /// twice is not taken.
    func known(_ k: Range<Int>, _ names: [StaticString], _ seen: inout UInt32) throws -> Int {
        for (n, name) in names.enumerated() where name.utf8CodeUnitCount == k.count {
            if memcmp(p.baseAddress! + k.lowerBound, name.utf8Start, k.count) == 0 {
                guard seen & (1 << n) == 0 else { throw Bail() }
                seen |= 1 << n
                return n
            }
        }
        return -1
    }

    func text(_ r: Range<Int>) throws -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: p[r]), as: UTF8.self)
    }

    /// `null`, consumed; false (nothing consumed) for any other value.
    mutating func null() throws -> Bool {
        ws()
        guard i + 4 <= p.count, p[i] == UInt8(ascii: "n") else { return false }
        guard p[i + 1] == UInt8(ascii: "u"), p[i + 2] == UInt8(ascii: "l"), p[i + 3] == UInt8(ascii: "l") else { throw Bail() }
        i += 4
        return true
    }

    mutating func string() throws -> String {
        ws()
        guard i < p.count, p[i] == UInt8(ascii: "\"") else { throw Bail() }
        let start = i + 1
        var j = start
        var ascii = true
        while j < p.count {
            let c = p[j]
            if c == UInt8(ascii: "\"") { break }
            if c == UInt8(ascii: "\\") { return try escapedString(from: start) }
            guard c >= 0x20 else { throw Bail() }
            if c >= 0x80 { ascii = false }
            j += 1
        }
        guard j < p.count else { throw Bail() }
        i = j + 1
        let raw = UnsafeRawBufferPointer(rebasing: p[start..<j])
        if ascii { return String(decoding: raw, as: UTF8.self) }
        guard let s = String(validating: raw, as: UTF8.self) else { throw Bail() }
        return s
    }

    /// A string with escapes, from just after its opening quote.
    mutating func escapedString(from start: Int) throws -> String {
        var out: [UInt8] = []
        var j = start
        while true {
            guard j < p.count else { throw Bail() }
            let c = p[j]
            if c == UInt8(ascii: "\"") { break }
            guard c >= 0x20 else { throw Bail() }
            if c != UInt8(ascii: "\\") { out.append(c); j += 1; continue }
            guard j + 1 < p.count else { throw Bail() }
            let e = p[j + 1]
            j += 2
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var unit = try hex4(at: j)
                j += 4
                if (0xD800..<0xDC00).contains(unit) {
                    guard j + 6 <= p.count, p[j] == UInt8(ascii: "\\"), p[j + 1] == UInt8(ascii: "u") else { throw Bail() }
                    let low = try hex4(at: j + 2)
                    guard (0xDC00..<0xE000).contains(low) else { throw Bail() }
                    j += 6
                    unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00..<0xE000).contains(unit) {
                    throw Bail()
                }
                guard let scalar = Unicode.Scalar(unit) else { throw Bail() }
                out.append(contentsOf: Array(String(Character(scalar)).utf8))
            default: throw Bail()
            }
        }
        i = j + 1
        guard let s = String(validating: out, as: UTF8.self) else { throw Bail() }
        return s
    }

    func hex4(at j: Int) throws -> UInt32 {
        guard j + 4 <= p.count else { throw Bail() }
        var v: UInt32 = 0
        for k in j..<(j + 4) {
            let c = p[k]
            let d: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = c - UInt8(ascii: "A") + 10
            default: throw Bail()
            }
            v = v << 4 | UInt32(d)
        }
        return v
    }

    /// A plain integer (`-?(0|[1-9][0-9]*)`, not -0) that fits; anything with a fraction or an
    /// exponent is left to JSONDecoder.
    mutating func int64() throws -> Int64 {
        ws()
        var j = i
        let negative = j < p.count && p[j] == UInt8(ascii: "-")
        if negative { j += 1 }
        let digits = j
        var v: Int64 = 0
        while j < p.count, p[j] >= UInt8(ascii: "0"), p[j] <= UInt8(ascii: "9") {
            let d = Int64(p[j] - UInt8(ascii: "0"))
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (s, o2) = negative ? m.subtractingReportingOverflow(d) : m.addingReportingOverflow(d)
            guard !o1, !o2 else { throw Bail() }
            v = s
            j += 1
        }
        let count = j - digits
        guard count > 0, !(count > 1 && p[digits] == UInt8(ascii: "0")), !(negative && v == 0) else { throw Bail() }
        if j < p.count {
            let c = p[j]
            guard c != UInt8(ascii: "."), c != UInt8(ascii: "e"), c != UInt8(ascii: "E") else { throw Bail() }
        }
        i = j
        return v
    }

    mutating func int() throws -> Int { Int(try int64()) }

    mutating func timestamp() throws -> Timestamp {
        guard let t = Timestamp(rfc3339: try string()) else { throw Bail() }
        return t
    }

    mutating func word<E: RawRepresentable>(_: E.Type) throws -> E where E.RawValue == String {
        guard let v = E(rawValue: try string()) else { throw Bail() }
        return v
    }

    /// Steps over one value of any kind, checking it is JSON.
    mutating func skip(depth: Int) throws {
        guard depth < 64 else { throw Bail() }
        ws()
        guard i < p.count else { throw Bail() }
        switch p[i] {
        case UInt8(ascii: "\""): _ = try string()
        case UInt8(ascii: "{"):
            i += 1
            var first = true
            while try nextKey(&first) != nil { try skip(depth: depth + 1) }
        case UInt8(ascii: "["):
            i += 1
            var first = true
            while try nextItem(&first) { try skip(depth: depth + 1) }
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default: try number()
        }
    }

    mutating func literal(_ s: StaticString) throws {
        let n = s.utf8CodeUnitCount
        guard i + n <= p.count, memcmp(p.baseAddress! + i, s.utf8Start, n) == 0 else { throw Bail() }
        i += n
    }

    /// A JSON number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
    mutating func number() throws {
        var j = i
        func digits(_ j: inout Int) -> Int {
            let s = j
            while j < p.count, p[j] >= UInt8(ascii: "0"), p[j] <= UInt8(ascii: "9") { j += 1 }
            return j - s
        }
        if j < p.count, p[j] == UInt8(ascii: "-") { j += 1 }
        let first = j
        let n = digits(&j)
        guard n > 0, !(n > 1 && p[first] == UInt8(ascii: "0")) else { throw Bail() }
        if j < p.count, p[j] == UInt8(ascii: ".") {
            j += 1
            guard digits(&j) > 0 else { throw Bail() }
        }
        if j < p.count, p[j] == UInt8(ascii: "e") || p[j] == UInt8(ascii: "E") {
            j += 1
            if j < p.count, p[j] == UInt8(ascii: "+") || p[j] == UInt8(ascii: "-") { j += 1 }
            guard digits(&j) > 0 else { throw Bail() }
        }
        i = j
    }
}

#if canImport(Glibc)
import Glibc
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
