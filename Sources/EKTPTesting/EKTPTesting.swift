#if canImport(Glibc)
import Glibc
#endif
import EKTPModel
import Foundation

// What the test targets share (issue 12, item 6: "the module cut"): temporary folders, loopback
// ports, waiting on a state, device builders. Only test targets depend on this module.

/// A test harness's failure: what did not happen, in words.
public struct HarnessError: Error, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}

/// A temporary folder, removed when the value is dropped.
public final class TempDir {
    public let path: String
    public init() {
        let p = FileManager.default.temporaryDirectory.appendingPathComponent("ektp-\(UUID().uuidString.prefix(8))").path
        try! FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
        path = p
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Writes `text` to `name` in the folder; returns its path.
    @discardableResult
    public func write(_ name: String, _ text: String) -> String {
        let p = path + "/" + name
        try! text.write(toFile: p, atomically: true, encoding: .utf8)
        return p
    }
}

/// Polls `condition` every 20 ms until it holds, for at most `seconds`: tests wait on a state,
/// never on a guess of how long something takes. Throws `HarnessError` naming `what` when it does
/// not come.
public func waitFor(_ what: String, seconds: Double = 20, _ condition: () -> Bool) throws {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return }
        usleep(20_000)
    }
    throw HarnessError("not within \(seconds) s: \(what)")
}

/// A free loopback TCP port (bound to 127.0.0.1:0, read back, released).
public func freeLoopbackPort() -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
    return UInt16(bigEndian: addr.sin_port)
}

/// A device's status for kit and sentence tests: `kind` at USB port `port` (IDs 0001:0002, name
/// "Dev"), in `health`, since the epoch.
public func device(_ kind: DeviceKind, _ port: String, _ health: Health, flapping: Bool = false, reason: String? = nil) -> DeviceStatus {
    let snap = DeviceSnapshot(id: DeviceID(portPath: port, vendorID: 1, productID: 2), kind: kind, kindSource: "test",
                              vendorID: 1, productID: 2, name: "Dev", portPath: port, busNumber: 1, deviceNumber: 2)
    return DeviceStatus(device: snap, health: health, flapping: flapping, since: Timestamp(seconds: 0), reason: reason)
}
