/// Thresholds and timings for the health engine, from the config's `probes` section.
public struct HealthPolicy: Sendable, Equatable {
    /// Time between probes of a device whose state is settled.
    public var interval: Duration = .seconds(10)
    /// Time between probes while a device is between states (a failure seen, not yet confirmed).
    public var retryInterval: Duration = .seconds(2)
    /// A probe not answered within this is failed.
    public var timeout: Duration = .seconds(2)
    /// Failed probes in a row before a device is `failed` (and degraded ones before `degraded`).
    public var failAfter: Int = 3
    /// Good probes in a row before a failed or degraded device is `ok` again.
    public var recoverAfter: Int = 2
    /// How many recent probe results flap detection looks at.
    public var flapWindow: Int = 20
    /// Share of state changes in the window at which a device starts flapping...
    public var flapStart: Double = 0.4
    /// ...and below which it stops (lower, so it does not flap in and out of flapping).
    public var flapStop: Double = 0.2

    public init() {}
}
