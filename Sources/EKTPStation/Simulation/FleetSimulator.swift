import EKTPHardware
import EKTPCore
import EKTPModel
import EKTPPlatform
import Logging
import Synchronization

/// Runs every station of a scenario on the scenario's clock, each with the daemon's own services
/// (`StationServices`: device probes, scenario player, centre-pull and uplink watchers, alert
/// rules, registry delivery), stepped by one `ActivityScheduler` on a `ManualClock` and delivering
/// over HTTP to a registry. Only the backend, the clock and the network are simulated (issue 12,
/// item 4): network outages, the recording server's hours with the centre's nightly pull, card
/// printing and courier trips are the world around the stations.
///
/// Deterministic for a scenario and seed: the scheduler runs steps in a fixed order, probes run
/// one at a time, and every random choice comes from the scenario's seed.
///
/// Not thread-safe, and need not be: the scheduler runs every step in turn on the caller's task,
/// which is why the world's activity may capture it (`@unchecked Sendable`).
public final class FleetSimulator: @unchecked Sendable {
    public struct Options: Sendable {
        /// How often the world around a station moves (network steps, the pull, printing).
        public var tick: Duration = .seconds(300)
        public var heartbeat: Duration = .seconds(3600)
        public var snapshotSpacing: Duration = .seconds(300)
        public var batchSize = 200
        /// Probes every 5 minutes, retries a minute apart: faults in a scenario are hours apart, and a
        /// week of 10-second probes for a whole fleet would be millions of probes.
        public var probeInterval: Duration = .seconds(300)
        public var retryInterval: Duration = .seconds(60)
        /// The uplink watcher's checks (the daemon's default is 30 s). The world's network changes once a
        /// tick and two failed checks make an outage, so one is seen within 10 minutes; checks every 60 s
        /// made Sintang's week 25 % slower to simulate (32 s against 40 s, debug build).
        public var uplinkInterval: Duration = .seconds(300)
        public init() {}
    }

    /// The simulated network and centre of one station: read by its services' world closures.
    final class Network: Sendable {
        let up = Mutex(true)
        let lastPull = Mutex<Timestamp?>(nil)
    }

    /// What the stations' callbacks count (they run inside the services, hence Sendable).
    final class Counters: Sendable {
        let alerts = Mutex(AlertTally())
        let delivered = Mutex(0)
        let failedRounds = Mutex(0)
    }

    /// Touched only by the scheduler's steps, one at a time (see FleetSimulator).
    final class Station: @unchecked Sendable {
        let spec: SimulatedStationSpec
        let services: StationServices
        let outbox: Outbox
        let network: Network
        var blanks: Int?
        var lastStockDay: Int64 = -1
        var printedFraction = 0.0
        /// Courier stations (issue 16): the signing key, the last sequence carried, trips made.
        var key: StationKey?
        var carriedThrough: Int64 = 0
        var trips = 0
        var engine: StationEngine { services.engine }
        init(spec: SimulatedStationSpec, services: StationServices, outbox: Outbox, network: Network) {
            self.spec = spec
            self.services = services
            self.outbox = outbox
            self.network = network
        }
    }

    public let scenario: Scenario
    public let options: Options
    let stations: [Station]
    let clock: ManualClock
    let scheduler: ActivityScheduler
    let counters = Counters()
    public var now: Timestamp { clock.now() }
    public var delivered: Int { counters.delivered.withLock { $0 } }
    public var failedRounds: Int { counters.failedRounds.withLock { $0 } }
    /// The alert notifications the stations made, as their hooks and webhooks would get them.
    public var alerts: AlertTally { counters.alerts.withLock { $0 } }
    /// Told the scenario time before a station talks to the registry: the embedded registry's
    /// clock follows it.
    public var onTime: (Timestamp) -> Void = { _ in }
    private var toldTime: Timestamp?
    /// Courier tokens by `PROVINCE/REGENCY` (ektp-registry token issue --courier); a courier
    /// station without one uploads with its own token.
    public var courierTokens: [String: String] = [:]
    /// A viewer's token the simulation reads the registry's view with (reads need one, issue 15).
    public var readToken = ""
    /// Every courier trip so far, in order: what each bundle brought and what the centre then knew.
    public private(set) var courierTrips: [CourierTrip] = []
    let registry: HTTPURL
    let tokens: [String: String]
    let client = HTTPClient(settings: HTTPClientSettings(section: "simulate"))

    /// The courier stations and their public keys (PEM): the registry must know them to take their
    /// bundles (`ektp-registry station add`), since they never deliver online.
    public var courierStations: [(id: String, site: Site, publicKeyPEM: String)] {
        stations.compactMap { s in s.key.map { (s.spec.id, s.spec.site, $0.publicKeyPEM) } }
    }

    /// - Parameters:
    ///   - workDirectory: where each station's outbox file lives.
    ///   - tokens: each station's registry token.
    public init(scenario: Scenario, registry: HTTPURL, tokens: [String: String], workDirectory: String,
                options: Options = Options()) throws {
        self.scenario = scenario
        self.options = options
        self.registry = registry
        self.tokens = tokens
        let clock = ManualClock(start: scenario.start)
        self.clock = clock
        scheduler = ActivityScheduler(clock: clock)
        var stations: [Station] = []
        var policy = HealthPolicy()
        policy.interval = options.probeInterval
        policy.retryInterval = options.retryInterval
        let quiet = Logger(label: "ektpd.simulate", factory: { _ in SwiftLogNoOpLogHandler() })
        let counters = self.counters
        for spec in scenario.stations {
            guard let token = tokens[spec.id] else { throw SimulationError("no registry token for station \(spec.id)") }
            let backend = try SimulatedBackend(scenario: scenario, station: spec.id, catalogue: Catalogue.builtIn(),
                                               label: "simulated: \(scenario.name)", realTimeLatency: false)
            let outbox = try Outbox(path: "\(workDirectory)/\(spec.id).outbox.sqlite3")
            // The daemon's journal over the station's outbox, on the scenario's clock (no stamp:
            // the simulated time is both the schedule and the report time).
            let journal = EventJournal(outbox: outbox, stationID: spec.id)
            let engine = StationEngine(stationID: spec.id, site: spec.site, backendName: backend.name, profile: spec.profile,
                                       policy: policy, now: scenario.start, journal: journal)
            // The station's config, as an operator would write it for this kit.
            var config = StationConfig(stationID: spec.id, site: spec.site, backend: .simulated(scenario: scenario.name, station: spec.id),
                                       kit: spec.profile, policy: policy, stateDirectory: workDirectory)
            var registryConfig = RegistryUplinkConfig(url: registry, token: token)
            registryConfig.heartbeat = options.heartbeat
            registryConfig.snapshotSpacing = options.snapshotSpacing
            registryConfig.batchSize = options.batchSize
            registryConfig.backoffBase = .seconds(60)
            registryConfig.backoffMax = .seconds(3600)
            registryConfig.timeout = .seconds(30)
            config.registry = registryConfig
            var uplink = UplinkConfig(targets: [.init(name: "registry", host: registry.host, port: registry.port)])
            uplink.interval = options.uplinkInterval
            config.uplink = uplink
            if scenario.centrePullMinute != nil {
                var sync = SyncConfig(source: .command(["(the simulated centre)"]))
                sync.limit = scenario.centrePullLimit
                sync.interval = options.tick
                config.centrePull = sync
            }
            // The world: the scenario's clock, backend and network.
            let network = Network()
            var world = StationWorld(clock: clock, backend: backend, scenario: backend, scenarioStart: scenario.start,
                                     seed: scenario.seed ^ fnv1a("uplink/" + spec.id))
            world.simulatedTime = true
            world.housekeeping = options.tick
            world.reach = { _, _ in network.up.withLock { $0 } ? .success(0) : .failure(NetError("network down")) }
            world.route = { "wwan0" }
            world.centrePull = { .success(network.lastPull.withLock { $0 }) }
            world.link = { network.up.withLock { $0 } ? nil : NetError("network down (the scenario)") }
            world.notify = { n in counters.alerts.withLock { $0.add(n) } }
            var callbacks = StationServices.Callbacks()
            callbacks.onDeliveryRound = { delivered, failed in
                counters.delivered.withLock { $0 += delivered }
                if failed { counters.failedRounds.withLock { $0 += 1 } }
            }
            let services = StationServices.assemble(config: config, world: world, engine: engine, outbox: outbox,
                                                    logger: quiet, callbacks: callbacks)
            let station = Station(spec: spec, services: services, outbox: outbox, network: network)
            station.blanks = spec.stock?.blanks
            if spec.courierEvery != nil {
                do { station.key = try StationKey.load(path: "\(workDirectory)/\(spec.id).station.key", create: true) } catch {
                    throw SimulationError("station \(spec.id): \(error)")
                }
                network.up.withLock { $0 = false }
            } else if let first = spec.network.last(where: { $0.at <= .zero }) {
                network.up.withLock { $0 = first.up }
            }
            // The centre pulled last night (the scenario starts on a station that was running),
            // when its server was on at the pull minute and its network up.
            if let minute = scenario.centrePullMinute, network.up.withLock({ $0 }), FleetSimulator.serverOn(spec, minuteOfDay: minute) {
                let day: Int64 = 86_400_000
                var last = Timestamp(millis: scenario.start.millis - scenario.start.millis % day + Int64(minute) * 60_000)
                if last > scenario.start { last = Timestamp(millis: last.millis - day) }
                network.lastPull.withLock { $0 = last }
            }
            stations.append(station)
        }
        self.stations = stations
        scheduler.beforeStep = { [unowned self] activity, t in
            if activity.name == "uplink" || activity.name == "world" { tell(t) }
        }
    }

    public var end: Timestamp { scenario.start.adding(scenario.duration) }

    /// The registry's clock follows the scenario's (once per time, before it is asked anything).
    private func tell(_ t: Timestamp) {
        guard toldTime != t else { return }
        toldTime = t
        onTime(t)
    }

    /// Boots every station at the scenario's start: enumerates and probes its kit, then hands its
    /// services, with the world around it first, to the scheduler.
    public func boot() async throws {
        tell(now)
        for s in stations {
            try await s.services.devices.boot()
            let world = Activity(name: "world") { [unowned self] t in
                step(s, at: t)
                return t.adding(options.tick)
            }
            scheduler.add([world] + s.services.activities, start: now, journal: s.engine.journal,
                          wokenByReports: s.services.wokenByReports)
        }
    }

    /// Advances the whole fleet to `until`; `progress` each time the clock moves.
    public func run(until: Timestamp, progress: (Timestamp) -> Void = { _ in }) async {
        await scheduler.run(until: until, progress: progress)
    }

    /// A snapshot if one is due, then delivers what is left, for stations whose network is up (a
    /// last round at the end).
    public func flush() {
        tell(now)
        for s in stations where s.network.up.withLock({ $0 }) {
            guard let uplink = s.services.uplink else { continue }
            let t = now
            uplink.snapshotIfDue(now: t)
            let r = uplink.round(now: { t }, force: true)
            counters.delivered.withLock { $0 += r.delivered }
            if r.error != nil { counters.failedRounds.withLock { $0 += 1 } }
        }
    }

    /// What every station's outbox still holds.
    public var pendingReports: Int { stations.reduce(0) { $0 + $1.outbox.pendingCount } }

    /// One station's status now (tests).
    public func status(of id: String) -> StationStatus? {
        stations.first { $0.spec.id == id }.map { $0.engine.status(now: now) }
    }

    /// Applies a fault to a station's device now (tests, interactive tools), as the control
    /// socket's `POST /v1/simulated/faults` does.
    public func inject(_ fault: SimulatedFault, station: String, device: String) throws {
        guard let s = stations.first(where: { $0.spec.id == station }) else { throw SimulationError("no station \(station)") }
        guard let backend = s.services.devices.backend as? SimulatedBackend else { return }
        if let event = try backend.apply(fault, to: device) { s.services.devices.handle(event) }
        s.engine.recheckAll(now: now)
    }

    // MARK: the world around one station, every tick

    private func step(_ s: Station, at t: Timestamp) {
        let offset = t - scenario.start
        // A courier station's news leaves only by bundle, every `every` (the first trip one period in).
        if let every = s.spec.courierEvery, offset >= every * (s.trips + 1) {
            s.trips += 1
            carry(s, at: t)
        }
        // The network, from the scenario's steps (the last one due); a courier station has none.
        if s.spec.courierEvery == nil, let change = s.spec.network.last(where: { $0.at <= offset }) {
            s.network.up.withLock { $0 = change.up }
        }
        // The centre's nightly pull: it works when the server is on and the station reachable.
        if let minute = scenario.centrePullMinute {
            let dayMillis: Int64 = 86_400_000
            let minuteOfDay = Int((t.millis % dayMillis) / 60_000)
            let previousMinute = minuteOfDay - Int(options.tick.wholeMilliseconds / 60_000)
            if minute > previousMinute && minute <= minuteOfDay && FleetSimulator.serverOn(s.spec, minuteOfDay: minute)
                && s.network.up.withLock({ $0 }) {
                s.network.lastPull.withLock { $0 = t }
            }
        }
        // Card blanks used by the working printers; the operator counts them once a day.
        if let stock = s.spec.stock, var blanks = s.blanks {
            let status = s.engine.status(now: t)
            let working = status.devices.filter { $0.device.kind == .cardPrinter && ($0.health == .ok || $0.health == .degraded) }.count
            // Printing during the tick that ends now (none before the start).
            if t > scenario.start { s.printedFraction += Double(working * stock.perPrinterPerDay) * Double(options.tick.wholeMilliseconds) / 86_400_000 }
            let used = Int(s.printedFraction)
            s.printedFraction -= Double(used)
            blanks = max(0, blanks - used)
            s.blanks = blanks
            let day = (t.millis - scenario.start.millis) / 86_400_000
            if day != s.lastStockDay {
                s.lastStockDay = day
                s.engine.setStock(blanks: blanks, now: t)
            }
        }
    }

    /// The alerts firing at each station now.
    public var firingAlerts: [String: [Alert]] {
        var out: [String: [Alert]] = [:]
        for s in stations where !s.services.alerts.firing.isEmpty { out[s.spec.id] = s.services.alerts.firing }
        return out
    }

    /// One courier trip: a bundle of what the station holds past the last trip, uploaded to the
    /// registry (POST /v1/bundles) as a regency office would, then the centre's count of sites that
    /// cannot enrol. The station's outbox keeps its reports (it never hears back while offline).
    private func carry(_ s: Station, at t: Timestamp) {
        guard let key = s.key else { return }
        s.services.uplink?.snapshotIfDue(now: t)
        var trip = CourierTrip(time: t, station: s.spec.id, result: .refused)
        trip.cannotEnrolBefore = cannotEnrolKnown(at: t)
        do {
            let made = try BundleExport.make(outbox: s.outbox, station: s.spec.id, site: s.spec.site, key: key,
                                             since: s.carriedThrough + 1, max: CarryBundle.maxReports, now: t)
            let token = courierTokens["\(s.spec.site.province)/\(s.spec.site.regency)"] ?? tokens[s.spec.id] ?? ""
            switch client.request("POST", registry, path: "/v1/bundles", headers: [("Authorization", "Bearer \(token)")],
                                  body: made.bytes, timeout: .seconds(60)) {
            case .success(let x):
                let o = try? JSONStyle.decode(ImportOutcome.self, from: x.body)
                trip.result = o?.result ?? .refused
                trip.reports = made.header.reports
                trip.stored = o?.stored ?? 0
                trip.known = o?.known ?? 0
                trip.reason = o?.reason ?? (o == nil ? "the registry answered \(x.status)" : nil)
                if trip.result == .imported { s.carriedThrough = made.header.lastSequence }
            case .failure(let e):
                trip.reason = e.description
            }
        } catch {
            trip.result = .imported
            trip.reason = error.description  // nothing new to carry
        }
        trip.cannotEnrolKnown = cannotEnrolKnown(at: t)
        courierTrips.append(trip)
    }

    /// How many sites the registry says cannot enrol at `t` (0 when it cannot be asked).
    private func cannotEnrolKnown(at t: Timestamp) -> Int {
        guard case .success(let x) = client.request("GET", registry, path: "/v1/sites?status=broken&at=\(t.rfc3339)",
                                                     headers: [("Authorization", "Bearer \(readToken)")], timeout: .seconds(30)),
              let sites = try? JSONStyle.decode(SitesReply.self, from: x.body) else { return 0 }
        return sites.sites.count
    }

    static func serverOn(_ spec: SimulatedStationSpec, minuteOfDay: Int) -> Bool {
        guard let hours = spec.serverHours else { return true }
        return hours.contains(minuteOfDay)
    }
}

/// Counts of alert notifications over a simulated fleet.
public struct AlertTally: Codable, Sendable, Equatable {
    /// The wire names: snake_case, written out (no key strategy: JSONStyle).
    enum CodingKeys: String, CodingKey {
        case notifications, fired, resolved, repeats
        case firedByName = "fired_by_name"
    }

    /// Notifications (each one run of every hook, one POST to every webhook).
    public var notifications = 0
    public var fired = 0
    public var resolved = 0
    public var repeats = 0
    /// Alerts fired, by alertname, most first (a list: JSON's snake_case style would rewrite map keys).
    public var firedByName: [NameCount] = []

    public struct NameCount: Codable, Sendable, Equatable {
        public var name: String
        public var count: Int
        public init(name: String, count: Int) {
            self.name = name
            self.count = count
        }
    }

    public init() {}

    mutating func add(_ n: AlertLifecycle.Notification) {
        notifications += 1
        if n.isRepeat { repeats += 1; return }
        for a in n.payload.alerts {
            if a.status == "firing" {
                fired += 1
                let name = a.labels["alertname"] ?? "?"
                if let i = firedByName.firstIndex(where: { $0.name == name }) { firedByName[i].count += 1 } else {
                    firedByName.append(NameCount(name: name, count: 1))
                }
                firedByName.sort { $0.count == $1.count ? $0.name < $1.name : $0.count > $1.count }
            } else {
                resolved += 1
            }
        }
    }
}

/// One courier trip in a simulation (issue 16).
public struct CourierTrip: Codable, Sendable, Equatable {
    /// The wire names: snake_case, written out (no key strategy: JSONStyle).
    enum CodingKeys: String, CodingKey {
        case time, station, result, reports, stored, known, reason
        case cannotEnrolBefore = "cannot_enrol_before"
        case cannotEnrolKnown = "cannot_enrol_known"
    }

    public var time: Timestamp
    public var station: String
    public var result: ImportOutcome.Result
    /// Reports in the bundle, and how many the registry took as new or already held.
    public var reports = 0
    public var stored = 0
    public var known = 0
    public var reason: String?
    /// Sites the registry knew could not enrol just before the bundle, and right after it.
    public var cannotEnrolBefore = 0
    public var cannotEnrolKnown = 0

    public init(time: Timestamp, station: String, result: ImportOutcome.Result) {
        self.time = time
        self.station = station
        self.result = result
    }
}
