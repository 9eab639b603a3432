#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// How bad an alert is: the `severity` label Alertmanager routes on.
public enum AlertSeverity: String, Codable, Sendable, Comparable {
    case warning
    case critical

    public static func < (a: AlertSeverity, b: AlertSeverity) -> Bool { a == .warning && b == .critical }
}

/// One alert as Alertmanager's webhook receiver sends it (`alerts[]` of its version 4 payload).
///
/// The fingerprint is Prometheus's: 64-bit FNV-1a over the sorted label names and values, as 16 hex
/// digits, so an alert keeps one identity from firing to resolved.
public struct Alert: Codable, Sendable, Equatable {
    public var status: String
    public var labels: [String: String]
    public var annotations: [String: String]
    public var startsAt: String
    /// "0001-01-01T00:00:00Z" while firing (Alertmanager's zero time), the time it cleared once resolved.
    public var endsAt: String
    public var generatorURL: String
    public var fingerprint: String

    public static let zeroTime = "0001-01-01T00:00:00Z"

    public init(status: String, labels: [String: String], annotations: [String: String], startsAt: String,
                endsAt: String, generatorURL: String = "", fingerprint: String) {
        self.status = status
        self.labels = labels
        self.annotations = annotations
        self.startsAt = startsAt
        self.endsAt = endsAt
        self.generatorURL = generatorURL
        self.fingerprint = fingerprint
    }

    /// Alerts as JSON with Alertmanager's own key names (camelCase; labels untouched).
    public static func encode(_ alerts: [Alert]) -> [UInt8] {
        Array((try? encoder(pretty: true).encode(alerts)) ?? Data("[]".utf8)) + [10]
    }

    /// Alertmanager's JSON: its own key names, untouched by the project's snake_case style.
    static func encoder(pretty: Bool) -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        return e
    }

    public static func decodeList(_ bytes: [UInt8]) throws -> [Alert] {
        try JSONDecoder().decode([Alert].self, from: Data(bytes))
    }

    /// Prometheus's label-set fingerprint (model.LabelSet.Fingerprint).
    public static func fingerprint(of labels: [String: String]) -> String {
        var h: UInt64 = 14_695_981_039_346_656_037
        func add(_ byte: UInt8) {
            h ^= UInt64(byte)
            h = h &* 1_099_511_628_211
        }
        for name in labels.keys.sorted() {
            for b in name.utf8 { add(b) }
            add(0xff)
            for b in labels[name]!.utf8 { add(b) }
            add(0xff)
        }
        let hex = String(h, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}

/// What hooks read on stdin and webhooks receive: Alertmanager's webhook payload (version 4), so an
/// existing receiver (a chat bridge, an SMS gateway, a ticketing hook) works unchanged. One
/// notification carries every alert of the station that changed together (see `AlertLifecycle`).
public struct AlertNotification: Codable, Sendable, Equatable {
    public var version: String
    public var groupKey: String
    public var truncatedAlerts: Int
    /// "firing" when any alert in it fires, else "resolved".
    public var status: String
    public var receiver: String
    public var groupLabels: [String: String]
    public var commonLabels: [String: String]
    public var commonAnnotations: [String: String]
    public var externalURL: String
    public var alerts: [Alert]

    public init(receiver: String, groupLabels: [String: String], alerts: [Alert]) {
        version = "4"
        let key = groupLabels.keys.sorted().map { "\($0)=\"\(groupLabels[$0]!)\"" }.joined(separator: ",")
        groupKey = "{}:{\(key)}"
        truncatedAlerts = 0
        status = alerts.contains { $0.status == "firing" } ? "firing" : "resolved"
        self.receiver = receiver
        self.groupLabels = groupLabels
        commonLabels = Self.common(alerts.map(\.labels))
        commonAnnotations = Self.common(alerts.map(\.annotations))
        externalURL = ""
        self.alerts = alerts
    }

    static func common(_ sets: [[String: String]]) -> [String: String] {
        guard var result = sets.first else { return [:] }
        for s in sets.dropFirst() { result = result.filter { s[$0.key] == $0.value } }
        return result
    }

    /// The payload's JSON: Alertmanager's own key names (camelCase), sorted.
    public func encoded() -> [UInt8] {
        Array((try? Alert.encoder(pretty: false).encode(self)) ?? Data("{}".utf8))
    }

    public static func decode(_ bytes: [UInt8]) throws -> AlertNotification {
        try JSONDecoder().decode(AlertNotification.self, from: Data(bytes))
    }
}
