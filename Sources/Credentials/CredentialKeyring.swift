public import Foundation
import CardCrypto
import OwnerOnlyFiles

/// What a credential key signs.
public enum CredentialKeyPurpose: String, Sendable, Hashable, Codable, CaseIterable {
    /// Card codes and status lists: the keys a verifier finds in the key list.
    case cardCode = "card-code"
    /// The key list itself: the city's anchor, which verifiers hold beforehand (its public key
    /// is printed by `citizencard credential anchor` and published with the city's notices).
    case keyList = "key-list"
}

/// The city's credential keys (issue 19), in `credential-keys.json` beside the other keyrings,
/// mode 0600: for each algorithm one key that signs card codes now, the retired ones that still
/// verify the codes they signed until those have expired, and the key-list key.
public struct CredentialKeyring: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public struct Entry: Sendable {
        public var purpose: CredentialKeyPurpose
        public var key: CredentialSigningKey
        /// Seconds since 1970.
        public var createdAt: Int64
        /// When the key stopped signing (seconds since 1970); nil while it signs.
        public var retiredAt: Int64?

        public var keyID: [UInt8] { key.publicKey.keyID }
        public var algorithm: CredentialAlgorithm { key.algorithm }
    }

    public private(set) var entries: [Entry]

    public init(entries: [Entry]) { self.entries = entries }

    /// A new keyring: for each algorithm, a card-code key and a key-list key.
    public static func generate(now: Int64) throws(CredentialKeyError) -> CredentialKeyring {
        var entries: [Entry] = []
        for algorithm in CredentialAlgorithm.allCases {
            for purpose in CredentialKeyPurpose.allCases {
                entries.append(
                    Entry(purpose: purpose, key: try .generate(algorithm), createdAt: now, retiredAt: nil))
            }
        }
        return CredentialKeyring(entries: entries)
    }

    /// The key that signs for `purpose` with `algorithm` now.
    public func signingKey(
        _ purpose: CredentialKeyPurpose, _ algorithm: CredentialAlgorithm
    ) throws(CredentialKeyError)
        -> Entry
    {
        guard
            let entry = entries.last(where: {
                $0.purpose == purpose && $0.algorithm == algorithm && $0.retiredAt == nil
            })
        else { throw .noKey("no \(purpose.rawValue) key of \(algorithm) signs now") }
        return entry
    }

    /// A new key for `purpose` and `algorithm`; the one that signed until now is retired at `now`
    /// and keeps verifying (see `verifyingKeys`).
    public func rotating(
        _ purpose: CredentialKeyPurpose, _ algorithm: CredentialAlgorithm, now: Int64
    ) throws(CredentialKeyError) -> CredentialKeyring {
        var entries = self.entries
        for index in entries.indices
        where entries[index].purpose == purpose && entries[index].algorithm == algorithm
            && entries[index].retiredAt == nil
        {
            entries[index].retiredAt = now
        }
        entries.append(Entry(purpose: purpose, key: try .generate(algorithm), createdAt: now, retiredAt: nil))
        return CredentialKeyring(entries: entries)
    }

    /// The card-code keys a verifier needs at `now`: those that sign, and those retired less than
    /// `lifetime` seconds ago (a code they signed may still be valid), with the time each stops
    /// verifying (nil while it signs).
    public func verifyingKeys(now: Int64, lifetime: Int64) -> [(entry: Entry, notAfter: Int64?)] {
        entries.compactMap { entry in
            guard entry.purpose == .cardCode else { return nil }
            guard let retired = entry.retiredAt else { return (entry, nil) }
            let end = retired + lifetime
            return end > now ? (entry, end) : nil
        }
    }

    /// The entry with this key id, whatever its purpose.
    public func entry(keyID: [UInt8]) -> Entry? { entries.first { $0.keyID == keyID } }

    public var description: String { "CredentialKeyring(\(entries.count) keys)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["keys": entries.count]) }

    // MARK: The file

    /// The JSON layout of `credential-keys.json` (format 1). Keys are hex: `private` the scalar,
    /// `public` the uncompressed point, `kid` its id, which `load` checks against both.
    struct File: Codable {
        struct Key: Codable {
            var purpose: CredentialKeyPurpose
            var algorithm: String
            var kid: String
            var `private`: String
            var `public`: String
            var createdAt: Int64
            var retiredAt: Int64?
        }
        var format: Int
        var keys: [Key]
    }

    public static let fileName = "credential-keys.json"

    /// Reads the keyring; refuses a file that group or others may read, and any key whose public
    /// point or id does not follow from its private scalar.
    public static func load(from url: URL) throws(CredentialKeyError) -> CredentialKeyring {
        let path = url.path
        let data: Data
        do {
            data = try OwnerOnlyFile.read(url)
        } catch .readableByOthers {
            throw .keyFile("\(path) must be readable by its owner only (chmod 600)")
        } catch {
            throw .keyFile("cannot read \(path)")
        }
        guard let file = try? JSONDecoder().decode(File.self, from: data) else {
            throw .keyFile("\(path) is not a credential keyring file")
        }
        guard file.format == 1 else { throw .keyFile("\(path) has format \(file.format), expected 1") }
        var entries: [Entry] = []
        for (index, stored) in file.keys.enumerated() {
            guard let algorithm = CredentialAlgorithm(name: stored.algorithm) else {
                throw .keyFile("key \(index + 1) in \(path) has an unknown algorithm \(stored.algorithm)")
            }
            guard let scalar = try? Hex.decode(stored.private) else {
                throw .keyFile("key \(index + 1) in \(path) is not hex")
            }
            let key: CredentialSigningKey
            do {
                key = try CredentialSigningKey(algorithm: algorithm, scalar: scalar)
            } catch {
                throw .keyFile("key \(index + 1) in \(path): \(error)")
            }
            guard Hex.encode(key.publicKey.point) == stored.public.uppercased(),
                Hex.encode(key.publicKey.keyID) == stored.kid.uppercased()
            else { throw .keyFile("key \(index + 1) in \(path) does not match its public key or id") }
            entries.append(
                Entry(purpose: stored.purpose, key: key, createdAt: stored.createdAt, retiredAt: stored.retiredAt))
        }
        let ring = CredentialKeyring(entries: entries)
        for algorithm in CredentialAlgorithm.allCases {
            for purpose in CredentialKeyPurpose.allCases { _ = try ring.signingKey(purpose, algorithm) }
        }
        return ring
    }

    /// Writes the keyring with mode 0600 through a temporary file and a rename.
    public func write(to url: URL) throws(CredentialKeyError) {
        let keys = entries.map { entry in
            File.Key(
                purpose: entry.purpose, algorithm: entry.algorithm.name, kid: Hex.encode(entry.keyID),
                private: Hex.encode(entry.key.scalar), public: Hex.encode(entry.key.publicKey.point),
                createdAt: entry.createdAt, retiredAt: entry.retiredAt)
        }
        do {
            try OwnerOnlyFile.writeJSON(File(format: 1, keys: keys), to: url)
        } catch {
            throw .keyFile("cannot write \(url.path)")
        }
    }

    /// Loads the keyring at `url`, or generates and writes one if there is no file.
    public static func loadOrCreate(
        at url: URL, now: Int64
    ) throws(CredentialKeyError) -> (
        CredentialKeyring, created: Bool
    ) {
        if FileManager.default.fileExists(atPath: url.path) { return (try load(from: url), false) }
        let ring = try generate(now: now)
        try ring.write(to: url)
        return (ring, true)
    }
}

extension CredentialAlgorithm {
    /// The name in files, configuration and the key list: `SM2-SM3` or `ES256`.
    public var name: String {
        switch self {
        case .sm2sm3: "SM2-SM3"
        case .es256: "ES256"
        }
    }

    public init?(name: String) {
        switch name.uppercased() {
        case "SM2-SM3", "SM2": self = .sm2sm3
        case "ES256", "P-256": self = .es256
        default: return nil
        }
    }
}
