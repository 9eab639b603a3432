import EKTPCore
import EKTPModel
import EKTPPlatform

/// Runs stations' activities on a `ManualClock`, one step at a time in time order: `ektpd
/// simulate`'s replacement for the daemon's tasks and sleeps (issue 12, item 4). The activities are
/// the daemon's own (`StationServices`); only when they run differs.
///
/// Deterministic: the step due first runs first; ties go to the station added first, then to the
/// activity listed first. After each step, an activity whose waker was woken (a hotplug, a new
/// report) is due at once (after its `settle`), as the daemon's sleeping task would wake. Nothing
/// here reads the system's clock.
public final class ActivityScheduler {
    final class Entry {
        let activity: Activity
        let group: Int
        var due: Timestamp
        init(activity: Activity, group: Int, due: Timestamp) {
            self.activity = activity
            self.group = group
            self.due = due
        }
    }
    struct Group {
        var entries: [Entry]
        let journal: EventJournal?
        let wokenByReports: [Waker]
    }

    public let clock: ManualClock
    private var groups: [Group] = []
    /// Called before each step with the activity and the time (the embedded registry's clock
    /// follows the simulation's before the uplink talks to it).
    public var beforeStep: (Activity, Timestamp) -> Void = { _, _ in }
    /// Steps run so far.
    public private(set) var steps = 0

    public init(clock: ManualClock) { self.clock = clock }

    /// Adds one station's activities, all due at `start`.
    ///
    /// - Parameters:
    ///   - journal: the station's journal; a step that records a report wakes `wokenByReports`.
    /// - Returns: the group's number (its place in tie-breaks).
    @discardableResult
    public func add(_ activities: [Activity], start: Timestamp, journal: EventJournal? = nil, wokenByReports: [Waker] = []) -> Int {
        let g = groups.count
        groups.append(Group(entries: activities.map { Entry(activity: $0, group: g, due: start) }, journal: journal,
                            wokenByReports: wokenByReports))
        return g
    }

    /// Runs every step due at or before `end`, in order; the clock ends at `end`. `progress` is
    /// called each time the clock moves.
    public func run(until end: Timestamp, progress: (Timestamp) -> Void = { _ in }) async {
        while let (g, i) = nextDue(), groups[g].entries[i].due <= end {
            let entry = groups[g].entries[i]
            if entry.due > clock.now() {
                clock.advance(to: entry.due)
                progress(clock.now())
            }
            let now = clock.now()
            let journal = groups[g].journal
            let before = journal?.lastSequence
            beforeStep(entry.activity, now)
            let next = await entry.activity.step(now: now)
            steps += 1
            entry.due = max(now.adding(.milliseconds(1)), (next ?? now.adding(entry.activity.maxSleep)).adding(entry.activity.settle))
            if let journal, journal.lastSequence != before {
                for w in groups[g].wokenByReports { w.wake() }
            }
            for e in groups[g].entries where e.activity.waker.takePending() {
                e.due = min(e.due, now.adding(e.activity.settle))
            }
        }
        if clock.now() < end {
            clock.advance(to: end)
            progress(end)
        }
    }

    /// The entry due first (ties: the lower group, then the earlier activity).
    private func nextDue() -> (Int, Int)? {
        var best: (Int, Int)?
        var bestDue = Timestamp(millis: .max)
        for (g, group) in groups.enumerated() {
            for (i, e) in group.entries.enumerated() where e.due < bestDue {
                best = (g, i)
                bestDue = e.due
            }
        }
        return best
    }
}
