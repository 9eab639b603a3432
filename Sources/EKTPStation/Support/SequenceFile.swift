#if canImport(Glibc)
import Glibc
#endif
import EKTPModel

/// The station's last event sequence number, kept in the state directory so numbers are never
/// reused across restarts (until the outbox, which will own them, lands). Written with
/// write + fsync + rename, so a crash leaves the old or the new number, never a torn one; a
/// number lost in a crash is skipped, never repeated, because the daemon reserves ahead.
public final class SequenceFile: Sendable {
    public let path: String
    /// How far ahead of the last used number the file is written, so not every event needs a write.
    static let reserve: Int64 = 64

    public init(directory: String) throws(StartupError) {
        path = directory + "/sequence"
        var st = stat()
        if stat(directory, &st) != 0 && mkdir(directory, 0o750) != 0 {
            throw StartupError("cannot create the state directory \(directory): \(String(cString: strerror(errno))) (set state_directory, or run under systemd's StateDirectory=)")
        }
    }

    /// The first number the next run may use: one past everything this station may have used.
    public func start() throws(StartupError) -> Int64 {
        guard let text = readFileText(path) else { return 0 }
        guard let n = Int64(text.split(separator: "\n").first ?? "") , n >= 0 else {
            throw StartupError("\(path) does not hold a sequence number ('\(text.prefix(20))'): remove it only if you accept reused numbers")
        }
        return n
    }

    /// Records that numbers up to `used` are taken; writes only when the reservation runs out.
    /// Returns the new reservation.
    @discardableResult
    public func reserve(after used: Int64, current: Int64) throws(StartupError) -> Int64 {
        guard used >= current else { return current }
        let next = used + SequenceFile.reserve
        let tmp = path + ".tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw StartupError("cannot write \(tmp): \(String(cString: strerror(errno)))") }
        let bytes = Array("\(next)\n".utf8)
        let ok = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } == bytes.count && fsync(fd) == 0
        close(fd)
        guard ok, rename(tmp, path) == 0 else { throw StartupError("cannot write \(path): \(String(cString: strerror(errno)))") }
        return next
    }
}

func readFileText(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var buf = [UInt8](repeating: 0, count: 256)
    let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, 256) }
    return n > 0 ? String(decoding: buf[0..<n], as: UTF8.self) : ""
}
