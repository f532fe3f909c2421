public import Foundation
import OwnerOnlyFiles

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The kinds of issuer master key (CARDTECH.md §5.2, §5.6). Each is diversified per card.
public enum MasterKeyType: String, Sendable, Codable, CaseIterable, Comparable {
    /// MLK → the card's DLK: load (credit) session keys; the host checks MAC1 and makes MAC2.
    case load
    /// MPK → the card's DPK: purchase session keys; held by PSAMs.
    case purchase
    /// MTK → the card's DTK: TACs, checked by the host at clearing.
    case tac
    /// The application maintenance key (DAMK): line-protected commands such as APPLICATION BLOCK.
    case applicationMaintenance
    /// The PIN unblock/reload key.
    case pin
    /// MIAK → the card's DIAK: INTERNAL AUTHENTICATE, the offline proof that a card is genuine
    /// (issue 19, part 5); held by PSAMs. Keyrings written before it existed get one on load
    /// (`addingMissingKeys`).
    case internalAuthentication
    /// The transport key (KEK) shared with the card factory: it wraps each card's diversified keys
    /// in a personalisation file (`KeyWrap`). Used as it is, never diversified.
    case transport

    public static func < (lhs: MasterKeyType, rhs: MasterKeyType) -> Bool {
        allCases.firstIndex(of: lhs) ?? 0 < allCases.firstIndex(of: rhs) ?? 0
    }
}

/// A master key's place in the keyring: its type and its key version (the byte a card reports in
/// INITIALIZE responses).
public struct MasterKeyID: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let type: MasterKeyType
    public let version: UInt8

    public init(_ type: MasterKeyType, version: UInt8) {
        self.type = type
        self.version = version
    }

    public static func < (lhs: MasterKeyID, rhs: MasterKeyID) -> Bool {
        (lhs.version, lhs.type) < (rhs.version, rhs.type)
    }

    /// `load v01`.
    public var description: String { "\(type.rawValue) v\(hexByte(version))" }
}

/// The issuer's master keys, by type and key version, and the issuer levels of diversification.
///
/// Kept in one JSON file readable by its owner only (mode 0600; a file that group or others may
/// read is refused). Never logged: `description`, `debugDescription` and `dump` list key ids only.
public struct IssuerKeyring: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// Sorted by id. A keyring holds a few dozen keys at most; a linear scan is faster than hashing.
    private let entries: [(id: MasterKeyID, key: SecretKey)]
    /// The issuer levels above the card, highest first (province F1, city F2), 8 bytes each.
    /// Empty for one-level diversification (card key = Div(MK, ASN)).
    public let issuerFactors: [[UInt8]]

    /// The handout's test key (CARDTECH.md §6): every master key of `testKeys()`.
    public static let testKey = SecretKey(unchecked: [
        0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF, 0xFE, 0xDC, 0xBA, 0x98, 0x76, 0x54, 0x32, 0x10,
    ])

    /// A keyring from its keys; every master key must have 16 bytes and every factor 8.
    public init(keys: [MasterKeyID: SecretKey], issuerFactors: [[UInt8]] = []) throws(CardCryptoError) {
        for (id, key) in keys where key.byteCount != 16 {
            throw .invalidKeyLength(algorithm: "master key \(id)", byteCount: key.byteCount)
        }
        for factor in issuerFactors where factor.count != 8 {
            throw .invalidLength(field: "issuer diversification factor", expected: 8, actual: factor.count)
        }
        self.entries = keys.sorted { $0.key < $1.key }.map { (id: $0.key, key: $0.value) }
        self.issuerFactors = issuerFactors
    }

    /// A keyring in which every master key of every type is `testKey`, so that anyone can
    /// recompute a card's MACs by hand. For tests and demonstrations only.
    public static func testKeys(versions: [UInt8] = [1]) -> IssuerKeyring {
        var keys: [MasterKeyID: SecretKey] = [:]
        for version in versions {
            for type in MasterKeyType.allCases { keys[MasterKeyID(type, version: version)] = testKey }
        }
        return IssuerKeyring(validated: keys, issuerFactors: [])
    }

    /// A keyring with a random master key (OpenSSL `RAND_bytes`) for every type and version.
    public static func generate(
        versions: [UInt8] = [1], issuerFactors: [[UInt8]] = []
    ) throws(CardCryptoError) -> IssuerKeyring {
        var keys: [MasterKeyID: SecretKey] = [:]
        for version in versions {
            for type in MasterKeyType.allCases { keys[MasterKeyID(type, version: version)] = try .random() }
        }
        return try IssuerKeyring(keys: keys, issuerFactors: issuerFactors)
    }

    private init(validated keys: [MasterKeyID: SecretKey], issuerFactors: [[UInt8]]) {
        self.entries = keys.sorted { $0.key < $1.key }.map { (id: $0.key, key: $0.value) }
        self.issuerFactors = issuerFactors
    }

    /// The ring with random keys of every type for a new key version (key rotation).
    /// - Throws: `invalidValue` if the ring already holds a key of that version.
    public func addingRandomKeys(version: UInt8) throws(CardCryptoError) -> IssuerKeyring {
        guard !entries.contains(where: { $0.id.version == version }) else {
            throw .invalidValue(field: "key version", reason: "version \(hexByte(version)) already exists")
        }
        var keys = Dictionary(uniqueKeysWithValues: entries.map { ($0.id, $0.key) })
        for type in MasterKeyType.allCases { keys[MasterKeyID(type, version: version)] = try .random() }
        return IssuerKeyring(validated: keys, issuerFactors: issuerFactors)
    }

    /// The keys a keyring written by an older version lacks: for every key version it holds, each
    /// `MasterKeyType` it has no key of (e.g. `internalAuthentication`, added in issue 19).
    public var missingKeyIDs: [MasterKeyID] {
        let versions = Set(entries.map(\.id.version)).sorted()
        return versions.flatMap { version in
            MasterKeyType.allCases.filter { type in !entries.contains { $0.id == MasterKeyID(type, version: version) } }
                .map { MasterKeyID($0, version: version) }
        }
    }

    /// The ring with a key for every id of `missingKeyIDs`: the handout's test key for a version
    /// whose keys are all the test key (a `testKeys()` ring stays recomputable by hand), a random
    /// key otherwise. A new key never changes the cards already issued: their other keys stay as
    /// they were, and only cards personalised from now on hold the new key.
    public func addingMissingKeys() throws(CardCryptoError) -> (keyring: IssuerKeyring, added: [MasterKeyID]) {
        let missing = missingKeyIDs
        guard !missing.isEmpty else { return (self, []) }
        var keys = Dictionary(uniqueKeysWithValues: entries.map { ($0.id, $0.key) })
        for id in missing {
            let allTest = entries.filter { $0.id.version == id.version }.allSatisfy { $0.key == Self.testKey }
            keys[id] = allTest ? Self.testKey : try .random()
        }
        return (IssuerKeyring(validated: keys, issuerFactors: issuerFactors), missing)
    }

    /// The ids of the keys held, sorted by version then type.
    public var keyIDs: [MasterKeyID] { entries.map(\.id) }

    /// The master key of `type` and `version`, or `unknownKey`.
    public func masterKey(_ type: MasterKeyType, version: UInt8) throws(CardCryptoError) -> SecretKey {
        for entry in entries where entry.id.version == version && entry.id.type == type { return entry.key }
        throw .unknownKey(type: type, version: version)
    }

    /// A card's diversified key (DLK, DPK, DTK, DAMK, DIAK …) for personalisation or host checks:
    /// the issuer levels, then the card's ASN, with `algorithm`'s diversification.
    public func cardKey(
        _ type: MasterKeyType, version: UInt8, asn: ApplicationSerialNumber, algorithm: any PurseAlgorithm,
        using engine: CipherEngine = .current
    ) throws(CardCryptoError) -> SecretKey {
        try algorithm.cardKey(
            masterKey: masterKey(type, version: version), asn: asn, issuerFactors: issuerFactors, using: engine)
    }

    /// `IssuerKeyring(10 master keys: load v01, …; issuer levels: 0)`; never a key byte.
    public var description: String {
        "IssuerKeyring(\(entries.count) master keys: \(keyIDs.map(\.description).joined(separator: ", ")); "
            + "issuer levels: \(issuerFactors.count))"
    }
    public var debugDescription: String { description }
    public var customMirror: Mirror {
        Mirror(self, children: ["keyIDs": keyIDs, "issuerLevels": issuerFactors.count], displayStyle: .struct)
    }
}

// MARK: File

extension IssuerKeyring {
    /// The JSON layout of the keyring file (format 1). Keys and factors are hex; `checkValue` is the
    /// 3DES key check value (3 bytes), which `load` verifies to catch a mistyped key.
    struct File: Codable {
        struct Key: Codable {
            var type: MasterKeyType
            var version: UInt8
            var key: String
            var checkValue: String?
        }
        var format: Int
        var issuerFactors: [String]
        var keys: [Key]
    }

    /// Reads the keyring; refuses a file that group or others may read.
    public static func load(from url: URL) throws(CardCryptoError) -> IssuerKeyring {
        let path = url.path
        let data: Data
        do {
            data = try OwnerOnlyFile.read(url)
        } catch .readableByOthers {
            throw .keyFile("\(path) must be readable by its owner only (chmod 600)")
        } catch {
            throw .keyFile("cannot read \(path)")
        }
        let file: File
        do {
            file = try JSONDecoder().decode(File.self, from: data)
        } catch {
            throw .keyFile("\(path) is not a card keyring file")
        }
        guard file.format == 1 else { throw .keyFile("\(path) has format \(file.format), expected 1") }
        var keys: [MasterKeyID: SecretKey] = [:]
        for entry in file.keys {
            let id = MasterKeyID(entry.type, version: entry.version)
            guard let bytes = try? Hex.decode(entry.key), bytes.count == 16 else {
                throw .keyFile("key \(id) is not 32 hex digits")
            }
            let key = SecretKey(unchecked: bytes)
            if let expected = entry.checkValue {
                guard (try? Hex.encode(key.checkValue(.tripleDES))) == expected.uppercased() else {
                    throw .keyFile("key \(id) does not match its check value")
                }
            }
            guard keys.updateValue(key, forKey: id) == nil else { throw .keyFile("key \(id) appears twice") }
        }
        var factors: [[UInt8]] = []
        for factor in file.issuerFactors {
            guard let bytes = try? Hex.decode(factor), bytes.count == 8 else {
                throw .keyFile("issuer factor \(factor) is not 16 hex digits")
            }
            factors.append(bytes)
        }
        return IssuerKeyring(validated: keys, issuerFactors: factors)
    }

    /// Writes the keyring with mode 0600 (directory 0700) through a temporary file and a rename, so
    /// that a crash never leaves a half-written key file.
    public func write(to url: URL) throws(CardCryptoError) {
        var fileKeys: [File.Key] = []
        for (id, key) in entries {
            let checkValue = try Hex.encode(key.checkValue(.tripleDES))
            fileKeys.append(
                File.Key(type: id.type, version: id.version, key: Hex.encode(key.bytes), checkValue: checkValue))
        }
        let file = File(format: 1, issuerFactors: issuerFactors.map { Hex.encode($0) }, keys: fileKeys)
        do {
            try OwnerOnlyFile.writeJSON(file, to: url)
        } catch {
            throw .keyFile("cannot write \(url.path)")
        }
    }

    /// Where a data directory keeps its keyring: `DATA/keys/issuer-keys.json`.
    public static let dataDirectoryPath = "keys/issuer-keys.json"

    /// Loads the keyring at `url` and, if it was written before a key type existed, adds the
    /// missing keys (`addingMissingKeys`) and writes the file again before returning, so that
    /// every process that opens it afterwards sees the same keys. Every caller that may
    /// personalise a card or check one opens the keyring this way.
    public static func loadAddingMissingKeys(
        from url: URL
    ) throws(CardCryptoError) -> (keyring: IssuerKeyring, added: [MasterKeyID]) {
        let (ring, added) = try load(from: url).addingMissingKeys()
        if !added.isEmpty { try ring.write(to: url) }
        return (ring, added)
    }

    /// Loads the keyring at `url` (adding the keys of newer key types, see
    /// `loadAddingMissingKeys`), or creates, writes and returns `make()` if there is no file.
    public static func loadOrCreate(
        at url: URL, make: () throws(CardCryptoError) -> IssuerKeyring
    ) throws(CardCryptoError) -> (IssuerKeyring, created: Bool) {
        if FileManager.default.fileExists(atPath: url.path) {
            return (try loadAddingMissingKeys(from: url).keyring, false)
        }
        let ring = try make()
        try ring.write(to: url)
        return (ring, true)
    }
}
