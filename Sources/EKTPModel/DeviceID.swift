/// A device's identity, stable across a replug into the same port.
///
/// Built from the USB port path (bus and hub ports, e.g. `1-2.3`) and the vendor and product IDs, so
/// the same scanner unplugged and plugged back into the same socket is the same device, with the same
/// history; a different model in that socket is a different device. Rendered as `1-2.3:05ba:000a`.
public struct DeviceID: Hashable, Codable, Sendable, Comparable, CustomStringConvertible {
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }

    public init(portPath: String, vendorID: UInt16, productID: UInt16) {
        self.rawValue = "\(portPath):\(hex4(vendorID)):\(hex4(productID))"
    }

    public var description: String { rawValue }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }

    public static func < (a: DeviceID, b: DeviceID) -> Bool { a.rawValue < b.rawValue }
}

/// Four lowercase hex digits, as lsusb and udev print USB IDs.
public func hex4(_ v: UInt16) -> String {
    // Four ASCII bytes straight into the string (no Character array: this runs for every device ID).
    String(unsafeUninitializedCapacity: 4) { out in
        for i in 0..<4 {
            let nibble = UInt8(truncatingIfNeeded: v >> (12 - 4 * i)) & 15
            out[i] = nibble < 10 ? 0x30 + nibble : 0x57 + nibble
        }
        return 4
    }
}

/// Parses "05ba", "0x05BA" or a decimal-looking hex word into a 16-bit USB ID.
public func parseUSBID(_ s: String) -> UInt16? {
    var t = Substring(s)
    if t.hasPrefix("0x") || t.hasPrefix("0X") { t = t.dropFirst(2) }
    guard !t.isEmpty, t.count <= 4 else { return nil }
    return UInt16(t, radix: 16)
}
