import CardCrypto

// The PBOC ED/EP commands (CARDTECH.md §3) with every MAC, TAC and session key from CardCrypto.
//
// Checks run in this order, so that one command has one answer: P1/P2 (6A86), lengths (6700),
// the purse application selected (6985), the lock (6A81 / 9303), the PIN for ED (6982), the key
// index (9403), the counter (9402), the amount (9401 / 6985), then the MAC (9302).

extension SoftwareCard {
    /// The purse must be the current application and not blocked.
    func requirePurse() throws(Refusal) {
        guard session.selected == .purse else { throw Refusal(.conditionsNotSatisfied) }
        try requireUnlocked()
    }

    func requireUnlocked() throws(Refusal) {
        switch purses.lock {
        case .none: return
        case .temporary: throw Refusal(.functionNotSupported)
        case .permanent: throw Refusal(.applicationPermanentlyLocked)
        }
    }

    /// P2 `01` ED (needs a verified PIN) or `02` EP.
    func purseKind(p2: UInt8) throws(Refusal) -> PurseKind {
        guard let kind = PurseKind(rawValue: p2) else { throw Refusal(.incorrectP1P2) }
        return kind
    }

    func requirePIN(for kind: PurseKind) throws(Refusal) {
        if kind == .deposit, !session.pinVerified { throw Refusal(.securityStatusNotSatisfied) }
    }

    /// The card's algorithm (3DES `00`, or the provisional SM4 `04`); `6A88` for any other id.
    func algorithm() throws(Refusal) -> any PurseAlgorithm {
        do {
            return try PurseAlgorithmRegistry.withProvisionalSM4.algorithm(id: algorithmID)
        } catch {
            throw Refusal(.keyNotFound)
        }
    }

    /// Runs a CardCrypto computation; a key the algorithm refuses is a key not found (`6A88`).
    func crypto<T>(_ body: () throws(CardCryptoError) -> T) throws(Refusal) -> T {
        do {
            return try body()
        } catch {
            throw Refusal(.keyNotFound)
        }
    }

    /// GET BALANCE `80 5C 00 P2 04`.
    mutating func getBalance(_ command: CommandAPDU) throws(Refusal) -> [UInt8] {
        guard command.p1 == 0x00 else { throw Refusal(.incorrectP1P2) }
        let kind = try purseKind(p2: command.p2)
        guard command.data.isEmpty, command.le == 4 || command.le == nil else { throw Refusal(.wrongLength) }
        try requirePurse()
        try requirePIN(for: kind)
        return Bytes.be32(purses[kind].balance)
    }

    /// INITIALIZE FOR LOAD `80 50 00 P2 0B`, FOR PURCHASE `80 50 01 P2 0B` and FOR COMPOSITE
    /// PURCHASE `80 50 03 02 0B`; data key index (1) ‖ amount (4) ‖ terminal id (6).
    mutating func initialize(_ command: CommandAPDU) throws(Refusal) -> [UInt8] {
        guard [0x00, 0x01, 0x03].contains(command.p1) else { throw Refusal(.incorrectP1P2) }
        let kind = try purseKind(p2: command.p2)
        if command.p1 == 0x03, kind != .purse { throw Refusal(.incorrectP1P2) }
        guard command.data.count == 11 else { throw Refusal(.wrongLength) }
        try requirePurse()
        try requirePIN(for: kind)
        guard command.data[0] == Self.purseKeyIndex else { throw Refusal(.keyIndexNotSupported) }
        let amount = Bytes.uint32(command.data[1..<5])
        let terminalID = Array(command.data[5..<11])
        let current = purses[kind]
        let isLoad = command.p1 == 0x00
        let counter = isLoad ? current.onlineCounter : current.offlineCounter
        guard counter < UInt16.max else { throw Refusal(.counterAtMaximum) }
        if isLoad {
            let (sum, overflow) = current.balance.addingReportingOverflow(amount)
            guard !overflow, sum <= balanceMaxFen else { throw Refusal(.conditionsNotSatisfied) }
        } else {
            guard amount <= current.balance else { throw Refusal(.insufficientBalance) }
        }
        let type = isLoad ? kind.loadType : (command.p1 == 0x03 ? 0x09 : kind.purchaseType)
        let random = challengeSource.next()
        let pending = PendingTransaction(
            kind: isLoad ? .load : .purchase, purse: kind, type: type, amount: amount, terminalID: terminalID,
            random: random, counter: counter, balanceBefore: current.balance)
        let header = Bytes.be32(current.balance) + Bytes.be16(counter)
        let tail = [keyVersion, algorithmID] + Bytes.be32(random)
        guard isLoad else {
            session.pending = pending
            return header + [0x00, 0x00, 0x00] + tail
        }
        let mac1 = try loadMAC1(pending)
        session.pending = pending
        return header + tail + mac1
    }

    /// MAC1 of a load with SESLK: balance before ‖ amount ‖ type ‖ terminal id.
    func loadMAC1(_ pending: PendingTransaction) throws(Refusal) -> [UInt8] {
        let algorithm = try algorithm()
        let session = try loadSessionKey(pending, algorithm)
        let input = Bytes.be32(pending.balanceBefore) + Bytes.be32(pending.amount) + [pending.type] + pending.terminalID
        return try crypto { () throws(CardCryptoError) in
            try algorithm.mac(key: session, data: input, using: .current).bytes
        }
    }

    func loadSessionKey(_ pending: PendingTransaction, _ algorithm: any PurseAlgorithm) throws(Refusal) -> SecretKey {
        try crypto { () throws(CardCryptoError) in
            try algorithm.loadSessionKey(keys.load, random: pending.random, onlineCounter: pending.counter)
        }
    }

    func tacKey(_ algorithm: any PurseAlgorithm) throws(Refusal) -> SecretKey {
        try crypto { () throws(CardCryptoError) in try algorithm.tacKey(keys.tac, using: .current) }
    }

    /// CREDIT FOR LOAD `80 52 00 00 0B` date (4) ‖ time (3) ‖ MAC2 (4) → TAC (4).
    mutating func creditForLoad(_ command: CommandAPDU) throws(Refusal) -> [UInt8] {
        guard command.p1 == 0x00, command.p2 == 0x00 else { throw Refusal(.incorrectP1P2) }
        guard command.data.count == 11 else { throw Refusal(.wrongLength) }
        try requirePurse()
        guard let pending = session.pending, pending.kind == .load else { throw Refusal(.conditionsNotSatisfied) }
        let dateTime = Array(command.data[0..<7])
        let received = Array(command.data[7..<11])
        let algorithm = try algorithm()
        let sessionKey = try loadSessionKey(pending, algorithm)
        let common = Bytes.be32(pending.amount) + [pending.type] + pending.terminalID + dateTime
        let expected = try crypto { () throws(CardCryptoError) in
            try algorithm.mac(key: sessionKey, data: common, using: .current)
        }
        guard let mac2 = try? MAC4(bytes: received), expected.matches(mac2) else { throw Refusal(.macInvalid) }
        var purse = purses[pending.purse]
        let (after, overflow) = pending.balanceBefore.addingReportingOverflow(pending.amount)
        guard purse.balance == pending.balanceBefore, purse.onlineCounter == pending.counter, !overflow else {
            throw Refusal(.conditionsNotSatisfied)
        }
        let tacInput = Bytes.be32(after) + Bytes.be16(pending.counter) + common
        let key = try tacKey(algorithm)
        let tac = try crypto { () throws(CardCryptoError) in
            try algorithm.mac(key: key, data: tacInput, using: .current).bytes
        }
        let mac1 = try loadMAC1(pending)
        purse.balance = after
        purse.onlineCounter = pending.counter + 1
        var next = purses
        next[pending.purse] = purse
        next.log = purses.logging(record(pending, dateTime: dateTime))
        next.lastProof = TransactionProof(type: pending.type, counter: pending.counter, mac: mac1, tac: tac)
        purses = next  // the commit: balance, counter, log and proof in one assignment
        session.pending = nil
        return tac
    }

    func record(_ pending: PendingTransaction, dateTime: [UInt8]) -> TransactionLogRecord {
        TransactionLogRecord(
            counter: pending.counter, overdraftLimit: 0, amount: pending.amount, type: pending.type,
            terminalID: pending.terminalID, dateTime: dateTime)
    }

    /// DEBIT FOR PURCHASE `80 54 01 00 0F` TSN (4) ‖ date (4) ‖ time (3) ‖ MAC1 (4) → TAC (4) ‖ MAC2 (4).
    /// A composite purchase commits its staged CAPP records in the same assignment.
    mutating func debitForPurchase(_ command: CommandAPDU) throws(Refusal) -> [UInt8] {
        guard command.p1 == 0x01, command.p2 == 0x00 else { throw Refusal(.incorrectP1P2) }
        guard command.data.count == 15 else { throw Refusal(.wrongLength) }
        try requirePurse()
        guard let pending = session.pending, pending.kind == .purchase else { throw Refusal(.conditionsNotSatisfied) }
        let terminalSerial = Bytes.uint32(command.data[0..<4])
        let dateTime = Array(command.data[4..<11])
        let received = Array(command.data[11..<15])
        let algorithm = try algorithm()
        let sessionKey = try crypto { () throws(CardCryptoError) in
            try algorithm.purchaseSessionKey(
                keys.purchase, random: pending.random, offlineCounter: pending.counter, terminalSerial: terminalSerial)
        }
        let macInput = Bytes.be32(pending.amount) + [pending.type] + pending.terminalID + dateTime
        let expected = try crypto { () throws(CardCryptoError) in
            try algorithm.mac(key: sessionKey, data: macInput, using: .current)
        }
        guard let mac1 = try? MAC4(bytes: received), expected.matches(mac1) else { throw Refusal(.macInvalid) }
        var purse = purses[pending.purse]
        guard purse.balance == pending.balanceBefore, purse.offlineCounter == pending.counter else {
            throw Refusal(.conditionsNotSatisfied)
        }
        guard pending.amount <= purse.balance else { throw Refusal(.insufficientBalance) }
        let tacInput =
            Bytes.be32(pending.amount) + [pending.type] + pending.terminalID + Bytes.be32(terminalSerial) + dateTime
        let key = try tacKey(algorithm)
        let tac = try crypto { () throws(CardCryptoError) in
            try algorithm.mac(key: key, data: tacInput, using: .current).bytes
        }
        let mac2 = try crypto { () throws(CardCryptoError) in
            try algorithm.purchaseMAC2(sessionKey: sessionKey, amount: pending.amount).bytes
        }
        purse.balance -= pending.amount
        purse.offlineCounter = pending.counter + 1
        var next = purses
        next[pending.purse] = purse
        next.log = purses.logging(record(pending, dateTime: dateTime))
        next.cappRecords.merge(pending.cappUpdates) { _, staged in staged }
        next.lastProof = TransactionProof(type: pending.type, counter: pending.counter, mac: mac2, tac: tac)
        purses = next  // the commit
        session.pending = nil
        return tac + mac2
    }

    /// UPDATE CAPP DATA CACHE `80 DC rec (1A<<3|4) Lc data`, only between INITIALIZE FOR
    /// COMPOSITE PURCHASE and DEBIT; the record is staged and written by the DEBIT.
    mutating func updateCAPPDataCache(_ command: CommandAPDU) throws(Refusal) -> [UInt8] {
        guard command.p2 & 0x07 == 0x04, command.p1 != 0 else { throw Refusal(.incorrectP1P2) }
        guard command.p2 >> 3 == Self.cappSFI else { throw Refusal(.fileNotFound) }
        guard command.p1 <= Self.cappRecordCountMax else { throw Refusal(.recordNotFound) }
        guard (1...Self.cappRecordByteCountMax).contains(command.data.count) else { throw Refusal(.wrongLength) }
        try requirePurse()
        guard var pending = session.pending, pending.kind == .purchase, pending.type == 0x09 else {
            throw Refusal(.conditionsNotSatisfied)
        }
        pending.cappUpdates[command.p1] = command.data
        session.pending = pending
        return []
    }

    /// GET TRANSACTION PROVE `80 5A 00 type 02 counter 08` → MAC (4) ‖ TAC (4) of the last
    /// transaction, if it has this type and this counter (the one INITIALIZE returned).
    mutating func getTransactionProve(_ command: CommandAPDU) throws(Refusal) -> [UInt8] {
        guard command.p1 == 0x00 else { throw Refusal(.incorrectP1P2) }
        guard command.data.count == 2 else { throw Refusal(.wrongLength) }
        try requirePurse()
        let counter = Bytes.uint16(command.data[0..<2])
        guard let proof = purses.lastProof, proof.type == command.p2, proof.counter == counter else {
            throw Refusal(.macNotAvailable)
        }
        return proof.mac + proof.tac
    }

    /// APPLICATION BLOCK `84 1E 00 00|01 04 MAC`: the line-protection MAC with DAMK over
    /// `84 1E 00 P2 04` and IV = the last GET CHALLENGE. P2 `00` blocks until unblocked (no
    /// unblock command yet), `01` for ever.
    mutating func applicationBlock(_ command: CommandAPDU) throws(Refusal) -> [UInt8] {
        guard command.p1 == 0x00, command.p2 <= 0x01 else { throw Refusal(.incorrectP1P2) }
        guard command.data.count == 4 else { throw Refusal(.wrongLength) }
        guard session.selected == .purse else { throw Refusal(.conditionsNotSatisfied) }
        guard purses.lock != .permanent else { throw Refusal(.applicationPermanentlyLocked) }
        guard let challenge = session.challenge else { throw Refusal(.conditionsNotSatisfied) }
        let header = [command.cla, command.ins, command.p1, command.p2, 0x04]
        let expected = try crypto { () throws(CardCryptoError) in
            try CardMAC.lineProtection(key: keys.applicationMaintenance, challenge: challenge, data: header)
        }
        guard let mac = try? MAC4(bytes: command.data), expected.matches(mac) else {
            var kept = self
            kept.session.challenge = nil
            throw Refusal(.macInvalid, keeping: kept)
        }
        session.challenge = nil
        purses.lock = command.p2 == 0x01 ? .permanent : .temporary
        return []
    }
}
