import EKTPModel
import EKTPRegistry
import Testing

/// `String.utf8Precedes`: the byte order the registry sorts its fleet tree in (SQLite's BINARY
/// collation), the same answers as the generic comparison it replaces.
@Suite struct ByteOrderTests {
    @Test func agreesWithTheGenericComparisonOfUTF8() {
        var rng = SystemRandomNumberGenerator()
        let pieces = ["", "a", "A", "Kalimantan", "Kalimantan Barat", "Sintang", "é", "e\u{301}", "Ñ", "日本", "🇮🇩", "\u{0}", "z", "Province 1", "Province 12"]
        var strings = pieces
        for _ in 0..<300 {
            strings.append((0..<Int.random(in: 1...4, using: &rng)).map { _ in pieces.randomElement(using: &rng)! }.joined())
        }
        // Substring-made and small (inline) strings too.
        strings += strings.prefix(50).map { String($0.dropFirst()) }
        for a in strings {
            for b in strings.prefix(120) {
                #expect(a.utf8Precedes(b) == a.utf8.lexicographicallyPrecedes(b.utf8), "\(a.debugDescription) vs \(b.debugDescription)")
            }
        }
        // Bytes, not Unicode order: é (C3 A9) after z (7A), and the decomposed e + U+0301 before it.
        #expect("z".utf8Precedes("é") && "e\u{301}".utf8Precedes("é") && !"é".utf8Precedes("é"))
    }

    /// Names are equal by their bytes, as the databases compare them: "Café" in NFC and in NFD are
    /// two names (Swift's == says one), in a dictionary and in a viewer's scope.
    @Test func namesAreEqualByTheirBytesNotByCanonicalEquivalence() {
        let nfc = "Caf\u{E9}", nfd = "Cafe\u{301}"
        #expect(nfc == nfd)  // what Swift says, and why this exists
        #expect(!nfc.utf8Equals(nfd) && nfc.utf8Equals("Caf\u{E9}") && "".utf8Equals(""))
        #expect(Set([ByteString(nfc), ByteString(nfd), ByteString(String(nfc))]).count == 2)
        #expect(ViewScope.province(nfc) != ViewScope.province(nfd))
        #expect(Set([ViewScope.province(nfc), .province(nfd), .regency(province: nfc, regency: "R"), .regency(province: nfd, regency: "R"), .national]).count == 5)
        #expect(!ViewScope.province(nfc).contains(Site(province: nfd, regency: "R", district: "D")))
        #expect(ViewScope.province(nfc).contains(Site(province: nfc, regency: "R", district: "D")))
        #expect(!ViewScope.regency(province: nfd, regency: "R").isWithin(.province(nfc)))
    }
}
