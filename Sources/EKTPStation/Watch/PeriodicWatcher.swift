import ServiceLifecycle

/// Runs a check now and then every `interval` until shutdown: the shape of the sync, uplink and
/// power watchers, whose logic lives in their own types.
public struct PeriodicWatcher: Service {
    let interval: Duration
    let check: @Sendable () async -> Void

    public init(interval: Duration, check: @escaping @Sendable () async -> Void) {
        self.interval = interval
        self.check = check
    }

    public func run() async throws {
        try await cancelOnShutdown {
            while !Task.isCancelled {
                await check()
                try await Task.sleep(for: interval)
            }
        }
    }
}
