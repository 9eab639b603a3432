import EKTPModel

/// A strict reader of a device's raw descriptors (sysfs `descriptors`: the device descriptor, then
/// the active configuration with its interfaces and endpoints). libusb accepts a truncated
/// configuration quietly; this says exactly what is wrong, so a faulty device gets a clear reason.
public struct USBDescriptors: Equatable, Sendable {
    public var bcdUSB: UInt16
    public var vendorID: UInt16
    public var productID: UInt16
    public var deviceClass: UInt8
    /// The first alternate setting's class of each interface, in order.
    public var interfaceClasses: [UInt8]

    /// The best speed the device declares: USB 3 descriptors (bcdUSB >= 3.0) mean SuperSpeed.
    public var declaredSpeed: USBSpeed { bcdUSB >= 0x0300 ? .super : bcdUSB >= 0x0200 ? .high : .full }

    public struct Malformed: Error, Equatable, Sendable, CustomStringConvertible {
        public var description: String
    }

    public static func parse(_ b: [UInt8]) throws(Malformed) -> USBDescriptors {
        func fail(_ s: String) -> Malformed { Malformed(description: s) }
        guard b.count >= 18 else { throw fail("its device descriptor is truncated (\(b.count) of 18 bytes)") }
        guard b[0] == 18, b[1] == 1 else { throw fail("its device descriptor is malformed (length \(b[0]), type \(b[1]))") }
        let d = USBDescriptors(bcdUSB: UInt16(b[2]) | UInt16(b[3]) << 8, vendorID: UInt16(b[8]) | UInt16(b[9]) << 8,
                               productID: UInt16(b[10]) | UInt16(b[11]) << 8, deviceClass: b[4], interfaceClasses: [])
        guard b.count > 18 else { throw fail("it has no configuration descriptor") }
        let c = 18
        guard b.count >= c + 9 else { throw fail("its configuration descriptor is truncated (\(b.count - c) of 9 bytes)") }
        guard b[c] == 9, b[c + 1] == 2 else { throw fail("its configuration descriptor is malformed (length \(b[c]), type \(b[c + 1]))") }
        let total = Int(b[c + 2]) | Int(b[c + 3]) << 8
        guard total >= 9 else { throw fail("its configuration descriptor gives a total length of \(total) bytes") }
        guard c + total <= b.count else {
            throw fail("its configuration descriptor is unreadable or truncated: it declares \(total) bytes, \(b.count - c) were read")
        }
        let declaredInterfaces = Int(b[c + 4])
        var out = d
        var i = c + 9
        var seen: Set<UInt8> = []
        while i < c + total {
            let len = Int(b[i])
            guard len >= 2, i + len <= c + total else { throw fail("a descriptor at byte \(i) has an impossible length (\(len))") }
            if b[i + 1] == 4 {
                guard len >= 9 else { throw fail("an interface descriptor at byte \(i) is too short (\(len) bytes)") }
                if b[i + 3] == 0 && !seen.contains(b[i + 2]) {  // first alternate setting of a new interface
                    seen.insert(b[i + 2])
                    out.interfaceClasses.append(b[i + 5])
                }
            }
            i += len
        }
        guard seen.count == declaredInterfaces else {
            throw fail("its configuration declares \(declaredInterfaces) interfaces but describes \(seen.count)")
        }
        return out
    }
}
