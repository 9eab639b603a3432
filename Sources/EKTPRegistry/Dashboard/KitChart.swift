import EKTPModel

/// The station page's picture of its kit over 7 days (issue 15): one band, a segment per kit
/// state, drawn on the server as inline SVG (no image request, no script). Each segment carries
/// its state and times as a `<title>` and a pattern besides its colour, and `summary` says the
/// same in words, so colour is never the only signal.
enum KitChart {
    static let width = 700.0, band = 28.0, height = 52.0

    static func fill(_ c: SiteCondition) -> String {
        switch c {
        case .ready: "#2e7d32"
        case .degraded: "url(#ektp-warn)"
        case .broken: "url(#ektp-bad)"
        case .unknown: "#bdbdbd"
        }
    }

    /// The SVG for `spans` over `from...to`; `dayLabel` writes a day's tick ("11-23").
    static func svg(_ spans: [KitSpan], from: Timestamp, to: Timestamp, dayLabel: (Timestamp) -> String) -> String {
        let total = Double(max(1, to.millis - from.millis))
        func x(_ t: Timestamp) -> Double { (Double(t.millis - from.millis) / total * width * 10).rounded() / 10 }
        var s = ##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \##(Int(width)) \##(Int(height))" role="img" aria-label="kit state, 7 days">"##
        s += ##"<defs><pattern id="ektp-bad" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#b00020"/><rect width="2" height="6" fill="#7a0016"/></pattern>"##
        s += ##"<pattern id="ektp-warn" width="6" height="6" patternUnits="userSpaceOnUse"><rect width="6" height="6" fill="#f2a900"/><circle cx="3" cy="3" r="1" fill="#8a5a00"/></pattern></defs>"##
        for span in spans {
            let x0 = x(span.from), x1 = x(span.to)
            s += ##"<rect x="\##(x0)" y="0" width="\##(max(0.5, x1 - x0))" height="\##(Int(band))" fill="\##(fill(span.state))">"##
            s += "<title>\(escape(span.state.rawValue)): \(escape(span.from.rfc3339)) – \(escape(span.to.rfc3339))</title></rect>"
        }
        // Day ticks.
        let day: Int64 = 86_400_000
        var t = Timestamp(millis: (from.millis / day + 1) * day)
        while t < to {
            let tx = x(t)
            s += ##"<line x1="\##(tx)" y1="0" x2="\##(tx)" y2="\##(Int(band) + 4)" stroke="#333" stroke-width="1"/>"##
            s += ##"<text x="\##(tx)" y="\##(Int(height) - 6)" font-size="11" text-anchor="middle" fill="#333">\##(escape(dayLabel(t)))</text>"##
            t = Timestamp(millis: t.millis + day)
        }
        return s + "</svg>"
    }

    /// "Ready 82.1 % · Cannot enrol 17.9 % of the time": the picture in words.
    static func summary(_ spans: [KitSpan], word: (SiteCondition) -> String, of: String) -> String {
        var by: [SiteCondition: Int64] = [:]
        var total: Int64 = 0
        for s in spans { by[s.state, default: 0] += s.to.millis - s.from.millis; total += s.to.millis - s.from.millis }
        guard total > 0 else { return "" }
        let parts = [SiteCondition.ready, .degraded, .broken, .unknown].compactMap { c -> String? in
            guard let ms = by[c], ms > 0 else { return nil }
            let tenths = Int((Double(ms) / Double(total) * 1000).rounded())
            return "\(word(c)) \(tenths / 10).\(tenths % 10) %"
        }
        return parts.joined(separator: " · ") + " " + of
    }
}
