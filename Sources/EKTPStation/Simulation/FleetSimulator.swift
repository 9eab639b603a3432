import EKTPHardware
import EKTPModel

/// Runs every station of a scenario on the scenario's clock: each with its own health engine,
/// outbox and registry uplink, delivering over HTTP to a registry. Network outages, the recording
/// server's hours, the centre's nightly pull and card printing are simulated per station.
///
/// Deterministic for a scenario and seed: stations advance in a fixed order in fixed ticks, and
/// every random choice comes from the scenario's seed.
public final class FleetSimulator {
    public struct Options: Sendable {
        public var tick: Duration = .seconds(300)
        public var heartbeat: Duration = .seconds(3600)
        public var snapshotSpacing: Duration = .seconds(300)
        public var batchSize = 200
        /// Probes every 5 minutes, retries a minute apart: faults in a scenario are hours apart, and a
        /// week of 10-second probes for a whole fleet would be millions of probes.
        public var probeInterval: Duration = .seconds(300)
        public var retryInterval: Duration = .seconds(60)
        public init() {}
    }

    final class Station {
        let spec: SimulatedStationSpec
        let sim: StationSimulator
        let outbox: Outbox
        let uplink: RegistryUplink
        var networkUp = true
        var lastPull: Timestamp?
        var syncState: SyncState = .unknown
        var blanks: Int?
        var lastStockDay: Int64 = -1
        var printedFraction = 0.0
        /// What the station's hooks and webhooks would be sent (the daemon's rules and life cycle).
        var alerts: AlertLifecycle
        /// Courier stations (issue 16): the signing key, the last sequence carried, trips made.
        var key: StationKey?
        var carriedThrough: Int64 = 0
        var trips = 0
        init(spec: SimulatedStationSpec, sim: StationSimulator, outbox: Outbox, uplink: RegistryUplink) {
            alerts = AlertLifecycle(config: .init(), station: spec.id, site: spec.site)
            self.spec = spec
            self.sim = sim
            self.outbox = outbox
            self.uplink = uplink
        }
    }

    public let scenario: Scenario
    public let options: Options
    let stations: [Station]
    public private(set) var now: Timestamp
    public private(set) var delivered = 0
    public private(set) var failedRounds = 0
    /// The alert notifications the stations made, as their hooks and webhooks would get them.
    public private(set) var alerts = AlertTally()
    /// Told the scenario time before each tick's deliveries: the embedded registry's clock follows it.
    public var onTime: (Timestamp) -> Void = { _ in }
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
        self.now = scenario.start
        var stations: [Station] = []
        var policy = HealthPolicy()
        policy.interval = options.probeInterval
        policy.retryInterval = options.retryInterval
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
            var config = RegistryUplinkConfig(url: registry, token: token)
            config.heartbeat = options.heartbeat
            config.snapshotSpacing = options.snapshotSpacing
            config.batchSize = options.batchSize
            config.backoffBase = .seconds(60)
            config.backoffMax = .seconds(3600)
            config.timeout = .seconds(30)
            let uplink = RegistryUplink(config: config, outbox: outbox, engine: engine, seed: scenario.seed ^ fnv1a("uplink/" + spec.id))
            let station = Station(spec: spec, sim: StationSimulator(backend: backend, engine: engine, start: scenario.start),
                                  outbox: outbox, uplink: uplink)
            station.blanks = spec.stock?.blanks
            if spec.courierEvery != nil {
                do { station.key = try StationKey.load(path: "\(workDirectory)/\(spec.id).station.key", create: true) } catch {
                    throw SimulationError("station \(spec.id): \(error)")
                }
                station.networkUp = false
            }
            stations.append(station)
        }
        self.stations = stations
    }

    public var end: Timestamp { scenario.start.adding(scenario.duration) }

    /// Boots every station at the scenario's start.
    public func boot() async throws {
        onTime(now)
        for s in stations {
            try await s.sim.boot()
            step(s, at: now)
        }
    }

    /// Advances the whole fleet to `until` in ticks; `progress` after every tick.
    public func run(until: Timestamp, progress: (Timestamp) -> Void = { _ in }) async {
        while now < until {
            let t = min(until, now.adding(options.tick))
            onTime(t)
            for s in stations {
                await s.sim.run(until: t)
                step(s, at: t)
            }
            now = t
            progress(now)
        }
    }

    /// Delivers what is left, for stations whose network is up (a last round at the end).
    public func flush() {
        for s in stations where s.networkUp { deliver(s, at: now, force: true) }
    }

    /// What every station's outbox still holds.
    public var pendingReports: Int { stations.reduce(0) { $0 + $1.outbox.pendingCount } }

    /// One station's status now (tests).
    public func status(of id: String) -> StationStatus? {
        stations.first { $0.spec.id == id }.map { $0.sim.engine.status(now: now) }
    }

    /// Applies a fault to a station's device now (tests, interactive tools).
    public func inject(_ fault: SimulatedFault, station: String, device: String) throws {
        guard let s = stations.first(where: { $0.spec.id == station }) else { throw SimulationError("no station \(station)") }
        try s.sim.inject(fault, into: device)
    }

    // MARK: one station, one tick

    private func step(_ s: Station, at t: Timestamp) {
        let engine = s.sim.engine
        let offset = t - scenario.start
        // A courier station's news leaves only by bundle, every `every` (the first trip one period in).
        if let every = s.spec.courierEvery, offset >= every * (s.trips + 1) {
            s.trips += 1
            carry(s, at: t)
        }
        // The network, from the scenario's steps (the last one due); a courier station has none.
        if s.spec.courierEvery == nil, let change = s.spec.network.last(where: { $0.at <= offset }) {
            if change.up != s.networkUp {
                s.networkUp = change.up
                // As the daemon's UplinkMonitor says it for a target named "registry".
                engine.record(type: .uplinkReachability, subject: "uplink:registry", from: change.up ? "unreachable" : "reachable",
                              to: change.up ? "reachable" : "unreachable",
                              reason: change.up ? "registry reachable again (the network is back)"
                                  : "registry unreachable: network down; reports wait in the outbox until it is back", now: t)
            }
        }
        // The centre's nightly pull: it works when the server is on and the station reachable.
        if let minute = scenario.centrePullMinute {
            let dayMillis: Int64 = 86_400_000
            let minuteOfDay = Int((t.millis % dayMillis) / 60_000)
            let previousMinute = minuteOfDay - Int(options.tick.wholeMilliseconds / 60_000)
            if minute > previousMinute && minute <= minuteOfDay && serverOn(s, minuteOfDay: minute) && s.networkUp {
                s.lastPull = t
            }
            let limit = scenario.centrePullLimit
            let state: SyncState
            let reason: String
            if let last = s.lastPull {
                state = t - last > limit ? .stale : .fresh
                reason = state == .fresh ? "pulled \(spokenDuration(t - last)) ago" : "last pulled \(spokenDuration(t - last)) ago, over the limit of \(spokenDuration(limit))"
            } else if offset >= limit {
                state = .never
                reason = "the centre has never pulled this station's data"
            } else {
                state = .unknown
                reason = "not pulled yet"
            }
            if state != s.syncState {
                if state != .unknown {
                    engine.record(type: .syncState, subject: "centre_pull", from: s.syncState.rawValue, to: state.rawValue, reason: reason, now: t)
                }
                s.syncState = state
            }
            engine.update(sync: SyncStatus(state: state, lastPull: s.lastPull, limitSeconds: limit.wholeMilliseconds / 1000, reason: reason))
        }
        // Card blanks used by the working printers; the operator counts them once a day.
        if let stock = s.spec.stock, var blanks = s.blanks {
            let status = engine.status(now: t)
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
                engine.setStock(blanks: blanks, now: t)
            }
        }
        // Events are in the outbox already (the journal); a snapshot if due.
        s.uplink.snapshotIfDue(now: t)
        if s.networkUp { deliver(s, at: t, force: false) }
        if engine.isSettled {
            s.alerts.observe(AlertRules.evaluate(engine.status(now: t), blanksLow: AlertConfig().blanksLow), now: t)
            while let n = s.alerts.take(now: t) { alerts.add(n) }
        }
    }

    /// The alerts firing at each station now.
    public var firingAlerts: [String: [Alert]] {
        var out: [String: [Alert]] = [:]
        for s in stations where !s.alerts.firing.isEmpty { out[s.spec.id] = s.alerts.firing }
        return out
    }

    /// One courier trip: a bundle of what the station holds past the last trip, uploaded to the
    /// registry (POST /v1/bundles) as a regency office would, then the centre's count of sites that
    /// cannot enrol. The station's outbox keeps its reports (it never hears back while offline).
    private func carry(_ s: Station, at t: Timestamp) {
        guard let key = s.key else { return }
        s.uplink.snapshotIfDue(now: t)
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

    private func deliver(_ s: Station, at t: Timestamp, force: Bool) {
        let r = s.uplink.round(now: { t }, force: force)
        delivered += r.delivered
        if r.error != nil { failedRounds += 1 }
    }

    private func serverOn(_ s: Station, minuteOfDay: Int) -> Bool {
        guard let hours = s.spec.serverHours else { return true }
        return hours.contains(minuteOfDay)
    }
}

/// Counts of alert notifications over a simulated fleet.
public struct AlertTally: Codable, Sendable, Equatable {
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
