#if canImport(Glibc)
import Glibc
#endif
import EKTPHardware
import EKTPCore
import EKTPModel
import EKTPPlatform
import EKTPYAML

extension HTTPClientSettings {
    /// Reads the TLS and proxy keys of a section (`registry:` or `alerts:`): `ca_file`,
    /// `pinned_public_key`, `client_cert`, `client_key`, `proxy`. Files are resolved against the
    /// config file's directory and must exist and hold PEM (`-----BEGIN`); a key file must not be
    /// readable by others. Problems are reported on the key, with the file's line and column.
    static func read(_ m: YAMLMap, section: String, configFile: String) -> HTTPClientSettings {
        var s = HTTPClientSettings(section: section)
        func pemFile(_ key: String, secret: Bool = false, holds label: String, what: String) -> String? {
            guard let v = m.value(key), let raw = v.string() else { return nil }
            let path = resolve(raw, relativeTo: configFile)
            guard let text = readWholeFile(path, limit: 1 << 20) else {
                v.fail("cannot read \(path) (does it exist, and may ektpd read it?)")
                return nil
            }
            guard text.contains("-----BEGIN ") else {
                v.fail("\(path) is not PEM (no -----BEGIN line): give the certificate or key in PEM form")
                return nil
            }
            guard text.contains(label) else {
                v.fail("\(path) holds no \(what) (no \(label) line): give the \(what) here in PEM form")
                return nil
            }
            if secret, let why = othersMayRead(path) { v.fail(why) }
            return path
        }
        s.caFile = pemFile("ca_file", holds: "-----BEGIN CERTIFICATE-----", what: "CA certificate")
        s.clientCert = pemFile("client_cert", holds: "-----BEGIN CERTIFICATE-----", what: "certificate")
        s.clientKey = pemFile("client_key", secret: true, holds: "PRIVATE KEY-----", what: "private key")
        if (s.clientCert == nil) != (s.clientKey == nil), m.value("client_cert") != nil || m.value("client_key") != nil {
            (m.value("client_cert") ?? m.value("client_key"))?.fail(N_("give both client_cert and client_key (mutual TLS), or neither"))
        }
        if let v = m.value("pinned_public_key"), let pin = v.string() {
            // curl's form: sha256//BASE64 of the SubjectPublicKeyInfo, several joined by ';'.
            let ok = pin.split(separator: ";").allSatisfy { p in
                p.hasPrefix("sha256//") && p.dropFirst(8).count == 44 && p.dropFirst(8).allSatisfy { $0.isLetter || $0.isNumber || "+/=".contains($0) }
            }
            if ok { s.pinnedPublicKey = pin } else {
                v.fail(N_("expected sha256//BASE64 (44 characters), as `openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64` prints it"))
            }
        }
        if let v = m.value("proxy"), let p = v.string() {
            if HTTPURL(p) != nil || p.hasPrefix("socks5://") || p.hasPrefix("socks5h://") { s.proxy = p } else {
                v.fail(N_("expected a proxy URL, like http://proxy.example:3128"))
            }
        }
        return s
    }
}
