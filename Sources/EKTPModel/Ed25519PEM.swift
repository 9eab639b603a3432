#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Ed25519 keys in PEM as OpenSSL writes them (RFC 8410): a private key as PKCS#8 (`BEGIN PRIVATE
/// KEY`, the 32-byte seed after a fixed 16-byte DER prefix), a public key as SubjectPublicKeyInfo
/// (`BEGIN PUBLIC KEY`, the 32 bytes after a fixed 12-byte prefix). The station writes and reads its
/// key with these; `ektp-registry station add` reads the public half.
public enum Ed25519PEM {
    static let pkcs8Prefix: [UInt8] = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]
    static let spkiPrefix: [UInt8] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]

    /// The private key file's text for a 32-byte seed.
    public static func privateKey(seed: [UInt8]) -> String { pem(pkcs8Prefix + seed, label: "PRIVATE KEY") }
    /// The public key file's text for 32 bytes.
    public static func publicKey(_ key: [UInt8]) -> String { pem(spkiPrefix + key, label: "PUBLIC KEY") }

    /// The 32-byte seed in a `BEGIN PRIVATE KEY` PEM, or nil when it is not an Ed25519 one.
    public static func seed(fromPEM text: String) -> [UInt8]? {
        guard let der = body(text, label: "PRIVATE KEY"), der.count == 48, Array(der.prefix(16)) == pkcs8Prefix else { return nil }
        return Array(der.suffix(32))
    }

    /// The 32-byte key in a `BEGIN PUBLIC KEY` PEM, or in one line of base64; nil when neither.
    public static func publicKey(fromText text: String) -> [UInt8]? {
        if let der = body(text, label: "PUBLIC KEY"), der.count == 44, Array(der.prefix(12)) == spkiPrefix { return Array(der.suffix(32)) }
        let lines = trimmedLines(text)
        if lines.count == 1, let raw = Data(base64Encoded: lines[0]), raw.count == 32 { return Array(raw) }
        return nil
    }

    static func pem(_ der: [UInt8], label: String) -> String {
        "-----BEGIN \(label)-----\n\(Data(der).base64EncodedString())\n-----END \(label)-----\n"
    }

    static func body(_ text: String, label: String) -> [UInt8]? {
        let lines = trimmedLines(text)
        guard let begin = lines.firstIndex(of: "-----BEGIN \(label)-----"), let end = lines.firstIndex(of: "-----END \(label)-----"),
              begin < end else { return nil }
        return Data(base64Encoded: lines[(begin + 1)..<end].joined()).map(Array.init)
    }

    static func trimmedLines(_ text: String) -> [String] {
        text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).map { line in
            var t = Substring(line)
            while t.first?.isWhitespace == true { t.removeFirst() }
            while t.last?.isWhitespace == true { t.removeLast() }
            return String(t)
        }.filter { !$0.isEmpty }
    }
}
