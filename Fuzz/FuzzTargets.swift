#if canImport(Glibc)
import Glibc
#endif
import EKTPHardware
import EKTPModel
import EKTPYAML
@testable import EKTPStation
@testable import EKTPPlatform
import EKTPCore

/// The inputs ektpd and the registry take from outside, as fuzz targets (issue 13): each must
/// answer every input with a value or a clear error, never a trap, a hang or a broken invariant.
///
/// Built two ways from the same code:
/// - with libFuzzer (`scripts/fuzz.sh`: `-sanitize=fuzzer,address -DFUZZING`): `LLVMFuzzerTestOneInput`
///   runs the target named by `EKTP_FUZZ_TARGET` on each input libFuzzer makes;
/// - without (every `swift build`): `ektp-fuzz TARGET PATH...` replays files or corpus folders,
///   so the committed corpus (Fuzz/corpus/TARGET) is a regression test on any machine.
///
/// Targets: `config` (ektpd.yaml through StationConfig.parse), `scenario` (Scenario.parse),
/// `time` (RFC 3339 and durations, with their round-trip invariants), `control` (a raw request
/// on the control socket: head parser, query, the API with a simulated kit), `usb` (USB
/// configuration descriptors), `batch` (a registry report batch as the registry decodes and checks it).
enum FuzzTargets {
    static let names = ["config", "scenario", "time", "control", "usb", "batch", "bundle"]

    static func run(_ target: String, _ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        switch target {
        case "config":
            _ = try? StationConfig.parse(text, file: "fuzz.yaml", environment: [:])
        case "scenario":
            _ = try? Scenario.parse(text, file: "fuzz.yaml")
        case "time":
            for line in text.split(separator: "\n", omittingEmptySubsequences: false).prefix(64) {
                let s = String(line)
                if let t = Timestamp(rfc3339: s) {
                    precondition(Timestamp(rfc3339: t.rfc3339) == t, "\(s) -> \(t.rfc3339) does not read back")
                }
                if let d = parseDuration(s) {
                    precondition(d >= .zero && d <= maxInputDuration, "\(s) -> \(d) out of range")
                    precondition(parseDuration(formatDuration(d)) == d, "\(s) -> \(formatDuration(d)) does not read back")
                }
                _ = s.printable
            }
        case "control":
            control(bytes)
        case "usb":
            _ = try? USBDescriptors.parse(bytes)
        case "batch":
            // As the registry takes it (IngestBatch: older snapshots read partially), its rules, the
            // order it stores in; and whatever reads whole reads partially, with the same verdict.
            let whole = try? JSONStyle.decode(ReportBatch.self, from: bytes)
            let taken = try? JSONStyle.decode(IngestBatch.self, from: bytes).batch
            precondition(whole == nil || taken != nil, "a batch that decodes whole must decode for ingest")
            // The fast reader (BatchReader) answers only with what JSONDecoder answers.
            if let fast = IngestBatch.readFast(bytes) {
                precondition(taken != nil && fast.batch == taken!, "the fast reader takes what JSONDecoder refuses, or reads it otherwise")
            }
            guard let batch = taken else { return }
            func verdict(_ b: ReportBatch) -> Int {
                do { try b.check(from: b.station); return 200 } catch { return error.status }
            }
            if let whole {
                precondition(verdict(whole) == verdict(batch), "ingest's reading changes the verdict: \(verdict(whole)) vs \(verdict(batch))")
                precondition(whole.reports.map(\.sequence) == batch.reports.map(\.sequence) && whole.reports.map(\.event) == batch.reports.map(\.event))
            }
            do {
                try batch.check(from: batch.station)
                let stored = ReportBatch.normalized(batch.reports)
                precondition(stored.count <= batch.reports.count && zip(stored, stored.dropFirst()).allSatisfy { $0.sequence < $1.sequence })
                if let whole, let newest = stored.last(where: { $0.kind == .snapshot }) {
                    precondition(newest == ReportBatch.normalized(whole.reports).last { $0.kind == .snapshot }, "the newest snapshot is read whole")
                }
            } catch {
                precondition([400, 403, 409].contains(error.status), "refusal \(error.status)")
            }
        case "bundle":
            // A courier bundle as the registry and `ektpd export` read one (issue 16): the text
            // (lines, checksums, header), and the same bytes as a gzip file.
            if let parsed = try? CarryBundle.parse(bytes, sha256: sha256) {
                precondition(parsed.reports.count == parsed.header.reports && parsed.signature.count == 64)
                _ = ed25519Verify(publicKey: parsed.publicKey, message: parsed.signed, signature: parsed.signature)
            }
            if let text = try? BundleExport.inflate(bytes) { _ = try? CarryBundle.parse(text, sha256: sha256) }
        default:
            fatalError("unknown fuzz target '\(target)': one of \(names.joined(separator: ", "))")
        }
    }

    /// One station's control API over a simulated kit, made once.
    nonisolated(unsafe) static var api: ControlAPI?

    static func control(_ bytes: [UInt8]) {
        if api == nil {
            let scenario = try! Scenario.parse("""
                stations:
                  - id: fz-1
                    site: {province: P, regency: R, district: D}
                    devices:
                      - {name: fingerprint, usb: 05ba:000a, port: 1-1}
                      - {name: printer, usb: 0f49:0a00, port: 1-4.2, blanks: 900}
                """, file: "fuzz")
            let sim = try! SimulatedBackend(scenario: scenario, station: nil, catalogue: Catalogue.builtIn(), label: "fuzz",
                                            realTimeLatency: false)
            let t0 = Timestamp(seconds: 1_790_000_000)
            let engine = StationEngine(stationID: "fz-1", site: Site(province: "P", regency: "R", district: "D"), backendName: "fuzz",
                                       profile: .recording, policy: HealthPolicy(), now: t0)
            api = ControlAPI(engine: engine, simulated: sim, waker: Waker(), now: { t0 })
        }
        guard let end = findHeadEnd(bytes) else { return }
        guard case .success(let head) = RequestHead.parse(Array(bytes[0..<end])) else { return }
        let (path, query) = splitTarget(head.target)
        let body = Array(bytes[(end + 4)...].prefix(ControlServer.maxBody))
        for uid: UInt32 in [0, 1000] {
            let r = api!.handle(ControlRequest(method: head.method, path: path, query: query, headers: head.headers, body: body, peerUID: uid))
            precondition((100...599).contains(r.status), "status \(r.status)")
        }
    }
}

#if FUZZING
/// SwiftPM names an executable's entry point `<product>_main` and aliases `main` to it; under
/// libFuzzer the entry point hands over to libFuzzer's driver.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

@_cdecl("ektp_fuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var c = argc
    var v = argv
    return LLVMFuzzerRunDriver(&c, &v, fuzzOne)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let target = getenv("EKTP_FUZZ_TARGET").map { String(cString: $0) } ?? "time"
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    FuzzTargets.run(target, bytes)
    return 0
}
#else
@main
struct Replay {
    static func main() {
        let args = Array(CommandLine.arguments.dropFirst())
        guard let target = args.first, FuzzTargets.names.contains(target), args.count > 1 else {
            print("usage: ektp-fuzz TARGET FILE|DIR...   (TARGET: \(FuzzTargets.names.joined(separator: ", ")))")
            exit(4)
        }
        var count = 0
        for path in args.dropFirst() {
            var files: [String] = []
            if let dir = opendir(path) {
                while let e = readdir(dir) {
                    let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                    if !name.hasPrefix(".") { files.append(path + "/" + name) }
                }
                closedir(dir)
            } else {
                files = [path]
            }
            for f in files.sorted() {
                guard let bytes = readFileBytes(f) else { print("cannot read \(f)"); exit(1) }
                FuzzTargets.run(target, bytes)
                count += 1
            }
        }
        print("\(target): \(count) input(s) replayed, no crash")
    }
}
#endif
