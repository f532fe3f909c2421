public import Credentials

/// How the electronic card's codes are made (`credentials` in citizencard.json; docs/electronic-card.md).
public struct CredentialPolicy: Hashable, Codable, Sendable {
    /// `SM2-SM3` (the default, GM/T 0003 with SM3) or `ES256` (ECDSA P-256, for verifiers abroad).
    public var algorithm: String
    /// How long a card code is valid after it is signed, in seconds.
    public var codeLifetimeSeconds: Int64
    /// How often the portal makes a new code, in seconds (shorter than the lifetime, so that a code
    /// being scanned while the next one is made is still valid).
    public var refreshSeconds: Int64
    /// The clock difference a verifier tolerates between the signer and itself, in seconds.
    public var leewaySeconds: Int64
    /// The address verifiers reach the server at, for the status list's URI in every code
    /// (`https://card.city.gov.cn`); the key list and status list are under it.
    public var publicURL: String
    /// How long a published status list or key list is valid, in seconds (a verifier that could
    /// not fetch a newer one by then refuses codes).
    public var listLifetimeSeconds: Int64

    public init(
        algorithm: String = "SM2-SM3", codeLifetimeSeconds: Int64 = 180, refreshSeconds: Int64 = 60,
        leewaySeconds: Int64 = 30, publicURL: String = "http://127.0.0.1:8080", listLifetimeSeconds: Int64 = 172_800
    ) {
        self.algorithm = algorithm
        self.codeLifetimeSeconds = codeLifetimeSeconds
        self.refreshSeconds = refreshSeconds
        self.leewaySeconds = leewaySeconds
        self.publicURL = publicURL
        self.listLifetimeSeconds = listLifetimeSeconds
    }

    /// The configured algorithm, or a message naming what is wrong.
    public func validated() -> Result<CredentialAlgorithm, PolicyError> {
        guard let algorithm = CredentialAlgorithm(name: algorithm) else {
            return .failure(PolicyError("credentials.algorithm must be SM2-SM3 or ES256"))
        }
        guard (10...86_400).contains(codeLifetimeSeconds) else {
            return .failure(PolicyError("credentials.codeLifetimeSeconds must be 10 to 86400"))
        }
        guard (5...3_600).contains(refreshSeconds), refreshSeconds < codeLifetimeSeconds else {
            return .failure(PolicyError("credentials.refreshSeconds must be 5 to 3600 and below the code lifetime"))
        }
        guard (0...300).contains(leewaySeconds) else {
            return .failure(PolicyError("credentials.leewaySeconds must be 0 to 300"))
        }
        guard (3_600...2_592_000).contains(listLifetimeSeconds) else {
            return .failure(PolicyError("credentials.listLifetimeSeconds must be 3600 to 2592000"))
        }
        guard publicURL.hasPrefix("https://") || publicURL.hasPrefix("http://"), !publicURL.hasSuffix("/") else {
            return .failure(PolicyError("credentials.publicURL must be an http(s) address without a trailing /"))
        }
        return .success(algorithm)
    }

    public struct PolicyError: Error, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }

    public var statusListURI: String { publicURL + "/api/v1/credentials/status-list" }
    public var keyListURI: String { publicURL + "/api/v1/credentials/keys" }
}

extension CredentialKeyring {
    /// A keyring made once per process, for tests and tools that run without a data directory.
    public static let ephemeral: CredentialKeyring = {
        do {
            return try CredentialKeyring.generate(now: 0)
        } catch {
            preconditionFailure("OpenSSL cannot make SM2 or P-256 keys: \(error)")
        }
    }()
}
