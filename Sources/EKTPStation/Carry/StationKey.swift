#if canImport(Glibc)
import Glibc
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#endif
import CEKTPCrypto
import EKTPHardware
import EKTPCore
import EKTPModel
import EKTPPlatform

/// The station's signing key (issue 16): Ed25519, made at the daemon's first start and kept in its
/// state directory as `station.key` (PKCS#8 PEM, mode 0600, as `openssl genpkey -algorithm ed25519`
/// writes one), so `openssl pkey -in station.key -pubout` shows the public half. It signs courier
/// bundles; its public key reaches the registry with each online batch or by `ektp-registry station add`.
public struct StationKey: Sendable {
    /// The 32-byte private seed (RFC 8032).
    let seed: [UInt8]
    /// The 32-byte public key.
    public let publicKey: [UInt8]
    public let path: String

    /// The file name in the state directory.
    public static let fileName = "station.key"

    /// Reads the key at `path`, or makes one there (0600, written to a temporary name, fsync'd and
    /// renamed) when there is none and `create` is set. Throws naming the file and the problem.
    public static func load(path: String, create: Bool) throws(KeyError) -> StationKey {
        if let text = readWholeFile(path, limit: 64 << 10) {
            guard let seed = Ed25519PEM.seed(fromPEM: text) else {
                throw KeyError("\(path): not an Ed25519 private key in PKCS#8 PEM (move it aside and ektpd makes a new one)")
            }
            return try StationKey(seed: seed, path: path)
        }
        guard create else { throw KeyError("\(path): no station key (ektpd makes it at its first start)") }
        var seed = [UInt8](repeating: 0, count: 32)
        guard ektp_random(&seed, 32) == 0 else { throw KeyError("no randomness from the kernel (getrandom): \(String(cString: strerror(errno)))") }
        let key = try StationKey(seed: seed, path: path)
        try writePrivate(Ed25519PEM.privateKey(seed: seed), to: path)
        return key
    }

    init(seed: [UInt8], path: String) throws(KeyError) {
        var why = [CChar](repeating: 0, count: 256)
        guard ektp_crypto_load(&why, why.count) == 0 else { throw KeyError(String(cString: why)) }
        var pub = [UInt8](repeating: 0, count: 32)
        guard ektp_ed25519_public(seed, &pub) == 0 else { throw KeyError("\(path): libcrypto refused the key") }
        self.seed = seed
        self.publicKey = pub
        self.path = path
    }

    /// The Ed25519 signature (64 bytes) of `message`.
    public func sign(_ message: [UInt8]) throws(KeyError) -> [UInt8] {
        var sig = [UInt8](repeating: 0, count: 64)
        guard ektp_ed25519_sign(seed, message, message.count, &sig) == 0 else { throw KeyError("signing failed (libcrypto)") }
        return sig
    }

    /// The public key in base64 (32 bytes), as batches and bundle headers carry it.
    public var publicKeyBase64: String { Data(publicKey).base64EncodedString() }

    /// `SHA256:...`, as ssh-keygen -l prints a key's fingerprint (and the registry shows it).
    public var fingerprint: String { CarryBundle.fingerprint(publicKey: publicKey, sha256: sha256) }

    /// The public key as SubjectPublicKeyInfo PEM (for `ektp-registry station add --public-key`).
    public var publicKeyPEM: String { Ed25519PEM.publicKey(publicKey) }

    static func writePrivate(_ text: String, to path: String) throws(KeyError) {
        do { try writeDurably(Array(text.utf8), to: path, mode: 0o600) } catch {
            throw KeyError("cannot write \(path): \(String(cString: strerror(error.errno)))")
        }
    }
}

/// SHA-256 (libcrypto).
public func sha256(_ bytes: [UInt8]) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: 32)
    _ = ektp_sha256(bytes, bytes.count, &out)
    return out
}

/// Ed25519 verification (libcrypto): whether `signature` is `publicKey`'s over `message`.
public func ed25519Verify(publicKey: [UInt8], message: [UInt8], signature: [UInt8]) -> Bool {
    guard publicKey.count == 32, signature.count == 64 else { return false }
    return ektp_ed25519_verify(publicKey, message, message.count, signature) == 1
}

/// A key problem, naming the file.
public struct KeyError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ d: String) { description = d }
}
