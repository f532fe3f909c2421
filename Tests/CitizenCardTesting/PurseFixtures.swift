public import CardCrypto
public import CitizenCardDomain
public import CitizenCardServices
import Foundation
public import SmartCard

/// A merchant with one registered terminal and that terminal's PSAM (keyed with the world's
/// purchase master key), signed in as the terminal actor.
public struct Acquirer: Sendable {
    public var merchant: Merchant
    public var terminal: Terminal
    public var key: String
    public var actor: Actor
    public var device: PurchaseTerminal
    public var nextBatchNumber: Int64 = 1

    /// Runs a purchase on the chip (type 06) at `time` (`YYYYMMDDhhmmss`).
    public mutating func tap(
        _ chip: inout SoftwareCard, fen: UInt32, at time: String
    ) throws -> PurchaseRecord {
        try device.purchase(amountFen: fen, dateTime: try TransactionDateTime(digits: time), on: &chip)
    }

    /// Uploads records as the next batch.
    public mutating func upload(
        _ records: [PurchaseRecord], env: ServiceEnvironment
    ) async throws -> AcquiringService.BatchAnswer {
        let number = nextBatchNumber
        nextBatchNumber += 1
        return try await AcquiringService(env).upload(.init(batchNumber: number, records: records), actor: actor)
    }
}

extension Fixtures {
    /// An active card and its chip, personalised with the world's issuer keys, purse selected.
    public func activeCardWithChip() async throws -> (CardView, SoftwareCard) {
        let (_, card) = try await activeCard()
        return (card, try chip(for: card))
    }

    /// The chip of a card, personalised with the world's issuer keys, purse selected.
    public func chip(for card: CardView) throws -> SoftwareCard {
        let holder = CardHolder(
            name: "持卡人", socialSecurityNumber: "330902199001010012", cardSerialNumber: card.number,
            bankCardNumber: "", issueDate: "20261129", expiryDate: "20361129", photoReference: "")
        var chip = try SoftwareCard.personalise(
            asn: try Hex.decode(card.asn), holder: holder, keyring: world.env.issuerKeys)
        _ = chip.process([0x00, 0xA4, 0x04, 0x00, 0x09] + SoftwareCard.purseAID + [0x00])
        return chip
    }

    /// A whole cash load at the clerk's outlet: INITIALIZE FOR LOAD, approval, CREDIT, completion;
    /// `time` is the date and time the load gives the card.
    public func load(
        _ chip: inout SoftwareCard, card: CardView, fen: Int64, at time: String = "20261129120000"
    ) async throws {
        let terminal = "330900000001"
        let amount = (0..<4).map { UInt8(truncatingIfNeeded: fen >> (24 - 8 * $0)) }
        let answer = chip.process([0x80, 0x50, 0x00, 0x02, 0x0B, 0x01] + amount + (try Hex.decode(terminal)) + [0x10])
        let purse = PurseService(world.env)
        let approval = try await purse.approveLoad(
            card.id,
            .init(
                amountFen: fen, funding: .cash, terminalId: terminal, transactionTime: time,
                initializeResponse: Hex.encode(answer.dropLast(2))), actor: staff.clerk)
        let credit = chip.process(
            [0x80, 0x52, 0x00, 0x00, 0x0B] + (try Hex.decode(time)) + (try Hex.decode(approval.mac2)) + [0x04])
        _ = try await purse.completeLoad(approval.load.id, tac: Hex.encode(credit.prefix(4)), actor: staff.clerk)
    }

    /// A merchant (`code`) with one terminal and its PSAM.
    public func acquirer(
        code: String = "BUS", commissionBasisPoints: Int64 = 60, number: String = "000000000101",
        psam: String = "A1B2C3D4E5F60001", location: String = "Bus line 1", latitude: Double? = nil,
        longitude: Double? = nil
    ) async throws -> Acquirer {
        let service = AcquiringService(world.env)
        var existing = try await service.merchants(actor: staff.admin).first { $0.code == code }
        if existing == nil {
            existing = try await service.registerMerchant(
                .init(code: code, name: "\(code) merchant", commissionBasisPoints: commissionBasisPoints),
                actor: staff.admin)
        }
        let merchant = existing!
        let registration = try await service.registerTerminal(
            merchant: merchant.id,
            .init(number: number, psamSerial: psam, location: location, latitude: latitude, longitude: longitude),
            actor: staff.admin)
        let actor = try await AuthService(world.env).authenticate(token: registration.key)
        let device = PurchaseTerminal(
            psam: PSAM(
                terminalID: try TerminalID(hex: number), serialNumber: try Hex.decode(psam),
                masterPurchaseKey: try world.env.issuerKeys.masterKey(.purchase, version: 1)))
        return Acquirer(
            merchant: merchant, terminal: registration.terminal, key: registration.key, actor: actor, device: device)
    }
}
