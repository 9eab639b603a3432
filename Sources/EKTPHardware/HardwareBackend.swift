import EKTPModel

/// A change on the bus.
public enum HotplugEvent: Sendable, Equatable {
    case added(DeviceSnapshot)
    case removed(DeviceID)
    /// The device is still there but something about it changed (link speed, driver, node).
    case changed(DeviceSnapshot)
}

/// Where devices come from: the real bus (libudev, libusb) or a simulated one driven by a scenario.
///
/// Backends never decide health: they report what is on the bus and answer probes; the station's
/// health engine turns probe results into states.
public protocol HardwareBackend: Sendable {
    /// A short name for logs and status ("simulated: scenarios/demo.yaml", "udev").
    var name: String { get }
    /// What is on the bus now.
    func enumerate() async throws -> [DeviceSnapshot]
    /// Adds, removes and changes, in order, from the moment of the call. One consumer.
    func events() -> AsyncStream<HotplugEvent>
    /// One health check. Must answer within `timeout` (a probe that cannot answer in time is failed
    /// with `ProblemCode.probeTimeout`).
    func probe(_ device: DeviceID, timeout: Duration) async -> ProbeResult
}
