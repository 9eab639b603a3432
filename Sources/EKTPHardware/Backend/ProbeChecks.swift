#if canImport(Glibc)
import Glibc
#endif
import EKTPModel

/// The generic health checks that need no USB traffic, as pure functions of what sysfs and the
/// device nodes say.
public enum ProbeChecks {
    /// sysfs `speed` (Mbit/s) to a speed.
    public static func speed(fromSysfs s: String?) -> USBSpeed {
        switch s {
        case "1.5": .low
        case "12": .full
        case "480": .high
        case "5000": .super
        case "10000", "20000": .superPlus
        default: .unknown
        }
    }

    /// A device that declares USB 3 but runs below SuperSpeed is in the wrong port or on a bad cable.
    /// (A USB 2 device's own best speed cannot be told from its descriptors without asking it, so
    /// only the USB 3 case is judged here.)
    public static func slowLink(speed: USBSpeed, best: USBSpeed?) -> String? {
        guard let best, best >= .super, speed != .unknown, speed < .super else { return nil }
        return "running at \(speed.rawValue) speed (\(speed.megabits) Mbit/s) though it supports \(best.rawValue) speed: plug it into a USB 3 (blue) port or use a USB 3 cable"
    }

    /// The kernel driver a standard interface class needs; nil where user space talks to the
    /// device directly (vendor-specific, smart card through pcscd).
    public static func expectedDriver(forClass c: UInt8) -> String? {
        switch c {
        case 0x0e: "uvcvideo"
        case 0x07: "usblp"
        case 0x03: "usbhid"
        default: nil
        }
    }

    public static func className(_ c: UInt8) -> String {
        switch c {
        case 0x0e: "video"
        case 0x07: "printer"
        case 0x03: "HID"
        case 0x0b: "smart card"
        default: "class 0x\(String(hex4(UInt16(c)).suffix(2)))"
        }
    }

    /// nil when the station's group can read and write the node; else why not and what to do.
    public static func nodeAccess(_ node: String, group: String) -> String? {
        var st = stat()
        guard stat(node, &st) == 0 else {
            return "device node \(node) is missing (\(String(cString: strerror(errno)))): replug it"
        }
        let mode = st.st_mode & 0o777
        if mode & 0o006 == 0o006 { return nil }
        let fix = "install udev-rules/70-ektp-kit.rules (it gives the kit's nodes to group \(group), mode 0660) and replug"
        guard let gr = getgrnam(group) else {
            return "device node \(node) cannot be checked for group \(group): the group does not exist (make install creates it); \(fix)"
        }
        if st.st_gid == gr.pointee.gr_gid && mode & 0o060 == 0o060 { return nil }
        let owner = getgrgid(st.st_gid).map { String(cString: $0.pointee.gr_name) } ?? String(st.st_gid)
        return "device node \(node) is not readable and writable by group \(group) (group \(owner), mode \(octal(mode))): \(fix)"
    }

    static func octal(_ m: UInt32) -> String {
        "0" + String(m, radix: 8)
    }
}
