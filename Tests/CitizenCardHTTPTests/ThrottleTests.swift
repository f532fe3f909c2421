import CitizenCardDomain
import CitizenCardTesting
import Foundation
import Testing

@testable import CitizenCardHTTP
@testable import CitizenCardServices

/// The log-in throttles of the staff and of the portal (issue 16): nobody can lock a member of
/// staff out, a NUL cannot slip past a lock, guessing in parallel or spraying one password over
/// many cards is stopped, the tables are bounded and never forget a lock.
@Suite("Log-in throttles")
struct ThrottleTests {
    // MARK: The table

    @Test("failures within the window lock a key; the window slides; a success clears it")
    func table() {
        var table = FailureTable(.init(failuresMax: 3, windowSeconds: 100, lockSeconds: 50, keysMax: 10))
        var locked: [Bool] = []
        for now: Int64 in [0, 60, 120, 150] { locked.append(table.fail("a", now: now)) }
        #expect(locked == [false, false, false, true], "the first failure left the window at 100")
        #expect(table.lockedUntil("a", now: 150) == 200)
        #expect(table.lockedUntil("a", now: 200) == nil)
        table.clear("a")
        #expect(table.failures("a", now: 200) == 0)
    }

    @Test("full: keys with nothing to remember go first, then the oldest unlocked; locks are never forgotten")
    func bounded() {
        var table = FailureTable(.init(failuresMax: 1, windowSeconds: 100, lockSeconds: 1_000, keysMax: 10))
        for key in 0..<10 { table.fail("locked\(key)", now: 0) }
        #expect(table.entries.count == 10)
        let counted = table.fail("new", now: 1)
        #expect(!counted && table.locksFull, "no room: the new key is not counted")
        for key in 0..<10 { #expect(table.lockedUntil("locked\(key)", now: 1) == 1_000) }
        var table2 = FailureTable(.init(failuresMax: 5, windowSeconds: 100, lockSeconds: 1_000, keysMax: 10))
        for key in 0..<5 { table2.fail("old\(key)", now: 0) }
        for _ in 0..<5 { table2.fail("locked", now: 10) }
        for key in 0..<4 { table2.fail("recent\(key)", now: 20) }
        table2.fail("newest", now: 30)
        #expect(table2.entries.count <= 10)
        #expect(table2.lockedUntil("locked", now: 30) != nil)
        #expect(table2.failures("newest", now: 30) == 1)
        #expect(table2.failures("old0", now: 30) == 0, "the oldest unlocked keys made room")
    }

    // MARK: Staff

    struct Staff {
        let world: TestWorld
        let throttle: LoginThrottle
        var auth: AuthService { AuthService(world.env) }

        init() async throws {
            world = try await TestWorld()
            _ = try await world.seedReferenceData()
            throttle = LoginThrottle(clock: world.clock)
        }

        func login(_ user: String, _ password: String, from address: String) async -> Result<String, CitizenCardError> {
            do throws(CitizenCardError) {
                return .success(
                    try await throttle.login(auth, username: user, password: password, address: address).token)
            } catch {
                return .failure(error)
            }
        }
    }

    static func code(_ result: Result<String, CitizenCardError>) -> String {
        switch result {
        case .success: "ok"
        case .failure(let error): error.code.rawValue
        }
    }

    @Test("5 failures lock the user at that address only; elsewhere the owner waits seconds, not minutes")
    func pairLockAndSlowDown() async throws {
        let staff = try await Staff()
        for _ in 0..<5 {
            #expect(Self.code(await staff.login("clerk", "wrong", from: "192.0.2.1")) == "invalid_credentials")
        }
        let locked = await staff.login("clerk", TestWorld.password, from: "192.0.2.1")
        #expect(Self.code(locked) == "too_many_attempts")
        if case .failure(let error) = locked { #expect((error.retryAfterSeconds ?? 0) > 800) }
        let elsewhere = await staff.login("clerk", TestWorld.password, from: "198.51.100.7")
        #expect(Self.code(elsewhere) == "too_many_attempts", "the slow-down: one second after the last failure")
        if case .failure(let error) = elsewhere { #expect(error.retryAfterSeconds == 1) }
        staff.world.clock.advance(seconds: 1)
        #expect(Self.code(await staff.login("clerk", TestWorld.password, from: "198.51.100.7")) == "ok")
    }

    @Test("guessing from many addresses never keeps the owner out at an address they logged in from")
    func knownAddress() async throws {
        let staff = try await Staff()
        #expect(Self.code(await staff.login("clerk", TestWorld.password, from: "192.0.2.10")) == "ok")
        var refused = 0
        for attempt in 0..<40 {
            let result = await staff.login("clerk", "guess \(attempt)", from: "203.0.113.\(attempt)")
            if Self.code(result) == "too_many_attempts" { refused += 1 }
            staff.world.clock.advance(seconds: 2)
        }
        #expect(refused > 0, "the attacker is slowed down")
        #expect(Self.code(await staff.login("clerk", TestWorld.password, from: "192.0.2.10")) == "ok")
    }

    @Test("one address failing for many accounts is locked")
    func addressLock() async throws {
        let staff = try await Staff()
        for attempt in 0..<30 {
            _ = await staff.login("user\(attempt)", "wrong", from: "192.0.2.99")
        }
        #expect(Self.code(await staff.login("clerk", TestWorld.password, from: "192.0.2.99")) == "too_many_attempts")
        #expect(Self.code(await staff.login("clerk", TestWorld.password, from: "192.0.2.98")) == "ok")
    }

    @Test("a NUL in the user name is refused before it is counted or looked up")
    func nulUsername() async throws {
        let staff = try await Staff()
        for _ in 0..<5 { _ = await staff.login("clerk", "wrong", from: "192.0.2.1") }
        let result = await staff.login("clerk\u{0}anything", TestWorld.password, from: "192.0.2.1")
        #expect(Self.code(result) == "invalid_field")
        #expect(Self.code(await staff.login(" CLERK ", TestWorld.password, from: "192.0.2.1")) == "too_many_attempts")
    }

    @Test("the decoy hash costs what real hashes cost")
    func decoyCost() {
        // A decoy cheaper than the accounts' hashes told unknown user names by the answer's time.
        for cost: UInt8 in [4, 5] {
            let decoy = DecoyHash.at(cost: cost)
            #expect(decoy.contains("$0\(cost)$"), "\(decoy.prefix(7))")
        }
    }

    // MARK: Portal

    @Test("spraying one password over many cards from one address locks the address")
    func sprayingFromOneAddress() async throws {
        let world = try await TestWorld()
        _ = try await world.seedReferenceData()
        let throttle = PortalThrottle(clock: world.clock)
        let portal = PortalService(world.env)
        var codes: [String] = []
        for card in 0..<6 {
            do throws(CitizenCardError) {
                _ = try await throttle.login(
                    portal, cardNumber: "33090000000\(10 + card)", password: "123123", address: "192.0.2.5")
                codes.append("ok")
            } catch {
                codes.append(error.code.rawValue)
            }
        }
        #expect(codes.prefix(4).allSatisfy { $0 == "invalid_credentials" }, "\(codes)")
        #expect(codes.suffix(2).allSatisfy { $0 == "too_many_attempts" }, "\(codes)")
    }

    @Test("one password tried on many cards from many addresses is refused for an hour")
    func sprayingFromManyAddresses() async throws {
        let world = try await TestWorld()
        _ = try await world.seedReferenceData()
        let throttle = PortalThrottle(clock: world.clock)
        let portal = PortalService(world.env)
        var last = ""
        for card in 0..<9 {
            do throws(CitizenCardError) {
                _ = try await throttle.login(
                    portal, cardNumber: "33090000001\(10 + card)", password: "888888", address: "203.0.113.\(card)")
            } catch {
                last = error.code.rawValue
                if error.code == .tooManyAttempts { #expect((error.retryAfterSeconds ?? 0) > 3000) }
            }
        }
        #expect(last == "too_many_attempts")
        do throws(CitizenCardError) {
            _ = try await throttle.login(
                portal, cardNumber: "3309000000999", password: "246810", address: "203.0.113.50")
        } catch {
            #expect(error.code == .invalidCredentials, "another password is still checked")
        }
    }

    // MARK: Addresses

    @Test("a forwarding header counts only from a trusted proxy")
    func trustedProxies() throws {
        let proxies = try TrustedProxies(parsing: ["10.0.0.0/8", "::1", "fd00::/8"])
        #expect(proxies.client(peer: "10.1.2.3", forwardedFor: "198.51.100.7") == "198.51.100.7")
        #expect(proxies.client(peer: "10.1.2.3", forwardedFor: "1.2.3.4, 198.51.100.7, 10.9.9.9") == "198.51.100.7")
        #expect(proxies.client(peer: "203.0.113.9", forwardedFor: "198.51.100.7") == "203.0.113.9")
        #expect(proxies.client(peer: "::1", forwardedFor: "2001:db8::0:1") == "2001:db8::1")
        #expect(proxies.client(peer: "10.1.2.3", forwardedFor: "not an address") == "10.1.2.3")
        #expect(proxies.client(peer: "10.1.2.3", forwardedFor: nil) == "10.1.2.3")
        #expect(TrustedProxies.none.client(peer: "10.1.2.3", forwardedFor: "198.51.100.7") == "10.1.2.3")
        #expect(throws: TrustedProxyError.self) { try TrustedProxies(parsing: ["10.0.0.0/33"]) }
        #expect(throws: TrustedProxyError.self) { try TrustedProxies(parsing: ["proxy.example"]) }
    }
}
