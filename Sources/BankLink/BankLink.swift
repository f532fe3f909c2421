public import BankProtocol
public import Foundation
import AsyncHTTPClient
import NIOCore
import NIOSSL

/// Signed requests between the center and a bank over HTTP or HTTPS (AsyncHTTPClient). One link
/// holds one connection pool; shut it down when done.
public final class BankLink: Sendable {
    /// What came back: an answer with any status, or no answer at all.
    public enum Outcome: Sendable, Equatable {
        case answered(status: Int, body: Data)
        /// No answer: connection refused or dropped, timeout, TLS failure. The reason is for logs
        /// and staff (no message content in it).
        case noAnswer(reason: String)
    }

    public struct Request: Sendable {
        /// The bank's base URL (`https://bank.example/citizencard`) or the center's.
        public var baseURL: String
        /// Appended to the base URL's path: `/notices`, `/accounts`, `/reconciliation?date=…`.
        public var path: String
        public var method: String
        public var body: Data
        public var direction: BankSignature.Direction
        public var bankCode: String
        public var timeoutSeconds: Int64

        public init(
            baseURL: String, path: String, method: String = "POST", body: Data = Data(),
            direction: BankSignature.Direction, bankCode: String, timeoutSeconds: Int64 = 10
        ) {
            self.baseURL = baseURL
            self.path = path
            self.method = method
            self.body = body
            self.direction = direction
            self.bankCode = bankCode
            self.timeoutSeconds = timeoutSeconds
        }
    }

    let client: HTTPClient

    /// `trustRoots`: PEM files of the CAs whose certificates a bank's HTTPS endpoint may present
    /// (the system's roots when empty).
    public init(trustRoots: [String] = [], maxConnectionsPerHost: Int = 16) throws {
        var tls = TLSConfiguration.makeClientConfiguration()
        if !trustRoots.isEmpty {
            var certificates: [NIOSSLCertificate] = []
            for path in trustRoots {
                certificates += try NIOSSLCertificate.fromPEMFile(path)
            }
            tls.trustRoots = .certificates(certificates)
        }
        var configuration = HTTPClient.Configuration(
            tlsConfiguration: tls, redirectConfiguration: .disallow,
            timeout: .init(connect: .seconds(5), read: .seconds(30)))
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = maxConnectionsPerHost
        configuration.decompression = .disabled
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    public func shutdown() async {
        try? await client.shutdown()
    }

    /// The URL's path and query as the receiver sees them, which is what is signed.
    public static func target(baseURL: String, path: String) -> (url: String, signedPath: String)? {
        guard var components = URLComponents(string: baseURL), let scheme = components.scheme?.lowercased(),
            scheme == "http" || scheme == "https", components.host?.isEmpty == false
        else { return nil }
        var base = components.percentEncodedPath
        while base.hasSuffix("/") { base.removeLast() }
        let full = base + path
        let url: String
        if let query = path.firstIndex(of: "?") {
            components.percentEncodedPath = base + String(path[..<query])
            components.percentEncodedQuery = String(path[path.index(after: query)...])
            url = components.string ?? ""
        } else {
            components.percentEncodedPath = full
            components.percentEncodedQuery = nil
            url = components.string ?? ""
        }
        return url.isEmpty ? nil : (url, full)
    }

    /// Sends the request signed with `signature` at `timestamp`; reads at most `maxAnswerBytes`.
    public func send(
        _ request: Request, signature: BankSignature, timestamp: Int64, maxAnswerBytes: Int = 4 << 20
    ) async -> Outcome {
        guard let (url, signedPath) = Self.target(baseURL: request.baseURL, path: request.path) else {
            return .noAnswer(reason: "the endpoint is not an http(s) URL")
        }
        var http = HTTPClientRequest(url: url)
        http.method = .init(rawValue: request.method)
        http.headers.add(name: "Content-Type", value: "application/json")
        http.headers.add(name: "Accept", value: "application/json")
        for header in signature.headers(
            direction: request.direction, bankCode: request.bankCode, timestamp: timestamp, method: request.method,
            path: signedPath, body: request.body)
        {
            http.headers.add(name: header.name, value: header.value)
        }
        if request.method != "GET" { http.body = .bytes(ByteBuffer(bytes: request.body)) }
        do {
            let response = try await client.execute(http, timeout: .seconds(request.timeoutSeconds))
            let body = try await response.body.collect(upTo: maxAnswerBytes)
            return .answered(status: Int(response.status.code), body: Data(body.readableBytesView))
        } catch let error as HTTPClientError {
            return .noAnswer(reason: Self.describe(error))
        } catch is NIOTooManyBytesError {
            return .noAnswer(reason: "answer too large or cut short")
        } catch {
            return .noAnswer(reason: "\(type(of: error))")
        }
    }

    static func describe(_ error: HTTPClientError) -> String {
        switch error {
        case .deadlineExceeded, .readTimeout, .connectTimeout: "timeout"
        case .remoteConnectionClosed: "connection closed by the bank"
        case .bodyLengthMismatch: "answer too large or cut short"
        default: "\(error)".prefix(120).description
        }
    }
}
