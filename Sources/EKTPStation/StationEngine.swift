import EKTPHardware
import EKTPCore
import EKTPModel
import EKTPPlatform
import Synchronization

/// The station's state: devices, their health machines, the kit. Every event it makes goes through
/// the `EventJournal`, which numbers and stores it before anyone sees it.
///
/// Thread-safe (one lock, never held across I/O or `await`), so the control socket's thread reads it
/// while the monitor updates it. Time is always passed in, so tests and `ektpd simulate` drive it
/// with a virtual clock.
public final class StationEngine: Sendable {
    public let stationID: String
    public let site: Site
    public let backendName: String
    public let profile: KitProfile
    public let policy: HealthPolicy
    public let startedAt: Timestamp

    struct Record {
        var device: DeviceSnapshot
        var machine: DeviceHealthMachine
        var lastProbe: Timestamp?
        var nextProbe: Timestamp
        var blanks: Int?
        var probing = false
    }

    struct State {
        var records: [DeviceID: Record] = [:]
        var kit: KitStatus
        /// Kit changes are not events until the first probe round is done (no startup churn).
        var settled = false
        var server: ServerStatus?
        var sync: SyncStatus?
        var uplink: UplinkStatus?
        var power: PowerStatus?
        /// Card blanks as the operator last counted them (`ektpd stock set`).
        var operatorStock: StockStatus?
        var delivery: DeliveryStatus?
        /// The sequence of the last snapshot taken, and of the newest event then.
        var snapshotAt: Int64 = 0
        var eventsAtSnapshot: Int64 = -1
    }

    private let state: Mutex<State>
    /// Numbers, stores and shows every event and snapshot.
    public let journal: EventJournal
    /// The wall clock minus the engine's (steady) clock now: what turns the engine's times into the
    /// wall-clock times a status shows (`StationClock.wallOffset`; zero on a simulation's clock).
    public let wallOffset: @Sendable () -> Duration

    /// An engine whose events go through `journal` (the daemon's, over the outbox).
    public init(stationID: String, site: Site, backendName: String, profile: KitProfile, policy: HealthPolicy,
                now: Timestamp, journal: EventJournal, wallOffset: @escaping @Sendable () -> Duration = { .zero }) {
        self.journal = journal
        self.wallOffset = wallOffset
        self.stationID = stationID
        self.site = site
        self.backendName = backendName
        self.profile = profile
        self.policy = policy
        self.startedAt = now
        let (kitState, problems) = KitEvaluator.evaluate(profile: profile, devices: [])
        self.state = Mutex(State(kit: KitStatus(state: kitState, problems: problems, since: now)))
    }

    /// An engine with an in-memory journal (tests on a virtual clock).
    public convenience init(stationID: String, site: Site, backendName: String, profile: KitProfile, policy: HealthPolicy,
                            now: Timestamp) {
        self.init(stationID: stationID, site: site, backendName: backendName, profile: profile, policy: policy, now: now,
                  journal: EventJournal(outbox: nil, stationID: stationID))
    }

    // MARK: inputs

    /// The first enumeration: every device unknown and due for a probe now.
    public func start(with devices: [DeviceSnapshot], now: Timestamp) {
        state.withLock { s in
            for d in devices { s.records[d.id] = Record(device: d, machine: DeviceHealthMachine(policy: policy, now: now), nextProbe: now) }
            emit(&s, Event(sequence: 0, time: now, station: stationID, type: .daemon, about: .daemon,
                           to: "running", reason: "started with \(devices.count) device\(devices.count == 1 ? "" : "s") on the bus (\(backendName))"))
            reevaluate(&s, now: now)
        }
    }

    /// The first probe round is done: from now on kit changes are events. Emits the kit's first state.
    public func markSettled(now: Timestamp) {
        state.withLock { s in
            guard !s.settled else { return }
            s.settled = true
            let (kitState, problems) = KitEvaluator.evaluate(profile: profile, devices: deviceStatuses(s))
            s.kit = KitStatus(state: kitState, problems: problems, since: now)
            emit(&s, Event(sequence: 0, time: now, station: stationID, type: .kitStatus, about: .kit,
                           to: kitState.rawValue, reason: s.kit.summary))
        }
    }

    public func handle(_ event: HotplugEvent, now: Timestamp) {
        state.withLock { s in
            switch event {
            case .added(let d):
                // A different device of the same kind replaces one that went missing.
                for (id, r) in s.records where r.device.kind == d.kind && r.machine.health == .missing && id != d.id {
                    s.records[id] = nil
                }
                if var r = s.records[d.id] {
                    r.device = d
                    r.nextProbe = now
                    let t = r.machine.added(at: now)
                    s.records[d.id] = r
                    emit(&s, Event(sequence: 0, time: now, station: stationID, type: .deviceAdded, about: .device(d.id),
                                   kind: d.kind, deviceName: d.name, to: "present", reason: "plugged back in at \(d.portPath)"))
                    transitions(t, of: r.device, &s, now: now)
                } else {
                    s.records[d.id] = Record(device: d, machine: DeviceHealthMachine(policy: policy, now: now), nextProbe: now)
                    emit(&s, Event(sequence: 0, time: now, station: stationID, type: .deviceAdded, about: .device(d.id),
                                   kind: d.kind, deviceName: d.name, to: "present", reason: "plugged in at \(d.portPath) (\(d.kindSource))"))
                }
            case .removed(let id):
                guard var r = s.records[id] else { return }
                let t = r.machine.removed(at: now, reason: "not on the bus: plug it back into port \(r.device.portPath)")
                s.records[id] = r
                emit(&s, Event(sequence: 0, time: now, station: stationID, type: .deviceRemoved, about: .device(id),
                               kind: r.device.kind, deviceName: r.device.name, from: "present", to: "absent", reason: "unplugged from \(r.device.portPath)"))
                transitions(t, of: r.device, &s, now: now)
            case .changed(let d):
                guard var r = s.records[d.id] else { return }
                r.device = d
                r.nextProbe = now
                s.records[d.id] = r
            }
            reevaluate(&s, now: now)
        }
    }

    /// Devices whose probe is due; they are marked as being probed until `record` is called.
    public func dueForProbe(now: Timestamp) -> [DeviceID] {
        state.withLock { s in
            // The IDs first, then the marks: mutating the dictionary while iterating it would copy
            // it whole on every call (issue 17: 600 devices, a copy per probe wake-up).
            var due: [DeviceID] = []
            for (id, r) in s.records where !r.probing && r.machine.health != .missing && r.nextProbe <= now { due.append(id) }
            for id in due { s.records[id]?.probing = true }
            return due.sorted()
        }
    }

    /// When the next probe is due (nil when there is nothing to probe).
    public func nextProbeTime() -> Timestamp? {
        state.withLock { s in
            // One pass, no intermediate arrays of records.
            var soonest: Timestamp?
            for r in s.records.values where !r.probing && r.machine.health != .missing {
                if soonest == nil || r.nextProbe < soonest! { soonest = r.nextProbe }
            }
            return soonest
        }
    }

    /// Makes every present device due now (`ektpd recheck`).
    public func recheckAll(now: Timestamp) {
        state.withLock { s in for id in s.records.keys { s.records[id]!.nextProbe = now } }
    }

    public func record(_ result: ProbeResult, for id: DeviceID, now: Timestamp) {
        state.withLock { s in
            guard var r = s.records[id] else { return }
            r.probing = false
            guard r.machine.health != .missing else {
                s.records[id] = r
                return
            }
            let before = (r.machine.health, r.machine.flapping, r.machine.reason)
            let t = r.machine.probed(result, at: now)
            r.lastProbe = now
            if let b = result.blanksRemaining { r.blanks = b }
            r.nextProbe = now.adding(r.machine.isSettling ? policy.retryInterval : policy.interval)
            s.records[id] = r
            transitions(t, of: r.device, &s, now: now)
            // The kit is judged again only when this device's health, flapping or reason changed: a
            // probe that finds things as they were costs O(1), not a pass over the whole kit
            // (issue 17: with 600 devices every probe re-sorted them all, 14 % of a core).
            // Before the first round is done the kit is judged once, at `markSettled`: judging it
            // after each first probe was O(n²) at start (600 devices: 360,000 device statuses).
            if s.settled && (!t.isEmpty || before != (r.machine.health, r.machine.flapping, r.machine.reason)) {
                reevaluate(&s, now: now)
            }
        }
    }

    // MARK: outputs

    /// The station's status, its times on the wall clock (`now` is the engine's steady time).
    public func status(now: Timestamp) -> StationStatus {
        let seq = journal.lastSequence
        var st = state.withLock { s in status(s, now: now, lastSequence: seq) }
        if journal.outbox != nil { st.outbox = journal.outboxStatus }
        return st.shiftingClock(by: wallOffset())
    }

    private func status(_ s: State, now: Timestamp, lastSequence: Int64) -> StationStatus {
        let devices = deviceStatuses(s)
        var stock = s.operatorStock
        if stock == nil {
            let counted = devices.compactMap(\.blanksRemaining)
            if !counted.isEmpty {
                let at = devices.compactMap { $0.blanksRemaining == nil ? nil : $0.lastProbe }.max() ?? now
                stock = StockStatus(blanks: counted.reduce(0, +), source: .printer, updatedAt: at)
            }
        }
        var out = StationStatus(station: stationID, site: site, backend: backendName, kit: s.kit, devices: devices,
                                lastSequence: lastSequence, startedAt: startedAt, now: now, version: ektpVersion,
                                server: s.server, sync: s.sync, uplink: s.uplink, power: s.power, stock: stock)
        out.delivery = s.delivery
        return out
    }

    /// Takes a snapshot of the whole status through the journal (numbered and stored like an event).
    /// Returns its sequence number.
    @discardableResult
    public func snapshot(now: Timestamp) -> Int64 {
        state.withLock { s in
            let offset = wallOffset()
            let seq = journal.recordSnapshot(time: now) { seq in status(s, now: now, lastSequence: seq).shiftingClock(by: offset) }
            s.eventsAtSnapshot = seq - 1
            s.snapshotAt = seq
            return seq
        }
    }

    /// Whether something happened since the last snapshot (an event, or none taken yet).
    public var changedSinceSnapshot: Bool {
        let last = journal.lastSequence
        return state.withLock { s in last != s.snapshotAt || s.eventsAtSnapshot < 0 }
    }

    /// The operator's count of card blanks (`ektpd stock set`); an event records it.
    @discardableResult
    public func setStock(blanks: Int, now: Timestamp) -> Event {
        let previous = state.withLock { s -> Int? in
            defer { s.operatorStock = StockStatus(blanks: blanks, source: .operator, updatedAt: now) }
            return s.operatorStock?.blanks
        }
        return record(type: .stockLevel, subject: .stock, from: previous.map(String.init), to: String(blanks),
                      reason: "operator set card blanks to \(blanks)", now: now)
    }

    public var kit: KitStatus { state.withLock { $0.kit } }
    /// The first probe round is done (devices and kit are known, not guessed).
    public var isSettled: Bool { state.withLock { $0.settled } }

    public func device(_ id: DeviceID) -> DeviceStatus? {
        state.withLock { s in deviceStatuses(s).first { $0.device.id == id } }
    }

    /// Recent events (the journal's ring), oldest first.
    public func events(sinceSequence seq: Int64, limit: Int = .max) -> [Event] {
        journal.events(sinceSequence: seq, limit: limit)
    }

    public func events(since time: Timestamp, limit: Int = .max) -> [Event] {
        journal.events(since: time, limit: limit)
    }

    /// Every event from now on, in order (each already stored).
    public func subscribe() -> AsyncStream<Event> { journal.subscribe() }

    /// Records the daemon's stop (stored before this returns) and ends every subscription.
    public func stop(now: Timestamp, reason: String) {
        state.withLock { s in
            emit(&s, Event(sequence: 0, time: now, station: stationID, type: .daemon, about: .daemon,
                           from: "running", to: "stopped", reason: reason))
        }
        journal.finish()
    }

    // MARK: the station's other watchers (server, centre pull, uplink, power)

    public func update(server: ServerStatus) { state.withLock { $0.server = server } }
    public func update(sync: SyncStatus) { state.withLock { $0.sync = sync } }
    public func update(uplink: UplinkStatus) { state.withLock { $0.uplink = uplink } }
    public func update(power: PowerStatus) { state.withLock { $0.power = power } }
    public func update(delivery: DeliveryStatus) { state.withLock { $0.delivery = delivery } }

    /// Records an event from one of the other watchers, in the station's sequence.
    @discardableResult
    public func record(type: EventType, subject: EventSubject, from: String? = nil, to: String? = nil, reason: String?, now: Timestamp) -> Event {
        journal.record(Event(sequence: 0, time: now, station: stationID, type: type, about: subject,
                             from: from, to: to, reason: reason))
    }

    // MARK: internals

    private func deviceStatuses(_ s: State) -> [DeviceStatus] {
        s.records.values.map { r in
            DeviceStatus(device: r.device, health: r.machine.health, flapping: r.machine.flapping, since: r.machine.since,
                         reason: r.machine.reason, code: r.machine.code, lastProbe: r.lastProbe, blanksRemaining: r.blanks)
        }.sorted { a, b in a.device.kind != b.device.kind ? a.device.kind < b.device.kind : a.device.id < b.device.id }
    }

    private func transitions(_ ts: [DeviceHealthMachine.Transition], of d: DeviceSnapshot, _ s: inout State, now: Timestamp) {
        for t in ts {
            switch t {
            case let .health(from, to, reason):
                emit(&s, Event(sequence: 0, time: now, station: stationID, type: .deviceHealth, about: .device(d.id),
                               kind: d.kind, deviceName: d.name, from: from.rawValue, to: to.rawValue, reason: reason))
            case let .flapping(on, reason):
                emit(&s, Event(sequence: 0, time: now, station: stationID, type: .deviceFlapping, about: .device(d.id),
                               kind: d.kind, deviceName: d.name, from: on ? "stable" : "flapping", to: on ? "flapping" : "stable", reason: reason))
            }
        }
    }

    private func reevaluate(_ s: inout State, now: Timestamp) {
        let (kitState, problems) = KitEvaluator.evaluate(profile: profile, devices: deviceStatuses(s))
        let old = s.kit
        if !s.settled {
            s.kit = KitStatus(state: kitState, problems: problems, since: now)
        } else if kitState != old.state {
            s.kit = KitStatus(state: kitState, problems: problems, since: now)
            emit(&s, Event(sequence: 0, time: now, station: stationID, type: .kitStatus, about: .kit,
                           from: old.state.rawValue, to: kitState.rawValue, reason: s.kit.summary))
        } else {
            s.kit.problems = problems
        }
    }

    /// Through the journal, under the engine's lock, so events leave in the order they happened.
    private func emit(_ s: inout State, _ e: Event) {
        journal.record(e)
    }
}
