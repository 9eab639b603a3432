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
            let plural = req.count > 1 ? "\(req.count) \(req.kind.displayName)s" : "a \(req.kind.displayName)"

            if good.count >= req.count { continue }
            let usable = good.count + warn.count
            if usable >= req.count {
                for d in warn.prefix(req.count - good.count) {
                    let why = d.flapping && d.health == .ok ? "flapping" : (d.reason ?? "degraded")
                    problems.append(KitProblem(kind: req.kind, device: d.device.id, severity: .degraded,
                                               reason: "\(d.device.label) \(why)"))
                }
                continue
            }
            if usable + pending.count >= req.count {
                for d in pending.prefix(req.count - usable) {
                    problems.append(KitProblem(kind: req.kind, device: d.device.id, severity: .degraded,
                                               reason: "\(d.device.label) not yet checked"))
                }
                continue
            }
            // Not enough: broken. Name every device at fault, or say there is none.
            if ofKind.isEmpty {
                problems.append(KitProblem(kind: req.kind, severity: .broken,
                                           reason: req.count > 1 ? "needs \(plural), none connected" : "no \(req.kind.displayName) connected"))
                continue
            }
            if req.count > 1 {
                problems.append(KitProblem(kind: req.kind, severity: .broken,
                                           reason: "only \(usable) of \(req.count) \(req.kind.displayName)s usable"))
            }
            for d in bad {
                let why = d.health == .missing ? "is unplugged: plug it back into port \(d.device.portPath)"
                    : "failed: \(d.reason ?? "not working")"
                problems.append(KitProblem(kind: req.kind, device: d.device.id, severity: .broken,
                                           reason: "\(d.device.label) \(why)"))
            }
            if bad.isEmpty {
                problems.append(KitProblem(kind: req.kind, severity: .broken,
                                           reason: "no usable \(req.kind.displayName) (\(ofKind.count) present, none working)"))
            }
        }
        let state = problems.map(\.severity).max() ?? .ready
        return (state, problems.sorted { a, b in a.severity != b.severity ? a.severity > b.severity : a.kind < b.kind })
    }
}
