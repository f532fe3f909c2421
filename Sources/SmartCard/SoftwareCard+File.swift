public import CardCrypto
public import Foundation
import OwnerOnlyFiles

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

// MARK: Personalisation

extension SoftwareCard {
    /// A new card for `asn` whose keys are diversified from the issuer's master keys of
    /// `keyVersion` (CARDTECH.md §5.2): DLK from the load key, DPK from the purchase key, DTK from
    /// the TAC key, DAMK from the application-maintenance key, the PIN key, and DIAK from the
    /// internal-authentication key, each through the keyring's issuer levels and then the ASN's
    /// rightmost 8 bytes.
    ///
    /// - Throws: `invalidValue` for a bad ASN, PIN or holder field; `crypto(.unknownKey…)` when
    ///   the keyring holds no key of that version.
    public static func personalise(
        asn: [UInt8], holder: CardHolder, keyring: IssuerKeyring, keyVersion: UInt8 = 1,
        algorithm: any PurseAlgorithm = TripleDESPurse(), pin: [UInt8] = [0x12, 0x34, 0x56], pinTriesMax: Int = 3,
        issuerID: [UInt8] = [UInt8](repeating: 0, count: 8), balanceMaxFen: UInt32 = 500_000,
        challengeSource: ChallengeSource = .system
    ) throws(SoftwareCardError) -> SoftwareCard {
        let serial: ApplicationSerialNumber
        do {
            serial = try ApplicationSerialNumber(bytes: asn)
        } catch {
            throw .invalidValue(field: "ASN", reason: "must be 10 bytes")
        }
        func key(_ type: MasterKeyType) throws(SoftwareCardError) -> SecretKey {
            do {
                return try keyring.cardKey(type, version: keyVersion, asn: serial, algorithm: algorithm)
            } catch {
                throw .crypto(error)
            }
        }
        let keys = CardKeys(
            load: try key(.load), purchase: try key(.purchase), tac: try key(.tac),
            applicationMaintenance: try key(.applicationMaintenance), pin: try key(.pin),
            internalAuthentication: try key(.internalAuthentication))
        return try SoftwareCard(
            asn: asn, holder: holder, keys: keys, keyVersion: keyVersion, algorithmID: algorithm.algorithmID,
            pin: pin, pinTriesMax: pinTriesMax, issuerID: issuerID, balanceMaxFen: balanceMaxFen,
            challengeSource: challengeSource)
    }
}

// MARK: File

extension SoftwareCard {
    /// The card file (format 1): `{"format": 1, "card": {…}}`, keys in hex.
    struct File: Codable {
        var format: Int
        var card: SoftwareCard
    }

    /// The card as JSON (sorted keys, so that equal cards give equal bytes).
    public func encoded() throws(SoftwareCardError) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do {
            return try encoder.encode(File(format: 1, card: self))
        } catch {
            throw .file("cannot encode the card")
        }
    }

    /// A card from `encoded()` output; refuses another format or impossible values.
    public static func decode(_ data: Data) throws(SoftwareCardError) -> SoftwareCard {
        let file: File
        do {
            file = try JSONDecoder().decode(File.self, from: data)
        } catch {
            throw .file("not a software card file")
        }
        guard file.format == 1 else { throw .file("format \(file.format), expected 1") }
        try file.card.checkConsistency()
        return file.card
    }

    /// What `init` guarantees, checked again on a decoded card.
    func checkConsistency() throws(SoftwareCardError) {
        guard asn.count == 10, issuerID.count == 8, (2...6).contains(pin.value.count),
            (1...15).contains(pin.triesMax), (0...pin.triesMax).contains(pin.triesLeft),
            purses.log.count <= PurseState.logRecordCountMax,
            purses.log.allSatisfy({ $0.bytes.count == TransactionLogRecord.byteCount })
        else { throw .file("the card file holds impossible values") }
        try holder.validate()
    }

    /// Writes the card with mode 0600 through a temporary file and a rename, so that a crash never
    /// leaves a half-written card (it holds keys).
    public func save(to url: URL) throws(SoftwareCardError) {
        let data = try encoded()
        do {
            try OwnerOnlyFile.write(data, to: url, createDirectory: false)
        } catch {
            throw .file("cannot write \(url.path)")
        }
    }

    /// Reads a card; refuses a file that group or others may read.
    public static func load(from url: URL) throws(SoftwareCardError) -> SoftwareCard {
        let data: Data
        do {
            data = try OwnerOnlyFile.read(url)
        } catch .readableByOthers {
            throw .file("\(url.path) must be readable by its owner only")
        } catch {
            throw .file("cannot read \(url.path)")
        }
        return try decode(data)
    }
}
