import CardCrypto
public import CitizenCardDomain
import Crypto
import Foundation
import Ledger
public import SmartCard
import Storage

/// Merchants, their terminals, and the offline purchases terminals upload (issue 5, part 3;
/// docs/terminal-protocol.md).
public struct AcquiringService: Sendable {
    let env: ServiceEnvironment

    public init(_ env: ServiceEnvironment) { self.env = env }

    /// Records in one upload, at most.
    public static let batchRecordCountMax = 2_000
    /// How many times an upload is decided again when a concurrent upload moved one of its cards.
    static let conflictRetryCount = 5

    // MARK: Registry

    public struct MerchantRequest: Codable, Sendable {
        public var code: String
        public var name: String
        public var commissionBasisPoints: Int64

        public init(code: String, name: String, commissionBasisPoints: Int64) {
            self.code = code
            self.name = name
            self.commissionBasisPoints = commissionBasisPoints
        }
    }

    public func registerMerchant(_ request: MerchantRequest, actor: Actor) async throws(CitizenCardError) -> Merchant {
        try actor.require(.acquiring)
        let code = request.code.trimmingSpaces.uppercased()
        guard Merchant.isValidCode(code) else {
            throw CitizenCardError.invalid("code", "2-20 of A-Z, 0-9 and '-', starting with a letter or a digit")
        }
        let name = request.name.trimmingSpaces
        guard (1...100).contains(name.count) else { throw CitizenCardError.invalid("name", "1-100 characters") }
        try TextRule.check(name, field: "name", kind: .name)
        guard (0...10_000).contains(request.commissionBasisPoints) else {
            throw CitizenCardError.invalid("commissionBasisPoints", "0 to 10000 (hundredths of a per cent)")
        }
        let merchant = Merchant(
            id: env.ids.make(), code: code, name: name, commissionBasisPoints: request.commissionBasisPoints,
            createdAt: env.clock.now())
        var changes = ChangeSet()
        changes.add(.insertMerchant(merchant))
        changes.record(
            AuditDraft(
                at: merchant.createdAt, actor: actor.name, action: "merchant.register",
                subject: "merchant:\(merchant.id)",
                purpose: "acquiring",
                detail: #"{"code":"\#(code)","commissionBasisPoints":\#(merchant.commissionBasisPoints)}"#))
        do throws(StorageError) {
            try await env.store.commit(changes)
        } catch .duplicate(.merchantCode) {
            throw CitizenCardError(.conflict, field: "code", "a merchant with this code exists")
        } catch {
            throw ServiceEnvironment.translate(error)
        }
        return merchant
    }

    public func merchants(actor: Actor) async throws(CitizenCardError) -> [Merchant] {
        try actor.require(.acquiring)
        return try await env.fetch(try await env.store.merchants())
    }

    public struct TerminalRequest: Codable, Sendable {
        /// The terminal id its PSAM uses: 12 hex digits.
        public var number: String
        public var psamSerial: String
        public var location: String
        /// Degrees, WGS 84; both or neither.
        public var latitude: Double?
        public var longitude: Double?

        public init(number: String, psamSerial: String, location: String, latitude: Double?, longitude: Double?) {
            self.number = number
            self.psamSerial = psamSerial
            self.location = location
            self.latitude = latitude
            self.longitude = longitude
        }
    }

    /// A registered terminal and its key: shown here once, never stored (only its SHA-256).
    public struct TerminalRegistration: Codable, Sendable {
        public var terminal: Terminal
        public var key: String
    }

    public func registerTerminal(
        merchant merchantID: Merchant.ID, _ request: TerminalRequest, actor: Actor
    ) async throws(CitizenCardError) -> TerminalRegistration {
        try actor.require(.acquiring)
        guard try await env.fetch(try await env.store.merchant(id: merchantID)) != nil else {
            throw CitizenCardError.notFound("merchant")
        }
        let number = request.number.uppercased()
        guard OfflineBatchAssessment.isHex(number, digits: 12) else {
            throw CitizenCardError.invalid("number", "12 hex digits (the terminal id in the PSAM)")
        }
        let psam = request.psamSerial.uppercased()
        guard (2...32).contains(psam.utf8.count), psam.utf8.count % 2 == 0,
            OfflineBatchAssessment.isHex(psam, digits: psam.utf8.count)
        else { throw CitizenCardError.invalid("psamSerial", "2-32 hex digits, an even number") }
        let location = request.location.trimmingSpaces
        guard (1...100).contains(location.count) else { throw CitizenCardError.invalid("location", "1-100 characters") }
        try TextRule.check(location, field: "location", kind: .line)
        guard (request.latitude == nil) == (request.longitude == nil) else {
            throw CitizenCardError.invalid("latitude", "give latitude and longitude together")
        }
        if let latitude = request.latitude, let longitude = request.longitude {
            guard (-90...90).contains(latitude), (-180...180).contains(longitude) else {
                throw CitizenCardError.invalid("latitude", "latitude -90…90 and longitude -180…180 degrees")
            }
        }
        let key = AuthService.randomToken(prefix: AuthService.terminalKeyPrefix)
        let terminal = Terminal(
            id: env.ids.make(), number: number, merchantID: merchantID, psamSerial: psam, location: location,
            latitudeE6: request.latitude.map { Int64(($0 * 1e6).rounded()) },
            longitudeE6: request.longitude.map { Int64(($0 * 1e6).rounded()) }, keyHash: Array(AuthService.hash(key)),
            createdAt: env.clock.now())
        var changes = ChangeSet()
        changes.add(.insertTerminal(terminal))
        changes.record(
            AuditDraft(
                at: terminal.createdAt, actor: actor.name, action: "terminal.register",
                subject: "terminal:\(terminal.id)",
                purpose: "acquiring", detail: #"{"number":"\#(number)","merchantId":"\#(merchantID)"}"#))
        do throws(StorageError) {
            try await env.store.commit(changes)
        } catch .duplicate(.terminalNumber) {
            throw CitizenCardError(.conflict, field: "number", "a terminal with this id is registered")
        } catch .duplicate(.psamSerial) {
            throw CitizenCardError(.conflict, field: "psamSerial", "this PSAM is registered to another terminal")
        } catch {
            throw ServiceEnvironment.translate(error)
        }
        return TerminalRegistration(terminal: terminal, key: key)
    }

    public struct TerminalChange: Codable, Sendable {
        /// False revokes the terminal's key at once (a stolen or retired terminal); true restores it.
        public var active: Bool

        public init(active: Bool) { self.active = active }
    }

    /// Revokes or restores a terminal: a revoked terminal's key is refused on every call.
    public func changeTerminal(
        _ id: Terminal.ID, _ change: TerminalChange, actor: Actor
    ) async throws(CitizenCardError) -> Terminal {
        try actor.require(.acquiring)
        guard let terminal = try await env.fetch(try await env.store.terminal(id: id)) else {
            throw CitizenCardError.notFound("terminal")
        }
        guard terminal.active != change.active else { return terminal }
        var next = terminal
        next.active = change.active
        next.version = terminal.version + 1
        var changes = ChangeSet()
        changes.add(.updateTerminal(next, expectedVersion: terminal.version))
        changes.record(
            AuditDraft(
                at: env.clock.now(), actor: actor.name, action: change.active ? "terminal.restore" : "terminal.revoke",
                subject: "terminal:\(id)", purpose: "acquiring", detail: #"{"number":"\#(terminal.number)"}"#))
        try await env.commit(changes)
        return next
    }

    public func terminals(merchant: Merchant.ID?, actor: Actor) async throws(CitizenCardError) -> [Terminal] {
        try actor.require(.acquiring)
        return try await env.fetch(try await env.store.terminals(merchantID: merchant))
    }

    // MARK: Terminal sign-in

    public struct SignIn: Codable, Sendable {
        /// The hotlist version the terminal holds (0: none).
        public var hotlistVersion: Int64

        public init(hotlistVersion: Int64) { self.hotlistVersion = hotlistVersion }
    }

    public struct SignInAnswer: Codable, Sendable, Equatable {
        public var terminalId: String
        public var number: String
        public var merchantId: String
        public var merchantCode: String
        public var serverTime: Timestamp
        /// The newest hotlist version; fetch the changes when it is past the terminal's.
        public var hotlistVersion: Int64
        public var hotlistCurrent: Bool
    }

    /// A terminal starts its day (and signs in again at each heartbeat) with the hotlist version it
    /// holds; the host records it and answers the newest.
    public func signIn(_ request: SignIn, actor: Actor) async throws(CitizenCardError) -> SignInAnswer {
        let terminal = try await requireTerminal(actor)
        let current = try await env.fetch(try await env.store.hotlistVersion()).version
        guard (0...current).contains(request.hotlistVersion) else {
            throw CitizenCardError.invalid("hotlistVersion", "0 to \(current), the newest published version")
        }
        guard let merchant = try await env.fetch(try await env.store.merchant(id: terminal.merchantID)) else {
            throw CitizenCardError(.internal, "the terminal's merchant is missing")
        }
        var next = terminal
        next.hotlistVersion = request.hotlistVersion
        next.lastSignInAt = env.clock.now()
        next.version = terminal.version + 1
        var changes = ChangeSet()
        changes.add(.updateTerminal(next, expectedVersion: terminal.version))
        try await env.commit(changes)
        return SignInAnswer(
            terminalId: terminal.id.rawValue, number: terminal.number, merchantId: merchant.id.rawValue,
            merchantCode: merchant.code, serverTime: next.lastSignInAt!, hotlistVersion: current,
            hotlistCurrent: request.hotlistVersion == current)
    }

    func requireTerminal(_ actor: Actor) async throws(CitizenCardError) -> Terminal {
        try actor.require(.terminalOperations)
        guard let id = actor.terminalID, let terminal = try await env.fetch(try await env.store.terminal(id: id)),
            terminal.active
        else { throw CitizenCardError(.unauthenticated, "the terminal is unknown or revoked") }
        return terminal
    }

    // MARK: Batches

    public struct BatchUpload: Codable, Sendable {
        /// The terminal's own number for this upload, from 1; an upload is retried under its number.
        public var batchNumber: Int64
        public var records: [PurchaseRecord]

        public init(batchNumber: Int64, records: [PurchaseRecord]) {
            self.batchNumber = batchNumber
            self.records = records
        }
    }

    public struct BatchAnswer: Codable, Sendable, Equatable {
        public var batch: PurchaseBatch
        public var records: [OfflineBatchAssessment.RecordResult]
    }

    /// Takes a terminal's batch: refused as a whole (422 `batch_refused`, naming the records) when
    /// malformed or not the terminal's; otherwise every record is posted, charged to risk, parked or
    /// recognised as a duplicate, in one transaction. The same batch number with the same records
    /// answers the stored answer and changes nothing.
    public func upload(_ upload: BatchUpload, actor: Actor) async throws(CitizenCardError) -> BatchAnswer {
        // While the terminal is read: the content hash, every TAC recomputed (pure functions of the
        // records) and the store's facts about the records' cards, keyed by the records' own PSAM
        // serial — the terminal's in any batch that is not refused. Not for an oversized batch.
        try actor.require(.terminalOperations)
        let records = upload.records
        let sized = (1...Self.batchRecordCountMax).contains(records.count)
        async let hashing = Self.contentHash(records)
        async let checking = sized ? Self.verifyTACs(records, keyring: env.issuerKeys) : [:]
        async let reading = sized ? try? await intake(records) : nil
        // The merchant the terminal had when it authenticated; checked against the terminal read.
        let expectedMerchant = actor.merchantID
        async let merchantRead: Result<Merchant?, CitizenCardError>? =
            if let expectedMerchant { await merchant(id: expectedMerchant) } else { nil }
        let terminal = try await requireTerminal(actor)
        guard upload.batchNumber >= 1 else { throw CitizenCardError.invalid("batchNumber", "1 or more") }
        guard sized else { throw CitizenCardError.invalid("records", "1 to \(Self.batchRecordCountMax) records") }
        let merchantResult =
            if let read = await merchantRead, expectedMerchant == terminal.merchantID { read } else {
                await merchant(id: terminal.merchantID)
            }
        let contentHash = await hashing
        // A batch number already taken is found by the unique (terminal, number) of the batch
        // insert, in the commit's own transaction; the stored batch is read only when the first
        // attempt does not commit, and then before anything else is answered, as if read first.
        var attempt = 0
        var prefetched: PurchaseIntake? = nil
        while true {
            attempt += 1
            if attempt > 1, let answer = try await storedAnswer(upload, terminal: terminal, contentHash: contentHash) {
                return answer
            }
            let problems = OfflineBatchAssessment.problems(in: records, terminal: terminal)
            guard problems.isEmpty else {
                if attempt == 1,
                    let answer = try await storedAnswer(upload, terminal: terminal, contentHash: contentHash)
                {
                    return answer
                }
                let shown = problems.prefix(20).joined(separator: "; ")
                let more = problems.count > 20 ? "; and \(problems.count - 20) more" : ""
                throw CitizenCardError(
                    .batchRefused, field: "records", "\(problems.count) bad record(s): \(shown)\(more)",
                    zh: "\(problems.count) 条记录有误：\(shown)\(more)")
            }
            guard let merchant = try merchantResult.get() else {
                throw CitizenCardError(.internal, "the terminal's merchant is missing")
            }
            if attempt == 1 { prefetched = await reading }
            let failure: CitizenCardError
            do {
                return try await decideAndCommit(
                    upload, terminal: terminal, merchant: merchant, contentHash: contentHash,
                    verified: await checking, intake: prefetched)
            } catch let error as CitizenCardError {
                failure = error
            } catch {
                failure = CitizenCardError(.internal, "\(type(of: error))")
            }
            prefetched = nil
            if failure.code == .conflict && attempt < Self.conflictRetryCount { continue }
            if attempt == 1, let answer = try await storedAnswer(upload, terminal: terminal, contentHash: contentHash) {
                return answer
            }
            throw failure
        }
    }

    /// The stored answer to this terminal's batch of this number, if it was uploaded before;
    /// refused when it was uploaded with other records.
    func storedAnswer(
        _ upload: BatchUpload, terminal: Terminal, contentHash: String
    ) async throws(CitizenCardError) -> BatchAnswer? {
        guard
            let stored = try await env.fetch(
                try await env.store.purchaseBatch(terminalID: terminal.id, number: upload.batchNumber))
        else { return nil }
        guard stored.batch.contentHash == contentHash else {
            throw CitizenCardError(
                .batchRefused, field: "batchNumber",
                "batch \(upload.batchNumber) was already uploaded with other records",
                zh: "批次号 \(upload.batchNumber) 已用于其他记录")
        }
        guard let answer = try? BatchAnswer(stored: stored.response) else {
            throw CitizenCardError(.internal, "stored batch answer unreadable")
        }
        return answer
    }

    /// SHA-256 of every field of every record, in order, as sent: a line per record, its fields
    /// joined by `|` (stored with the batch, so the bytes must not change).
    static func contentHash(_ records: [PurchaseRecord]) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(records.count * 160)
        func field(_ text: String) {
            bytes.append(contentsOf: text.utf8)
            bytes.append(UInt8(ascii: "|"))
        }
        func field(_ number: some BinaryInteger) { field(String(number)) }
        for r in records {
            field(r.asn)
            field(r.balanceBeforeFen)
            field(r.balanceAfterFen)
            field(r.amountFen)
            field(r.transactionType)
            field(r.cardCounter)
            field(r.terminalID)
            field(r.terminalSerial)
            field(r.psamSerialNumber)
            field(r.dateTime)
            field(r.keyVersion)
            field(r.algorithmID)
            field(r.tac)
            field(r.mac2)
            field(r.status.rawValue)
            bytes[bytes.count - 1] = UInt8(ascii: "\n")
        }
        return Hex.encode(Array(SHA256.hash(data: bytes)))
    }

    /// The cards (by ASN, upper case) and the dedup keys of a batch's records, under the records'
    /// own PSAM serial: for a batch without `problems`, the terminal's.
    static func intakeKeys(_ records: [PurchaseRecord]) -> (asns: [String], keys: [PurchaseKey]) {
        let keys = records.map { record in
            PurchaseKey(
                asn: OfflineBatchAssessment.upperCased(record.asn), cardCounter: Int64(record.cardCounter),
                psamSerial: OfflineBatchAssessment.upperCased(record.psamSerialNumber),
                terminalSerial: Int64(record.terminalSerial))
        }
        return (Array(Set(keys.map(\.asn))).sorted(), keys)
    }

    /// The merchant, read beside other work (an `async let` of a typed error).
    func merchant(id: Merchant.ID) async -> Result<Merchant?, CitizenCardError> {
        do throws(CitizenCardError) {
            return .success(try await env.fetch(try await env.store.merchant(id: id)))
        } catch {
            return .failure(error)
        }
    }

    /// The store's facts about a batch's cards and records (`intakeKeys`).
    func intake(_ records: [PurchaseRecord]) async throws(CitizenCardError) -> PurchaseIntake {
        let (asns, keys) = Self.intakeKeys(records)
        return try await env.fetch(try await env.store.purchaseIntake(asns: asns, keys: keys))
    }

    /// Decides the batch on what the store holds (`intake`, when read already for this attempt)
    /// and commits it. `verified`: each record's TAC check by terminal serial (`verifyTACs`).
    func decideAndCommit(
        _ upload: BatchUpload, terminal: Terminal, merchant: Merchant, contentHash: String, verified: [Int: Bool],
        intake: PurchaseIntake?
    ) async throws -> BatchAnswer {
        let now = env.clock.now()
        let records = upload.records
        let keyring = env.issuerKeys
        let intake = if let intake { intake } else { try await self.intake(records) }
        let asnOf = records.map { OfflineBatchAssessment.upperCased($0.asn) }
        var facts: [String: OfflineBatchAssessment.CardFacts] = [:]
        for state in intake.states {
            facts[state.card.asn] = .init(
                card: state.card, chain: state.chain ?? PurseChain(cardID: state.card.id), loads: [],
                purseBalanceFen: AccountID.purse(state.card.id).normalBalance(signed: state.signedBalanceFen))
        }
        var byCardCounter: [String: OfflineBatchAssessment.StoredKey] = [:]
        var byPSAMSerial: [String: OfflineBatchAssessment.StoredKey] = [:]
        for stored in intake.stored {
            let key = OfflineBatchAssessment.StoredKey(id: stored.id, fingerprint: stored.fingerprint)
            // A counted record wins over a parked one under the same key.
            let cardKey = OfflineBatchAssessment.key(asn: stored.asn, counter: stored.cardCounter)
            if byCardCounter[cardKey] == nil || stored.outcome != .parked { byCardCounter[cardKey] = key }
            let serialKey = OfflineBatchAssessment.key(psam: stored.psamSerial, serial: stored.terminalSerial)
            if byPSAMSerial[serialKey] == nil || stored.outcome != .parked { byPSAMSerial[serialKey] = key }
        }
        let batchID: PurchaseBatch.ID = env.ids.make()
        var input = OfflineBatchAssessment.Input(
            batchID: batchID, terminal: terminal, merchant: merchant, records: records, cards: facts,
            byCardCounter: byCardCounter, byPSAMSerial: byPSAMSerial, parked: intake.releasable, now: now)
        // A record at the chain's next counter whose balance is not the chain's needs the card's loads.
        var needLoads = Set(
            zip(records, asnOf).filter { record, asn in
                guard let chain = facts[asn]?.chain else { return false }
                return Int64(record.cardCounter) == chain.nextCounter && record.balanceBeforeFen != chain.balanceFen
            }.map(\.1))
        try await attachLoads(needLoads, to: &input)
        var verified = verified
        func verify(_ record: PurchaseRecord) -> Bool {
            let key = Int(record.terminalSerial)
            if let known = verified[key] { return known }
            let ok = Self.verifyTAC(record, keyring: keyring)
            verified[key] = ok
            return ok
        }
        var ids: [String] = []
        var idPosition = 0
        func newID() -> String {
            if idPosition == ids.count { ids.append(env.ids.next()) }
            idPosition += 1
            return ids[idPosition - 1]
        }
        var assessment = try OfflineBatchAssessment(input, newID: newID, verifyTAC: verify)
        // Balances that still do not follow (a released record, a load met later in the chain) may
        // follow from loads not fetched yet.
        let mismatched = assessment.unbridgedASNs.subtracting(needLoads)
        if !mismatched.isEmpty {
            needLoads.formUnion(mismatched)
            try await attachLoads(mismatched, to: &input)
            idPosition = 0
            assessment = try OfflineBatchAssessment(input, newID: newID, verifyTAC: verify)
        }
        var batch = assessment.batch
        batch.number = upload.batchNumber
        batch.contentHash = contentHash
        let answer = BatchAnswer(batch: batch, records: assessment.results)
        var changes = ChangeSet()
        changes.add(.insertPurchaseBatch(batch, response: try answer.stored()))
        changes.add(.insertPurchases(assessment.inserted))
        if !assessment.released.isEmpty { changes.add(.releasePurchases(assessment.released)) }
        if !assessment.chains.isEmpty { changes.add(.putPurseChains(assessment.chains)) }
        if let transfer = assessment.transfer { changes.add(.postTransfer(transfer, policy: .standard)) }
        if !assessment.signals.isEmpty { changes.add(.insertFraudSignals(assessment.signals)) }
        changes.record(
            AuditDraft(
                at: now, actor: "terminal:\(terminal.number)", action: "purchase.batch", subject: "batch:\(batchID)",
                purpose: "clearing",
                detail:
                    #"{"number":\#(batch.number),"records":\#(batch.recordCount),"posted":\#(batch.postedCount),"risk":\#(batch.riskCount),"parked":\#(batch.parkedCount),"duplicates":\#(batch.duplicateCount),"acceptedFen":\#(batch.acceptedFen)}"#
            ))
        do throws(StorageError) {
            try await env.store.commit(changes)
        } catch .duplicate(.purchaseBatch) {
            // The same batch number committed before or concurrently: the next attempt answers what it stored.
            throw CitizenCardError(.conflict, "the batch was being uploaded concurrently")
        } catch .duplicate(.purchaseRecord) {
            throw CitizenCardError(.conflict, "a record was posted concurrently")
        } catch {
            throw ServiceEnvironment.translate(error)
        }
        return answer
    }

    /// The completed loads of these cards at or after their chains' online counters.
    func attachLoads(_ asns: Set<String>, to input: inout OfflineBatchAssessment.Input) async throws(CitizenCardError) {
        var from: [Card.ID: Int64] = [:]
        var asnOf: [Card.ID: String] = [:]
        for asn in asns {
            guard let fact = input.cards[asn] else { continue }
            from[fact.card.id] = fact.chain.nextOnlineCounter
            asnOf[fact.card.id] = asn
        }
        for step in try await env.fetch(try await env.store.completedLoads(from: from)) {
            guard let asn = asnOf[step.cardID] else { continue }
            input.cards[asn]!.loads.append(step)
        }
    }

    /// `verifyTAC` of each record, by terminal serial (unique in a well-formed batch).
    static func verifyTACs(_ records: [PurchaseRecord], keyring: IssuerKeyring) -> [Int: Bool] {
        var verified: [Int: Bool] = [:]
        for record in records where verified[Int(record.terminalSerial)] == nil {
            verified[Int(record.terminalSerial)] = verifyTAC(record, keyring: keyring)
        }
        return verified
    }

    static func verifyTAC(_ record: PurchaseRecord, keyring: IssuerKeyring) -> Bool {
        do {
            let asn = try ApplicationSerialNumber(hex: record.asn)
            try keyring.verifyPurchaseTAC(
                PurchaseTACRecord(
                    amountFen: record.amountFen, type: TransactionType(rawValue: record.transactionType),
                    terminal: try TerminalID(hex: record.terminalID),
                    terminalSerial: record.terminalSerial, dateTime: try TransactionDateTime(digits: record.dateTime),
                    keyVersion: record.keyVersion, algorithmID: record.algorithmID, tac: try MAC4(hex: record.tac)),
                asn: asn)
            return true
        } catch {
            return false
        }
    }

    // MARK: Queues

    /// The exceptions queue: parked records not closed, oldest first.
    public func exceptions(
        after: OfflinePurchase.ID?, limit: Int, actor: Actor
    ) async throws(CitizenCardError) -> [OfflinePurchase] {
        try actor.require(.acquiring)
        return try await env.fetch(try await env.store.parkedPurchases(after: after, limit: limit))
    }

    /// The purchase chains of these cards, by card (none for a card with no chained record).
    public func chains(of cardIDs: [Card.ID], actor: Actor) async throws(CitizenCardError) -> [Card.ID: PurseChain] {
        try actor.require(.acquiring)
        guard !cardIDs.isEmpty else { return [:] }
        let chains = try await env.fetch(try await env.store.purseChains(cardIDs: cardIDs))
        return Dictionary(chains.map { ($0.cardID, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// Exceptions an operator closed, in their records' id order.
    public func closedExceptions(
        after: OfflinePurchase.ID?, limit: Int, actor: Actor
    ) async throws(CitizenCardError) -> [ClosedException] {
        try actor.require(.acquiring)
        return try await env.fetch(try await env.store.closedExceptions(after: after, limit: limit))
    }

    /// The latest closed exceptions, newest closure first.
    public func latestClosedExceptions(limit: Int, actor: Actor) async throws(CitizenCardError) -> [ClosedException] {
        try actor.require(.acquiring)
        return try await env.fetch(try await env.store.latestClosedExceptions(limit: limit))
    }

    /// An operator's decision on records with its note: closing an exception
    /// (`closeException`), writing off missing records (`writeOffMissingRecords`).
    public struct NoteRequest: Codable, Sendable {
        /// Why, for the next reader: 1 to 500 characters (trimmed), no control characters but line breaks.
        public var note: String

        public init(note: String) { self.note = note }
    }

    /// Closes a parked record that nothing will release — a forged TAC, a replay, a card not
    /// ours, or a `gap` or `balance_mismatch` record whose counter its card's chain has passed
    /// (after a write-off of missing records) — after an operator looked at it: it is not paid and
    /// leaves the open queue for the closed list. Closing it again with the same note answers the
    /// same closure; a `gap` or `balance_mismatch` record still ahead of its chain (it waits for
    /// it), a record that is not parked, or one closed with another note is `not_closable`.
    public func closeException(
        _ id: OfflinePurchase.ID, _ request: NoteRequest, actor: Actor
    ) async throws(CitizenCardError) -> ClosedException {
        try actor.require(.acquiring)
        let note = try Self.operatorNote(request.note)
        guard let stored = try await env.fetch(try await env.store.purchase(id: id)) else {
            throw CitizenCardError.notFound("offline purchase")
        }
        if let closure = stored.closure {
            guard closure.note == note else {
                throw CitizenCardError(
                    .notClosable, "the exception was closed before, with another note",
                    zh: "该异常记录已关闭，关闭原因不同")
            }
            return ClosedException(purchase: stored.purchase, closure: closure)
        }
        let record = stored.purchase
        guard record.outcome == .parked, let reason = record.reason else {
            throw CitizenCardError(
                .notClosable, "the record is \(record.outcome.rawValue), not in the exceptions queue",
                zh: "该记录不在异常队列中")
        }
        // A gap or balance mismatch waits for its card's chain, unless the chain is past it.
        if !reason.isClosable {
            var chain: PurseChain? = nil
            if let cardID = record.cardID {
                chain = try await env.fetch(try await env.store.purseChains(cardIDs: [cardID])).first
            }
            guard let chain, record.cardCounter < chain.nextCounter else {
                throw CitizenCardError(
                    .notClosable,
                    "a \(reason.rawValue) record waits for its card's chain and is released by itself when it fits",
                    zh: "该记录在等待本卡的交易链补齐，补齐后自动入账，不能关闭")
            }
        }
        let closure = ExceptionClosure(purchaseID: id, note: note, closedBy: actor.name, closedAt: env.clock.now())
        var changes = ChangeSet()
        changes.add(.closeException(closure))
        // The note stays out of the audit entry: it is free text.
        changes.record(
            AuditDraft(
                at: closure.closedAt, actor: actor.name, action: "purchase.exception.close", subject: "purchase:\(id)",
                purpose: "acquiring",
                detail:
                    #"{"reason":"\#(reason.rawValue)","amountFen":\#(record.amountFen),"merchantId":"\#(record.merchantID)"}"#
            ))
        do throws(StorageError) {
            try await env.store.commit(changes)
        } catch .conflict {
            // Closed at the same moment by someone else: answered as a repeat would be.
            if let again = try await env.fetch(try await env.store.purchase(id: id)), let closure = again.closure,
                closure.note == note
            {
                return ClosedException(purchase: again.purchase, closure: closure)
            }
            throw CitizenCardError(.conflict, "the exception was closed at the same time by someone else")
        } catch {
            throw ServiceEnvironment.translate(error)
        }
        return ClosedException(purchase: record, closure: closure)
    }

    /// An operator's note on a decision about records: 1 to 500 characters after trimming, line
    /// breaks allowed, otherwise within the text rule (`TextRule`).
    static func operatorNote(_ text: String) throws(CitizenCardError) -> String {
        let note = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...500).contains(note.count) else {
            throw CitizenCardError.invalid("note", "1 to 500 characters", zh: "请填写原因（1 至 500 字）")
        }
        try TextRule.check(note, field: "note", kind: .multiline)
        return note
    }

    /// Fraud signals (R-43), newest first.
    public func fraudSignals(
        before: FraudSignal.ID?, limit: Int, actor: Actor
    ) async throws(CitizenCardError) -> [FraudSignal] {
        try actor.require(.acquiring)
        return try await env.fetch(try await env.store.fraudSignals(before: before, limit: limit))
    }

    /// A card's offline purchases, newest first; 404 for a card that does not exist.
    public func purchases(
        of cardID: Card.ID, limit: Int, actor: Actor
    ) async throws(CitizenCardError)
        -> [OfflinePurchase]
    {
        try actor.require(.readCards)
        guard let card = try await env.fetch(try await env.store.card(id: cardID)) else {
            throw CitizenCardError.notFound("card")
        }
        try await env.auditCardRead(card, what: "purchases", actor: actor)
        return try await env.fetch(try await env.store.purchases(cardID: cardID, limit: limit))
    }
}
