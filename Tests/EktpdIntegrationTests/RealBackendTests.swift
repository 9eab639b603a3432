import EKTPModel
import Foundation
import Glibc
import EKTPTesting
import Testing

let fixtures = repoRoot + "/Tests/EktpdIntegrationTests/umockdev"
let usbRoot = "/sys/devices/pci0000:00/0000:00:14.0/usb1"

/// The testbed helper, compiled once per test run; nil (and the reason) when umockdev or a C
/// compiler is missing. scripts/install-deps.sh installs both, so CI always has them.
let testbedHelper: (path: String?, why: String) = {
    guard FileManager.default.isExecutableFile(atPath: "/usr/bin/umockdev-wrapper") else {
        return (nil, "umockdev is not installed (apt-get install umockdev libumockdev-dev): real-backend tests SKIPPED")
    }
    let out = FileManager.default.temporaryDirectory.appendingPathComponent("ektpd-testbed-helper-\(getpid())").path
    let build = Process()
    build.executableURL = URL(fileURLWithPath: "/bin/sh")
    build.arguments = ["-c", "cc \(fixtures)/testbed-helper.c -o \(out) $(pkg-config --cflags --libs umockdev-1.0)"]
    let err = Pipe()
    build.standardError = err
    do { try build.run() } catch { return (nil, "cannot run cc: \(error): real-backend tests SKIPPED") }
    build.waitUntilExit()
    guard build.terminationStatus == 0 else {
        return (nil, "cannot build the testbed helper (libumockdev-dev and a C compiler are needed): "
                + String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
    }
    return (out, "")
}()

/// `ektpd run` on the real backend inside a umockdev testbed whose devices the test plugs and unplugs.
final class TestbedDaemon {
    let daemon: RunningDaemon
    let stdinPipe = Pipe()
    let stdoutPipe = Pipe()

    init(config extra: String = "") throws {
        let helper = try #require(testbedHelper.path, Comment(rawValue: testbedHelper.why))
        daemon = try RunningDaemon(scenario: "", config: extra, backend: "{type: real, device_group: root}",
                                   launcher: ["/usr/bin/umockdev-wrapper", helper, "--"],
                                   stdin: stdinPipe, stdout: stdoutPipe)
    }

    /// Sends one command to the helper and waits for its answer.
    @discardableResult
    func send(_ line: String) throws -> String {
        stdinPipe.fileHandleForWriting.write(Data((line + "\n").utf8))
        var answer = Data()
        while !answer.contains(10) {
            let chunk = stdoutPipe.fileHandleForReading.availableData
            if chunk.isEmpty {
                let stderr = daemon.stopAndReadStderr()
                // Crashed (signal) or exited: says which, for a failure seen once and not reproduced since.
                let how = "\(daemon.process.terminationReason == .uncaughtSignal ? "killed by signal" : "exit status") \(daemon.process.terminationStatus)"
                throw HarnessError("the testbed helper ended (\(how)) at '\(line)'; stderr: \(stderr)")
            }
            answer.append(chunk)
        }
        let text = String(decoding: answer, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard text == "ok" else { throw HarnessError("testbed helper: \(text) (for '\(line)')") }
        return text
    }

    /// Plugs a device in, with its recorded USB traffic when there is a recording.
    func plug(_ fixture: String, port: String) throws {
        try send("add \(fixtures)/\(fixture).umockdev \(usbRoot)/\(port)")
        let ioctl = "\(fixtures)/\(fixture).ioctl"
        if let text = try? String(contentsOfFile: ioctl, encoding: .utf8),
           let node = text.split(separator: "\n").first?.split(separator: " ").dropFirst().first {
            try send("ioctl \(node) \(ioctl)")
        }
        // how its kernel nodes answer: a printer's port status, a camera's capabilities
        if let answers = try? String(contentsOfFile: "\(fixtures)/\(fixture).answers", encoding: .utf8) {
            for line in answers.split(separator: "\n") { try send(String(line)) }
        }
    }

    func unplug(port: String) throws { try send("remove \(usbRoot)/\(port)") }

    /// What our udev rule does on a station: the kit's nodes to the station group, mode 0660.
    func applyUdevPermissions() throws { try send("chmod 660") }

    /// SIGTERM to the daemon through the helper; returns the daemon's exit status.
    func stop() throws -> Int32 {
        stdinPipe.fileHandleForWriting.write(Data("quit\n".utf8))
        let rest = String(decoding: stdoutPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        daemon.process.waitUntilExit()
        guard let line = rest.split(separator: "\n").first(where: { $0.hasPrefix("exit ") }), let code = Int32(line.dropFirst(5)) else {
            throw HarnessError("no exit status from the helper: \(rest)")
        }
        return code
    }
}

@Suite(.serialized, .enabled(if: testbedHelper.path != nil, Comment(rawValue: testbedHelper.why)))
struct RealBackendTests {
    let fast = "probes: {interval: 300ms, retry_interval: 100ms, timeout: 200ms, fail_after: 2, recover_after: 1}"

    @Test func emptyBusIsABrokenKitAndPluggingDevicesFixesItWithoutARestart() throws {
        let t = try TestbedDaemon(config: fast)
        try t.daemon.waitReady()
        let (r, empty) = try t.daemon.status()
        #expect(r.status == 2)
        #expect(empty?.devices.isEmpty == true)
        #expect(empty?.backend == "udev+libusb")
        #expect(empty?.kit.problems.map(\.reason) == ["no fingerprint scanner connected", "no iris scanner connected",
                                                       "no camera connected", "no signature pad connected"])
        for (f, port) in [("fingerprint", "1-1"), ("iris", "1-2"), ("camera", "1-3"), ("signature-pad", "1-4.1")] {
            try t.plug(f, port: port)
        }
        try t.applyUdevPermissions()
        let ready = try t.daemon.waitForStatus { $0.kit.state == .ready }
        #expect(ready.devices.count == 4)
        // unplugged: the engine hears it through libudev's monitor
        try t.unplug(port: "1-1")
        let broken = try t.daemon.waitForStatus { $0.kit.state == .broken }
        #expect(broken.devices.first { $0.device.kind == .fingerprint }?.health == .missing)
        #expect(broken.kit.problems.first?.reason.contains("plug it back into port 1-1") == true)
        // and back
        try t.plug("fingerprint", port: "1-1")
        try t.applyUdevPermissions()
        _ = try t.daemon.waitForStatus { $0.kit.state == .ready }
        let events = try JSONStyle.decode([Event].self, from: Array(try ektpd(["events", "--json", "--socket", t.daemon.socket]).stdout.utf8))
        #expect(events.filter { $0.type == .deviceAdded && $0.subject == "1-1:05ba:000a" }.count == 2)
        #expect(events.filter { $0.type == .deviceRemoved }.count == 1)
        #expect(try t.stop() == 0)
    }

    /// Regression: the udev monitor was once set up on its thread after start-up went on, and a
    /// device plugged in that window was never seen. Plug during start-up, before READY.
    @Test func aDevicePluggedDuringStartUpIsSeen() throws {
        for _ in 0..<3 {
            let t = try TestbedDaemon(config: fast)
            try t.plug("fingerprint", port: "1-1")
            try t.daemon.waitReady()
            try t.applyUdevPermissions()
            let s = try t.daemon.waitForStatus(seconds: 10) { $0.devices.contains { $0.device.id.rawValue == "1-1:05ba:000a" } }
            #expect(s.devices.count == 1)
            #expect(try t.stop() == 0)
        }
    }

    @Test func everyKindIsFoundWithItsNameKindAndNodes() throws {
        let t = try TestbedDaemon(config: fast + "\nkit: {fingerprint: 1, iris: 1, camera: 1, signature_pad: 1, card_printer: 1, card_reader: 1}")
        try t.daemon.waitReady()
        let all = [("fingerprint", "1-1"), ("iris", "1-2"), ("camera", "1-3"), ("signature-pad", "1-4.1"),
                   ("card-printer", "1-4.2"), ("card-reader", "1-4.3")]
        for (f, port) in all { try t.plug(f, port: port) }
        try t.applyUdevPermissions()
        // nodes appear after their device: the daemon learns them from the interface and node events
        let s = try t.daemon.waitForStatus { s in
            s.kit.state == .ready && s.devices.count == 6
                && s.devices.contains { $0.device.nodes.contains("/dev/usb/lp0") } && s.devices.contains { $0.device.nodes.contains("/dev/video0") }
        }
        func d(_ port: String) throws -> DeviceStatus { try #require(s.devices.first { $0.device.portPath == port }) }
        #expect(try d("1-1").device.kind == .fingerprint)
        #expect(try d("1-1").device.kindSource == "catalogue")
        #expect(try d("1-1").device.name == "U.are.U 4500 Fingerprint Reader")
        #expect(try d("1-1").device.speed == .full)
        #expect(try d("1-2").device.kind == .iris)
        #expect(try d("1-2").device.kindSource == "name")
        #expect(try d("1-3").device.kind == .camera)
        #expect(try d("1-3").device.nodes == ["/dev/bus/usb/001/004", "/dev/video0"])
        #expect(try d("1-3").device.capabilities.interfaceClasses == [0x0e, 0x0e, 0x01])
        #expect(try d("1-4.1").device.kind == .signaturePad)
        #expect(try d("1-4.1").device.nodes.contains("/dev/hidraw0"))
        #expect(try d("1-4.2").device.kind == .cardPrinter)
        #expect(try d("1-4.2").device.nodes.contains("/dev/usb/lp0"))
        #expect(try d("1-4.3").device.kind == .cardReader)
        #expect(try d("1-4.3").device.serial == "OK3021-77")
        #expect(s.devices.allSatisfy { $0.health == .ok })
        #expect(try t.stop() == 0)
    }

    @Test func faultsGiveClearReasonsAndNoCrash() throws {
        let t = try TestbedDaemon(config: fast + "\nkit: {camera: 1}")
        try t.daemon.waitReady()
        try t.plug("malformed", port: "1-5")
        try t.plug("camera-no-driver", port: "1-6")
        try t.plug("usb3-camera-slow", port: "1-7")
        try t.plug("fingerprint-mute", port: "1-8")
        try t.applyUdevPermissions()
        try t.plug("camera", port: "1-3")  // plugged after the permissions were applied: udev rule "missing"
        // Each device settles on its own fault (a probe right after the plug may still see the
        // node before the permissions were applied): wait for the state, not a time.
        let s = try t.daemon.waitForStatus { s in
            func code(_ port: String) -> ProblemCode? { s.devices.first { $0.device.portPath == port }?.code }
            return code("1-5") == .descriptorUnreadable && code("1-6") == .driverMissing && code("1-7") == .slowLink
                && code("1-3") == .permissionDenied && code("1-8") == .noResponse
                && s.devices.allSatisfy { $0.health == .failed || $0.health == .degraded }
        }
        func d(_ port: String) throws -> DeviceStatus { try #require(s.devices.first { $0.device.portPath == port }) }
        let malformed = try d("1-5")
        #expect(malformed.health == .failed)
        #expect(malformed.code == .descriptorUnreadable)
        #expect(malformed.reason?.contains("configuration descriptor is unreadable or truncated") == true)
        let noDriver = try d("1-6")
        #expect(noDriver.code == .driverMissing)
        #expect(noDriver.reason?.contains("modprobe uvcvideo") == true)
        let slow = try d("1-7")
        #expect(slow.health == .degraded)
        #expect(slow.code == .slowLink)
        #expect(slow.reason?.contains("USB 3") == true)
        let denied = try d("1-3")
        #expect(denied.code == .permissionDenied)
        #expect(denied.reason?.contains("device node /dev/") == true)
        #expect(denied.reason?.contains("not readable and writable by group root") == true)
        #expect(denied.reason?.contains("install udev-rules/70-ektp-kit.rules") == true)
        let mute = try d("1-8")
        #expect(mute.reason?.hasPrefix("no response to GET_STATUS") == true)
        #expect(mute.reason?.contains("replug it or check the cable") == true)
        // one camera is usable (degraded, slow link): the kit is degraded, not broken
        #expect(s.kit.state == .degraded)
        #expect(try t.daemon.status().0.status == 1)
        #expect(try t.stop() == 0)
    }
}

extension RealBackendTests {
    @Test func printerPortStatusAndCameraCapabilitiesAreRead() throws {
        let t = try TestbedDaemon(config: fast + "\nkit: {camera: 1, card_printer: 1}")
        try t.daemon.waitReady()
        try t.plug("card-printer", port: "1-4.2")
        try t.plug("camera", port: "1-3")
        try t.applyUdevPermissions()
        _ = try t.daemon.waitForStatus { $0.kit.state == .ready }
        // the hopper runs empty: the printer reports paper empty (bit 5)
        try t.send("lpstatus /dev/usb/lp0 38")
        var s = try t.daemon.waitForStatus { $0.devices.first { $0.device.kind == .cardPrinter }?.code == .blanksOut }
        #expect(s.kit.state == .broken)
        #expect(s.devices.first { $0.device.kind == .cardPrinter }?.reason == "printer reports paper empty: load card blanks")
        // a jam: the error bit (3) clears
        try t.send("lpstatus /dev/usb/lp0 10")
        s = try t.daemon.waitForStatus { $0.devices.first { $0.device.kind == .cardPrinter }?.code == .printerError }
        // offline: selected (bit 4) clears, no error: degraded
        try t.send("lpstatus /dev/usb/lp0 08")
        _ = try t.daemon.waitForStatus { $0.devices.first { $0.device.kind == .cardPrinter }?.health == .degraded }
        try t.send("lpstatus /dev/usb/lp0 18")
        _ = try t.daemon.waitForStatus { $0.kit.state == .ready }
        // the camera's node stops offering capture (only metadata): failed
        try t.send("v4l2 /dev/video0 meta")
        s = try t.daemon.waitForStatus { $0.devices.first { $0.device.kind == .camera }?.health == .failed }
        #expect(s.devices.first { $0.device.kind == .camera }?.reason?.contains("/dev/video0 cannot capture video") == true)
        #expect(try t.stop() == 0)
    }
}

/// `ektpd scan` on an emulated bus: a device's descriptor strings are shown escaped, so a product
/// string holding terminal escape sequences cannot clear the operator's screen or retitle the
/// window (found by a helper in stop 25; `status`, `devices` and `events` already escaped them).
@Suite(.enabled(if: testbedHelper.path != nil, Comment(rawValue: testbedHelper.why)))
struct ScanCommandTests {
    @Test func scanShowsEscapeSequencesInAProductStringEscapedAndJSONKeepsThem() throws {
        let helper = try #require(testbedHelper.path)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ektpd-scan-\(getpid())").path
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // The signature pad's recording with a product string that clears the screen (ESC [2J),
        // sets the window title (ESC ]0;...BEL) and holds a tab; umockdev reads \NNN as octal.
        let pad = try String(contentsOfFile: "\(fixtures)/signature-pad.umockdev", encoding: .utf8)
        let hostile = pad.split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.hasPrefix("A: product=") ? "A: product=Pad\\033[2J\\033]0;owned\\007\\011evil\\n" : String($0)
        }.joined(separator: "\n")
        try hostile.write(toFile: dir + "/pad.umockdev", atomically: true, encoding: .utf8)
        for fifo in ["go", "done"] { #expect(mkfifo(dir + "/" + fifo, 0o600) == 0) }
        // The scans start only once the device is on the bus: the child blocks on a FIFO.
        let script = "read x < \(dir)/go; \(ektpdBinary) scan --device-group root > \(dir)/out 2>&1; "
            + "\(ektpdBinary) scan --json --device-group root > \(dir)/out.json 2>&1; echo $? > \(dir)/done"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/umockdev-wrapper")
        p.arguments = [helper, "--", "/bin/sh", "-c", script]
        let stdin = Pipe(), stdout = Pipe()
        p.standardInput = stdin
        p.standardOutput = stdout
        try p.run()
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        func send(_ line: String) -> String {
            stdin.fileHandleForWriting.write(Data((line + "\n").utf8))
            var answer = Data()
            while !answer.contains(10) {
                let chunk = stdout.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                answer.append(chunk)
            }
            return String(decoding: answer, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        #expect(send("add \(dir)/pad.umockdev \(usbRoot)/1-4") == "ok")
        try Data("go\n".utf8).write(to: URL(fileURLWithPath: dir + "/go"))
        let status = String(decoding: FileHandle(forReadingAtPath: dir + "/done")!.readDataToEndOfFile(), as: UTF8.self)
        #expect(status.trimmingCharacters(in: .whitespacesAndNewlines) == "0")
        _ = send("quit")
        p.waitUntilExit()

        let human = try String(contentsOfFile: dir + "/out", encoding: .utf8)
        #expect(!human.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 || $0.value == 0x09 }, "raw control characters reached the terminal: \(human.debugDescription)")
        #expect(human.contains("1-4.1  06a8:0043  signature_pad (catalogue)  Pad\\e[2J\\e]0;owned\\u{07}\\tevil"), "\(human.debugDescription)")
        // JSON carries the string as the device gave it (JSON escapes it itself).
        let json = try JSONStyle.decode([DeviceStatus].self, from: Array(try String(contentsOfFile: dir + "/out.json", encoding: .utf8).utf8))
        #expect(json.map(\.device.name) == ["Pad\u{1B}[2J\u{1B}]0;owned\u{07}\tevil"])
    }
}

/// Without umockdev: the real backend on this machine's bus. CI machines have no USB devices.
@Suite struct RealBackendOnThisMachineTests {
    @Test(.enabled(if: !FileManager.default.fileExists(atPath: "/sys/bus/usb/devices/1-1"), "this machine has USB devices"))
    func noUSBAtAllIsABrokenKitWithReasonsAndTheDaemonKeepsRunning() throws {
        let daemon = try RunningDaemon(scenario: "", backend: "{type: real}")
        try daemon.waitReady()
        let (r, s) = try daemon.status()
        #expect(r.status == 2)
        #expect(s?.kit.problems.first?.reason == "no fingerprint scanner connected")
        usleep(300_000)
        #expect(try daemon.status().0.status == 2)
        #expect(daemon.terminate() == 0)
    }
}
