#if canImport(Glibc)
import Glibc
#endif
import EKTPHardware
import EKTPModel
import EKTPSupport
import Logging
import ServiceLifecycle

/// A problem that stops the daemon from starting, said so a person can fix it.
public struct StartupError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ d: String) { description = d }
}

/// Builds the daemon's services from a checked config and runs them until SIGTERM or SIGINT.
public enum StationDaemon {
    public static func run(config: StationConfig, environment: [String: String], logger: Logger) async throws {
        let now: @Sendable () -> Timestamp = wallClockNow
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

        // The outbox owns the station's sequence: a restart continues from its highest number.
        try ControlServer.prepareDirectoryOrFail(config.stateDirectory)
        let outbox: Outbox
        do { outbox = try Outbox(path: config.stateDirectory + "/outbox.sqlite3", maxBytes: config.outboxMaxBytes) } catch { throw StartupError(error.description) }
        let engine = StationEngine(stationID: config.stationID, site: config.site, backendName: backend.name,
                                   profile: config.kit, policy: config.policy, now: now(), lastSequence: outbox.lastSequence)
        let overLimit = Mutex<Bool>(false)
        let uplinkWaker = Waker()
        let store: @Sendable (Event) -> Void = { e in
            do {
                let over = try outbox.append(e)
                uplinkWaker.wake()
                let was = overLimit.withLock { o -> Bool in defer { o = over }; return o }
                if over && !was {
                    logger.critical("outbox over its size bound (\(outbox.sizeBytes / 1_048_576) MB at \(outbox.path)): superseded snapshots are being coalesced; events are kept; is the registry unreachable?")
                }
            } catch {
                logger.error("cannot store event \(e.sequence) in the outbox: \(error)")
            }
        }
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
        let api = ControlAPI(engine: engine, simulated: simulated, waker: waker, now: now,
                             metrics: renderMetrics, alerts: { alerts.firing })
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
            EventReporter(engine: engine, notifier: notifier, logger: logger, onEvent: store),
            alerts,
        ]
        if let simulated { services.append(ScenarioPlayer(backend: simulated, logger: logger)) }
        if let server = config.server {
            services.append(ServerSupervisor(config: server, engine: engine, logger: logger, now: now))
        }
        if let sync = config.centrePull {
            let watch = SyncWatch(config: sync, engine: engine)
            services.append(PeriodicWatcher(interval: sync.interval) { await watch.check(now: now()) })
        }
        if let uplink = config.uplink {
            let monitor = UplinkMonitor(config: uplink, engine: engine, now: now())
            services.append(PeriodicWatcher(interval: uplink.interval) { await monitor.check(now: now) })
        }
        var uplinkService: RegistryUplinkService?
        if let registry = config.registry {
            var rng = SystemRandomNumberGenerator()
            let seed = rng.next()
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
        let group = ServiceGroup(configuration: .init(
            services: services.map { .init(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        do {
            try await group.run()
        } catch {
            server.stop()
            metricsServer?.stop()
            engine.stop(now: now(), reason: "stopped on error: \(error)")
            for e in engine.events(sinceSequence: outbox.lastSequence) { store(e) }
            notifier.notify(["STOPPING": "1", "STATUS": "stopped on error"])
            throw error
        }
        notifier.notify(["STOPPING": "1"])
        metricsServer?.stop()
        engine.stop(now: now(), reason: "stopped by signal")
        // Whatever the reporter had not stored yet, and the stop event itself.
        for e in engine.events(sinceSequence: outbox.lastSequence) { store(e) }
        simulated?.finish()
        logger.notice("stopped")
    }
}

import Synchronization

