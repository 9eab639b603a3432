import EKTPCore
import EKTPModel
import EKTPPlatform

extension StationStatus {
    /// The status with every time the daemon measured on its steady (monotonic) timeline moved by
    /// `offset` onto the wall clock, so `ektpd status` and the registry see wall-clock times even
    /// after the wall clock stepped (issue 12). `sync.last_pull` is left alone: it came from the
    /// wall clock already (a file's mtime or the centre's answer).
    func shiftingClock(by offset: Duration) -> StationStatus {
        guard offset != .zero else { return self }
        func m(_ t: Timestamp) -> Timestamp { t.adding(offset) }
        var s = self
        s.startedAt = m(s.startedAt)
        s.now = m(s.now)
        s.kit.since = m(s.kit.since)
        for i in s.devices.indices {
            s.devices[i].since = m(s.devices[i].since)
            s.devices[i].lastProbe = s.devices[i].lastProbe.map(m)
        }
        if var server = s.server {
            server.since = m(server.since)
            server.nextStartAt = server.nextStartAt.map(m)
            s.server = server
        }
        if var uplink = s.uplink {
            for i in uplink.targets.indices { uplink.targets[i].since = m(uplink.targets[i].since) }
            s.uplink = uplink
        }
        if var p = s.power { p.since = m(p.since); s.power = p }
        if var st = s.stock { st.updatedAt = m(st.updatedAt); s.stock = st }
        if var d = s.delivery {
            d.lastDelivery = d.lastDelivery.map(m)
            d.nextAttempt = d.nextAttempt.map(m)
            s.delivery = d
        }
        if let a = s.alerts { s.alerts = a.map { var x = $0; x.since = m(x.since); return x } }
        return s
    }
}
