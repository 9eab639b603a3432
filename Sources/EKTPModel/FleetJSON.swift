/// `GET /v1/fleet`'s body written directly (issue 17: fleet reads under 50 ms at 15,000 stations).
/// Foundation's JSONEncoder with snake_case conversion and sorted keys took 186 ms for the 7,300
/// districts' summary (BENCHMARKS.md, "the same summary's JSON encoding"); this writer produces the
/// same bytes (a test compares them with `JSONStyle.encode`) in a few milliseconds. Keys are written
/// in JSONStyle's sorted snake_case order; absent optionals are left out, as JSONStyle does.
extension FleetSummary {
    public func jsonBytes() -> [UInt8] {
        var w = JSONWriter()
        w.out.reserveCapacity(256 + provinces.count * 4096)
        w.open()
        w.key("at"); w.string(at.rfc3339)
        w.key("provinces"); w.array(provinces) { w, p in
            w.open()
            w.key("name"); w.string(p.name)
            w.key("regencies"); w.array(p.regencies) { w, r in
                w.open()
                w.key("districts"); w.array(r.districts) { w, d in
                    w.open()
                    w.key("name"); w.string(d.name)
                    w.key("tally"); w.tally(d.tally)
                    w.close()
                }
                w.key("name"); w.string(r.name)
                w.key("tally"); w.tally(r.tally)
                w.close()
            }
            w.key("tally"); w.tally(p.tally)
            w.close()
        }
        w.key("silent_after_seconds"); w.int(silentAfterSeconds)
        w.key("stock"); w.array(stock) { w, s in
            w.open()
            w.key("blanks"); w.int(Int64(s.blanks))
            if let d = s.daysLeft { w.key("days_left"); w.double(d) }
            if let d = s.perDay { w.key("per_day"); w.double(d) }
            w.key("printers"); w.int(Int64(s.printers))
            w.key("printers_working"); w.int(Int64(s.printersWorking))
            w.key("site"); w.open()
            w.key("district"); w.string(s.site.district)
            w.key("province"); w.string(s.site.province)
            w.key("regency"); w.string(s.site.regency)
            w.close()
            w.key("source"); w.string(s.source.rawValue)
            w.key("station"); w.string(s.station)
            w.key("updated_at"); w.string(s.updatedAt.rfc3339)
            w.close()
        }
        w.key("tally"); w.tally(tally)
        w.close()
        return w.out
    }
}

/// A minimal JSON writer (RFC 8259) for the registry's hot replies, in JSONStyle's compact form.
struct JSONWriter {
    var out: [UInt8] = []
    /// Whether the next member of the open object or array needs a comma first.
    var needComma = false

    mutating func open() { out.append(UInt8(ascii: "{")); needComma = false }
    mutating func close() { out.append(UInt8(ascii: "}")); needComma = true }

    mutating func key(_ k: StaticString) {
        if needComma { out.append(UInt8(ascii: ",")) }
        out.append(UInt8(ascii: "\""))
        k.withUTF8Buffer { out.append(contentsOf: $0) }
        out.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
        needComma = false
    }

    mutating func array<T>(_ items: [T], _ each: (inout JSONWriter, T) -> Void) {
        out.append(UInt8(ascii: "["))
        needComma = false
        for item in items {
            if needComma { out.append(UInt8(ascii: ",")) }
            each(&self, item)
            needComma = true
        }
        out.append(UInt8(ascii: "]"))
        needComma = true
    }

    mutating func int(_ v: Int64) { out.append(contentsOf: String(v).utf8); needComma = true }

    /// As Foundation writes a Double: whole values without a fraction, others in Swift's shortest
    /// round-trip form; non-finite values (never stored) as 0.
    mutating func double(_ v: Double) {
        if !v.isFinite { out.append(UInt8(ascii: "0")) }
        else if v == v.rounded(), abs(v) < 1e15 { out.append(contentsOf: String(Int64(v)).utf8) }
        else { out.append(contentsOf: v.description.utf8) }
        needComma = true
    }

    /// A JSON string: `"` and `\` escaped, control characters as \b \f \n \r \t or \u00XX; `/` as is.
    mutating func string(_ s: String) {
        out.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): out.append(contentsOf: [0x5c, 0x22])
            case UInt8(ascii: "\\"): out.append(contentsOf: [0x5c, 0x5c])
            case 0x08: out.append(contentsOf: [0x5c, UInt8(ascii: "b")])
            case 0x0c: out.append(contentsOf: [0x5c, UInt8(ascii: "f")])
            case 0x0a: out.append(contentsOf: [0x5c, UInt8(ascii: "n")])
            case 0x0d: out.append(contentsOf: [0x5c, UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [0x5c, UInt8(ascii: "t")])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out.append(contentsOf: [0x5c, UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(b >> 4)], hex[Int(b & 15)]])
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
        needComma = true
    }

    mutating func tally(_ t: FleetTally) {
        open()
        key("blanks"); int(Int64(t.blanks))
        key("broken"); int(Int64(t.broken))
        key("clock_skewed"); int(Int64(t.clockSkewed))
        key("degraded"); int(Int64(t.degraded))
        key("not_pulled"); int(Int64(t.notPulled))
        key("ready"); int(Int64(t.ready))
        key("silent"); int(Int64(t.silent))
        key("stations"); int(Int64(t.stations))
        key("unknown"); int(Int64(t.unknown))
        close()
    }
}

/// An event's JSON written directly, as the registry stores each report's body (issue 17: ingest at
/// the database's speed; JSONEncoder with sorted snake_case keys was most of ingest's own work per
/// event). The same bytes as `JSONStyle.encode(event)` (a test compares them over awkward strings):
/// keys in sorted snake_case order, absent optionals left out. An `args` key with a capital letter
/// (never made by this project's templates) goes through JSONStyle, whose snake_case conversion
/// rewrites dictionary keys too.
extension Event {
    public func jsonBytes() -> [UInt8] {
        if let args, args.keys.contains(where: { $0.utf8.contains { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") } }) {
            return (try? JSONStyle.encode(self)) ?? []
        }
        var w = JSONWriter()
        w.out.reserveCapacity(160 + (reason?.utf8.count ?? 0))
        w.open()
        if let args {
            w.key("args"); w.open()
            for k in args.keys.sorted(by: { $0.utf8Precedes($1) }) {
                w.dynamicKey(k); w.string(args[k]!)
            }
            w.close()
        }
        if let code { w.key("code"); w.string(code) }
        if let deviceName { w.key("device_name"); w.string(deviceName) }
        if let from { w.key("from"); w.string(from) }
        if let kind { w.key("kind"); w.string(kind.rawValue) }
        if let reason { w.key("reason"); w.string(reason) }
        w.key("sequence"); w.int(sequence)
        w.key("station"); w.string(station)
        w.key("subject"); w.string(subject)
        w.key("time"); w.string(time.rfc3339)
        if let to { w.key("to"); w.string(to) }
        w.key("type"); w.string(type.rawValue)
        w.close()
        return w.out
    }
}

extension JSONWriter {
    /// A key that is data (a dictionary's), escaped as a string.
    mutating func dynamicKey(_ k: String) {
        if needComma { out.append(UInt8(ascii: ",")) }
        string(k)
        out.append(UInt8(ascii: ":"))
        needComma = false
    }
}
