import CitizenCardDomain
import CitizenCardServices
import CitizenCardTesting
import Credentials
import Foundation
import Storage
import Testing

/// The electronic card (issue 19, docs/electronic-card.md) on a real store: codes for usable
/// cards only, checked offline with the published key list and status list and online, with the
/// same verdicts; the status list after a loss; a code marked used once.
@Suite("Electronic card codes")
struct CredentialServiceTests {
    let world: TestWorld
    let staff: TestWorld.Staff
    let fixtures: Fixtures
    var portal: PortalService { PortalService(world.env) }
    var credentials: CredentialService { CredentialService(world.env) }

    init() async throws {
        world = try await TestWorld()
        staff = try await world.seedReferenceData()
        fixtures = Fixtures(world: world, staff: staff)
    }

    func holder() async throws -> (CardView, PortalService.CitizenPrincipal) {
        let (resident, card) = try await fixtures.activeCard()
        _ = try await portal.setQueryPassword(
            cardID: card.id, password: "135790", identity: fixtures.identity(resident), actor: staff.clerk)
        let session = try await portal.login(cardNumber: card.number, password: "135790")
        return (card, try await portal.authenticate(token: session.token))
    }

    /// What an offline verifier holds: the anchor's key, the key list and the status list, as
    /// published now, checked with their signatures.
    func offlineVerifier(withStatus: Bool = true) async throws -> CodeVerifier {
        let now = world.clock.now().secondsSinceEpoch
        let list = try KeyList.verify(try credentials.keyList(), anchor: try credentials.anchor(), nowSeconds: now)
        var status: StatusListToken? = nil
        if withStatus {
            let published = try await credentials.currentStatusList()
            status = try StatusListToken.verify(
                Array(published.token), expectedURI: world.env.credentialPolicy.statusListURI,
                keys: { list.checker($0, $1, nowSeconds: now) }, nowSeconds: now)
        }
        return CodeVerifier(
            keys: { list.checker($0, $1, nowSeconds: now) }, statusList: status, nowSeconds: now, leewaySeconds: 30,
            lifetimeMaxSeconds: world.env.credentialPolicy.codeLifetimeSeconds)
    }

    @Test("a holder's code verifies offline and online as valid, and says only what it should")
    func validCode() async throws {
        let (card, principal) = try await holder()
        let code = try await credentials.issueCode(principal)
        #expect(code.text.hasPrefix("CC1:"))
        #expect(code.claims.cardNumber == card.number)
        #expect(code.claims.issuer == "CN-\(world.env.city.divisionCode)")
        #expect(code.claims.expiresAt - code.claims.issuedAt == world.env.credentialPolicy.codeLifetimeSeconds)
        #expect(code.maskedName != code.name)
        #expect(!code.text.contains(code.name))
        #expect(try await offlineVerifier().verify(code.text).verdict == .valid)
        let online = try await credentials.verify(code.text, markUsed: false, actor: staff.clerk)
        #expect(online.verdict == .valid)
        #expect(online.cardID == card.id)
        let audited = try await world.store.auditEntries(AuditFilter(action: "credential.verify"), limit: 10)
        #expect(audited.count == 1)
    }

    @Test("after a loss the card gets no code, and its earlier code is revoked offline and online")
    func revokedAfterLoss() async throws {
        let (_, principal) = try await holder()
        let code = try await credentials.issueCode(principal)
        _ = try await portal.reportLoss(principal)
        do {
            _ = try await credentials.issueCode(principal)
            Issue.record("a lost card got a code")
        } catch let error as CitizenCardError {
            #expect(error.code == .cardNotUsable)
        }
        // The status list published before the loss still says valid; the next one does not.
        #expect(try await offlineVerifier(withStatus: false).verify(code.text).verdict == .valid)
        _ = try await credentials.publishStatusList(actor: staff.admin)
        #expect(try await offlineVerifier().verify(code.text).verdict == .revoked)
        #expect(try await credentials.verify(code.text, markUsed: false, actor: staff.clerk).verdict == .revoked)
    }

    @Test("a code expires; a tampered or foreign code gets its reason")
    func reasons() async throws {
        let (_, principal) = try await holder()
        let code = try await credentials.issueCode(principal)
        var characters = Array(code.text)
        let middle = characters.count / 2
        characters[middle] = characters[middle] == "A" ? "B" : "A"
        let tampered = String(characters)
        let verdict = try await credentials.verify(tampered, markUsed: false, actor: staff.clerk).verdict
        #expect([.badSignature, .malformed].contains(verdict))
        #expect(try await credentials.verify("CC1:HELLO", markUsed: false, actor: staff.clerk).verdict == .malformed)
        world.clock.advance(seconds: world.env.credentialPolicy.codeLifetimeSeconds + 31)
        #expect(try await credentials.verify(code.text, markUsed: false, actor: staff.clerk).verdict == .expired)
        #expect(try await offlineVerifier().verify(code.text).verdict == .expired)
    }

    @Test("a code marked used once is refused the second time")
    func usedOnce() async throws {
        let (_, principal) = try await holder()
        let code = try await credentials.issueCode(principal)
        let first = try await credentials.verify(code.text, markUsed: true, actor: staff.clerk)
        #expect(first.verdict == .valid && first.usedBefore == nil)
        let second = try await credentials.verify(code.text, markUsed: true, actor: staff.clerk)
        #expect(second.usedBefore?.verifier == staff.clerk.name)
        // Without asking to mark it, a verifier is not told of earlier uses.
        #expect(try await credentials.verify(code.text, markUsed: false, actor: staff.clerk).usedBefore == nil)
    }

    @Test("each card keeps its place in the status list; the list grows with issued cards")
    func statusListIndexes() async throws {
        let (_, first) = try await holder()
        let (_, second) = try await holder()
        let a = try await credentials.issueCode(first).claims.status.index
        let b = try await credentials.issueCode(second).claims.status.index
        #expect(a != b)
        #expect(try await credentials.issueCode(first).claims.status.index == a)
        let published = try await credentials.publishStatusList(actor: staff.admin)
        #expect(published.count >= 2)
        let again = try await credentials.publishStatusList(actor: staff.admin)
        #expect(again.version == published.version + 1)
        await #expect(throws: CitizenCardError.self) { try await credentials.publishStatusList(actor: staff.clerk) }
    }

    @Test("after rotation a code of the old key stays valid, and new codes use the new key")
    func rotation() async throws {
        let (_, principal) = try await holder()
        let old = try await credentials.issueCode(principal)
        var env = world.env
        env.credentialKeys = try env.credentialKeys.rotating(
            .cardCode, .sm2sm3, now: world.clock.now().secondsSinceEpoch)
        let rotated = CredentialService(env)
        let new = try await rotated.issueCode(principal)
        #expect(
            try COSESign1.decode(try CardCodeText.decode(old.text).encoded()).keyID
                != (try CardCodeText.decode(new.text)).keyID)
        #expect(try await rotated.verify(old.text, markUsed: false, actor: staff.clerk).verdict == .valid)
        #expect(try await rotated.verify(new.text, markUsed: false, actor: staff.clerk).verdict == .valid)
    }
}
