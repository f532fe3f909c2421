import CardCrypto
import Testing

@testable import SmartCard

/// A channel that loses the answer to one command: before the card sees it (the card left
/// early) or after the card executed it (the card left while answering).
struct TearingChannel: CardChannel {
    enum When { case beforeExecution, afterExecution }

    var card: SoftwareCard
    /// The first two bytes (CLA INS) of the command to lose, and when.
    var tear: (claIns: [UInt8], when: When)?

    mutating func transmit(_ command: [UInt8]) throws(CardChannelError) -> [UInt8] {
        if let tear, Array(command.prefix(2)) == tear.claIns {
            self.tear = nil
            if tear.when == .afterExecution { _ = card.process(command) }
            throw .noResponse
        }
        return card.process(command)
    }
}

@Suite("Purchase terminal and PSAM: MAC1, MAC2, TSN, tear recovery")
struct TerminalTests {
    let keyring = IssuerKeyring.testKeys()
    let asn = "00003100000000000001"
    let noon = try! TransactionDateTime(digits: "20261129120000")

    func terminal(nextSerial: UInt32 = 1) throws -> PurchaseTerminal {
        PurchaseTerminal(
            psam: PSAM(
                terminalID: try TerminalID(hex: "330900000001"), serialNumber: [0x33, 0x09, 0, 0, 0, 0, 0, 0x01],
                masterPurchaseKey: try keyring.masterKey(.purchase, version: 1), nextSerial: nextSerial))
    }

    /// A card personalised with the test keys and loaded with `fen` through the host's MAC2.
    func loadedCard(_ fen: UInt32, asn: String? = nil) throws -> SoftwareCard {
        let serial = try ApplicationSerialNumber(hex: asn ?? self.asn)
        var card = try SoftwareCard.personalise(
            asn: serial.bytes, holder: Fixture.holder, keyring: keyring, challengeSource: .seeded(state: 7))
        _ = card.send(Fixture.selectPurseByAID)
        let terminal = try TerminalID(hex: "330900000001")
        let initialize = card.send(
            [0x80, 0x50, 0x00, 0x02, 0x0B, 0x01] + BigEndian.bytes(fen) + terminal.bytes + [0x10])
        #expect(initialize.status == .success)
        let data = initialize.data
        let request = LoadAuthorizationRequest(
            asn: serial, keyVersion: data[6], algorithmID: data[7], random: UInt32(bigEndian: data[8..<12]),
            onlineCounter: 0, balanceBeforeFen: 0, amountFen: Int64(fen), type: .purseLoad, terminal: terminal,
            dateTime: noon, mac1: try MAC4(bytes: data[12..<16]))
        let mac2 = try keyring.authorizeLoad(request)
        #expect(card.send([0x80, 0x52, 0x00, 0x00, 0x0B] + noon.bcd + mac2.bytes + [0x04]).status == .success)
        return card
    }

    func verifyTAC(_ record: PurchaseRecord) throws {
        try keyring.verifyPurchaseTAC(
            PurchaseTACRecord(
                amountFen: record.amountFen, type: TransactionType(rawValue: record.transactionType),
                terminal: TerminalID(hex: record.terminalID), terminalSerial: record.terminalSerial,
                dateTime: TransactionDateTime(digits: record.dateTime), keyVersion: record.keyVersion,
                algorithmID: record.algorithmID, tac: MAC4(hex: record.tac)),
            asn: ApplicationSerialNumber(hex: record.asn))
    }

    /// A purchase whose DEBIT answer the channel loses: what the terminal keeps for recovery.
    func tornPurchase(
        of fen: UInt32, _ terminal: inout PurchaseTerminal, _ channel: inout TearingChannel
    ) -> PurchaseTerminal.PendingPurchase? {
        do {
            _ = try terminal.purchase(amountFen: fen, dateTime: noon, on: &channel)
            Issue.record("the purchase was not torn")
        } catch .torn(let pending) {
            return pending
        } catch {
            Issue.record("unexpected \(error)")
        }
        return nil
    }

    @Test("purchases: MAC2 checked by the PSAM, TAC by the host; TSN and card counter move by one each")
    func purchases() throws {
        var card = try loadedCard(1000)
        var terminal = try terminal(nextSerial: 41)
        let first = try terminal.purchase(amountFen: 200, dateTime: noon, on: &card)
        let second = try terminal.purchase(amountFen: 150, dateTime: noon, on: &card)
        #expect(first.status == .complete && second.status == .complete)
        #expect(first.asn == asn)
        #expect([first.terminalSerial, second.terminalSerial] == [41, 42])
        #expect(terminal.psam.nextSerial == 43)
        #expect([first.cardCounter, second.cardCounter] == [0, 1])
        #expect(first.balanceBeforeFen == 1000 && first.balanceAfterFen == 800)
        #expect(second.balanceBeforeFen == first.balanceAfterFen && second.balanceAfterFen == 650)
        #expect(card.balance() == 650)
        try verifyTAC(first)
        try verifyTAC(second)
        var forged = second
        forged.amountFen = 15
        #expect(throws: CardCryptoError.self) { try verifyTAC(forged) }
    }

    @Test("a composite (transit) purchase writes the CAPP record with the debit; type 09 in the record")
    func compositePurchase() throws {
        var card = try loadedCard(500)
        var terminal = try terminal()
        let record = try terminal.purchase(amountFen: 200, dateTime: noon, composite: [0x01, 0x02, 0x03], on: &card)
        #expect(record.transactionType == 0x09)
        #expect(card.purses.cappRecords.count == 1)
        try verifyTAC(record)
    }

    @Test("insufficient balance is refused with 9401 and nothing changes")
    func insufficientBalance() throws {
        var card = try loadedCard(100)
        var terminal = try terminal()
        #expect(throws: PurchaseTerminal.Failure.refused(command: "INITIALIZE FOR PURCHASE", statusWord: 0x9401)) {
            try terminal.purchase(amountFen: 101, dateTime: noon, on: &card)
        }
        #expect(card.balance() == 100)
    }

    @Test("a tear after the card debited: the next tap recovers MAC2 and TAC, the money moved once")
    func tearAfterDebit() throws {
        var channel = TearingChannel(card: try loadedCard(1000), tear: ([0x80, 0x54], .afterExecution))
        var terminal = try terminal()
        let torn = try #require(tornPurchase(of: 300, &terminal, &channel))
        #expect(channel.card.balance() == 700, "the card executed the debit")
        let record = try #require(try terminal.recover(torn, on: &channel))
        #expect(record.status == .recovered && record.amountFen == 300 && record.cardCounter == 0)
        try verifyTAC(record)
        #expect(channel.card.balance() == 700)
    }

    @Test("a tear before the card debited: recovery says it did not happen; the retry debits once")
    func tearBeforeDebit() throws {
        var channel = TearingChannel(card: try loadedCard(1000), tear: ([0x80, 0x54], .beforeExecution))
        var terminal = try terminal()
        let torn = try #require(tornPurchase(of: 300, &terminal, &channel))
        #expect(try terminal.recover(torn, on: &channel) == nil)
        let retry = try terminal.purchase(amountFen: 300, dateTime: noon, on: &channel)
        #expect(retry.status == .complete && retry.cardCounter == 0 && retry.terminalSerial == torn.terminalSerial + 1)
        #expect(channel.card.balance() == 700)
        try verifyTAC(retry)
    }

    @Test("recovery refuses another card, and a card that leaves before DEBIT leaves nothing to recover")
    func recoveryGuards() throws {
        var channel = TearingChannel(card: try loadedCard(1000), tear: ([0x80, 0x54], .afterExecution))
        var terminal = try terminal()
        let pending = tornPurchase(of: 300, &terminal, &channel)
        var other = try loadedCard(1000, asn: "00003100000000000002")
        #expect(throws: PurchaseTerminal.Failure.differentCard) {
            try terminal.recover(try #require(pending), on: &other)
        }
        var early = TearingChannel(card: try loadedCard(1000), tear: ([0x80, 0x50], .beforeExecution))
        #expect(throws: PurchaseTerminal.Failure.interrupted) {
            try terminal.purchase(amountFen: 300, dateTime: noon, on: &early)
        }
        #expect(early.card.balance() == 1000)
    }
}
