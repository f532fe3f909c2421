public import CitizenCardDomain
public import Credentials
import Crypto
public import Foundation
import Storage

/// The electronic citizen card (issue 19, docs/electronic-card.md): signed card codes for the
/// holder's phone, the status list of every issued card, the signed list of the city's keys, and
/// online verification with an optional mark-used-once.
public struct CredentialService: Sendable {
    let env: ServiceEnvironment

    public init(_ env: ServiceEnvironment) { self.env = env }

    var algorithm: CredentialAlgorithm {
        (try? env.credentialPolicy.validated().get()) ?? .sm2sm3
    }

    var issuer: String { "CN-\(env.city.divisionCode)" }

    // MARK: Card codes

    /// A freshly signed code, with what the holder's page shows.
    public struct IssuedCode: Sendable, Hashable {
        /// `CC1:…`, the QR symbol's text.
        public var text: String
        public var claims: CardCodeClaims
        /// The holder's name, masked (shown in full only when the holder asks, on the page).
        public var maskedName: String
        public var maskedCardNumber: String
        /// The holder's own name and card number, which the page shows when the holder taps.
        public var name: String
        public var cardNumber: String
        public var refreshSeconds: Int64
    }

    /// Signs a code for the holder's current card; a card that is not usable gets none
    /// (`card_not_usable`). The first code of a card gives it its place in the status list.
    public func issueCode(_ principal: PortalService.CitizenPrincipal) async throws(CitizenCardError) -> IssuedCode {
        guard let stored = try await env.fetch(try await env.store.card(id: principal.cardID)) else {
            throw CitizenCardError(.notFound, "card")
        }
        let card = stored.dueTransitions(context: env.context(.system)).last?.0 ?? stored
        let hold = try await env.fetch(try await env.store.cardHold(cardID: card.id))
        guard card.state.isUsable, hold == nil else {
            throw CitizenCardError(.cardNotUsable, "a card that is not usable gets no code")
        }
        let registry = RegistryService(env)
        let person = try registry.open(try await registry.load(card.personID))
        var portraitHash: [UInt8]? = nil
        if person.details.photoID != nil {
            let photo = try await ProductionService(env).photo(of: person)
            portraitHash = Array(SHA256.hash(data: photo.bytes))
        }
        let index = try await statusIndex(of: card.id)
        return try sign(card: card, name: person.details.name, portraitHash: portraitHash, index: index)
    }

    /// Signs the code of `card` at `index` in the status list (no reads: the benchmark's path).
    package func sign(
        card: Card, name: String, portraitHash: [UInt8]?, index: Int64
    ) throws(CitizenCardError)
        -> IssuedCode
    {
        let now = env.clock.now().secondsSinceEpoch
        let policy = env.credentialPolicy
        let maskedName = Masking.name(name)
        let claims: CardCodeClaims
        do {
            claims = try CardCodeClaims(
                issuer: issuer, issuedAt: now, expiresAt: now + policy.codeLifetimeSeconds,
                codeID: (0..<CardCodeClaims.codeIDByteCount).map { _ in UInt8.random(in: 0...255) },
                status: try StatusListReference(index: UInt64(index), uri: policy.statusListURI),
                asn: card.asn.uppercased(), cardNumber: card.number, cardStatus: .active, maskedName: maskedName,
                portraitHash: portraitHash)
        } catch {
            throw CitizenCardError(.internal, "card code claims: \(error)")
        }
        let key = try signingKey(.cardCode)
        let sign1: COSESign1
        do {
            sign1 = try COSESign1.sign(payload: claims.encoded(), algorithm: key.algorithm, keyID: key.keyID) {
                (message: [UInt8]) throws(CredentialKeyError) -> [UInt8] in try key.key.sign(message)
            }
        } catch {
            throw CitizenCardError(.internal, "card code signature: \(error)")
        }
        return IssuedCode(
            text: CardCodeText.encode(sign1), claims: claims, maskedName: maskedName,
            maskedCardNumber: Masking.cardNumber(card.number), name: name, cardNumber: card.number,
            refreshSeconds: policy.refreshSeconds)
    }

    func signingKey(_ purpose: CredentialKeyPurpose) throws(CitizenCardError) -> CredentialKeyring.Entry {
        do {
            return try env.credentialKeys.signingKey(purpose, algorithm)
        } catch {
            throw CitizenCardError(.internal, "\(error)")
        }
    }

    /// The card's index in the status list, given now if it has none.
    func statusIndex(of cardID: Card.ID) async throws(CitizenCardError) -> Int64 {
        for _ in 0..<5 {
            if let index = try await env.fetch(try await env.store.statusIndex(cardID: cardID)) { return index }
            var changes = ChangeSet()
            changes.add(.credentials(.indexCards(only: cardID)))
            do {
                try await env.commit(changes)
            } catch  where error.code == .conflict {
                continue  // another commit took the next index: read again
            }
        }
        throw CitizenCardError(.unavailable, "the status list index could not be given")
    }

    // MARK: The status list

    /// Status values (draft §7): 0 valid, 1 invalid, 2 suspended (a pre-loss or a block, which
    /// can end).
    static func status(_ card: StatusListCard) -> UInt8 {
        if card.blocked { return 2 }
        return switch card.state {
        case .active: 0
        case .preLost: 2
        default: 1
        }
    }

    /// Publishes a new status list: every issued card without an index gets one, then the list
    /// of every indexed card is signed and stored as the next version. Only the center.
    public func publishStatusList(actor: Actor) async throws(CitizenCardError) -> StatusListDocument {
        guard actor.role == nil || actor.role == .administrator else {
            throw CitizenCardError(.forbidden, "only the center publishes the status list")
        }
        var attempt = 0
        while true {
            attempt += 1
            do {
                return StatusListDocument(try await publishOnce(actor: actor))
            } catch  where error.code == .conflict && attempt < 5 {
                continue
            }
        }
    }

    func publishOnce(actor: Actor) async throws(CitizenCardError) -> StatusListPublication {
        var indexing = ChangeSet()
        indexing.add(.credentials(.indexCards(only: nil)))
        try await env.commit(indexing)
        let previous = try await env.fetch(try await env.store.statusListPublication())
        let cards = try await env.fetch(try await env.store.statusListCards())
        let count = Int((cards.map(\.index).max() ?? -1) + 1)
        var list = StatusList(bits: 2, count: count)
        for card in cards { list.set(Int(card.index), to: Self.status(card)) }
        let now = env.clock.now()
        let policy = env.credentialPolicy
        let token: StatusListToken
        do {
            token = try StatusListToken(
                uri: policy.statusListURI, issuedAt: now.secondsSinceEpoch,
                expiresAt: now.secondsSinceEpoch + policy.listLifetimeSeconds, timeToLiveSeconds: 3_600, list: list)
        } catch {
            throw CitizenCardError(.internal, "status list: \(error)")
        }
        let key = try signingKey(.cardCode)
        let signed: COSESign1
        do {
            signed = try token.sign(algorithm: key.algorithm, keyID: key.keyID) {
                (message: [UInt8]) throws(CredentialKeyError) -> [UInt8] in try key.key.sign(message)
            }
        } catch {
            throw CitizenCardError(.internal, "status list signature: \(error)")
        }
        let publication = StatusListPublication(
            version: (previous?.version ?? 0) + 1, publishedAt: now, count: Int64(list.count),
            token: Data(signed.encoded()))
        var changes = ChangeSet()
        changes.add(.credentials(.publishStatusList(publication)))
        changes.record(
            AuditDraft(
                at: now, actor: actor.name, action: "credential.status_list.publish",
                subject: "status-list:\(publication.version)", purpose: "card security",
                detail: #"{"entries":\#(list.count),"bytes":\#(publication.token.count)}"#))
        try await env.commit(changes)
        return publication
    }

    /// The newest status list, published first if there is none yet or the newest is older than
    /// half its lifetime.
    public func currentStatusList() async throws(CitizenCardError) -> StatusListDocument {
        let now = env.clock.now().secondsSinceEpoch
        if let newest = try await env.fetch(try await env.store.statusListPublication()),
            now - newest.publishedAt.secondsSinceEpoch < env.credentialPolicy.listLifetimeSeconds / 2
        {
            return StatusListDocument(newest)
        }
        return try await publishStatusList(actor: .system)
    }

    // MARK: The key list

    /// The signed list of the keys that verify card codes and status lists now (see `KeyList`),
    /// signed by the key-list key, the anchor verifiers hold.
    public func keyList() throws(CitizenCardError) -> [UInt8] {
        let now = env.clock.now().secondsSinceEpoch
        let policy = env.credentialPolicy
        let entries = env.credentialKeys.verifyingKeys(now: now, lifetime: policy.codeLifetimeSeconds)
            .map { KeyList.Entry(key: $0.entry.key.publicKey, notBefore: $0.entry.createdAt, notAfter: $0.notAfter) }
        let list = KeyList(
            issuer: issuer, issuedAt: now, expiresAt: now + policy.listLifetimeSeconds, keys: entries)
        let anchor = try signingKey(.keyList)
        do {
            return try list.sign(with: anchor.key).encoded()
        } catch {
            throw CitizenCardError(.internal, "key list: \(error)")
        }
    }

    /// The anchor: the public key that signs the key list.
    public func anchor() throws(CitizenCardError) -> CredentialPublicKey {
        try signingKey(.keyList).key.publicKey
    }

    // MARK: Verification

    /// The portrait of a verified code's holder, for the staff member to compare with the person
    /// in front of them (read through the registry, audited); `matches` says whether it is the
    /// portrait the code was signed with.
    public func portrait(
        cardID: Card.ID, claims: CardCodeClaims, actor: Actor
    ) async throws(CitizenCardError) -> (mediaType: String, bytes: Data, matches: Bool) {
        guard let card = try await env.fetch(try await env.store.card(id: cardID)) else {
            throw CitizenCardError.notFound("card")
        }
        let photo = try await RegistryService(env).photo(
            card.personID, purpose: "electronic card verification", actor: actor)
        let matches = claims.portraitHash == Array(SHA256.hash(data: photo.bytes))
        return (photo.mediaType, photo.bytes, matches)
    }

    public struct OnlineVerification: Sendable, Hashable {
        public var verdict: CodeVerdict
        public var claims: CardCodeClaims?
        /// The card, for staff (the portrait is read through its holder).
        public var cardID: Card.ID?
        /// Set when the verifier asked to mark the code used and it had been used before: when
        /// and by whom.
        public var usedBefore: (at: Timestamp, verifier: String)?

        public static func == (lhs: Self, rhs: Self) -> Bool {
            lhs.verdict == rhs.verdict && lhs.claims == rhs.claims && lhs.cardID == rhs.cardID
                && lhs.usedBefore?.at == rhs.usedBefore?.at && lhs.usedBefore?.verifier == rhs.usedBefore?.verifier
        }

        public func hash(into hasher: inout Hasher) {
            hasher.combine(verdict)
            hasher.combine(cardID)
        }
    }

    /// Checks a code against the current keys and the card's status now (not a published list:
    /// the server knows better); with `markUsed`, a valid code is recorded as used and a second
    /// use is refused as `replayed`. Audited.
    public func verify(
        _ text: String, markUsed: Bool, actor: Actor
    ) async throws(CitizenCardError)
        -> OnlineVerification
    {
        guard text.utf8.count <= CardCodeText.textLengthMax + 64 else {
            throw CitizenCardError.invalid("code", "at most \(CardCodeText.textLengthMax) characters")
        }
        let now = env.clock.now()
        let policy = env.credentialPolicy
        let ring = env.credentialKeys
        let keys = ring.verifyingKeys(now: now.secondsSinceEpoch, lifetime: policy.codeLifetimeSeconds)
            .map(\.entry.key.publicKey)
        let verifier = CodeVerifier(
            keys: { algorithm, keyID in keys.first { $0.algorithm == algorithm && $0.keyID == keyID } },
            nowSeconds: now.secondsSinceEpoch, leewaySeconds: policy.leewaySeconds,
            lifetimeMaxSeconds: policy.codeLifetimeSeconds)
        var result = verifier.verify(text)
        var outcome = OnlineVerification(verdict: result.verdict, claims: result.claims)
        var changes = ChangeSet()
        if let claims = result.claims,
            let stored = try await env.fetch(try await env.store.cardForCheck(number: claims.cardNumber)),
            stored.card.asn.uppercased() == claims.asn
        {
            outcome.cardID = stored.card.id
            let card = stored.card.dueTransitions(context: env.context(.system)).last?.0 ?? stored.card
            if result.verdict == .valid, !card.state.isUsable || stored.blocked {
                result = CodeVerification(verdict: .revoked, claims: claims)
                outcome.verdict = .revoked
            }
            if outcome.verdict == .valid, markUsed {
                let codeID = Data(claims.codeID)
                if let used = try await env.fetch(try await env.store.credentialUse(codeID: codeID)) {
                    outcome.usedBefore = (used.usedAt, used.verifier)
                } else {
                    changes.add(
                        .credentials(
                            .markCredentialUsed(
                                CredentialUse(
                                    codeID: codeID, cardID: card.id, usedAt: now,
                                    expiresAt: Timestamp(secondsSinceEpoch: claims.expiresAt), verifier: actor.name))))
                }
            }
        } else if result.verdict == .valid {
            outcome.verdict = .revoked  // signed by us for a card we no longer know
        }
        changes.record(
            AuditDraft(
                at: now, actor: actor.name, action: "credential.verify",
                subject: outcome.cardID.map { "card:\($0)" } ?? "credential",
                purpose: markUsed ? "verification, used once" : "verification",
                detail: #"{"verdict":"\#(outcome.verdict.rawValue)","replayed":\#(outcome.usedBefore != nil)}"#))
        do {
            // Grouped with the verifications of the same moment: one transaction and one sync for
            // all (a code marked used twice at once fails alone and is answered as replayed).
            try await env.commitGrouped(changes)
        } catch  where error.code == .conflict && markUsed {
            // A concurrent verification marked it first.
            let used = try await env.fetch(
                try await env.store.credentialUse(codeID: Data(result.claims?.codeID ?? [])))
            outcome.usedBefore = used.map { ($0.usedAt, $0.verifier) }
        }
        return outcome
    }
}

/// A published status list as served: the signed token's bytes and its version.
public struct StatusListDocument: Sendable, Hashable {
    public var version: Int64
    public var publishedAt: Timestamp
    public var count: Int64
    public var token: Data

    init(_ publication: StatusListPublication) {
        self.version = publication.version
        self.publishedAt = publication.publishedAt
        self.count = publication.count
        self.token = publication.token
    }
}
