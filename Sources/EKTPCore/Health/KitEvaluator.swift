import EKTPModel

/// Decides whether a station can do its work, from its kit profile and its devices' states.
///
/// Every requirement must be met by devices that are each usable (present, answering, permitted):
/// one good check never outweighs another's failure. A requirement not met makes the kit `broken`,
/// naming each device at fault, or the kind that has no device at all; met with a device that warns,
/// flaps or is not yet checked makes it `degraded`.
public enum KitEvaluator {
    public static func evaluate(profile: KitProfile, devices: [DeviceStatus]) -> (state: KitState, problems: [KitProblem]) {
        var problems: [KitProblem] = []
        for req in profile.requirements where req.count > 0 {
            let ofKind = devices.filter { $0.device.kind == req.kind }
            let good = ofKind.filter { $0.health == .ok && !$0.flapping }
            let warn = ofKind.filter { ($0.health == .degraded || ($0.health == .ok && $0.flapping)) }
            let pending = ofKind.filter { $0.health == .unknown }
            let bad = ofKind.filter { $0.health == .failed || $0.health == .missing }

            if good.count >= req.count { continue }
            let usable = good.count + warn.count
            if usable >= req.count {
                for d in warn.prefix(req.count - good.count) {
                    if d.flapping && d.health == .ok {
                        problems.append(KitProblem(kind: req.kind, device: d.device.id, severity: .degraded, code: .flapping, args: labelArgs(d)))
                    } else {
                        problems.append(KitProblem(kind: req.kind, device: d.device.id, severity: .degraded, code: .warning,
                                                   args: labelArgs(d, why: d.reason ?? N_("degraded"))))
                    }
                }
                continue
            }
            if usable + pending.count >= req.count {
                for d in pending.prefix(req.count - usable) {
                    problems.append(KitProblem(kind: req.kind, device: d.device.id, severity: .degraded, code: .notChecked, args: labelArgs(d)))
                }
                continue
            }
            // Not enough: broken. Name every device at fault, or say there is none.
            if ofKind.isEmpty {
                problems.append(req.count > 1
                    ? KitProblem(kind: req.kind, severity: .broken, code: .needsNoneConnected, args: ["count": "\(req.count)", "kinds": req.kind.rawValue])
                    : KitProblem(kind: req.kind, severity: .broken, code: .noneConnected, args: ["kind": req.kind.rawValue]))
                continue
            }
            if req.count > 1 {
                problems.append(KitProblem(kind: req.kind, severity: .broken, code: .onlyUsable,
                                           args: ["usable": "\(usable)", "count": "\(req.count)", "kinds": req.kind.rawValue]))
            }
            for d in bad {
                problems.append(d.health == .missing
                    ? KitProblem(kind: req.kind, device: d.device.id, severity: .broken, code: .unplugged, args: labelArgs(d))
                    : KitProblem(kind: req.kind, device: d.device.id, severity: .broken, code: .failed, args: labelArgs(d, why: d.reason ?? N_("not working"))))
            }
            if bad.isEmpty {
                problems.append(KitProblem(kind: req.kind, severity: .broken, code: .noneWorking,
                                           args: ["kind": req.kind.rawValue, "present": "\(ofKind.count)"]))
            }
        }
        let state = problems.map(\.severity).max() ?? .ready
        return (state, problems.sorted { a, b in a.severity != b.severity ? a.severity > b.severity : a.kind < b.kind })
    }

    /// A device's label as parameters: kind word, name, port (`{kind} {name} at {port}`).
    static func labelArgs(_ d: DeviceStatus, why: String? = nil) -> [String: String] {
        var a = ["kind": d.device.kind.rawValue, "name": d.device.name, "port": d.device.portPath]
        if let why { a["why"] = why }
        return a
    }
}
