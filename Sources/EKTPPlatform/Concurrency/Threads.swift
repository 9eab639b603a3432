#if canImport(Glibc)
import Glibc
#endif

/// Runs blocking work (network I/O, waiting on a hook) on a detached thread of its own, so no
/// Swift concurrency thread is blocked; returns its result.
public func offloaded<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { (c: CheckedContinuation<T, Never>) in
        detachThread { c.resume(returning: body()) }
    }
}

/// Starts `body` on a detached thread (or runs it here if no thread can be made).
public func detachThread(_ body: @escaping @Sendable () -> Void) {
    if !startThread(body) { body() }
}

/// Starts `body` on a detached thread; false (and `body` not run) when no thread can be made.
@discardableResult
public func startThread(_ body: @escaping @Sendable () -> Void) -> Bool {
    let job = Unmanaged.passRetained(OffloadedJob(body))
    var tid = pthread_t()
    var attr = pthread_attr_t()
    pthread_attr_init(&attr)
    pthread_attr_setdetachstate(&attr, Int32(PTHREAD_CREATE_DETACHED))
    let rc = pthread_create(&tid, &attr, { arg in
        let job = Unmanaged<OffloadedJob>.fromOpaque(arg!).takeRetainedValue()
        job.run()
        return nil
    }, job.toOpaque())
    pthread_attr_destroy(&attr)
    if rc != 0 { job.release() }
    return rc == 0
}

/// Writes `text` to stderr as it is (the journal, under systemd), with no buffering to flush.
public func writeStandardError(_ text: String) {
    let bytes = Array(text.utf8)
    _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}

final class OffloadedJob: Sendable {
    let run: @Sendable () -> Void
    init(_ r: @escaping @Sendable () -> Void) { run = r }
}
