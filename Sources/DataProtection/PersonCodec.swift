public import Foundation
public import CitizenCardDomain

/// Turns `PersonalDetails` into bytes and back, compactly and fast (an import seals 1.2 million).
///
/// Layout: format byte `0x01`, then each field as a 2-byte big-endian length and UTF-8 bytes, in
/// a fixed order; length `0xFFFF` means absent.
public enum PersonCodec {
    static let format: UInt8 = 0x01
    static let absent: UInt16 = 0xFFFF

    public static func encode(_ details: PersonalDetails) -> Data { Data(bytes(details)) }

    static func bytes(_ details: PersonalDetails) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(200)
        out.append(format)
        for field in fields(of: details) {
            guard var field else {
                out.append(0xFF)
                out.append(0xFF)
                continue
            }
            let count = min(field.utf8.count, 0xFFFE)
            out.append(UInt8(count >> 8))
            out.append(UInt8(count & 0xFF))
            field.withUTF8 { out.append(contentsOf: $0.prefix(count)) }
        }
        return out
    }

    public static func decode(_ data: Data) throws(DataProtectionError) -> PersonalDetails {
        let bytes = [UInt8](data)
        guard bytes.first == format else { throw .malformedCiphertext }
        var index = 1
        var values: [String?] = []
        while index < bytes.count {
            guard index + 2 <= bytes.count else { throw .malformedCiphertext }
            let length = UInt16(bytes[index]) << 8 | UInt16(bytes[index + 1])
            index += 2
            if length == absent {
                values.append(nil)
                continue
            }
            guard index + Int(length) <= bytes.count else { throw .malformedCiphertext }
            values.append(String(decoding: bytes[index..<(index + Int(length))], as: UTF8.self))
            index += Int(length)
        }
        guard values.count == 7, let number = values[0], let name = values[1],
            // Stored numbers open whatever a later region code table says.
            case .success(let residentID) = ResidentID.parse(number, regions: nil)
        else { throw .malformedCiphertext }
        return PersonalDetails(
            residentID: residentID, name: name, socialSecurityNumber: values[2], phone: values[3], address: values[4],
            employer: values[5], photoID: values[6].flatMap { PhotoID(parsing: $0) })
    }

    private static func fields(of details: PersonalDetails) -> [String?] {
        [
            details.residentID.number, details.name, details.socialSecurityNumber, details.phone, details.address,
            details.employer, details.photoID?.rawValue,
        ]
    }
}

/// Seals and opens person records and photos with the key ring, binding each to its row.
public struct PersonVault: Sendable {
    public let sealer: Sealer
    public let index: BlindIndex

    public init(keyRing: KeyRing) {
        self.sealer = keyRing.sealer
        self.index = keyRing.blindIndex
    }

    public func seal(_ details: PersonalDetails, personID: Person.ID) throws -> Data {
        try sealer.seal(PersonCodec.bytes(details), context: "person:\(personID.rawValue)")
    }

    /// Sealed details and the fingerprint, encoding the details once (the import's hot path).
    public func sealWithFingerprint(
        _ details: PersonalDetails, _ attributes: PersonAttributes, personID: Person.ID
    )
        throws -> (sealed: Data, fingerprint: Data)
    {
        let encoded = PersonCodec.bytes(details)
        return (
            try sealer.seal(encoded, context: "person:\(personID.rawValue)"),
            index.digest(domain: "fp", encoded + Self.attributeBytes(attributes))
        )
    }

    public func open(_ sealed: Data, personID: Person.ID) throws(DataProtectionError) -> PersonalDetails {
        try PersonCodec.decode(sealer.open(sealed, context: "person:\(personID.rawValue)"))
    }

    public func sealPhoto(_ bytes: Data, photoID: PhotoID) throws -> Data {
        try sealer.seal(bytes, context: "photo:\(photoID.rawValue)")
    }

    public func openPhoto(_ sealed: Data, photoID: PhotoID) throws(DataProtectionError) -> Data {
        try sealer.open(sealed, context: "photo:\(photoID.rawValue)")
    }

    /// The document reference of a card's cancellation, bound to the card.
    public func sealCancellationDocument(_ reference: String, cardID: String) throws -> Data {
        try sealer.seal(Data(reference.utf8), context: "cancel_document:\(cardID)")
    }

    public func openCancellationDocument(_ sealed: Data, cardID: String) throws(DataProtectionError) -> String {
        String(decoding: try sealer.open(sealed, context: "cancel_document:\(cardID)"), as: UTF8.self)
    }

    public func indexOf(_ residentID: ResidentID) -> Data { index.residentID(residentID.number) }

    /// A field's value as a department sees it under a `keyed_hash` disclosure: 16 bytes of
    /// HMAC-SHA256 in a domain of that department and field, so that one department can match
    /// records it holds while two departments cannot link theirs.
    public func departmentHash(_ value: String, department: String, field: String) -> Data {
        index.digest(domain: "dept:\(department):\(field)", Data(value.utf8))
    }

    /// Same value for the same details and attributes, whatever the person id or key id.
    public func fingerprint(_ details: PersonalDetails, _ attributes: PersonAttributes) -> Data {
        index.digest(domain: "fp", PersonCodec.bytes(details) + Self.attributeBytes(attributes))
    }

    static func attributeBytes(_ attributes: PersonAttributes) -> [UInt8] {
        [
            attributes.household == .local ? 1 : 2, attributes.socialInsurance ? 1 : 0,
            attributes.ruralMedical ? 1 : 0, attributes.lifeStatus == .alive ? 1 : 2,
        ]
    }
}
