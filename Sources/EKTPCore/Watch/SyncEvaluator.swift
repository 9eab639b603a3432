import EKTPModel

/// Whether the centre has pulled this station's data recently enough (field report: some
/// districts were never pulled, and nobody upstream knew). Pure: given the last pull and the time.
public enum SyncEvaluator {
    /// Decides the state from the last pull.
    public static func evaluate(lastPull: Timestamp?, now: Timestamp, limit: Duration) -> (SyncState, String) {
        guard let last = lastPull else {
            return (.never, "the centre has never pulled this station's data: keep the recording server on and reachable so it can")
        }
        let age = now - last
        let hours = age.components.seconds / 3600
        if age > limit {
            return (.stale, "the centre last pulled \(hours) h ago (at \(last.rfc3339); limit \(spokenDuration(limit))): keep the recording server on and the network up")
        }
        return (.fresh, "pulled at \(last.rfc3339)")
    }
}
