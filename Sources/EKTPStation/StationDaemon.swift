#if canImport(Glibc)
import Glibc
#endif
import EKTPHardware
import EKTPCore
import EKTPModel
import EKTPPlatform
import EKTPYAML
import Logging
import ServiceLifecycle
import CEKTPSys

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
        let outboxWritable = Mutex<Bool>(true)
        let notifier = SystemdNotifier(environment: environment)
        // A hook that exits before reading its stdin must not kill the daemon.
        signal(SIGPIPE, SIG_IGN)
        let metrics = StationMetrics()
        let watchdog = notifier.watchdogInterval
        let lastPing = Mutex<Int64>(0)
        // The servers exist before the services (a bad socket path stops the start); they open at READY.
        let serversBox = Mutex<(ControlServer, ControlServer?)?>(nil)
        var callbacks = StationServices.Callbacks()
        callbacks.onReady = {
            guard let (server, metricsServer) = serversBox.withLock({ $0 }) else { return }
            server.start()
            metricsServer?.start()
            if let m = config.metrics, let p = metricsServer?.port {
                logger.notice("metrics on http://\(m.host):\(p)/metrics")
            }
            let kit = engine.kit
            notifier.notify(["READY": "1", "STATUS": "kit \(kit.summary)"])
            logger.notice("ready: kit \(kit.summary)", metadata: ["socket": "\(config.socketPath)"])
        }
        callbacks.onProbeRound = {
            // WATCHDOG=1 from the monitor's own loop, at most every half WatchdogSec.
            guard let w = watchdog else { return }
            let t = now().millis
            let due = lastPing.withLock { last in
                if t - last >= w.wholeMilliseconds { last = t; return true }
                return false
            }
            if due { notifier.notify(["WATCHDOG": "1"]) }
        }
        callbacks.probeMaxSleep = watchdog ?? .seconds(3600)
        callbacks.onAlertNotified = { metrics.alertNotified() }
        callbacks.onAlertDelivery = { metrics.alertDelivery($0, $1) }
        callbacks.onDeliveryRound = { metrics.deliveryRound(delivered: $0, failed: $1) }
        var stationConfig = config
        stationConfig.registry?.publicKey = key?.publicKeyBase64
        // Whether the outbox can be written, said once per change: the log, systemd's STATUS line.
        // (Polled after each housekeeping step, not called back from the journal: a record runs
        // under the engine's lock, and the report reads the engine.)
        let deliveryWaker = Mutex<Waker?>(nil)
        // Start-up's code pages leave the daemon's resident set 5 s after start (READY and the first
        // requests and delivery are past), and what was used since leaves it again every 30 s: the
        // resident set follows what the daemon does, not what it once did (`ResidentPages`, with the
        // figures; a trim costs about 0.5 ms: reading smaps 0.25 ms, then the pages used come back).
        let nextTrim = Mutex<Int64>(now().millis + 5_000)
        callbacks.onHousekeeping = {
            let t = now().millis
            let trimDue = nextTrim.withLock { next -> Bool in
                guard t >= next else { return false }
                next = t + 30_000
                return true
            }
            if trimDue { ResidentPages.trimStartup() }
            let st = journal.outboxStatus
            let changed = outboxWritable.withLock { w -> Bool in defer { w = st.writable }; return w != st.writable }
            if changed, !st.writable {
                logger.critical("\(st.problem ?? "cannot write the outbox"): retrying; the reports are written in order when the disk accepts them")
                notifier.notify(["STATUS": st.problem ?? "cannot write the outbox"])
            } else if changed {
                logger.notice("the outbox at \(st.path) is writable again: the held reports are written")
                notifier.notify(["STATUS": "kit \(engine.kit.summary)"])
                deliveryWaker.withLock { $0 }?.wake()
            }
        }
        // The station's services, assembled as `ektpd simulate` assembles them (issue 12, item 4);
        // the real clock, backend and network.
        var rng = SystemRandomNumberGenerator()
        let world = StationWorld(clock: clock, backend: backend, scenario: simulated, scenarioStart: clock.now(), seed: rng.next())
        let station = StationServices.assemble(config: stationConfig, world: world, engine: engine, outbox: outbox,
                                               logger: logger, callbacks: callbacks)
        let alerts = station.alerts
        deliveryWaker.withLock { $0 = station.delivery?.waker }
        let renderMetrics: @Sendable () -> [UInt8] = {
            metrics.render(engine.status(now: now()), firing: alerts.firing, backlog: outbox.backlog)
        }
        var controlAPI = ControlAPI(engine: engine, simulated: simulated, waker: station.devices.waker, now: now,
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
        serversBox.withLock { $0 = (server, metricsServer) }

        let wokenByReports = station.wokenByReports
        var services = station.daemonServices(clock: clock)
        services += [
            ControlService(server: server),
            EventReporter(engine: engine, notifier: notifier, logger: logger, onEvent: { _ in
                for w in wokenByReports { w.wake() }
            }),
        ]
        if let server = config.server {
            services.append(ServerSupervisor(config: server, engine: engine, logger: logger, now: now))
        }
        // SIGTERM and SIGINT stop the group gracefully, whenever they come: the handler went in at
        // load (CEKTPSys) and is never replaced, so one sent before the group ran is taken when it
        // does (hardening r10), and none is lost to a handler being swapped (StopSignals).
        let group = StopSignals.serviceGroup(services: services, logger: logger)
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
