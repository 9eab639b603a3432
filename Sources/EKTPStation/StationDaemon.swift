#if canImport(Glibc)
import Glibc
#endif
import EKTPHardware
import EKTPModel
import EKTPSupport
import EKTPYAML
import Logging
import ServiceLifecycle
import CEKTPSys

/// A problem that stops the daemon from starting, said so a person can fix it.
public struct StartupError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ d: String) { description = d }
}

/// Builds the daemon's services from a checked config and runs them until SIGTERM or SIGINT.
public enum StationDaemon {
    public static func run(config: StationConfig, environment: [String: String], logger: Logger) async throws {
        // One clock for every service: schedules on the steady (monotonic) timeline, report times
        // on the wall clock (the journal stamps them).
        let clock = StationClock()
        let now: @Sendable () -> Timestamp = { clock.now() }
        let backend: any HardwareBackend
        var simulated: SimulatedBackend?
        switch config.backend {
        case .simulated(let path, let station):
            let scenario: Scenario
            do { scenario = try Scenario.load(path: path) } catch { throw StartupError(error.description) }
            let sim = try SimulatedBackend(scenario: scenario, station: station, catalogue: Catalogue.builtIn(),
                                           label: "simulated: \(path)")
            simulated = sim
            backend = sim
        case .real:
            var options = RealBackendOptions()
            options.deviceGroup = config.deviceGroup
            do {
                backend = try LinuxUSBBackend(catalogue: Catalogue.builtIn(), options: options)
            } catch {
                throw StartupError(error.description)
            }
        }

        // The journal numbers, stores and only then shows every report; it continues from the
        // outbox's highest number after a restart or a kill -9.
        try ControlServer.prepareDirectoryOrFail(config.stateDirectory)
        let outbox: Outbox
        do { outbox = try Outbox(path: config.stateDirectory + "/outbox.sqlite3", maxBytes: config.outboxMaxBytes) } catch { throw StartupError(error.description) }
        // The station's signing key for courier bundles (issue 16), made at the first start.
        let key: StationKey?
        do {
            key = try StationKey.load(path: config.stateDirectory + "/" + StationKey.fileName, create: true)
            logger.info("station key \(key!.fingerprint) (\(key!.path))")
        } catch {
            key = nil
            logger.error("no station key, so no courier bundles and no key sent to the registry: \(error)")
        }
        let journal = EventJournal(outbox: outbox, stationID: config.stationID, holdLimit: config.outboxHoldLimit,
                                   stamp: { clock.wall() }, monotonic: { clock.monotonicMillis() })
        let engine = StationEngine(stationID: config.stationID, site: config.site, backendName: backend.name,
                                   profile: config.kit, policy: config.policy, now: now(), journal: journal,
                                   wallOffset: { clock.wallOffset() })
        let uplinkWaker = Waker()
        let outboxWritable = Mutex<Bool>(true)
        let waker = Waker()
        let notifier = SystemdNotifier(environment: environment)
        // A hook that exits before reading its stdin must not kill the daemon.
        signal(SIGPIPE, SIG_IGN)
        let metrics = StationMetrics()
        let dispatcher = AlertDispatcher(config: config.alerts, logger: logger) { metrics.alertDelivery($0, $1) }
        let alerts = AlertService(engine: engine, dispatcher: dispatcher, logger: logger, now: now,
                                  onNotify: { metrics.alertNotified() })
        let renderMetrics: @Sendable () -> [UInt8] = {
            metrics.render(engine.status(now: now()), firing: alerts.firing, backlog: outbox.backlog)
        }
        var controlAPI = ControlAPI(engine: engine, simulated: simulated, waker: waker, now: now,
                                    metrics: renderMetrics, alerts: { alerts.firing })
        if let key {
            controlAPI.export = { since, max in
                // A snapshot of now first, so the bundle carries the kit as it is (the centre's view
                // of the station is its newest snapshot), not as it was at the last heartbeat.
                engine.snapshot(now: now())
                return Result { () throws(BundleError) -> [UInt8] in
                    try BundleExport.make(outbox: outbox, station: config.stationID, site: config.site, key: key,
                                          since: since, max: max, now: clock.wall()).bytes
                }
            }
        }
        let api = controlAPI
        let server: ControlServer
        do {
            server = try ControlServer(path: config.socketPath, group: config.socketGroup, handler: { api.handle($0) })
        } catch {
            throw StartupError(error.description)
        }
        let metricsServer: ControlServer?
        if let m = config.metrics {
            do {
                metricsServer = try ControlServer(host: m.host, port: m.port) { r in
                    r.path == "/metrics" ? api.handle(r) : .error(404, "only /metrics is served here; the rest is on the control socket")
                }
            } catch {
                server.stop()
                throw StartupError(error.description)
            }
        } else {
            metricsServer = nil
        }
        let watchdog = notifier.watchdogInterval
        let lastPing = Mutex<Int64>(0)

        var services: [any Service] = [
            DeviceMonitor(backend: backend, engine: engine, waker: waker, logger: logger, now: now,
                          onReady: {
                              server.start()
                              metricsServer?.start()
                              if let m = config.metrics, let p = metricsServer?.port {
                                  logger.notice("metrics on http://\(m.host):\(p)/metrics")
                              }
                              let kit = engine.kit
                              notifier.notify(["READY": "1", "STATUS": "kit \(kit.summary)"])
                              logger.notice("ready: kit \(kit.summary)", metadata: ["socket": "\(config.socketPath)"])
                          },
                          onRound: {
                              // WATCHDOG=1 from the monitor's own loop, at most every half WatchdogSec.
                              guard let w = watchdog else { return }
                              let t = now().millis
                              let due = lastPing.withLock { last in
                                  if t - last >= w.wholeMilliseconds { last = t; return true }
                                  return false
                              }
                              if due { notifier.notify(["WATCHDOG": "1"]) }
                          },
                          maxSleep: watchdog ?? .seconds(3600)),
            ControlService(server: server),
            EventReporter(engine: engine, notifier: notifier, logger: logger, onEvent: { _ in uplinkWaker.wake() }),
            // Every few seconds: a wall-clock step becomes a clock.step event; held reports are retried.
            PeriodicWatcher(interval: .seconds(2)) {
                if let step = clock.checkStep() {
                    let back = step < .zero
                    let size = formatDuration(.seconds((abs(step.wholeMilliseconds) + 500) / 1000))
                    engine.record(type: .clockStep, subject: "clock", from: nil, to: back ? "back" : "forward",
                                  reason: "the wall clock stepped \(back ? "back" : "forward") by \(size); schedules are unchanged (monotonic), report times follow the wall clock",
                                  now: now())
                }
                journal.retryHeld()
                // Whether the outbox can be written, said once per change: the log, systemd's STATUS
                // line. (Polled here, not called back from the journal: a record runs under the
                // engine's lock, and the report reads the engine.)
                let st = journal.outboxStatus
                let changed = outboxWritable.withLock { w -> Bool in defer { w = st.writable }; return w != st.writable }
                if changed, !st.writable {
                    logger.critical("\(st.problem ?? "cannot write the outbox"): retrying; the reports are written in order when the disk accepts them")
                    notifier.notify(["STATUS": st.problem ?? "cannot write the outbox"])
                } else if changed {
                    logger.notice("the outbox at \(st.path) is writable again: the held reports are written")
                    notifier.notify(["STATUS": "kit \(engine.kit.summary)"])
                    uplinkWaker.wake()
                }
            },
            alerts,
        ]
        if let simulated { services.append(ScenarioPlayer(backend: simulated, logger: logger)) }
        if let server = config.server {
            services.append(ServerSupervisor(config: server, engine: engine, logger: logger, now: now))
        }
        if let sync = config.centrePull {
            let watch = SyncWatch(config: sync, engine: engine)
            // The centre's pull time is a wall-clock time: judged against the wall clock.
            services.append(PeriodicWatcher(interval: sync.interval) { await watch.check(now: clock.wall()) })
        }
        if let uplink = config.uplink {
            let monitor = UplinkMonitor(config: uplink, engine: engine, now: now())
            services.append(PeriodicWatcher(interval: uplink.interval) { await monitor.check(now: now) })
        }
        var uplinkService: RegistryUplinkService?
        if let registry = config.registry {
            var rng = SystemRandomNumberGenerator()
            let seed = rng.next()
            var registry = registry
            registry.publicKey = key?.publicKeyBase64
            let uplink = RegistryUplink(config: registry, outbox: outbox, engine: engine, seed: seed)
            uplinkService = RegistryUplinkService(uplink: uplink, waker: uplinkWaker, logger: logger, now: now,
                                                  onRound: { metrics.deliveryRound(delivered: $0, failed: $1) })
        }
        if let power = config.power {
            let monitor = PowerMonitor(config: power, engine: engine)
            services.append(PeriodicWatcher(interval: power.interval) { monitor.check(now: now()) })
        }

        // The stop event stays in the outbox and is delivered after the next start.
        if let uplinkService { services.append(uplinkService) }
        // A SIGTERM that came before the group listened (recorded by ektpd's early handler): stop
        // the same graceful way.
        let groupBox = Mutex<ServiceGroup?>(nil)
        services.append(EarlySignalWatch {
            guard let g = groupBox.withLock({ $0 }) else { return false }
            logger.notice("SIGTERM during start-up: stopping")
            await g.triggerGracefulShutdown()
            return true
        })
        let group = ServiceGroup(configuration: .init(
            services: services.map { .init(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        groupBox.withLock { $0 = group }
        do {
            try await group.run()
        } catch {
            server.stop()
            metricsServer?.stop()
            // Through the journal: stored before the process ends.
            engine.stop(now: now(), reason: "stopped on error: \(error)")
            notifier.notify(["STOPPING": "1", "STATUS": "stopped on error"])
            throw error
        }
        notifier.notify(["STOPPING": "1"])
        metricsServer?.stop()
        engine.stop(now: now(), reason: N_("stopped by signal"))
        journal.retryHeld(force: true)
        if journal.heldCount > 0 {
            logger.critical("stopping with \(journal.heldCount) report(s) the disk refused: they are lost (\(journal.outboxStatus.error ?? "?"))")
        }
        simulated?.finish()
        logger.notice("stopped")
    }
}

import Synchronization

/// Stops the daemon gracefully when the early handler (installed at load, CEKTPSys) recorded a
/// SIGTERM or SIGINT before the service group's own handlers took over. The flag is read every
/// 50 ms for the first 10 s, not once: a signal between one check and the group's handlers being in
/// place left the daemon running (hardening r10, seen with the machine loaded).
struct EarlySignalWatch: Service {
    /// Triggers the graceful shutdown; false while there is no group to stop yet.
    let stop: @Sendable () async -> Bool

    func run() async throws {
        try await cancelOnShutdown {
            var stopped = false
            for _ in 0..<200 where !Task.isCancelled && !stopped {
                if ektp_early_signal_seen() != 0, await stop() {
                    stopped = true
                } else {
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
            // Then it waits for the shutdown like the other services.
            while !Task.isCancelled { try await Task.sleep(for: .seconds(3600)) }
        }
    }
}
