import EKTPYAML
#if canImport(Glibc)
import Glibc
#endif
import EKTPModel
import Synchronization

/// Vendor and product names from hwdata's usb.ids, read on demand.
///
/// The file is about 700 kB; it is scanned only when a device has no name of its own and no
/// catalogue entry, and only the vendor's block is kept.
public final class USBIDs: Sendable {
    public let path: String
    /// Answers already looked up: the file is read once per new VID:PID, never kept whole.
    private let cache = Mutex<[UInt32: String?]>([:])

    public init(path: String) { self.path = path }

    /// The system's copy, when hwdata is installed.
    public static func system() -> USBIDs? {
        for p in ["/usr/share/hwdata/usb.ids", "/usr/share/misc/usb.ids", "/var/lib/usbutils/usb.ids"]
        where access(p, R_OK) == 0 {
            return USBIDs(path: p)
        }
        return nil
    }

    /// "Vendor Product", "Vendor", or nil.
    public func name(vendorID: UInt16, productID: UInt16) -> String? {
        let key = UInt32(vendorID) << 16 | UInt32(productID)
        if let hit = cache.withLock({ $0[key] }) { return hit }
        let found = lookup(vendorID: vendorID, productID: productID)
        cache.withLock { $0[key] = .some(found) }
        return found
    }

    private func lookup(vendorID: UInt16, productID: UInt16) -> String? {
        guard let text = readWholeFile(path) else { return nil }
        let vid = hex4(vendorID), pid = hex4(productID)
        var vendorName: String?
        for line in text.split(separator: "\n") {
            if let v = vendorName {
                if line.first == "\t" {
                    if line.count > 6, line.dropFirst().hasPrefix(pid), line.dropFirst(5).first == " " {
                        return v + " " + line.dropFirst(5).drop(while: { $0 == " " })
                    }
                } else if line.first != "#" {
                    return v
                }
            } else if line.hasPrefix(vid), line.dropFirst(4).first == " " {
                vendorName = String(line.dropFirst(4).drop(while: { $0 == " " }))
            } else if line.hasPrefix("C ") {
                break  // the class section follows the vendors
            }
        }
        return vendorName
    }
}

/// Reads a whole file as UTF-8 (invalid bytes repaired); nil when it cannot be opened.
/// Reads a whole text file (config, scenario, token, catalogue, usb.ids): a leading UTF-8 BOM is
/// dropped and CRLF line ends read as LF (issue 13: a config saved by a Windows editor). Nil when it
/// cannot be opened or is larger than `limit` bytes.
public func readWholeFile(_ path: String, limit: Int = 64 << 20) -> String? {
    guard let bytes = readFileBytes(path, limit: limit) else { return nil }
    return YAMLParser.plainText(String(decoding: bytes, as: UTF8.self))
}

/// Reads a whole file's bytes; nil when it cannot be opened or is larger than `limit`.
public func readFileBytes(_ path: String, limit: Int = 64 << 20) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, 65536) }
        if n < 0 { if errno == EINTR { continue }; return nil }
        if n == 0 { break }
        out.append(contentsOf: buf[0..<n])
        if out.count > limit { return nil }
    }
    return out
}
