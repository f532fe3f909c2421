// SELECT, READ BINARY, READ RECORD, VERIFY and GET CHALLENGE: the ISO 7816-4 side of the card.

extension SoftwareCard {
    /// SELECT `00 A4 04 00 Lc name [00]` or `00 A4 00 00 02 FID [00]`: makes an application
    /// current and answers its FCI. Selecting clears the pending transaction, the challenge and,
    /// when the application changes, the verified PIN.
    mutating func select(_ command: CommandAPDU) throws(Refusal) -> [UInt8] {
        guard command.p2 == 0x00, command.p1 == 0x00 || command.p1 == 0x04 else { throw Refusal(.incorrectP1P2) }
        guard !command.data.isEmpty else { throw Refusal(.wrongLength) }
        let target: CardApplication
        if command.p1 == 0x04 {
            switch command.data {
            case Self.pseName: target = .paymentSystemEnvironment
            case Self.socialSecurityName: target = .socialSecurity
            case Self.purseAID: target = .purse
            default: throw Refusal(.fileNotFound)
            }
        } else {
            guard command.data.count == 2 else { throw Refusal(.wrongLength) }
            switch command.data {
            case [0x3F, 0x00]: target = .masterFile
            case Self.purseFID: target = .purse
            default: throw Refusal(.fileNotFound)
            }
        }
        session.challenge = nil
        if target == .purse {
            switch purses.lock {
            case .none: break
            case .temporary: throw Refusal(.functionNotSupported)
            case .permanent: throw Refusal(.applicationPermanentlyLocked)
            }
        }
        if session.selected != target { session.pinVerified = false }
        session.selected = target
        return fci(target)
    }

    /// `6F{84 name, A5{…}}` (CARDTECH.md §1). The purse's issuer data is its EF 15.
    func fci(_ application: CardApplication) -> [UInt8] {
        switch application {
        case .masterFile:
            return Bytes.tlv([0x6F], Bytes.tlv([0x83], [0x3F, 0x00]))
        case .paymentSystemEnvironment:
            return Bytes.tlv([0x6F], Bytes.tlv([0x84], Self.pseName) + Bytes.tlv([0xA5], Bytes.tlv([0x88], [0x01])))
        case .socialSecurity:
            let proprietary = Bytes.tlv([0x9F, 0x08], [0x01])
            return Bytes.tlv([0x6F], Bytes.tlv([0x84], Self.socialSecurityName) + Bytes.tlv([0xA5], proprietary))
        case .purse:
            let proprietary = Bytes.tlv([0x9F, 0x08], [0x02]) + Bytes.tlv([0xBF, 0x0C], purseIssuerData)
            return Bytes.tlv([0x6F], Bytes.tlv([0x84], Self.purseAID) + Bytes.tlv([0xA5], proprietary))
        }
    }

    /// EF 15 of the purse (30 bytes, layout [U]): issuer id (8) ‖ application type (1) ‖
    /// application version (1) ‖ ASN (10) ‖ start date (4) ‖ expiry date (4) ‖ issuer data (2).
    var purseIssuerData: [UInt8] {
        let start = CardHolder.dateBCD(holder.issueDate) ?? [0, 0, 0, 0]
        let expiry = CardHolder.dateBCD(holder.expiryDate) ?? [0, 0, 0, 0]
        return issuerID + [0x03, 0x02] + asn + start + expiry + [0x00, 0x00]
    }

    /// The transparent EFs of the current application by SFI, and whether reading needs the PIN.
    func transparentFile(sfi: UInt8) throws(Refusal) -> [UInt8] {
        switch (session.selected, sfi) {
        case (.purse, 0x15):
            return purseIssuerData
        case (.socialSecurity, 0x05):
            return Bytes.tlv([0x01], Array(holder.cardSerialNumber.utf8))
                + Bytes.tlv([0x02], CardHolder.dateBCD(holder.issueDate) ?? [])
                + Bytes.tlv([0x03], CardHolder.dateBCD(holder.expiryDate) ?? [])
                + Bytes.tlv([0x04], Array(holder.bankCardNumber.utf8))
        case (.socialSecurity, 0x06):
            // Personal data: readable only after VERIFY.
            guard session.pinVerified else { throw Refusal(.securityStatusNotSatisfied) }
            return Bytes.tlv([0x08], Array(holder.socialSecurityNumber.utf8))
                + Bytes.tlv([0x09], Array(holder.name.utf8))
                + Bytes.tlv([0x0A], Array(holder.photoReference.utf8))
                + socialSecurityBasicData
        default:
            throw Refusal(.fileNotFound)
        }
    }

    /// The holder fields of issue 19 (layout [U]), each only when the card holds it, so that a card
    /// personalised before keeps the file it had: `0B` sex code (1 ASCII digit, GB/T 2261.1), `0C`
    /// birth date (BCD 4), `0D` region code (6 ASCII digits, GB/T 2260).
    var socialSecurityBasicData: [UInt8] {
        var out: [UInt8] = []
        if let sex = holder.sexCode { out += Bytes.tlv([0x0B], Array(sex.utf8)) }
        if let birth = holder.birthDate.flatMap(CardHolder.dateBCD) { out += Bytes.tlv([0x0C], birth) }
        if let region = holder.regionCode { out += Bytes.tlv([0x0D], Array(region.utf8)) }
        return out
    }

    /// READ BINARY `00 B0 P1 P2 [Le]` with P1 = `80 | SFI`, P2 = offset. Returns at most Le bytes
    /// (all the rest of the file when Le is absent or `00`). The non-SFI form needs a current EF,
    /// which this card never has: `6985`.
    mutating func readBinary(_ command: CommandAPDU) throws(Refusal) -> [UInt8] {
        guard command.data.isEmpty else { throw Refusal(.wrongLength) }
        guard command.p1 & 0x80 != 0, command.p1 & 0x60 == 0 else {
            throw Refusal(command.p1 & 0x80 == 0 ? .conditionsNotSatisfied : .incorrectP1P2)
        }
        if session.selected == .purse { try requireUnlocked() }
        let file = try transparentFile(sfi: command.p1 & 0x1F)
        let offset = Int(command.p2)
        guard offset <= file.count else { throw Refusal(.incorrectP1P2) }
        let rest = file[offset...]
        return Array(rest.prefix(command.le ?? 256))
    }

    /// The record files of the current application by SFI.
    func recordFile(sfi: UInt8) throws(Refusal) -> [[UInt8]] {
        switch (session.selected, sfi) {
        case (.paymentSystemEnvironment, 0x01):
            let purse = Bytes.tlv([0x4F], Self.purseAID) + Bytes.tlv([0x50], Array("CITY PURSE".utf8))
            let social = Bytes.tlv([0x4F], Self.socialSecurityName) + Bytes.tlv([0x50], Array("SOCIAL SECURITY".utf8))
            return [Bytes.tlv([0x70], Bytes.tlv([0x61], purse)), Bytes.tlv([0x70], Bytes.tlv([0x61], social))]
        case (.purse, 0x18):
            return purses.log.map(\.bytes)
        case (.purse, Self.cappSFI):
            return (1...Self.cappRecordCountMax).map { purses.cappRecords[$0] ?? [] }
        default:
            throw Refusal(.fileNotFound)
        }
    }

    /// The transit CAPP data cache file and its limits [U: sizes chosen here].
    static let cappSFI: UInt8 = 0x1A
    static let cappRecordCountMax: UInt8 = 8
    static let cappRecordByteCountMax = 48

    /// READ RECORD `00 B2 rec (SFI<<3|4) [Le]`. Record 1 of the log is the newest transaction.
    mutating func readRecord(_ command: CommandAPDU) throws(Refusal) -> [UInt8] {
        guard command.data.isEmpty else { throw Refusal(.wrongLength) }
        guard command.p2 & 0x07 == 0x04, command.p2 >> 3 != 0, command.p1 != 0 else { throw Refusal(.incorrectP1P2) }
        if session.selected == .purse { try requireUnlocked() }
        let records = try recordFile(sfi: command.p2 >> 3)
        let index = Int(command.p1) - 1
        guard index < records.count, !records[index].isEmpty else { throw Refusal(.recordNotFound) }
        return Array(records[index].prefix(command.le ?? 256))
    }

    /// VERIFY `00 20 00 00 Lc PIN`: `63Cx` with x tries left after a wrong PIN, `6983` when none
    /// are left; a right PIN restores every try.
    mutating func verifyPIN(_ command: CommandAPDU) throws(Refusal) -> [UInt8] {
        guard command.p1 == 0x00, command.p2 == 0x00 else { throw Refusal(.incorrectP1P2) }
        guard (2...6).contains(command.data.count), command.le == nil else { throw Refusal(.wrongLength) }
        guard pin.triesLeft > 0 else { throw Refusal(.authenticationBlocked) }
        var difference = UInt8(pin.value.count == command.data.count ? 0 : 1)
        for (index, byte) in command.data.enumerated() where index < pin.value.count {
            difference |= byte ^ pin.value[index]
        }
        guard difference == 0 else {
            var kept = self
            kept.pin.triesLeft -= 1
            kept.session.pinVerified = false
            throw Refusal(.wrongPIN(triesLeft: kept.pin.triesLeft), keeping: kept)
        }
        pin.triesLeft = pin.triesMax
        session.pinVerified = true
        return []
    }

    /// GET CHALLENGE `00 84 00 00 04|08`: a random for the next line-protected command.
    mutating func getChallenge(_ command: CommandAPDU) throws(Refusal) -> [UInt8] {
        guard command.p1 == 0x00, command.p2 == 0x00 else { throw Refusal(.incorrectP1P2) }
        guard command.data.isEmpty, command.le == 4 || command.le == 8 else { throw Refusal(.wrongLength) }
        var challenge = Bytes.be32(challengeSource.next())
        if command.le == 8 { challenge += Bytes.be32(challengeSource.next()) }
        session.challenge = challenge
        return challenge
    }
}
