import ArgumentParser
import EKTPHardware
import EKTPModel
import EKTPPlatform
import EKTPStation

struct Scan: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the USB devices on this machine's bus now, classified (libudev and libusb; no daemon needed).")

    @Flag(name: .long, help: "Also probe each device once.")
    var probe = false

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    @Option(name: .long, help: "The station group device nodes must be usable by.")
    var deviceGroup = "ektp"

    func run() async throws {
        var options = RealBackendOptions()
        options.deviceGroup = deviceGroup
        let backend: LinuxUSBBackend
        do { backend = try LinuxUSBBackend(catalogue: .builtIn(), options: options) } catch {
            printError("ektpd: \(error.description)")
            throw ExitCode(1)
        }
        let devices = try await backend.enumerate()
        var statuses: [DeviceStatus] = []
        let now = wallClockNow()
        for d in devices {
            var s = DeviceStatus(device: d, health: .unknown, since: now)
            if probe {
                let r = await backend.probe(d.id, timeout: .seconds(2))
                s.health = r.outcome == .ok ? .ok : r.outcome == .degraded ? .degraded : .failed
                s.reason = r.reason
                s.code = r.code
                s.lastProbe = now
            }
            statuses.append(s)
        }
        if json {
            writeOut(try JSONStyle.encode(statuses, pretty: true) + [10])
            return
        }
        if statuses.isEmpty { print(tr("no USB devices on the bus")); return }
        for s in statuses {
            let d = s.device
            // Descriptor strings come from the device: escaped like `status` and `devices` do, so an
            // ESC sequence in a product string cannot reach the operator's terminal.
            var line = "\(d.portPath.printable)  \(d.vendorId.printable):\(d.productId.printable)  \(d.kind.rawValue) (\(d.kindSource.printable))  \(d.name.printable)"
            if probe { line += "  -> \(s.health.rawValue)\(s.reason.map { ": \(L10n.sentence($0).printable)" } ?? "")" }
            print(line)
        }
    }
}
