import Testing
@testable import EKTPYAML

@Suite struct YAMLParserTests {
    func scalar(_ n: YAMLNode?) -> String? {
        if case .scalar(let s, _)? = n?.value { return s }
        return nil
    }

    func get(_ n: YAMLNode, _ key: String) -> YAMLNode? {
        guard case .mapping(let e) = n.value else { return nil }
        return e.first { $0.key == key }?.value
    }

    @Test func nestedMappingsListsFlowAndQuotes() throws {
        let text = """
        # comment
        ---
        station:
          id: sintang-01   # trailing comment
          site: {province: "Kalimantan Barat", regency: 'Sin''tang', district: Sintang}
        devices:
          - name: fp
            usb: 05ba:000a
            classes: [0x0e, 1, "x y"]
          - name: cam
        timeline:
        - {at: 10s, device: fp}
        url: "http://x/#not-a-comment"
        empty:
        """
        let root = try YAMLParser.parse(text)
        let station = try #require(get(root, "station"))
        #expect(scalar(get(station, "id")) == "sintang-01")
        let site = try #require(get(station, "site"))
        #expect(scalar(get(site, "province")) == "Kalimantan Barat")
        #expect(scalar(get(site, "regency")) == "Sin'tang")
        guard case .sequence(let devices)? = get(root, "devices")?.value else { Issue.record("devices not a list"); return }
        #expect(devices.count == 2)
        #expect(scalar(get(devices[0], "usb")) == "05ba:000a")
        #expect(devices[0].mark.line == 7)
        guard case .sequence(let classes)? = get(devices[0], "classes")?.value else { Issue.record("classes"); return }
        #expect(classes.map { scalar($0) } == ["0x0e", "1", "x y"])
        guard case .sequence(let tl)? = get(root, "timeline")?.value else { Issue.record("timeline same-indent list"); return }
        #expect(scalar(get(tl[0], "at")) == "10s")
        #expect(scalar(get(root, "url")) == "http://x/#not-a-comment")
        #expect(get(root, "empty")?.value == .null)
        #expect(get(root, "devices")?.mark.line == 7)
    }

    @Test(arguments: [
        ("a:\n\tb: 1\n", 2, "tab in indentation"),
        ("a: 1\na: 2\n", 2, "duplicate key 'a'"),
        ("a: \"open\n", 1, "unterminated double-quoted string"),
        ("a: &x 1\n", 1, "anchors"),
        ("a: *x\n", 1, "aliases"),
        ("a: |\n  text\n", 1, "block scalars"),
        ("a: 1\n  b: 2\n", 2, "unexpected indentation"),
        ("a: [1, 2\n", 1, "unterminated '['"),
        ("- a\nb: 1\n", 2, "unexpected content"),
        ("a:\n  - x\n  y: 1\n", 3, "expected"),
        ("---\na: 1\n---\nb: 2\n", 3, "only one YAML document"),
    ])
    func syntaxErrorsNameTheLine(text: String, line: Int, message: String) {
        do {
            _ = try YAMLParser.parse(text)
            Issue.record("parsed without error: \(text)")
        } catch {
            #expect(error.mark.line == line, "\(error)")
            #expect(error.message.contains(message), "\(error)")
        }
    }

    @Test func emptyDocumentIsNull() throws {
        #expect(try YAMLParser.parse("# nothing\n\n").value == .null)
    }
}

@Suite struct FieldReaderTests {
    @Test func reportsEveryProblemWithFileLineAndField() {
        let diag = FieldDiagnostics(file: "x.yaml")
        let root = diag.root("""
        probes:
          intervall: 10s
          timeout: soon
          fail_after: 0
        name: [1]
        """)!
        let p = root.map("probes")!
        _ = p.duration("interval")
        _ = p.duration("timeout")
        _ = p.int("fail_after", in: 1...10)
        p.finish()
        _ = root.string("name")
        _ = root.string("id", required: true)
        root.finish()
        let text = diag.issues.map(\.description)
        #expect(text.contains("x.yaml:2:3: probes.intervall: unknown field (did you mean 'interval'?)"))
        #expect(text.contains("x.yaml:3:12: probes.timeout: expected a duration like 10s, 5m or 1h, got 'soon'"))
        #expect(text.contains("x.yaml:4:15: probes.fail_after: 0 is out of range: must be 1...10"))
        #expect(text.contains("x.yaml:5:7: name: expected a text value, got a list"))
        #expect(text.contains("x.yaml:1:1: id: required field is missing"))
        #expect(diag.issues.count == 5)
    }

    @Test(arguments: [
        ("10s", Duration.seconds(10)), ("500ms", .milliseconds(500)), ("5m", .seconds(300)),
        ("2h", .seconds(7200)), ("1d", .seconds(86400)), ("1h30m", .seconds(5400)), ("45", .seconds(45)),
        ("1.5s", .milliseconds(1500)),
    ])
    func durations(text: String, expected: Duration) {
        #expect(parseDuration(text) == expected)
    }

    @Test(arguments: ["", "s", "10x", "ten", "10s5", "-1s"])
    func badDurations(text: String) {
        #expect(parseDuration(text) == nil)
    }

    @Test func suggestions() {
        #expect(closest("fingerprnt", ["fingerprint", "iris"]) == "fingerprint")
        #expect(closest("zzz", ["fingerprint", "iris"]) == nil)
    }
}
