import ArgumentParser
import EKTPPlatform
import EKTPModel
import EKTPStation

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the station's kit and devices.",
        discussion: "Exit codes: 0 kit ready, 1 degraded, 2 broken, 3 daemon unreachable.")

    @OptionGroup var options: ClientOptions

    func run() throws {
        throw ExitCode(try ClientCommands.status(options.settings))
    }
}

struct Devices: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show every device in detail.")

    @OptionGroup var options: ClientOptions

    func run() throws {
        throw ExitCode(try ClientCommands.devices(options.settings))
    }
}

struct Events: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show recent transitions, oldest first.")

    @OptionGroup var options: ClientOptions

    @Option(name: .long, help: "A sequence number, an RFC 3339 time, or a duration such as 10m (events newer than that).")
    var since: String?

    @Option(name: .long, help: "At most this many events.")
    var limit: Int = 500

    func run() throws {
        try ClientCommands.events(options.settings, since: since, limit: limit)
    }
}

struct Recheck: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Probe every device now (root only).")
    @OptionGroup var options: ClientOptions
    func run() throws {
        _ = try options.call("POST", "/v1/recheck")
        print(tr("recheck requested"))
    }
}

struct Inject: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Inject a fault into a simulated device (simulated backend, root only).",
        discussion: "FAULT: unplug, replug, unresponsive, intermittent, slow_link, permission_denied, latency, blanks, blanks_out, ribbon_out, recover.")

    @OptionGroup var options: ClientOptions
    @Argument(help: "The device's name in the scenario, or its device ID.") var device: String
    @Argument(help: "The fault.") var fault: String
    @Option(name: .long, help: "intermittent: share of probes that fail (0...1).") var failRatio: Double?
    @Option(name: .long, help: "slow_link: the speed (low, full, high).") var speed: String?
    @Option(name: .long, help: "latency: how long probes take (3s).") var delay: String?
    @Option(name: .long, help: "blanks: how many are left.") var count: Int?

    func run() throws {
        let req = ControlAPI.FaultRequest(device: device, fault: fault, failRatio: failRatio, speed: speed, delay: delay, count: count)
        _ = try options.call("POST", "/v1/simulated/faults", body: try JSONStyle.encode(req))
        print(tr("{fault} applied to {device}", ["fault": "\(fault)", "device": "\(device)"]))
    }
}

func percentEncode(_ s: String) -> String {
    var out = ""
    for b in s.utf8 {
        if (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || b == 45 || b == 46 || b == 95 {
            out.append(Character(Unicode.Scalar(b)))
        } else {
            out += "%" + String(hex4(UInt16(b)).suffix(2)).uppercased()
        }
    }
    return out
}

/// The client commands' work, shared by the ArgumentParser commands and the fast path in main.swift.
enum ClientCommands {
    /// `GET /v1/status`, as JSON, or (`format`) as the text the daemon renders in the reader's
    /// language. With a text answer it is printed as it comes and the exit code is returned (from
    /// `Ektpd-Kit-State`); a daemon from before `?format=` answers JSON, which is returned for
    /// the caller to decode and render here (one request either way).
    static func fetchStatus(_ options: ClientSettings, format: String?) throws -> (exit: Int32?, reply: ControlClient.Reply) {
        guard let format else { return (nil, try options.exchange("GET", "/v1/status")) }
        let languages = L10n.requestedLanguages(environment()).joined(separator: ":")
        let reply = try options.exchange("GET", "/v1/status?format=\(format)&lang=\(languages)")
        guard reply.headers["content-type"]?.hasPrefix("text/plain") == true,
              let state = reply.headers[ControlAPI.kitStateHeader.lowercased()].flatMap(KitState.init(rawValue:)) else { return (nil, reply) }
        writeOut(reply.body)
        return (state.exitCode, reply)
    }

    static func status(_ options: ClientSettings) throws -> Int32 {
        let (rendered, reply) = try fetchStatus(options, format: options.json ? nil : "text")
        if let rendered { return rendered }
        let body = reply.body
        do {
            if options.json {
                // The daemon's bytes as they are, and the exit code from its Ektpd-Kit-State field.
                // Decoding the status cost 2 of the command's 7 ms, and even the kit's state alone
                // 1 ms (issue 17: at most half of `monit status`): JSONDecoder's first use of each type
                // in a process instantiates its metadata and looks up its conformances.
                // A daemon from before the field: read the kit's state from the body.
                let state = try reply.headers[ControlAPI.kitStateHeader.lowercased()].flatMap(KitState.init(rawValue:))
                    ?? JSONStyle.decode(KitStateOnly.self, from: body).kit.state
                writeOut(body)
                return state.exitCode
            }
            let status = try JSONStyle.decode(StationStatus.self, from: body)
            writeOut(Array(StatusText.render(status).utf8))
            return status.kit.state.exitCode
        } catch {
            printError("ektpd: the daemon's answer is not a status: \(error)")
            throw ExitCode(4)
        }
    }

    /// What `status --json` reads of the daemon's answer: `{"kit": {"state": ...}}`, the rest ignored.
    private struct KitStateOnly: Decodable {
        struct Kit: Decodable { let state: KitState }
        let kit: Kit
    }

    static func devices(_ options: ClientSettings) throws -> Int32 {
        let (rendered, reply) = try fetchStatus(options, format: options.json ? nil : "devices")
        if let rendered { return rendered }
        let body = reply.body
        let status = try JSONStyle.decode(StationStatus.self, from: body)
        if options.json {
            writeOut(try JSONStyle.encode(status.devices, pretty: true) + [10])
        } else {
            writeOut(Array(StatusText.renderDevices(status).utf8))
        }
        return status.kit.state.exitCode
    }

    static func events(_ options: ClientSettings, since: String?, limit: Int) throws {
        var target = "/v1/events?limit=\(limit)"
        if let since { target += "&since=\(percentEncode(since))" }
        let body = try options.get(target)
        if options.json { writeOut(body); return }
        let events = try JSONStyle.decode([Event].self, from: body)
        writeOut(Array(StatusText.renderEvents(events).utf8))
    }
}

struct Stock: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Card blanks: `ektpd stock set N` records the office's count (sent to the registry).",
        subcommands: [Set.self])

    struct Set: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Record how many card blanks the office has.")
        @OptionGroup var options: ClientOptions
        @Argument(help: "Blanks in the office's store.") var blanks: Int

        func run() throws {
            guard blanks >= 0 else { throw ValidationError("blanks must be 0 or more") }
            _ = try options.call("PUT", "/v1/stock", body: Array("{\"blanks\":\(blanks)}".utf8))
            print(tr("card blanks set to {n}", ["n": L10n.count(blanks)]))
        }
    }
}

struct Metrics: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the daemon's metrics in Prometheus text format (what /metrics serves).")
    @OptionGroup var options: ClientOptions
    func run() throws {
        let body = try options.call("GET", "/metrics")
        print(String(decoding: body, as: UTF8.self), terminator: "")
    }
}

struct Alerts: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the alerts firing now.",
        discussion: "Exit codes: 0 none firing, 1 warnings only, 2 a critical alert, 3 daemon unreachable.")
    @OptionGroup var options: ClientOptions
    func run() throws {
        let body = try options.call("GET", "/v1/alerts")
        let alerts = try Alert.decodeList(body)
        if options.settings.json {
            print(String(decoding: body, as: UTF8.self), terminator: "")
        } else if alerts.isEmpty {
            print(tr("no alerts firing"))
        } else {
            for a in alerts {
                let name = a.labels["alertname"] ?? "?"
                let sev = a.labels["severity"] ?? "?"
                print("\(sev.uppercased()) \(name) " + tr("since {time}", ["time": a.startsAt]) + ": \(L10n.sentence(a.annotations["summary"] ?? "").printable)")
            }
        }
        let critical = alerts.contains { $0.labels["severity"] == "critical" }
        throw ExitCode(critical ? 2 : alerts.isEmpty ? 0 : 1)
    }
}
