#if canImport(Glibc)
import Glibc
#endif

/// A durable write that failed: which step's errno, so the caller can word it for its reader.
public struct DurableWriteError: Error, Sendable {
    public var errno: Int32
}

/// Writes `bytes` to `path` so that a power cut leaves the old file or the whole new one: a
/// temporary name beside it (`path.part`, vfat-safe), fsync, rename, fsync of the directory. On
/// failure the temporary file is removed and nothing at `path` changed. Used for the station key
/// (mode 0600) and courier bundles.
public func writeDurably(_ bytes: [UInt8], to path: String, mode: mode_t) throws(DurableWriteError) {
    let tmp = path + ".part"
    let parent = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
    let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
    guard fd >= 0 else { throw DurableWriteError(errno: errno) }
    var off = 0
    var failure: Int32 = 0
    while off < bytes.count {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + off, bytes.count - off) }
        if n < 0 { if errno == EINTR { continue }; failure = errno; break }
        off += n
    }
    if failure == 0, fsync(fd) != 0 { failure = errno }
    if close(fd) != 0, failure == 0 { failure = errno }
    if failure == 0, rename(tmp, path) != 0 { failure = errno }
    guard failure == 0 else {
        unlink(tmp)
        throw DurableWriteError(errno: failure)
    }
    let dfd = open(parent.isEmpty ? "/" : parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if dfd >= 0 { fsync(dfd); close(dfd) }
}
