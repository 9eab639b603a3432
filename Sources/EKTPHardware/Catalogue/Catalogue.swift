import EKTPModel

/// What a backend knows about a device, for classification.
public struct DeviceFacts: Sendable {
    public var vendorID: UInt16
    public var productID: UInt16
    /// udev's `EKTP_KIND` property, set by our rules or a site's own.
    public var udevKind: String?
    public var interfaceClasses: [UInt8]
    public var product: String?
    public var manufacturer: String?

    public init(vendorID: UInt16, productID: UInt16, udevKind: String? = nil, interfaceClasses: [UInt8] = [],
                product: String? = nil, manufacturer: String? = nil) {
        self.vendorID = vendorID
        self.productID = productID
        self.udevKind = udevKind
        self.interfaceClasses = interfaceClasses
        self.product = product
        self.manufacturer = manufacturer
    }
}

/// The result of classifying a device.
public struct Classification: Sendable, Equatable {
    public var kind: DeviceKind
    /// Which rule decided: "udev EKTP_KIND", "catalogue", "interface class 0x0e", "name", "unrecognised".
    public var source: String
    /// The catalogue's (or usb.ids') name for the device, when known.
    public var name: String?
}

/// One catalogue line.
public struct CatalogueEntry: Sendable, Equatable {
    public var vendorID: UInt16
    /// nil matches every product of the vendor.
    public var productID: UInt16?
    public var kind: DeviceKind
    public var name: String
    /// "file:line", for messages.
    public var origin: String
}

/// A catalogue file problem.
public struct CatalogueError: Error, CustomStringConvertible, Sendable {
    public var origin: String
    public var message: String
    public var description: String { "\(origin): \(message)" }
}

/// Classifies USB devices into kit roles. New hardware needs a data line, not code.
///
/// Order: udev's `EKTP_KIND` property, then the VID:PID table, then the USB interface class
/// (0x0e video -> camera, 0x07 printer -> card printer, 0x0b smart card -> card reader), then words in
/// the product name or hwdata's usb.ids name ("fingerprint", "iris", "signature", ...).
public struct Catalogue: Sendable {
    public private(set) var entries: [CatalogueEntry]
    private var exact: [UInt32: Int] = [:]
    private var vendorWide: [UInt16: Int] = [:]
    let usbIDs: USBIDs?

    /// The catalogue compiled in from data/catalogue.txt, with hwdata's usb.ids when installed.
    public static func builtIn(usbIDs: USBIDs? = USBIDs.system()) -> Catalogue {
        // The compiled-in text is checked by a test; a failure here is a build defect.
        try! Catalogue(text: catalogueSource, origin: "data/catalogue.txt", usbIDs: usbIDs)
    }

    public init(text: String, origin: String, usbIDs: USBIDs? = nil) throws(CatalogueError) {
        self.entries = []
        self.usbIDs = usbIDs
        try add(text: text, origin: origin)
    }

    /// Adds a site's lines (later lines override earlier ones for the same VID:PID).
    public mutating func add(text: String, origin: String) throws(CatalogueError) {
        var lineNo = 0
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNo += 1
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if words.isEmpty { continue }
            let here = "\(origin):\(lineNo)"
            guard words.count >= 3 else {
                throw CatalogueError(origin: here, message: "expected 'VID:PID KIND NAME', got '\(line)'")
            }
            let ids = words[0].split(separator: ":")
            guard ids.count == 2, let vid = parseUSBID(String(ids[0])) else {
                throw CatalogueError(origin: here, message: "'\(words[0])' is not a VID:PID like 05ba:000a")
            }
            var pid: UInt16?
            if ids[1] != "*" {
                guard let p = parseUSBID(String(ids[1])) else {
                    throw CatalogueError(origin: here, message: "'\(words[0])' is not a VID:PID like 05ba:000a")
                }
                pid = p
            }
            guard let kind = DeviceKind(word: String(words[1])) else {
                throw CatalogueError(origin: here, message: "unknown kind '\(words[1])': expected one of \(DeviceKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let entry = CatalogueEntry(vendorID: vid, productID: pid, kind: kind,
                                       name: words[2...].joined(separator: " "), origin: here)
            entries.append(entry)
            if let pid { exact[UInt32(vid) << 16 | UInt32(pid)] = entries.count - 1 } else { vendorWide[vid] = entries.count - 1 }
        }
    }

    public func lookup(vendorID: UInt16, productID: UInt16) -> CatalogueEntry? {
        if let i = exact[UInt32(vendorID) << 16 | UInt32(productID)] { return entries[i] }
        if let i = vendorWide[vendorID] { return entries[i] }
        return nil
    }

    public func classify(_ f: DeviceFacts) -> Classification {
        let entry = lookup(vendorID: f.vendorID, productID: f.productID)
        // usb.ids is consulted only when neither the device nor the catalogue has a name.
        lazy var idsName = usbIDs?.name(vendorID: f.vendorID, productID: f.productID)
        var bestName: String? { entry?.name ?? (f.product == nil ? idsName : nil) }
        if let word = f.udevKind, !word.isEmpty, let kind = DeviceKind(word: word) {
            return Classification(kind: kind, source: "udev EKTP_KIND", name: bestName)
        }
        if let entry {
            return Classification(kind: entry.kind, source: "catalogue", name: entry.name)
        }
        for (cls, kind) in [(UInt8(0x0e), DeviceKind.camera), (0x07, .cardPrinter), (0x0b, .cardReader)]
        where f.interfaceClasses.contains(cls) {
            let hexClass = String(hex4(UInt16(cls)).suffix(2))
            return Classification(kind: kind, source: "interface class 0x\(hexClass)", name: bestName)
        }
        for text in [f.product, f.manufacturer].compactMap({ $0 }) {
            if let kind = Catalogue.kind(fromName: text) {
                return Classification(kind: kind, source: "name", name: bestName)
            }
        }
        if let n = idsName, let kind = Catalogue.kind(fromName: n) {
            return Classification(kind: kind, source: "name", name: bestName)
        }
        return Classification(kind: .other, source: "unrecognised", name: bestName)
    }

    /// Guesses a kind from words in a device name; nil when nothing matches.
    public static func kind(fromName name: String) -> DeviceKind? {
        let n = name.lowercased()
        let rules: [([String], DeviceKind)] = [
            (["fingerprint", "finger print", "biometric touch", "u.are.u"], .fingerprint),
            (["iris", "irishield"], .iris),
            (["signature", "signpad", "sign pad", "signaturegem"], .signaturePad),
            (["card printer", "id card printer"], .cardPrinter),
            (["smart card", "smartcard", "ccid", "cardman"], .cardReader),
            (["webcam", "camera", "uvc"], .camera),
        ]
        for (words, kind) in rules where words.contains(where: { n.contains($0) }) { return kind }
        return nil
    }
}
