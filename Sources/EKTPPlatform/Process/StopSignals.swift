#if canImport(Glibc)
import Glibc
#endif
import CEKTPSys
import Logging
import ServiceLifecycle
import Synchronization

/// SIGTERM and SIGINT, for the whole life of a daemon (`ektpd run`, `ektp-registry serve`): one
/// handler installed once and never replaced; each signal stops the service group gracefully.
///
/// Why not swift-service-lifecycle's `gracefulShutdownSignals`: it makes libdispatch signal
/// sources, and on Linux libdispatch then installs a handler of its own in place of ektpd's early
/// one, from its manager thread, once the source is registered (`_dispatch_muxnote_create` in
/// event_epoll.c; strace shows the second handler). A SIGTERM around that swap was not acted on:
/// `ektpd run` went on running (seen 3 times in the hardening r10 loops while a compile loaded the
/// machine; one was still serving 10 minutes later). Here the handler (CEKTPSys,
/// `ektp_early_signals_install`) only writes the signal's number to a pipe; a thread of its own
/// reads the pipe, so a signal that came before the group ran is still there when it does.
public enum StopSignals {
    /// Installs the handler (idempotent; `ektpd run` has it from load, by a constructor).
    public static func install() { ektp_early_signals_install() }

    /// The signals received since `install()`, earliest first; finishes when the task iterating it
    /// is cancelled. One consumer per process.
    public static let received: AsyncStream<Int32> = {
        let (stream, continuation) = AsyncStream.makeStream(of: Int32.self)
        let fd = ektp_stop_signal_fd()
        guard fd >= 0 else { return stream }  // no pipe: the stream never yields
        detachThread {
            _ = ektp_set_thread_name("ektp-signals")
            var buf = [UInt8](repeating: 0, count: 16)
            while true {
                var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&p, 1, -1) >= 0 || errno == EINTR else { return }
                let n = read(fd, &buf, buf.count)
                if n > 0 {
                    for b in buf[0..<n] { continuation.yield(Int32(b)) }
                } else if n == 0 || (errno != EAGAIN && errno != EINTR) {
                    return
                }
            }
        }
        return stream
    }()

    /// "SIGTERM", "SIGINT" or "signal N", for the log.
    public static func name(_ sig: Int32) -> String {
        switch sig {
        case SIGTERM: "SIGTERM"
        case SIGINT: "SIGINT"
        default: "signal \(sig)"
        }
    }
}

/// The service that turns `StopSignals.received` into a graceful stop of its group; made by
/// `StopSignals.serviceGroup`. It ends at the group's graceful shutdown like the others.
struct StopSignalWatch: Service {
    /// Holds the group it stops: set before the group runs (the group holds this service).
    final class GroupBox: Sendable {
        let group = Mutex<ServiceGroup?>(nil)
    }

    let logger: Logger
    let box: GroupBox

    func run() async throws {
        await cancelWhenGracefulShutdown {
            for await sig in StopSignals.received {
                logger.notice("\(StopSignals.name(sig)): stopping")
                await box.group.withLock({ $0 })?.triggerGracefulShutdown()
            }
        }
    }
}

extension StopSignals {
    /// A service group of `services` that SIGTERM and SIGINT stop gracefully, through the one
    /// handler (`install()`, called here) rather than the group's `gracefulShutdownSignals`.
    public static func serviceGroup(services: [any Service], logger: Logger) -> ServiceGroup {
        install()
        let box = StopSignalWatch.GroupBox()
        let group = ServiceGroup(configuration: .init(
            services: (services + [StopSignalWatch(logger: logger, box: box)]).map { .init(service: $0) },
            logger: logger))
        box.group.withLock { $0 = group }
        return group
    }
}
