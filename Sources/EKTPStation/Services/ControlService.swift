import EKTPCore
import EKTPModel
import EKTPPlatform
import Logging
import ServiceLifecycle

/// Owns the control socket's lifetime: the socket opens at READY (the device monitor's `onReady`
/// starts it, once) and this service closes it and removes the file on shutdown.
public struct ControlService: Service {
    let server: ControlServer

    public init(server: ControlServer) { self.server = server }

    public func run() async throws {
        // Serve until shutdown, then close the socket.
        try? await gracefulShutdown()
        server.stop()
    }
}

/// Logs every event and keeps systemd's STATUS= line current.
public struct EventReporter: Service {
    let engine: StationEngine
    let notifier: SystemdNotifier
    let logger: Logger
    let onEvent: @Sendable (Event) -> Void

    public init(engine: StationEngine, notifier: SystemdNotifier, logger: Logger, onEvent: @escaping @Sendable (Event) -> Void = { _ in }) {
        self.engine = engine
        self.notifier = notifier
        self.logger = logger
        self.onEvent = onEvent
    }

    public func run() async throws {
        let events = engine.subscribe()
        try await cancelOnShutdown {
            for await e in events {
                onEvent(e)
                var meta: Logger.Metadata = ["seq": "\(e.sequence)", "event": "\(e.type.rawValue)", "subject": "\(e.subject)"]
                if let k = e.kind { meta["kind"] = "\(k.rawValue)" }
                let text = [e.deviceName, e.from.map { "\($0) -> \(e.to ?? "")" } ?? e.to, e.reason].compactMap { $0 }.joined(separator: ": ")
                let level: Logger.Level = e.to == "failed" || e.to == "missing" || e.to == "broken" ? .warning : .notice
                logger.log(level: level, "\(text)", metadata: meta)
                if e.type == .kitStatus { notifier.notify(["STATUS": "kit \(engine.kit.summary)"]) }
            }
        }
    }
}
