#if canImport(Glibc)
import Glibc
#endif

/// Why a secret file may not be used: readable by others (mode o+r), as ssh refuses such a key.
/// nil when it is private enough (or cannot be stat'ed: reading it reports that).
public func othersMayRead(_ path: String) -> String? {
    var st = stat()
    guard stat(path, &st) == 0 else { return nil }
    if st.st_mode & S_IROTH != 0 {
        return "\(path) is readable by every user (mode \(String(st.st_mode & 0o777, radix: 8))): chmod o-r \(path) (chmod 600, or 640 with group ektp)"
    }
    return nil
}
