extension Duration {
    /// The duration in whole milliseconds (truncated).
    public var wholeMilliseconds: Int64 {
        let (s, atto) = components
        return s * 1000 + atto / 1_000_000_000_000_000
    }
}

/// A duration as reasons a person reads it: "50 ms", "16 s", "10 min", "2 h".
public func spokenDuration(_ d: Duration) -> String {
    let ms = d.wholeMilliseconds
    if ms >= 3_600_000 && ms % 3_600_000 == 0 { return "\(ms / 3_600_000) h" }
    if ms >= 60_000 && ms % 60_000 == 0 { return "\(ms / 60_000) min" }
    if ms > 0 && ms % 1000 == 0 { return "\(ms / 1000) s" }
    return "\(ms) ms"
}
