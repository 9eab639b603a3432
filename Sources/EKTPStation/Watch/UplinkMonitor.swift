#if canImport(Glibc)
import Glibc
#endif
import EKTPCore
import EKTPModel
import EKTPPlatform
import Synchronization

public struct UplinkConfig: Sendable, Equatable {
    public struct Target: Sendable, Equatable {
        public var name: String
        public var host: String
        public var port: UInt16
        public init(name: String, host: String, port: UInt16) {
            self.name = name
            self.host = host
            self.port = port
        }
    }
    public var targets: [Target]
    public var interval: Duration = .seconds(30)
    public var timeout: Duration = .seconds(5)
    /// Failed checks in a row before a target is unreachable (one success makes it reachable).
    public var failAfter = 2
    /// Where /proc is (tests use a fake tree).
    public var procRoot = "/proc/self"  // /proc/self/net works under ProcSubset=pid
    public init(targets: [Target]) { self.targets = targets }
}

/// Reachability and latency of the registry and other hosts (TCP connect), and which interface
/// carries the default route, so a carrier switch shows as an event.
public final class UplinkMonitor: Sendable {
    let config: UplinkConfig
    let engine: StationEngine

    struct State {
        var targets: [UplinkReachability]
        var route: String??
    }
    private let state: Mutex<State>

    /// A TCP connect to a target: its latency in milliseconds, or why it failed. `ektpd simulate`
    /// gives the scenario's network instead.
    public typealias Reach = @Sendable (UplinkConfig.Target, Duration) -> Result<Double, NetError>
    let reach: Reach
    /// The interface of the default route (nil: none); `/proc/net/route` unless given.
    let route: @Sendable () -> String?

    public init(config: UplinkConfig, engine: StationEngine, now: Timestamp, reach: Reach? = nil,
                route: (@Sendable () -> String?)? = nil) {
        self.reach = reach ?? UplinkMonitor.tcpReach
        let procRoot = config.procRoot
        self.route = route ?? { UplinkMonitor.defaultInterface(procRoot: procRoot) }
        self.config = config
        self.engine = engine
        state = Mutex(State(targets: config.targets.map { UplinkReachability(name: $0.name, address: "\($0.host):\($0.port)", failAfter: config.failAfter, now: now) },
                             route: nil))
    }

    /// The interface of the default route with the lowest metric, from `/proc/net/route`.
    public static func defaultInterface(procRoot: String) -> String? {
        guard let text = readWholeFileText(procRoot + "/net/route") else { return nil }
        var best: (String, Int)?
        for line in text.split(separator: "\n").dropFirst() {
            let f = line.split(whereSeparator: { $0 == "\t" || $0 == " " })
            guard f.count >= 7, f[1] == "00000000", let flags = Int(f[3], radix: 16), flags & 1 == 1, let metric = Int(f[6]) else { continue }
            if best == nil || metric < best!.1 { best = (String(f[0]), metric) }
        }
        return best?.0
    }

    /// A real TCP connect, timed on the monotonic clock.
    public static let tcpReach: Reach = { t, timeout in
        let start = monotonicMillisPrecise()
        switch tcpConnect(host: t.host, port: t.port, timeout: timeout) {
        case .success(let fd):
            close(fd)
            return .success(monotonicMillisPrecise() - start)
        case .failure(let e):
            return .failure(e)
        }
    }

    public func check(now: @Sendable () -> Timestamp) async {
        let results = config.targets.map { reach($0, config.timeout) }
        let route = self.route()
        let t = now()
        var events: [(EventType, EventSubject, String?, String?, String)] = []
        let status = state.withLock { s -> UplinkStatus in
            for (i, r) in results.enumerated() {
                if let change = s.targets[i].observe(r, now: t) {
                    events.append((.uplinkReachability, .uplink(target: s.targets[i].name), change.from, change.to, change.reason))
                }
            }
            if let previous = s.route, previous != route {
                events.append((.uplinkRoute, .uplinkRoute, previous ?? "none", route ?? "none",
                               route.map { "default route now via \($0)" + (previous.flatMap { $0 }.map { " (was \($0))" } ?? "") } ?? "no default route: the station is offline"))
            }
            s.route = .some(route)
            return UplinkStatus(defaultInterface: route, targets: s.targets.map(\.status))
        }
        engine.update(uplink: status)
        for e in events { engine.record(type: e.0, subject: e.1, from: e.2, to: e.3, reason: e.4, now: t) }
    }
}
