#if canImport(Glibc)
import Glibc
#endif
import EKTPModel

/// The system's wall-clock time.
public func wallClockNow() -> Timestamp {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Timestamp(millis: Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000)
}
