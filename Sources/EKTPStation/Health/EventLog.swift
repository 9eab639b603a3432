import EKTPModel

/// The station's recent events, numbered in sequence, kept in a bounded ring for `ektpd events`.
///
/// The durable copy of every event is the outbox's; this is the daemon's memory of the latest ones.
public struct EventLog: Sendable {
    public let capacity: Int
    public private(set) var lastSequence: Int64
    private var ring: [Event] = []

    public init(capacity: Int = 2000, lastSequence: Int64 = 0) {
        self.capacity = capacity
        self.lastSequence = lastSequence
    }

    /// Numbers and keeps an event; returns it numbered.
    public mutating func append(_ e: Event) -> Event {
        var e = e
        lastSequence += 1
        e.sequence = lastSequence
        ring.append(e)
        if ring.count > capacity { ring.removeFirst(ring.count - capacity) }
        return e
    }

    /// Takes the next sequence number for something that is not an event (a status snapshot).
    public mutating func reserve() -> Int64 {
        lastSequence += 1
        return lastSequence
    }

    public func since(sequence: Int64, limit: Int = .max) -> [Event] {
        Array(ring.filter { $0.sequence > sequence }.prefix(limit))
    }

    public func since(time: Timestamp, limit: Int = .max) -> [Event] {
        Array(ring.filter { $0.time >= time }.prefix(limit))
    }
}
