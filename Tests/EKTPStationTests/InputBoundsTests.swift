import EKTPModel
import EKTPYAML
import EKTPTesting
import Testing

/// Times and durations from outside are parsed into checked ranges and never trap (issue 13).
@Suite struct InputBoundsTests {
    /// A seeded generator: the same cases every run, many of them near the edges.
    struct Gen {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func int(_ r: ClosedRange<Int>) -> Int { r.lowerBound + Int(next() % UInt64(r.count)) }
        mutating func pick<T>(_ xs: [T]) -> T { xs[int(0...(xs.count - 1))] }
    }

    @Test func rfc3339EdgesFromTheFieldCases() {
        // Hardening r4: a fourth fractional digit trapped; now it is read to the millisecond.
        #expect(Timestamp(rfc3339: "2026-11-30T00:00:00.0001Z")?.millis == Timestamp(rfc3339: "2026-11-30T00:00:00Z")?.millis)
        #expect(Timestamp(rfc3339: "2026-11-30T00:00:00.123456789Z")?.rfc3339 == "2026-11-30T00:00:00.123Z")
        #expect(Timestamp(rfc3339: "2026-11-30T07:00:00.5+07:00")?.rfc3339 == "2026-11-30T00:00:00.500Z")
        // Dates that do not exist, years out of range, offsets out of range: refused.
        for bad in ["2026-02-31T00:00:00Z", "2026-04-31T00:00:00Z", "2025-02-29T00:00:00Z", "0000-01-01T00:00:00Z",
                    "1969-12-31T23:59:59Z", "2026-11-30T00:00:00+24:00", "2026-11-30T00:00:00+07:60", "2026-11-30T00:00:00.Z",
                    "2026-11-30T24:00:00Z", "2026-13-01T00:00:00Z", "2026-11-30T00:00:00"] {
            #expect(Timestamp(rfc3339: bad) == nil, "\(bad) accepted")
        }
        #expect(Timestamp(rfc3339: "2024-02-29T00:00:00Z") != nil)
        #expect(Timestamp(rfc3339: "9999-12-31T23:59:59.999Z") != nil)
    }

    @Test func anyTimeTheParserAcceptsFormatsBackToTheSameTime() {
        var g = Gen(state: 20261130)
        let pieces = ["0", "1", "2", "9", "-", ":", "T", "Z", ".", "+", "00", "12", "29", "31", "59", "60", "2026", "1970", "9999", "0000", "000000"]
        var accepted = 0
        for _ in 0..<20_000 {
            // Half from a valid template mutated, half from random pieces.
            var s: String
            if g.int(0...1) == 0 {
                var c = Array("\(g.int(1960...10010))-\(pad(g.int(0...13)))-\(pad(g.int(0...32)))T\(pad(g.int(0...25)))"
                              + ":\(pad(g.int(0...61))):\(pad(g.int(0...61)))" + g.pick(["", ".5", ".123", ".0001", ".999999999"])
                              + g.pick(["Z", "z", "+07:00", "-05:30", "+23:59", "+24:00", ""]))
                if g.int(0...3) == 0, !c.isEmpty { c[g.int(0...(c.count - 1))] = g.pick(Array("0123456789-:TZ.+x ")) }
                s = String(c)
            } else {
                s = (0..<g.int(1...12)).map { _ in g.pick(pieces) }.joined()
            }
            guard let t = Timestamp(rfc3339: s) else { continue }
            accepted += 1
            let back = Timestamp(rfc3339: t.rfc3339)
            #expect(back == t, "\(s) -> \(t.rfc3339) -> \(String(describing: back))")
        }
        #expect(accepted > 1000, "the generator should produce many valid times")
    }

    @Test func durationsAreBoundedAndRoundTrip() {
        // Hardening r3/r5: these trapped the daemon; now they are refused.
        for bad in ["9999999999999999d", "9223372036854775807", "1e400s", "nan", "-1s", "3651d", "10s5", "s", "", "1.2.3s", "٣s"] {
            #expect(parseDuration(bad) == nil, "\(bad) accepted")
        }
        #expect(parseDuration("3650d") == maxInputDuration)
        #expect(parseDuration("1h30m") == .seconds(5400))
        #expect(parseDuration("500ms") == .milliseconds(500))
        var g = Gen(state: 7)
        let units = ["ms", "s", "m", "h", "d", "x", ""]
        var accepted = 0
        for _ in 0..<20_000 {
            let s = (0..<g.int(1...4)).map { _ in String(g.int(0...100_000)) + g.pick(units) }.joined()
            guard let d = parseDuration(s) else { continue }
            accepted += 1
            #expect(d <= maxInputDuration && d >= .zero)
            #expect(parseDuration(formatDuration(d)) == d, "\(s) -> \(formatDuration(d))")
        }
        #expect(accepted > 1000)
    }

    func pad(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
}
