import EKTPModel
import Foundation
import Testing
@testable import EKTPHardware

let repoRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()

@Suite struct CatalogueTests {
    let catalogue = Catalogue.builtIn(usbIDs: nil)

    @Test(arguments: [
        // udev's EKTP_KIND wins over everything
        (DeviceFacts(vendorID: 0x05ba, productID: 0x000a, udevKind: "iris"), DeviceKind.iris, "udev EKTP_KIND"),
        // VID:PID table
        (DeviceFacts(vendorID: 0x05ba, productID: 0x000a), .fingerprint, "catalogue"),
        (DeviceFacts(vendorID: 0x0f49, productID: 0x0a00, interfaceClasses: [0x07]), .cardPrinter, "catalogue"),
        (DeviceFacts(vendorID: 0x06a8, productID: 0x0043, interfaceClasses: [0x03]), .signaturePad, "catalogue"),
        // a vendor-wide line
        (DeviceFacts(vendorID: 0x1162, productID: 0x2200), .fingerprint, "catalogue"),
        // interface classes
        (DeviceFacts(vendorID: 0x1234, productID: 0x0001, interfaceClasses: [0x0e, 0x01]), .camera, "interface class 0x0e"),
        (DeviceFacts(vendorID: 0x1234, productID: 0x0002, interfaceClasses: [0x07]), .cardPrinter, "interface class 0x07"),
        (DeviceFacts(vendorID: 0x1234, productID: 0x0003, interfaceClasses: [0x0b]), .cardReader, "interface class 0x0b"),
        // names
        (DeviceFacts(vendorID: 0x1234, productID: 0x0004, interfaceClasses: [0x03], product: "IriShield USB MK 2120U"), .iris, "name"),
        (DeviceFacts(vendorID: 0x1234, productID: 0x0005, interfaceClasses: [0x03], product: "USB Signature Pad"), .signaturePad, "name"),
        (DeviceFacts(vendorID: 0x1234, productID: 0x0006, interfaceClasses: [0xff], product: "Optical Fingerprint Sensor"), .fingerprint, "name"),
        // nothing matches: other, never a guess
        (DeviceFacts(vendorID: 0x1234, productID: 0x0007, interfaceClasses: [0x03], product: "USB Keyboard"), .other, "unrecognised"),
        // an unknown EKTP_KIND word falls through to the next rule
        (DeviceFacts(vendorID: 0x05ba, productID: 0x000a, udevKind: "toaster"), .fingerprint, "catalogue"),
    ])
    func classifies(facts: DeviceFacts, kind: DeviceKind, source: String) {
        let c = catalogue.classify(facts)
        #expect(c.kind == kind)
        #expect(c.source == source)
    }

    @Test func namesComeFromUSBIDsWhenNothingElseHasOne() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("usbids-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("usb.ids").path
        try "# test\n1491  Futronic Technology Co. Ltd.\n\t0020  FS81 Fingerprint Scanner Module\n\t0088  Fingerprint Scanner Model FS88\n1492  Other\nC 00  (Defined at Interface level)\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        let ids = USBIDs(path: path)
        #expect(ids.name(vendorID: 0x1491, productID: 0x0088) == "Futronic Technology Co. Ltd. Fingerprint Scanner Model FS88")
        #expect(ids.name(vendorID: 0x1491, productID: 0x9999) == "Futronic Technology Co. Ltd.")
        #expect(ids.name(vendorID: 0xdead, productID: 0x0001) == nil)
        // an uncatalogued product of that vendor is classified by its usb.ids name
        let cat = try Catalogue(text: "", origin: "empty", usbIDs: ids)
        let c = cat.classify(DeviceFacts(vendorID: 0x1491, productID: 0x0088))
        #expect(c.kind == .fingerprint)
        #expect(c.source == "name")
        #expect(c.name == "Futronic Technology Co. Ltd. Fingerprint Scanner Model FS88")
    }

    @Test(arguments: [
        ("05ba:000a fingerprint\n", "x.txt:1", "expected 'VID:PID KIND NAME'"),
        ("\n# c\nzz:000a fingerprint Foo\n", "x.txt:3", "not a VID:PID"),
        ("05ba:000a toaster Foo\n", "x.txt:1", "unknown kind 'toaster'"),
    ])
    func badCatalogueLinesNameTheLine(text: String, origin: String, message: String) {
        do {
            _ = try Catalogue(text: text, origin: "x.txt")
            Issue.record("accepted a bad line")
        } catch {
            #expect(error.origin == origin)
            #expect(error.message.contains(message))
        }
    }

    @Test func siteLinesOverrideBuiltInOnes() throws {
        var cat = Catalogue.builtIn(usbIDs: nil)
        try cat.add(text: "05ba:000a other Repurposed reader\n", origin: "site.txt")
        #expect(cat.classify(DeviceFacts(vendorID: 0x05ba, productID: 0x000a)).kind == .other)
    }

    /// The compiled-in table is generated from data/catalogue.txt: it must not drift.
    @Test func compiledInCatalogueMatchesTheDataFile() throws {
        let data = try String(contentsOfFile: repoRoot + "/data/catalogue.txt", encoding: .utf8)
        let generated = try String(contentsOfFile: repoRoot + "/Sources/EKTPHardware/Catalogue/CatalogueData.swift", encoding: .utf8)
        #expect(generated.contains(data), "run scripts/generate.sh after editing data/catalogue.txt")
        #expect(catalogueSource + "\n" == data || catalogueSource == data, "run scripts/generate.sh after editing data/catalogue.txt")
    }
}

@Suite struct UdevRulesTests {
    /// libfprint's rule: the committed rules are generated, and must not drift from the catalogue.
    @Test func committedRulesMatchTheGenerator() throws {
        let committed = try String(contentsOfFile: repoRoot + "/udev-rules/70-ektp-kit.rules", encoding: .utf8)
        #expect(committed == UdevRules.render(Catalogue.builtIn(usbIDs: nil)), "run scripts/generate.sh after editing data/catalogue.txt")
    }

    @Test func everyCatalogueLineBecomesADeviceAndANodeRule() throws {
        let cat = try Catalogue(text: "05ba:000a fingerprint Reader \"X\"\n1162:* fingerprint SecuGen\n", origin: "t")
        let rules = UdevRules.render(cat, group: "staff")
        #expect(rules.contains("ATTR{idVendor}==\"05ba\", ATTR{idProduct}==\"000a\", ENV{EKTP_KIND}=\"fingerprint\", ENV{EKTP_NAME}=\"Reader X\""))
        #expect(rules.contains("ATTR{idVendor}==\"1162\", ENV{EKTP_KIND}=\"fingerprint\""))
        #expect(rules.contains("ATTRS{idVendor}==\"05ba\", ATTRS{idProduct}==\"000a\", ENV{EKTP_KIND}=\"fingerprint\""))
        #expect(rules.contains("GROUP=\"staff\", MODE=\"0660\", SYMLINK+=\"ektp/$env{EKTP_KIND}-$kernel\""))
    }
}

@Suite struct USBDescriptorTests {
    // DigitalPersona U.are.U 4500: device descriptor + one vendor interface with two endpoints.
    static let good: [UInt8] = [18, 1, 0x10, 0x01, 0, 0, 0, 64, 0xBA, 0x05, 0x0A, 0x00, 0, 1, 1, 2, 3, 1,
                                9, 2, 32, 0, 1, 1, 0, 0x80, 50,
                                9, 4, 0, 0, 2, 0xFF, 0xFF, 0xFF, 0,
                                7, 5, 0x81, 2, 64, 0, 1,
                                7, 5, 0x83, 3, 8, 0, 1]

    @Test func readsAGoodDevice() throws {
        let d = try USBDescriptors.parse(Self.good)
        #expect(d.vendorID == 0x05ba && d.productID == 0x000a)
        #expect(d.interfaceClasses == [0xff])
        #expect(d.declaredSpeed == .full)
    }

    @Test(arguments: [
        (Array(good.prefix(10)), "device descriptor is truncated (10 of 18 bytes)"),
        (Array(good.prefix(18)), "no configuration descriptor"),
        (Array(good.prefix(30)), "declares 32 bytes, 12 were read"),
        ([17] + Array(good.dropFirst()), "device descriptor is malformed"),
        (Array(good.prefix(36)) + [0] + Array(good.suffix(13)), "impossible length (0)"),
    ])
    func malformedOrTruncatedDescriptorsGiveAReasonNotACrash(bytes: [UInt8], reason: String) {
        do {
            _ = try USBDescriptors.parse(bytes)
            Issue.record("accepted bad descriptors")
        } catch {
            #expect(error.description.contains(reason), "\(error)")
        }
    }

    /// Every prefix and every single-byte corruption of a good descriptor set parses or fails cleanly.
    @Test func noInputCrashesTheParser() {
        for n in 0...Self.good.count { _ = try? USBDescriptors.parse(Array(Self.good.prefix(n))) }
        for i in 0..<Self.good.count {
            for v: UInt8 in [0, 1, 2, 9, 0x7f, 0xff] {
                var b = Self.good
                b[i] = v
                _ = try? USBDescriptors.parse(b)
            }
        }
    }
}

@Suite struct ClassProbeDecodingTests {
    @Test(arguments: [
        (UInt8(0x18), ProbeOutcome.ok, nil as ProblemCode?),          // selected, no error
        (0x38, .failed, .blanksOut),                                 // paper empty
        (0x10, .failed, .printerError),                              // error bit clear
        (0x08, .degraded, .notReady),                                // not selected
        (0x30, .failed, .blanksOut),                                 // empty wins over error
    ])
    func printerPortStatus(raw: UInt8, outcome: ProbeOutcome, code: ProblemCode?) {
        let r = PrinterPortStatus(raw: raw).result
        #expect(r.outcome == outcome)
        #expect(r.code == code)
    }

    @Test func videoCapabilities() {
        var b = [UInt8](repeating: 0, count: 104)
        for (i, c) in "uvcvideo".utf8.enumerated() { b[i] = c }
        for (i, c) in "HD Pro Webcam C920".utf8.enumerated() { b[16 + i] = c }
        // capabilities: DEVICE_CAPS | STREAMING | VIDEO_CAPTURE | META_CAPTURE; device_caps: META_CAPTURE only
        let caps: UInt32 = 0x8000_0000 | 0x0400_0000 | 0x1 | 0x0080_0000
        for k in 0..<4 { b[84 + k] = UInt8((caps >> (8 * UInt32(k))) & 0xff) }
        b[88 + 2] = 0x80  // device_caps = 0x00800000 (metadata node)
        let meta = VideoCapabilities(raw: b)!
        #expect(meta.driver == "uvcvideo" && meta.card == "HD Pro Webcam C920")
        #expect(!meta.canCapture)
        b[88] = 0x01  // device_caps gains VIDEO_CAPTURE
        #expect(VideoCapabilities(raw: b)!.canCapture)
        #expect(VideoCapabilities(raw: Array(b.prefix(50))) == nil)
    }
}
