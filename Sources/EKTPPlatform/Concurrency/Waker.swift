import Synchronization

/// Lets one loop sleep until a deadline or until something wakes it (a hotplug, a recheck).
public final class Waker: Sendable {
    private struct State {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
    }
    private let state = Mutex(State())

    public init() {}

    public func wake() {
        let c = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if let w = s.waiter {
                s.waiter = nil
                return w
            }
            s.pending = true
            return nil
        }
        c?.resume()
    }

    /// Whether a wake came while nobody waited, and clears it: how `ektpd simulate`'s scheduler,
    /// which runs the steps itself and never waits here, learns that an activity was woken.
    public func takePending() -> Bool {
        state.withLock { s in defer { s.pending = false }; return s.pending }
    }

    /// Returns after `timeout`, on `wake()`, or when the task is cancelled.
    public func wait(timeout: Duration) async {
        let timer = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            if !Task.isCancelled { self?.wake() }
        }
        defer { timer.cancel() }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { s -> Bool in
                    if s.pending || Task.isCancelled {
                        s.pending = false
                        return true
                    }
                    s.waiter = c
                    return false
                }
                if resumeNow { c.resume() }
            }
        } onCancel: {
            self.wake()
        }
    }
}
