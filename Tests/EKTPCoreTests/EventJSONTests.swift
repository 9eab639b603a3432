import EKTPModel
import Testing

/// The registry stores each event's body with `Event.jsonBytes()` (issue 17): it must be exactly
/// what JSONStyle's encoder writes, or stored bodies would differ by path.
@Suite struct EventJSONTests {
    static let awkward = ["", "plain", "quote \" backslash \\ slash /", "tab\tnewline\ncr\rbell\u{07}nul\u{00}del\u{7f}",
                          "Bahasa: sidik jari — Ã© 日本 🙂", "\u{1f}\u{08}\u{0c}", "{\"json\": [1, 2]}", "<script>alert(1)</script>"]

    @Test(arguments: awkward) func anEventsBytesAreJSONStylesBytes(_ text: String) throws {
        var e = Event(sequence: 9_007_199_254_740_991, time: Timestamp(millis: 1_790_000_000_123), station: "st-\(text)",
                      type: .deviceHealth, subject: "1-1:05ba:000a", kind: .cardPrinter, deviceName: text,
                      from: "ok", to: text, reason: text)
        e.code = "device.not_on_bus"
        e.args = ["port": text, "kind": "camera", "a_b": text, "z": ""]
        #expect(e.jsonBytes() == (try JSONStyle.encode(e)))
        let bare = Event(sequence: 1, time: Timestamp(millis: 0), station: "s", type: .daemon, subject: text)
        #expect(bare.jsonBytes() == (try JSONStyle.encode(bare)))
        #expect(try JSONStyle.decode(Event.self, from: e.jsonBytes()) == e)
    }

    @Test func everyEventTypeAndKindWritesAsJSONStyleDoes() throws {
        let types: [EventType] = [.deviceAdded, .deviceRemoved, .deviceHealth, .deviceFlapping, .kitStatus, .daemon,
                                  .serverState, .serverRestart, .syncState, .uplinkReachability, .uplinkRoute,
                                  .powerSource, .powerBattery, .stockLevel, .clockStep, .outbox]
        for (i, t) in types.enumerated() {
            let kind = DeviceKind.allCases[i % DeviceKind.allCases.count]
            let e = Event(sequence: Int64(i), time: Timestamp(seconds: Int64(i) * 86_400), station: "s", type: t, subject: "x", kind: kind,
                          reason: "the wall clock stepped back by 2h0m0s")
            #expect(e.jsonBytes() == (try JSONStyle.encode(e)), "\(t)")
        }
        // A capitalised args key takes JSONStyle's own path (its snake_case rewrites dictionary keys).
        var odd = Event(sequence: 1, time: Timestamp(millis: 0), station: "s", type: .daemon, subject: "daemon")
        odd.args = ["portPath": "1-1"]
        #expect(odd.jsonBytes() == (try JSONStyle.encode(odd)))
    }
}
