#if canImport(Glibc)
import Glibc
#endif
import EKTPCore
import EKTPModel
import EKTPPlatform
import Logging
import ServiceLifecycle
import Synchronization

/// The recording server the daemon keeps up.
public struct ServerConfig: Sendable, Equatable {
    public enum Mode: Sendable, Equatable {
        /// A command the daemon runs as its own child.
        case command([String])
        /// A systemd unit the daemon starts and stops through systemctl.
        case unit(String)
    }
    public var name: String
    public var mode: Mode
    public var probe: LivenessProbe
    public var interval: Duration = .seconds(10)
    public var timeout: Duration = .seconds(3)
    public var stopGrace: Duration = .seconds(10)
    public var policy = SupervisorPolicy()
    /// systemctl to use in unit mode (a path, or a name on PATH).
    public var systemctl = "systemctl"

    public init(name: String, mode: Mode, probe: LivenessProbe) {
        self.name = name
        self.mode = mode
        self.probe = probe
    }
}

/// Keeps the recording server up: starts it, probes it, restarts it with backoff, escalates a crash
/// loop, and keeps the availability figures. Decisions are `SupervisorMachine`'s; this runs them.
public final class ServerSupervisor: Service, Sendable {
    let config: ServerConfig
    let engine: StationEngine
    let logger: Logger
    let now: @Sendable () -> Timestamp
    let waker = Waker()

    struct State {
        var machine: SupervisorMachine
        var availability = AvailabilityLog()
        var child: ChildProcess?
        var stopRequested: String?
        var nextProbe: Timestamp
        /// The process group of a start command that went to the background (its pid): what is
        /// left of it is stopped with the daemon.
        var backgroundGroup: pid_t?
    }
    private let state: Mutex<State>

    public init(config: ServerConfig, engine: StationEngine, logger: Logger, now: @escaping @Sendable () -> Timestamp) {
        self.config = config
        self.engine = engine
        self.logger = logger
        self.now = now
        let t = now()
        state = Mutex(State(machine: SupervisorMachine(policy: config.policy, now: t), nextProbe: t))
    }

    public func run() async throws {
        let t = now()
        let first = state.withLock { $0.machine.begin(now: t) }
        await perform(first)
        try await cancelOnShutdown { [self] in
            while !Task.isCancelled {
                let t = now()
                let ticked = state.withLock { $0.machine.tick(now: t) }
                await perform(ticked)
                let probeDue = state.withLock { s -> Bool in
                    guard s.nextProbe <= t else { return false }
                    s.nextProbe = t.adding(config.interval)
                    return s.machine.state != .restarting && s.machine.state != .stopped && s.machine.nextStartAt == nil
                }
                if probeDue {
                    let reason = await config.probe.check(timeout: config.timeout)
                    let t2 = now()
                    let actions = state.withLock { $0.machine.probed(ok: reason == nil, reason: reason, now: t2) }
                    await perform(actions)
                }
                publish()
                let wake = state.withLock { s in [s.nextProbe, s.machine.nextStartAt].compactMap { $0 }.min() } ?? now().adding(config.interval)
                await waker.wait(timeout: max(.milliseconds(1), wake - now()))
            }
        }
        await shutdown()
    }

    /// Current status, as `ektpd status` shows it.
    public func status() -> ServerStatus {
        let t = now()
        return state.withLock { s in
            ServerStatus(name: config.name, state: s.machine.state, since: s.machine.since, pid: s.child?.pid,
                         restarts: s.machine.restarts, lastReason: s.machine.lastReason, nextStartAt: s.machine.nextStartAt,
                         availability: s.availability.summary(now: t))
        }
    }

    private func publish() { engine.update(server: status()) }

    private func perform(_ actions: [SupervisorMachine.Action]) async {
        for a in actions {
            switch a {
            case .start: await start()
            case .stop(let reason): await stop(reason: reason)
            case let .transition(from, to, reason):
                let t = now()
                state.withLock { $0.availability.mark(up: to == .up, at: t) }
                engine.record(type: .serverState, subject: .server, from: from.rawValue, to: to.rawValue,
                              reason: "\(config.name): \(reason)", now: t)
            case let .restartScheduled(after, attempt):
                engine.record(type: .serverRestart, subject: .server, to: "scheduled",
                              reason: "\(config.name): restart \(attempt) in \(spokenDuration(after))", now: now())
            }
        }
        publish()
    }

    private func start() async {
        switch config.mode {
        case .command(let argv):
            do {
                let child = try ChildProcess(argv: argv)
                let t = now()
                state.withLock { s in
                    s.child = child
                    s.stopRequested = nil
                    s.nextProbe = t.adding(config.interval)
                }
                logger.notice("started \(config.name)", metadata: ["pid": "\(child.pid)", "command": "\(argv.joined(separator: " "))"])
                let started = t
                Task { [self] in
                    let status = await child.wait()
                    // Exit 0 on its own: did it leave the server running in the background?
                    // A backgrounded server may still be coming up: give it the start grace to answer.
                    let clean = ChildProcess.exitCode(status) == 0 && state.withLock { $0.stopRequested == nil && $0.child === child }
                    var answering = false
                    if clean {
                        let graceEnd = started.adding(config.policy.startGrace)
                        while !answering {
                            answering = await config.probe.check(timeout: config.timeout) == nil
                            if answering || now() >= graceEnd || Task.isCancelled { break }
                            try? await Task.sleep(for: min(config.interval, .seconds(1)))
                        }
                    }
                    let t = now()
                    let actions = state.withLock { s -> [SupervisorMachine.Action] in
                        guard s.child === child else { return [] }
                        s.child = nil
                        if answering {
                            s.backgroundGroup = child.pid
                            return s.machine.wentToBackground(now: t)
                        }
                        let why = s.stopRequested.map { "stopped by ektpd (\($0))" } ?? "\(ChildProcess.describe(status))"
                        return s.machine.exited(reason: why, now: t)
                    }
                    if answering {
                        logger.warning("\(config.name): the start command exited 0 and the server answers: it went to the background; run it in the foreground or use server.unit")
                    }
                    await perform(actions)
                    waker.wake()
                }
            } catch {
                let t = now()
                let actions = state.withLock { $0.machine.exited(reason: error.description, now: t) }
                await perform(actions)
            }
        case .unit(let unit):
            let r = await runCommand([config.systemctl, "start", unit], timeout: .seconds(90))
            let t = now()
            if r.code == 0 {
                state.withLock { $0.nextProbe = t.adding(config.interval) }
            } else {
                let actions = state.withLock { $0.machine.exited(reason: "systemctl start \(unit) failed: \(r.error ?? "status \(r.code ?? -1)")", now: t) }
                await perform(actions)
            }
        }
    }

    private func stop(reason: String) async {
        switch config.mode {
        case .command:
            guard let child = state.withLock({ s -> ChildProcess? in s.stopRequested = reason; return s.child }) else { return }
            child.signal(SIGTERM)
            let grace = config.stopGrace
            Task {
                try? await Task.sleep(for: grace)
                child.signal(SIGKILL)  // no-op if it already ended
            }
        case .unit(let unit):
            _ = await runCommand([config.systemctl, "stop", unit], timeout: .seconds(90))
            let t = now()
            let actions = state.withLock { $0.machine.exited(reason: "stopped by ektpd (\(reason))", now: t) }
            await perform(actions)
        }
    }

    /// Daemon shutdown: a child we own is stopped with it; a systemd unit is left to systemd.
    private func shutdown() async {
        let t = now()
        let (child, group) = state.withLock { s -> (ChildProcess?, pid_t?) in
            s.availability.pause(at: t)
            s.stopRequested = "ektpd is stopping"
            return (s.child, s.backgroundGroup)
        }
        if let group, kill(-group, 0) == 0 {
            // What the backgrounded command left in its process group (a server that called setsid
            // has left it, and is not ours to stop).
            kill(-group, SIGTERM)
            let deadline = now().adding(config.stopGrace)
            while kill(-group, 0) == 0 && now() < deadline { try? await Task.sleep(for: .milliseconds(50)) }
            if kill(-group, 0) == 0 { kill(-group, SIGKILL) }
            logger.notice("stopped what \(config.name)'s start command left in the background")
        }
        guard let child else { return }
        child.signal(SIGTERM)
        let killer = Task { [grace = config.stopGrace] in
            try await Task.sleep(for: grace)
            child.signal(SIGKILL)
        }
        _ = await child.wait()
        killer.cancel()
        logger.notice("stopped \(config.name)")
    }
}
