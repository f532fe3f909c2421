public import CitizenCardServices
import Hummingbird
public import HummingbirdTLS
public import NIOSSL
import NIOCore
import X509

/// The server's TLS (issue 18): its certificate and key, and optionally the CA that signs
/// department clients' certificates. With a client CA a client may present a certificate; the
/// handshake checks it against the CA, and a request without `Authorization` is then from the
/// department client registered with the certificate's subject (docs/departments.md). Browsers
/// and other clients without a certificate are served as before.
public struct ServerTLS: Sendable {
    public var configuration: TLSConfiguration

    /// - Throws: a description of the file that cannot be read or is not PEM.
    public init(certificateFile: String, keyFile: String, clientCAFile: String?) throws {
        let chain = try NIOSSLCertificate.fromPEMFile(certificateFile)
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: keyFile, format: .pem)))
        configuration.minimumTLSVersion = .tlsv12
        if let clientCAFile {
            configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(clientCAFile))
            // A certificate that is presented must verify; none at all is a client without one.
            configuration.certificateVerification = .optionalVerification
        }
        self.configuration = configuration
    }
}

/// Maps a verified client certificate to its department client when the request has no bearer
/// token; an unregistered or revoked certificate leaves the request anonymous.
struct ClientCertificateMiddleware: RouterMiddleware {
    typealias Context = AppContext
    let departments: DepartmentService

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard request.headers[.authorization] == nil, let channel = context.channel,
            let subject = try? await Self.peerSubject(channel)
        else { return try await next(request, context) }
        var context = context
        // RFC 4514 writes the subject's parts last first; a registry entry may list them either way.
        let reversed = subject.split(separator: ",").reversed().joined(separator: ",")
        for candidate in [subject, reversed] {
            if let actor = try? await departments.authenticate(certificateSubject: candidate) {
                context.actor = actor
                context.logger[metadataKey: "actor"] = "\(actor.name)"
                break
            }
        }
        return try await next(request, context)
    }

    /// The subject of the certificate the peer presented and the handshake verified, in the
    /// registry's normal form; nil without TLS or without a certificate.
    static func peerSubject(_ channel: any Channel) async throws -> String? {
        let der = try await channel.eventLoop.submit { () -> [UInt8]? in
            guard let handler = try? channel.pipeline.syncOperations.handler(type: NIOSSLHandler.self) else {
                return nil
            }
            return try handler.peerCertificate?.toDERBytes()
        }.get()
        guard let der else { return nil }
        let certificate = try Certificate(derEncoded: der)
        return DepartmentService.normalizedSubject(String(describing: certificate.subject))
    }
}
