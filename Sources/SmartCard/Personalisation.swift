public import CardCrypto

/// What the card factory writes into one chip (issue 4, part 4): the ASN, the key version and
/// algorithm, the holder's data files, and the card's diversified keys wrapped under the transport
/// key shared with the factory. Produced by the center when a production batch is exported; the
/// factory (here: `SoftwareCard.init(personalisation:transportKey:)`) turns it into a card. The
/// master keys never leave the center.
public struct CardPersonalisation: Sendable, Hashable, Codable {
    public static let format = "citizencard-chip/1"

    public var format: String
    /// 20 hex digits.
    public var asn: String
    public var keyVersion: UInt8
    public var algorithmID: UInt8
    /// The social-security application's data files.
    public var holder: CardHolder
    /// DLK, DPK, DTK, DAMK, the PIN key and DIAK by `MasterKeyType` name, each wrapped (`KeyWrap`).
    /// Files exported before DIAK existed have no `internalAuthentication`; the factory still
    /// makes their cards, which then answer INTERNAL AUTHENTICATE `6A88`.
    public var keys: [String: WrappedKey]
    /// The check value of the transport key that wraps them, so that the factory knows which.
    public var transportKeyCheckValue: String

    /// The keys every personalisation file carries.
    static let requiredKeyTypes: [MasterKeyType] = [.load, .purchase, .tac, .applicationMaintenance, .pin]
    /// The keys the center exports today: the required ones and DIAK.
    static let keyTypes: [MasterKeyType] = requiredKeyTypes + [.internalAuthentication]

    /// Diversifies the card's keys from the issuer's master keys and wraps them under the
    /// keyring's transport key of the same version.
    public init(
        asn: String, holder: CardHolder, keyring: IssuerKeyring, keyVersion: UInt8 = 1,
        algorithm: any PurseAlgorithm = TripleDESPurse()
    ) throws(SoftwareCardError) {
        try holder.validate()
        do throws(CardCryptoError) {
            let serial = try ApplicationSerialNumber(hex: asn)
            let transport = try keyring.masterKey(.transport, version: keyVersion)
            var keys: [String: WrappedKey] = [:]
            for type in Self.keyTypes {
                let key = try keyring.cardKey(type, version: keyVersion, asn: serial, algorithm: algorithm)
                keys[type.rawValue] = try KeyWrap.wrap(key, kek: transport)
            }
            self.init(
                asn: serial.description, keyVersion: keyVersion, algorithmID: algorithm.algorithmID, holder: holder,
                keys: keys, transportKeyCheckValue: Hex.encode(try transport.checkValue(.tripleDES)))
        } catch {
            throw .crypto(error)
        }
    }

    init(
        asn: String, keyVersion: UInt8, algorithmID: UInt8, holder: CardHolder, keys: [String: WrappedKey],
        transportKeyCheckValue: String
    ) {
        self.format = Self.format
        self.asn = asn
        self.keyVersion = keyVersion
        self.algorithmID = algorithmID
        self.holder = holder
        self.keys = keys
        self.transportKeyCheckValue = transportKeyCheckValue
    }
}

extension SoftwareCard {
    /// The factory's step: unwraps the keys with the transport key (each checked against its
    /// check value) and writes a new card.
    public init(
        personalisation data: CardPersonalisation, transportKey: SecretKey, pin: [UInt8] = [0x12, 0x34, 0x56],
        challengeSource: ChallengeSource = .system
    ) throws(SoftwareCardError) {
        guard data.format == CardPersonalisation.format else {
            throw .invalidValue(field: "format", reason: "expected \(CardPersonalisation.format)")
        }
        let asn: ApplicationSerialNumber
        var keys: [MasterKeyType: SecretKey] = [:]
        do throws(CardCryptoError) {
            asn = try ApplicationSerialNumber(hex: data.asn)
            guard Hex.encode(try transportKey.checkValue(.tripleDES)) == data.transportKeyCheckValue.uppercased()
            else { throw .macMismatch(what: "transport key check value") }
            for type in CardPersonalisation.keyTypes {
                guard let wrapped = data.keys[type.rawValue] else {
                    if CardPersonalisation.requiredKeyTypes.contains(type) {
                        throw .invalidValue(field: "keys", reason: "\(type.rawValue) missing")
                    }
                    continue
                }
                keys[type] = try KeyWrap.unwrap(wrapped, kek: transportKey)
            }
        } catch {
            throw .crypto(error)
        }
        guard let load = keys[.load], let purchase = keys[.purchase], let tac = keys[.tac],
            let maintenance = keys[.applicationMaintenance], let pinKey = keys[.pin]
        else { throw .invalidValue(field: "keys", reason: "incomplete") }
        try self.init(
            asn: asn.bytes, holder: data.holder,
            keys: CardKeys(
                load: load, purchase: purchase, tac: tac, applicationMaintenance: maintenance, pin: pinKey,
                internalAuthentication: keys[.internalAuthentication]),
            keyVersion: data.keyVersion, algorithmID: data.algorithmID, pin: pin, challengeSource: challengeSource)
    }
}
