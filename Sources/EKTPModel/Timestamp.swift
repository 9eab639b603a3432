/// A point in time, in milliseconds since the Unix epoch, rendered in JSON as RFC 3339 UTC
/// (`2026-11-23T18:10:41.250Z`).
///
/// Our own type rather than Foundation's `Date`, so the model stays free of Foundation and simulated
/// clocks are exact integers.
public struct Timestamp: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public var millis: Int64

    public init(millis: Int64) { self.millis = millis }
    public init(seconds: Int64) { self.millis = seconds * 1000 }

    public static func < (a: Timestamp, b: Timestamp) -> Bool { a.millis < b.millis }

    public func adding(_ d: Duration) -> Timestamp {
        Timestamp(millis: millis + d.wholeMilliseconds)
    }

    public static func - (a: Timestamp, b: Timestamp) -> Duration { .milliseconds(a.millis - b.millis) }

    public var description: String { rfc3339 }

    /// RFC 3339 in UTC with milliseconds.
    public var rfc3339: String {
        let secs = millis >= 0 ? millis / 1000 : (millis - 999) / 1000
        let ms = Int(millis - secs * 1000)
        let days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400
        let rem = Int(secs - days * 86400)
        let (y, m, d) = civil(fromDays: days)
        func p(_ v: Int, _ w: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, w - s.count)) + s
        }
        return "\(p(Int(y), 4))-\(p(m, 2))-\(p(d, 2))T\(p(rem / 3600, 2)):\(p(rem / 60 % 60, 2)):\(p(rem % 60, 2)).\(p(ms, 3))Z"
    }

    /// The years a time from outside may carry (issue 13): the Unix epoch to RFC 3339's last
    /// four-digit year.
    public static let acceptedYears = 1970...9999

    /// Parses RFC 3339 (`2026-11-23T18:10:41Z`, an optional fraction of any number of digits, kept
    /// to the millisecond; `Z` or a `+07:00` offset). Nil for anything else, including dates that do
    /// not exist (`2026-02-31`) and years outside `acceptedYears`. Never traps (issue 13: a fourth
    /// fractional digit once crashed the registry from one unauthenticated GET).
    public init?(rfc3339 s: String) {
        let c = Array(s.utf8)
        func num(_ from: Int, _ n: Int) -> Int? {
            guard from + n <= c.count else { return nil }
            var v = 0
            for i in from..<(from + n) {
                guard c[i] >= 48, c[i] <= 57 else { return nil }
                v = v * 10 + Int(c[i] - 48)
            }
            return v
        }
        guard c.count >= 20, let y = num(0, 4), c[4] == 45, let mo = num(5, 2), c[7] == 45, let d = num(8, 2),
              c[10] == 84 || c[10] == 116 || c[10] == 32, let h = num(11, 2), c[13] == 58, let mi = num(14, 2),
              c[16] == 58, let se = num(17, 2), (1...12).contains(mo), Self.acceptedYears.contains(y),
              d >= 1, d <= Self.daysIn(month: mo, year: y), h < 24, mi < 60, se < 61
        else { return nil }
        var i = 19
        var ms = 0
        if i < c.count, c[i] == 46 {
            i += 1
            var digits = 0
            while i < c.count, c[i] >= 48, c[i] <= 57 {
                if digits < 3 { ms = ms * 10 + Int(c[i] - 48) }
                digits += 1
                i += 1
            }
            guard digits > 0 else { return nil }
            if digits < 3 { for _ in digits..<3 { ms *= 10 } }
        }
        var offset = 0
        guard i < c.count else { return nil }
        if c[i] == 90 || c[i] == 122 {
            i += 1
        } else if c[i] == 43 || c[i] == 45, let oh = num(i + 1, 2), c.count > i + 3, c[i + 3] == 58, let om = num(i + 4, 2),
                  oh < 24, om < 60 {
            offset = (oh * 60 + om) * 60 * (c[i] == 43 ? 1 : -1)
            i += 6
        } else {
            return nil
        }
        guard i == c.count else { return nil }
        let days = daysFromCivil(Int64(y), mo, d)
        let secs = days * 86400 + Int64(h * 3600 + mi * 60 + se) - Int64(offset)
        self.millis = secs * 1000 + Int64(ms)
    }

    /// Days in a month of the proleptic Gregorian calendar.
    public static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let s = try c.decode(String.self)
        guard let t = Timestamp(rfc3339: s) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "not an RFC 3339 time from 1970 to 9999 (like 2026-11-30T08:00:00Z): \(s.prefix(64))")
        }
        self = t
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rfc3339)
    }
}

// Howard Hinnant's civil-from-days algorithms (public domain).
private func civil(fromDays z0: Int64) -> (Int64, Int, Int) {
    let z = z0 + 719_468
    let era = (z >= 0 ? z : z - 146_096) / 146_097
    let doe = z - era * 146_097
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
    let y = yoe + era * 400
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
    let mp = (5 * doy + 2) / 153
    let d = Int(doy - (153 * mp + 2) / 5 + 1)
    let m = Int(mp < 10 ? mp + 3 : mp - 9)
    return (m <= 2 ? y + 1 : y, m, d)
}

private func daysFromCivil(_ y0: Int64, _ m: Int, _ d: Int) -> Int64 {
    let y = m <= 2 ? y0 - 1 : y0
    let era = (y >= 0 ? y : y - 399) / 400
    let yoe = y - era * 400
    let mm = Int64(m)
    let doy = (153 * (mm > 2 ? mm - 3 : mm + 9) + 2) / 5 + Int64(d) - 1
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
    return era * 146_097 + doe - 719_468
}
