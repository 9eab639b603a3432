/// What role a USB device plays in an enrolment kit.
///
/// The raw values are the stable words used in config files, scenario files, JSON and udev's
/// `EKTP_KIND` property.
public enum DeviceKind: String, Codable, Sendable, CaseIterable, Comparable {
    case fingerprint
    case iris
    case camera
    case signaturePad = "signature_pad"
    case cardPrinter = "card_printer"
    case cardReader = "card_reader"
    case other

    /// The words a district operator reads ("fingerprint scanner").
    /// In English; the reader's side translates it (the names are gettext msgids, po/ektpd.pot).
    public var displayName: String {
        switch self {
        case .fingerprint: N_("fingerprint scanner")
        case .iris: N_("iris scanner")
        case .camera: N_("camera")
        case .signaturePad: N_("signature pad")
        case .cardPrinter: N_("card printer")
        case .cardReader: N_("card reader")
        case .other: N_("other device")
        }
    }

    /// More than one ("fingerprint scanners"), for counts a person reads.
    public var pluralName: String {
        switch self {
        case .fingerprint: N_("fingerprint scanners")
        case .iris: N_("iris scanners")
        case .camera: N_("cameras")
        case .signaturePad: N_("signature pads")
        case .cardPrinter: N_("card printers")
        case .cardReader: N_("card readers")
        case .other: N_("other devices")
        }
    }

    /// Parses a kind word, also accepting a few common spellings ("signaturePad", "signature-pad").
    public init?(word: String) {
        let w = word.lowercased().replacingAll("-", with: "_")
        switch w {
        case "fingerprint", "fingerprint_scanner": self = .fingerprint
        case "iris", "iris_scanner": self = .iris
        case "camera", "webcam": self = .camera
        case "signature_pad", "signaturepad": self = .signaturePad
        case "card_printer", "cardprinter", "printer": self = .cardPrinter
        case "card_reader", "cardreader", "smartcard_reader": self = .cardReader
        case "other": self = .other
        default: return nil
        }
    }

    public static func < (a: DeviceKind, b: DeviceKind) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

extension String {
    /// Replaces every occurrence of `target` (no Foundation needed).
    package func replacingAll(_ target: Character, with replacement: Character) -> String {
        String(map { $0 == target ? replacement : $0 })
    }
}
