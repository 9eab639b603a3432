import ArgumentParser

struct Ektpd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ektpd",
        abstract: "Keeps an e-KTP enrolment station's kit working, and tells the centre when it is not.",
        discussion: """
            Exit codes of status, devices and events: 0 kit ready, 1 kit degraded, 2 kit broken,
            3 daemon unreachable (the message names the socket), 4 bad usage or input.
            """,
        version: "ektpd 0.1.0",
        subcommands: [Run.self, Status.self, Devices.self, Events.self, Alerts.self, Metrics.self, CheckConfig.self, Inject.self, Recheck.self, Stock.self, Export.self, Simulate.self, PrintUdevRules.self, Scan.self])
}
