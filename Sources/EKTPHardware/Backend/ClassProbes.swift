#if canImport(Glibc)
import Glibc
#endif
import CEKTPSys
import EKTPModel

/// The USB printer class port status (GET_PORT_STATUS; usblp's LPGETSTATUS returns the same byte).
public struct PrinterPortStatus: Equatable, Sendable {
    public var raw: UInt8
    public init(raw: UInt8) { self.raw = raw }
    /// Bit 5: paper (here: card blanks) empty.
    public var paperEmpty: Bool { raw & 0x20 != 0 }
    /// Bit 4: selected (online).
    public var selected: Bool { raw & 0x10 != 0 }
    /// Bit 3: set when there is no error.
    public var error: Bool { raw & 0x08 == 0 }

    /// What the status means for the station.
    public var result: ProbeResult {
        if paperEmpty { return .failed(N_("printer reports paper empty: load card blanks"), .blanksOut) }
        if error { return .failed(N_("printer reports an error (jam, open cover or ribbon fault): check the printer's display"), .printerError) }
        if !selected { return .degraded(N_("printer is offline (not selected): put it online"), .notReady) }
        return .ok
    }
}

/// What VIDIOC_QUERYCAP says of a video node.
public struct VideoCapabilities: Equatable, Sendable {
    public var driver: String
    public var card: String
    /// The node's own capabilities (device_caps when the driver reports them, else capabilities).
    public var caps: UInt32

    public var canCapture: Bool { caps & 0x0000_0001 != 0 || caps & 0x0000_1000 != 0 }  // VIDEO_CAPTURE(_MPLANE)

    /// Decodes `struct v4l2_capability` (104 bytes).
    public init?(raw b: [UInt8]) {
        guard b.count >= 92 else { return nil }
        func text(_ r: Range<Int>) -> String { String(decoding: b[r].prefix { $0 != 0 }, as: UTF8.self) }
        func u32(_ o: Int) -> UInt32 { UInt32(b[o]) | UInt32(b[o + 1]) << 8 | UInt32(b[o + 2]) << 16 | UInt32(b[o + 3]) << 24 }
        driver = text(0..<16)
        card = text(16..<48)
        let capabilities = u32(84)
        caps = capabilities & 0x8000_0000 != 0 ? u32(88) : capabilities  // V4L2_CAP_DEVICE_CAPS
    }

    public init(driver: String, card: String, caps: UInt32) {
        self.driver = driver
        self.card = card
        self.caps = caps
    }
}

/// The class-specific probes on a device's kernel nodes.
enum ClassProbes {
    static let lpGetStatus: UInt = 0x060b
    static let vidiocQueryCap: UInt = 0x8068_5600

    /// usblp's LPGETSTATUS on /dev/usb/lpN.
    static func printer(node: String) -> ProbeResult {
        let fd = open(node, O_RDWR | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return .failed("cannot open the printer node \(node): \(String(cString: strerror(errno)))", .notReady) }
        defer { close(fd) }
        var status: Int32 = 0
        guard ektp_ioctl_ptr(fd, lpGetStatus, &status) == 0 else {
            return .failed("the printer does not report its port status on \(node) (\(String(cString: strerror(errno)))): power-cycle it", .noResponse)
        }
        return PrinterPortStatus(raw: UInt8(truncatingIfNeeded: status)).result
    }

    /// VIDIOC_QUERYCAP on each /dev/videoN: at least one must capture video.
    static func camera(nodes: [String]) -> ProbeResult {
        var problems: [String] = []
        for node in nodes {
            let fd = open(node, O_RDWR | O_NONBLOCK | O_CLOEXEC)
            guard fd >= 0 else { problems.append("cannot open \(node): \(String(cString: strerror(errno)))"); continue }
            defer { close(fd) }
            var buf = [UInt8](repeating: 0, count: 104)
            guard buf.withUnsafeMutableBytes({ ektp_ioctl_ptr(fd, vidiocQueryCap, $0.baseAddress) }) == 0 else {
                problems.append("\(node) does not answer VIDIOC_QUERYCAP (\(String(cString: strerror(errno))))")
                continue
            }
            if let caps = VideoCapabilities(raw: buf), caps.canCapture { return .ok }
            problems.append("\(node) cannot capture video")
        }
        return .failed("the camera's video node is not usable: \(problems.joined(separator: "; ")): replug it", .notReady)
    }
}
