import HummingbirdCore
import Logging
import NIOCore
import NIOSSL
import Synchronization

/// The registry's own HTTPS (issue 14): a certificate chain and key in PEM, TLS 1.2 at least, and
/// optionally a CA whose client certificates are required (mutual TLS). `reload()` reads the files
/// again (SIGHUP after a renewal): connections already open keep the context they began with, new
/// ones get the new one, so nothing in flight is dropped. A reload that fails keeps the old context.
public final class RegistryTLS: Sendable {
    public let certificatePath: String
    public let keyPath: String
    public let clientCAPath: String?
    private let context: Mutex<NIOSSLContext>

    /// Reads and checks the files. Throws a `RegistryTLSError` naming the file and the problem.
    public init(certificate: String, key: String, clientCA: String?) throws {
        certificatePath = certificate
        keyPath = key
        clientCAPath = clientCA
        context = Mutex(try Self.load(certificate: certificate, key: key, clientCA: clientCA))
    }

    /// Reads the files again; on failure the running context stays and the error says why.
    public func reload() throws {
        let fresh = try Self.load(certificate: certificatePath, key: keyPath, clientCA: clientCAPath)
        context.withLock { $0 = fresh }
    }

    /// The context new connections start with.
    public var current: NIOSSLContext { context.withLock { $0 } }

    static func load(certificate: String, key: String, clientCA: String?) throws -> NIOSSLContext {
        let chain: [NIOSSLCertificate]
        do { chain = try NIOSSLCertificate.fromPEMFile(certificate) } catch {
            throw RegistryTLSError("--tls-cert \(certificate): cannot be read as PEM certificates (\(error))")
        }
        guard !chain.isEmpty else { throw RegistryTLSError("--tls-cert \(certificate): holds no certificate") }
        let privateKey: NIOSSLPrivateKey
        do { privateKey = try NIOSSLPrivateKey(file: key, format: .pem) } catch {
            throw RegistryTLSError("--tls-key \(key): cannot be read as a PEM private key (\(error))")
        }
        var c = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(privateKey))
        c.minimumTLSVersion = .tlsv12
        if let clientCA {
            do { _ = try NIOSSLCertificate.fromPEMFile(clientCA) } catch {
                throw RegistryTLSError("--client-ca \(clientCA): cannot be read as PEM certificates (\(error))")
            }
            c.trustRoots = .file(clientCA)
            // A client certificate is required and must chain to this CA; stations have no host name to check.
            c.certificateVerification = .noHostnameVerification
        }
        do { return try NIOSSLContext(configuration: c) } catch {
            throw RegistryTLSError("--tls-cert \(certificate) and --tls-key \(key) do not make a TLS context (\(error)): does the key belong to the certificate?")
        }
    }
}

/// A TLS set-up problem, naming the option and file.
public struct RegistryTLSError: Error, CustomStringConvertible, Sendable {
    public var description: String
    init(_ d: String) { description = d }
}

/// Hummingbird's TLSChannel, but taking the context at each connection from a `RegistryTLS`, so a
/// renewed certificate is served from the next connection on.
struct ReloadableTLSChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value
    let tls: RegistryTLS
    let base: Base

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let context = tls.current
        return channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
        }.flatMap {
            base.setup(channel: channel, logger: logger)
        }
    }

    func handle(value: Base.Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

extension ReloadableTLSChannel: HTTPChannelHandler where Base: HTTPChannelHandler {
    var responder: HTTPChannelHandler.Responder { base.responder }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 over TLS with a reloadable certificate (`ektp-registry serve --tls-cert`).
    public static func registryTLS(_ tls: RegistryTLS, configuration: HTTP1Channel.Configuration = .init()) -> HTTPServerBuilder {
        .init { responder in
            ReloadableTLSChannel(tls: tls, base: HTTP1Channel(responder: responder, configuration: configuration))
        }
    }
}
