import EKTPModel
import EKTPStation
import EKTPPlatform
import EKTPCore
import Foundation
import Glibc
import EKTPTesting
import Testing

struct Report: Decodable {
    var delivered: Int
    var pending: Int
    var fleet: FleetSummary
    var unableToEnrol: [SiteView]
    var notPulled: [SiteView]
    var silent: [SiteView]
    var alerts: AlertTally
    var alertsFiring: [StationAlerts]
    var courier: [CourierTrip]?
    enum CodingKeys: String, CodingKey {
        case delivered, pending, fleet, silent, alerts, courier
        case unableToEnrol = "unable_to_enrol", notPulled = "not_pulled", alertsFiring = "alerts_firing"
    }
    struct StationAlerts: Decodable {
        var station: String
        var alerts: [FiringAlert]
    }
}

func simulate(_ args: [String]) throws -> (Report, String) {
    let r = run([ektpdBinary, "simulate", "--json"] + args)
    guard r.status == 0 else { throw HarnessError("ektpd simulate \(args) exited \(r.status): \(r.stderr)") }
    return (try JSONStyle.decode(Report.self, from: Array(r.stdout.utf8)), r.stdout)
}

@Suite(.serialized) struct SimulateTests {
    @Test func sintang2018NamesExactlyTheElevenDistrictsThatCannotEnrol() throws {
        let (report, _) = try simulate([repoRoot + "/scenarios/sintang-2018.yaml"])
        let expected: Set = ["Ambalau", "Kayan Hulu", "Kayan Hilir", "Kelam Permai", "Binjai Hulu", "Ketungau Hilir",
                             "Ketungau Tengah", "Ketungau Hulu", "Sepauk", "Tempunak", "Sungai Tebelian"]
        #expect(Set(report.unableToEnrol.map(\.site.district)) == expected)
        #expect(report.unableToEnrol.count == 11)
        for s in report.unableToEnrol { #expect(!s.reasons.isEmpty, "\(s.station) has no reason") }
        #expect(report.unableToEnrol.first { $0.site.district == "Sungai Tebelian" }?.reasons.first?.contains("not accessible to group ektp") == true)
        #expect(report.fleet.tally.stations == 15 && report.fleet.tally.ready == 4 && report.fleet.tally.broken == 11)
        #expect(report.pending == 0)
        // Each broken kit made one notification (its devices and KitBroken together), then repeats only.
        #expect(report.alerts.firedByName.first { $0.name == "KitBroken" }?.count == 11)
        #expect(report.alerts.resolved == 0)
        #expect(report.alerts.notifications - report.alerts.repeats == 11)
        #expect(report.alertsFiring.count == 11)
        #expect(report.alertsFiring.allSatisfy { s in s.alerts.contains { $0.name == "KitBroken" && $0.severity == .critical } })
    }

    /// Issue 16: three offline districts report by courier every 7 days; over 8 days, one trip each.
    /// Before the trips the centre knows 9 broken kits; Ambalau's and Kayan Hulu's arrive by bundle.
    @Test func courierBundlesFillInTheCentresViewTripByTrip() throws {
        let (report, _) = try simulate([repoRoot + "/scenarios/sintang-courier.yaml", "--duration", "8d"])
        let trips = try #require(report.courier)
        #expect(Set(trips.map(\.station)) == ["sintang-ambalau", "sintang-kayan-hulu", "sintang-serawai"])
        #expect(trips.count == 3)
        for t in trips {
            #expect(t.result == .imported && t.reports > 100 && t.stored == t.reports && t.known == 0, "\(t)")
            #expect(t.time == Timestamp(rfc3339: "2018-03-12T00:00:00Z"))
        }
        #expect(trips.first?.cannotEnrolBefore == 9)
        #expect(trips.last?.cannotEnrolKnown == 11)
        let districts = Set(report.unableToEnrol.map(\.site.district))
        #expect(districts.contains("Ambalau") && districts.contains("Kayan Hulu") && report.unableToEnrol.count == 11)
        // They never went online: their news came by courier only, and their outboxes still hold it.
        let serawai = try #require(report.fleet.provinces.first?.regencies.first?.districts.first { $0.name == "Serawai" })
        #expect(serawai.tally.stations == 1)
        #expect(report.pending >= trips.reduce(0) { $0 + $1.reports })
    }

    @Test func rokanHilir2012NamesTheSixDistrictsNeverPulled() throws {
        let (report, _) = try simulate([repoRoot + "/scenarios/rokan-hilir-2012.yaml"])
        #expect(Set(report.notPulled.map(\.site.district)) == ["Rantau Kopar", "Bangko Pusako", "Tanah Putih",
                                                                 "Tanah Putih Tanjung Melawan", "Pekaitan", "Batu Hampar"])
        #expect(report.notPulled.allSatisfy { $0.sync == .never && $0.lastPull == nil })
        #expect(report.unableToEnrol.isEmpty)
        #expect(report.fleet.tally.notPulled == 6 && report.fleet.tally.stations == 14)
        #expect(report.alerts.firedByName == [.init(name: "CentreNotPulled", count: 6)])
    }

    @Test func boltimShowsBlanksLeftDaysAndTheDeadPrinterAndRunsTheSameTwice() throws {
        let path = repoRoot + "/scenarios/boltim.yaml"
        let (report, first) = try simulate([path])
        let stock = try #require(report.fleet.stock.first)
        #expect(stock.printers == 4 && stock.printersWorking == 3)
        // 7,000 blanks, three working printers at 120 a day, for a week.
        #expect(stock.blanks == 7000 - 7 * 360)
        #expect(abs((stock.perDay ?? 0) - 360) < 1)
        #expect(abs((stock.daysLeft ?? 0) - Double(7000 - 7 * 360) / 360) < 0.1)
        let (_, second) = try simulate([path])
        #expect(first == second, "the same scenario and seed must give the same report")
    }

    @Test func aWeekOffTheNetworkThenEverythingArrivesInOrder() throws {
        let reg = try RunningRegistry()
        let token = try reg.token("remote-01")
        let dir = reg.dir
        try "remote-01 \(token)\n".write(toFile: dir + "/tokens", atomically: true, encoding: .utf8)
        try """
        name: A week offline
        seed: 5
        start: 2026-01-05T00:00:00Z
        duration: 9d
        stations:
          - id: remote-01
            site: {province: Papua, regency: Nduga, district: Kenyam}
            devices:
              - {name: fingerprint, usb: "05ba:000a", port: 1-1}
              - {name: iris, usb: "2b7f:0110", port: 1-2, kind: iris}
              - {name: camera, usb: "046d:082d", port: 1-3, interface_classes: [0x0e]}
              - {name: signature, usb: "06a8:0043", port: 1-4, interface_classes: [0x03]}
            network:
              - {at: 1h, state: down}
              - {at: 8d, state: up}
            timeline:
              - {at: 2d, device: fingerprint, fault: unplug}
              - {at: 3d, device: fingerprint, fault: replug}
              - {at: 5d, device: camera, fault: unresponsive}
        """.write(toFile: dir + "/offline.yaml", atomically: true, encoding: .utf8)
        try "\(reg.viewerToken)\n".write(toFile: dir + "/viewer-token", atomically: true, encoding: .utf8)
        let (report, _) = try simulate([dir + "/offline.yaml", "--registry", reg.url, "--tokens", dir + "/tokens", "--viewer-token", dir + "/viewer-token"])
        #expect(report.pending == 0)
        let detail = try reg.get(StationDetail.self, "/v1/stations/remote-01")
        // Every report the station made is stored, once: no gap, nothing twice.
        #expect(detail.reportsStored == detail.view.storedThrough)
        #expect(Int64(report.delivered) == detail.view.storedThrough)
        let events = try reg.get(EventsReply.self, "/v1/events?station=remote-01&limit=5000").events.map(\.event)
        let seqs = events.map(\.sequence)
        #expect(seqs == seqs.sorted() && Set(seqs).count == seqs.count, "events arrived out of order: \(seqs)")
        // What happened during the outage reached the centre afterwards.
        #expect(events.contains { $0.type == .deviceRemoved })
        #expect(events.contains { $0.type == .uplinkReachability && $0.to == "reachable" })
        #expect(detail.view.condition == .broken)
        #expect(detail.view.reasons.contains { $0.contains("camera") })
        // The registry's /metrics says the same, by regency.
        let metrics = reg.request("GET", "/metrics").body
        let broken = metrics.split(separator: "\n").filter { $0.hasPrefix("ektp_registry_regency_stations{") && $0.contains("condition=\"broken\"") }
        #expect(broken.count == 1 && broken.first?.hasSuffix(" 1.0") == true, "\(broken)")
        #expect(sample(metrics, "ektp_registry_stations{condition=\"broken\"}") == 1)
    }

    @Test func badScenarioSaysWhereAndRunsNothing() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ektp-sim-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "name: x\nstart: yesterday\nstations:\n  - id: a\n    site: {province: P, regency: R, district: D}\n    needs: printng\n".write(toFile: dir + "/bad.yaml", atomically: true, encoding: .utf8)
        let r = run([ektpdBinary, "simulate", dir + "/bad.yaml"])
        #expect(r.status == 4)
        #expect(r.stderr.contains("bad.yaml:2:") && r.stderr.contains("start"))
        #expect(r.stderr.contains("bad.yaml:6:") && r.stderr.contains("printing"))
    }
}
