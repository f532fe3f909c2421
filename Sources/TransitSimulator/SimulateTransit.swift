package import ArgumentParser
import CardCrypto
package import CitizenCardDomain
package import CitizenCardServices
package import CitizenCardRuntime
package import CommandSupport
package import Foundation
package import Hotlist
package import SmartCard
package import Storage

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

package struct Simulate: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        abstract: "Simulate the city's card use through the real use cases.", subcommands: [SimulateTransit.self])
}

/// `citizencard simulate transit`: residents with active cards and software chips, terminals of a
/// few merchants, days of taps through the real APDU purchase, uploads, clearing and the hotlist,
/// with injected fraud; the summary is recomputed from the database (docs/simulate.md).
package struct SimulateTransit: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "transit",
        abstract: "Simulate days of e-purse taps at terminals, with fraud, and check the books.",
        discussion: """
            In-process (the default), everything runs in this process on the database of --data or \
            --database, on a simulated clock that starts at midnight (Asia/Shanghai) of 2026-06-01, or of \
            the first days after that no earlier run used: persons, cards, chips, loads, merchants, \
            terminals, sign-ins, taps, uploads, loss reports, the hotlist and the daily clearing.

            With --server, the center's and the terminals' side (merchants, terminals, sign-in, hotlist, \
            uploads, hotlist publication) goes over HTTP to a running `citizencard serve`, logged in as \
            --admin-user, and with each terminal's key. Persons, cards, chips, loads and loss reports are \
            still made in this process, on the server's database: --data (and --database, if the server \
            has one) must name the server's data directory, whose issuer keys the chips are personalised \
            with. The simulated days are then the days before today, the server posts the records on its \
            own clock (today), and today cannot be cleared yet: run `citizencard clearing run` after \
            midnight.

            --fraud RATE turns that fraction of the taps into one of five frauds the host must catch: a \
            forged TAC, a replayed record, a withheld record (uploaded a day late, or never on the last \
            day), a tap after the card was reported lost, and a tap far away (Shanghai) minutes after one \
            in the city. The summary counts, from the database, the records posted, charged to risk and \
            parked, the fraud signals, each day's clearing and reconciliation and the ledger, next to what \
            the simulator injected. Exit 1 when the ledger does not sum to 0 or a reconciliation names a \
            difference.
            """)

    @OptionGroup var store: StoreOptions

    @Option(help: "Residents with an active card, a personalised chip and a loaded purse.")
    package var cards = 200

    @Option(help: "Purchase terminals in the city, spread over 2-3 merchants.")
    package var terminals = 20

    @Option(help: "Days to simulate.")
    package var days = 2

    @Option(help: "Taps per card and day, about.")
    package var taps = 4

    @Option(help: "Fraction of the taps turned into fraud, 0 to 1.")
    package var fraud = 0.0

    @Option(help: "URL of a running `citizencard serve` (http://127.0.0.1:8080): the terminal side goes over HTTP.")
    package var server: String?

    @Option(help: "Administrator to log in as with --server.")
    package var adminUser = "admin"

    @Option(help: "Password of --admin-user. Env: CITIZENCARD_ADMIN_PASSWORD.")
    package var adminPassword: String?

    @Option(
        help:
            "Old transit cards imported on migration day (the day before the first), about 70 % of them the residents', whose holders fold the balance in at the counter."
    )
    package var legacy = 0

    @Option(
        help:
            "Cards issued ten years before a day of the run, so that they expire in it; their holders renew them before or after the expiry, come for the refund, or do not."
    )
    package var expiring = 0

    @Option(
        help:
            "Residents who die on a day of the run: the civil affairs bureau's feed, cancellation by a relative, the refund to an heir."
    )
    package var deaths = 0

    @Option(help: "Seed of the simulation's choices (who taps where, when, how much, which taps are fraud).")
    package var seed: UInt64 = 1

    package func validate() throws {
        guard (1...100_000).contains(cards) else { throw ValidationError("--cards must be 1 to 100000") }
        guard (1...1_000).contains(terminals) else { throw ValidationError("--terminals must be 1 to 1000") }
        guard (1...366).contains(days) else { throw ValidationError("--days must be 1 to 366") }
        guard (1...50).contains(taps) else { throw ValidationError("--taps must be 1 to 50") }
        guard (0...1).contains(fraud) else { throw ValidationError("--fraud must be 0 to 1") }
        guard (0...1_000_000).contains(legacy) else { throw ValidationError("--legacy must be 0 to 1000000") }
        guard expiring >= 0, deaths >= 0, expiring + deaths <= cards else {
            throw ValidationError("--expiring and --deaths must be 0 or more, and together at most --cards")
        }
        if server != nil && (expiring > 0 || deaths > 0) {
            throw ValidationError(
                "--expiring and --deaths run in this process only: the server would close purses on its own clock")
        }
        if let server {
            guard !(adminPassword ?? ProcessInfo.processInfo.environment["CITIZENCARD_ADMIN_PASSWORD"] ?? "").isEmpty
            else {
                throw ValidationError("--server needs --admin-password (or CITIZENCARD_ADMIN_PASSWORD)")
            }
            guard server.hasPrefix("http://") || server.hasPrefix("https://"), URL(string: server) != nil else {
                throw ValidationError("--server must be a URL such as http://127.0.0.1:8080")
            }
        }
    }

    package func run() async throws {
        let started = ContinuousClock.now
        // The wall clock until the simulation sets its own time (key files record when they were made).
        let clock = SimulationClock(SystemClock().now())
        let runtime = try await Runtime.open(
            store, logger: makeLogger(label: "citizencard.simulate", level: .warning), clock: clock)
        let healthy: Bool
        do {
            healthy = try await simulate(runtime, clock: clock, started: started)
        } catch {
            try? await runtime.store.close()
            throw error
        }
        try? await runtime.store.close()
        if !healthy { throw ExitCode(1) }
    }

    package func simulate(
        _ runtime: Runtime, clock: SimulationClock, started: ContinuousClock.Instant
    ) async throws -> Bool {
        let env = runtime.env
        let offset = env.city.utcOffsetSeconds
        let link: any AcquirerLink
        let firstDay: CalendarDate
        if let server {
            let password = adminPassword ?? ProcessInfo.processInfo.environment["CITIZENCARD_ADMIN_PASSWORD"] ?? ""
            link = try await HTTPLink.connect(server, user: adminUser, password: password)
            let today = SystemClock().now().calendarDate(offsetSeconds: offset)
            firstDay = CalendarDate(daysSinceEpoch: today.daysSinceEpoch - Int64(days))
        } else {
            link = LocalLink(env: env)
            firstDay = try await Self.freeDays(env, count: days)
        }
        clock.set(CalendarDate(daysSinceEpoch: firstDay.daysSinceEpoch - 1).startTimestamp(offsetSeconds: offset))
        say(
            "Transit simulation: \(cards) cards, \(terminals) terminals, \(days) day(s) from \(firstDay.iso8601), about \(taps) taps per card a day, fraud \(fraud), seed \(seed)"
        )
        say(
            server == nil
                ? "In this process on \(runtime.databaseDescription)"
                : "Terminal side over HTTP at \(server!); persons, cards and loads in this process on \(runtime.databaseDescription)"
        )
        var simulation = TransitSimulation(
            env: env, link: link, clock: clock, firstDay: firstDay, cardCount: cards, terminalCount: terminals,
            dayCount: days, taps: taps, fraud: fraud, seed: seed, clears: server == nil,
            database: runtime.databaseDescription)
        simulation.legacyCount = legacy
        simulation.expiringCount = expiring
        simulation.deathCount = deaths
        try await simulation.setUp(createDemoCity: server == nil)
        let setupDone = ContinuousClock.now
        for day in 1...days { try await simulation.run(day: day) }
        let daysDone = ContinuousClock.now
        let healthy = try await simulation.summarize()
        let end = ContinuousClock.now
        say(
            "Time: setup \(Self.seconds(setupDone - started)) s, \(days) day(s) \(Self.seconds(daysDone - setupDone)) s, summary \(Self.seconds(end - daysDone)) s, total \(Self.seconds(end - started)) s"
        )
        return healthy
    }

    package static func seconds(_ duration: Duration) -> String {
        let value = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        return String(format: "%.1f", value)
    }

    /// The first run of `count` days from 2026-06-01 on which no earlier run uploaded or cleared anything.
    package static func freeDays(_ env: ServiceEnvironment, count: Int) async throws -> CalendarDate {
        var first = CalendarDate(year: 2026, month: 6, day: 1)!
        let offset = env.city.utcOffsetSeconds
        for _ in 0..<1_000 {
            let start = first.startTimestamp(offsetSeconds: offset)
            var used = !(try await env.store.batchTotals(from: start, until: start.adding(days: count))).isEmpty
            for day in 0..<count where !used {
                let date = CalendarDate(daysSinceEpoch: first.daysSinceEpoch + Int64(day))
                used = !(try await env.store.clearingResults(businessDate: date)).isEmpty
            }
            if !used { return first }
            first = CalendarDate(daysSinceEpoch: first.daysSinceEpoch + Int64(count))
        }
        throw CommandFailure(description: "no free simulation days found after 2026-06-01")
    }
}

// MARK: - Clock, randomness, time

/// The simulation's clock: it stands still until the simulator moves it.
package final class SimulationClock: CitizenCardDomain.Clock, @unchecked Sendable {
    private let lock = NSLock()
    private var current: Timestamp

    package init(_ start: Timestamp) { current = start }

    package func now() -> Timestamp { lock.withLock { current } }

    package func set(_ time: Timestamp) { lock.withLock { current = time } }
}

/// The simulation's choices: the same seed gives the same run.
package typealias SimulationRandom = SplitMix64

extension SplitMix64 {
    package mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }
    package mutating func chance(_ probability: Double) -> Bool { Double.random(in: 0..<1, using: &self) < probability }
}

/// `YYYYMMDDhhmmss` in the city's local time.
package func localDigits(_ time: Timestamp, offsetSeconds: Int64) -> String {
    let (date, second) = Timestamp(secondsSinceEpoch: time.secondsSinceEpoch + offsetSeconds).utcDateAndSecond
    return String(
        format: "%04d%02d%02d%02d%02d%02d", date.year, date.month, date.day, Int(second / 3600),
        Int(second % 3600 / 60), Int(second % 60))
}

// MARK: - The center's and the terminals' side: in this process or over HTTP

/// What the center and the terminals do with the host, in this process or over HTTP.
package protocol AcquirerLink: Sendable {
    func registerMerchant(_ request: AcquiringService.MerchantRequest) async throws -> Merchant
    func registerTerminal(
        merchant: Merchant.ID, _ request: AcquiringService.TerminalRequest
    ) async throws -> AcquiringService.TerminalRegistration
    func signIn(key: String, hotlistVersion: Int64) async throws -> AcquiringService.SignInAnswer
    /// The changes since `since`; nil when the terminal is current.
    func hotlistDelta(key: String, since: Int64) async throws -> HotlistDelta?
    func upload(key: String, _ batch: AcquiringService.BatchUpload) async throws -> AcquiringService.BatchAnswer
    func publishHotlist() async throws -> HotlistService.Publication
}

/// The use cases in this process; terminals authenticate with their keys as they would over HTTP.
package struct LocalLink: AcquirerLink {
    package let env: ServiceEnvironment

    package init(env: ServiceEnvironment) { self.env = env }
    package var admin: Actor { .commandLine("simulate") }

    package func terminal(_ key: String) async throws -> Actor { try await AuthService(env).authenticate(token: key) }

    package func registerMerchant(_ request: AcquiringService.MerchantRequest) async throws -> Merchant {
        try await AcquiringService(env).registerMerchant(request, actor: admin)
    }

    package func registerTerminal(
        merchant: Merchant.ID, _ request: AcquiringService.TerminalRequest
    ) async throws -> AcquiringService.TerminalRegistration {
        try await AcquiringService(env).registerTerminal(merchant: merchant, request, actor: admin)
    }

    package func signIn(key: String, hotlistVersion: Int64) async throws -> AcquiringService.SignInAnswer {
        try await AcquiringService(env).signIn(.init(hotlistVersion: hotlistVersion), actor: try await terminal(key))
    }

    package func hotlistDelta(key: String, since: Int64) async throws -> HotlistDelta? {
        try await HotlistService(env).delta(since: since, actor: try await terminal(key))
    }

    package func upload(key: String, _ batch: AcquiringService.BatchUpload) async throws -> AcquiringService.BatchAnswer
    {
        try await AcquiringService(env).upload(batch, actor: try await terminal(key))
    }

    package func publishHotlist() async throws -> HotlistService.Publication {
        try await HotlistService(env).publish(actor: .system)
    }
}

/// The JSON API of a running server: the center as the administrator, each terminal with its key.
package struct HTTPLink: AcquirerLink {
    package let base: String
    package let adminToken: String

    package struct Login: Encodable {
        var username: String
        var password: String
    }

    package struct Token: Decodable { var token: String }

    package static func connect(_ url: String, user: String, password: String) async throws -> HTTPLink {
        let base = url.hasSuffix("/") ? String(url.dropLast()) : url
        let (status, data) = try await send(
            base, "POST", "/api/v1/auth/login", token: nil,
            body: try APIJSON.encoder.encode(Login(username: user, password: password)))
        guard status == 200, let token = try? JSONDecoder().decode(Token.self, from: data) else {
            throw CommandFailure(
                description:
                    "logging in as \(user) at \(base) failed: HTTP \(status) \(String(decoding: data, as: UTF8.self))"
            )
        }
        return HTTPLink(base: base, adminToken: token.token)
    }

    package static func send(
        _ base: String, _ method: String, _ path: String, token: String?, body: Data?
    ) async throws -> (Int, Data) {
        guard let url = URL(string: base + path) else { throw CommandFailure(description: "bad URL \(base)\(path)") }
        var request = URLRequest(url: url)
        request.httpMethod = method
        request.timeoutInterval = 60
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let body {
            request.httpBody = body
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        do {
            let (data, response) = try await URLSession.shared.data(for: request)
            return ((response as? HTTPURLResponse)?.statusCode ?? 0, data)
        } catch {
            throw CommandFailure(description: "\(method) \(base)\(path): \(error.localizedDescription)")
        }
    }

    package func call<Answer: Decodable>(
        _ method: String, _ path: String, token: String, body: some Encodable, expect: Int
    ) async throws -> Answer {
        let (status, data) = try await Self.send(
            base, method, path, token: token, body: try APIJSON.encoder.encode(body))
        guard status == expect else {
            throw CommandFailure(
                description: "\(method) \(path): HTTP \(status) \(String(decoding: data.prefix(2_000), as: UTF8.self))")
        }
        do {
            return try APIJSON.decoder.decode(Answer.self, from: data)
        } catch {
            throw CommandFailure(description: "\(method) \(path): unexpected answer: \(error)")
        }
    }

    package struct Empty: Encodable {}

    package func registerMerchant(_ request: AcquiringService.MerchantRequest) async throws -> Merchant {
        try await call("POST", "/api/v1/merchants", token: adminToken, body: request, expect: 201)
    }

    package func registerTerminal(
        merchant: Merchant.ID, _ request: AcquiringService.TerminalRequest
    ) async throws -> AcquiringService.TerminalRegistration {
        try await call(
            "POST", "/api/v1/merchants/\(merchant.rawValue)/terminals", token: adminToken, body: request, expect: 201)
    }

    package func signIn(key: String, hotlistVersion: Int64) async throws -> AcquiringService.SignInAnswer {
        try await call(
            "POST", "/api/v1/terminal/sign-in", token: key,
            body: AcquiringService.SignIn(hotlistVersion: hotlistVersion), expect: 200)
    }

    package func hotlistDelta(key: String, since: Int64) async throws -> HotlistDelta? {
        let path = "/api/v1/terminal/hotlist?since=\(since)"
        let (status, data) = try await Self.send(base, "GET", path, token: key, body: nil)
        if status == 204 { return nil }
        guard status == 200 else {
            throw CommandFailure(description: "GET \(path): HTTP \(status) \(String(decoding: data, as: UTF8.self))")
        }
        do {
            return try HotlistDelta(decoding: Array(data))
        } catch {
            throw CommandFailure(description: "GET \(path): the delta does not decode: \(error)")
        }
    }

    package func upload(key: String, _ batch: AcquiringService.BatchUpload) async throws -> AcquiringService.BatchAnswer
    {
        try await call("POST", "/api/v1/terminal/batches", token: key, body: batch, expect: 200)
    }

    package func publishHotlist() async throws -> HotlistService.Publication {
        try await call("POST", "/api/v1/hotlist/publications", token: adminToken, body: Empty(), expect: 200)
    }
}

// MARK: - The simulation

/// The frauds a tap can be turned into.
package enum InjectedFraud: String, CaseIterable {
    case forgedTAC = "forged TAC"
    case replay = "replayed record"
    case withheld = "withheld record"
    case afterLoss = "tap after loss"
    case farAway = "tap far away"
}

package struct TransitSimulation {
    package let env: ServiceEnvironment
    package let link: any AcquirerLink
    package let clock: SimulationClock
    package let firstDay: CalendarDate
    package let cardCount: Int
    package let terminalCount: Int
    package let dayCount: Int
    package let taps: Int
    package let fraud: Double
    /// Whether each day is cleared here (not in server mode: the server posts on its own clock).
    package let clears: Bool
    /// The database, for messages.
    package let database: String
    package var random: SimulationRandom
    package var offset: Int64 { env.city.utcOffsetSeconds }
    package var admin: Actor { .commandLine("simulate") }

    /// An outlet with a clerk and a supervisor.
    package struct Counter {
        var outlet: Outlet
        var clerk: Actor
        var supervisor: Actor
        /// The terminal id the outlet's load reader sends to the card.
        var loadTerminal: String
    }

    package struct SimCard {
        package var id: Card.ID
        package var asn: String
        package var idNumber: String
        package var counter: Int
        package var chip: SoftwareCard
        package var balanceFen: Int64 = 0
        package var lost = false
        /// The last tap: where and when (seconds), for the travel rule of the holder.
        package var lastPlace: (Double, Double)?
        package var lastTapAt: Int64?
        package var lastTapFar = false
        /// Withheld records not delivered (yet): the host's chain of this card has a hole.
        package var withheldOutstanding = 0
        /// Counters of the genuine records uploaded.
        package var uploaded: [Int] = []
        /// When the card expires; from then on terminals refuse it.
        package var expiresAt: Timestamp?
        /// The holder no longer uses the card: a renewed card took its place, or the holder died.
        package var retired = false
        /// The renewed card that took its place (an index of `cards`).
        package var successor: Int?
        package var deceased = false
    }

    package struct Pending {
        var record: PurchaseRecord
        var card: Int
    }

    package struct SimTerminal {
        var terminal: Terminal
        var key: String
        var device: PurchaseTerminal
        var place: (Double, Double)
        var far: Bool
        var nextBatch: Int64 = 1
        var hotlistVersion: Int64 = 0
        var hotlist: Set<String> = []
        /// Genuine records not uploaded yet, in tap order.
        var pending: [Pending] = []
        /// Forged and replayed records, uploaded after the genuine ones.
        var extras: [PurchaseRecord] = []
        /// Withheld records and the day they are delivered (nil: never).
        var withheld: [(item: Pending, day: Int?)] = []
        /// TSNs for forged records, far from the PSAM's own.
        var forgedSerial: UInt32 = 0x8000_0000
    }

    /// What the simulator did, to print next to what the database says.
    package struct Activity {
        var taps = 0
        var tapFen: Int64 = 0
        var loads = 0
        var loadFen: Int64 = 0
        var lostCards = 0
        var injected: [InjectedFraud: Int] = [:]
        var fallbacks = 0
        var withheldLate = 0
        var refusedHotlist = 0
        var refusedBalance = 0
        var skippedLost = 0
        var skippedTravel = 0
        var batches = 0
        var uploadedRecords = 0
        var answered: [String: Int] = [:]
    }

    package var counters: [Counter] = []
    package var cards: [SimCard] = []
    package var terminals: [SimTerminal] = []
    package var merchants: [Merchant] = []
    package var activity = Activity()
    package var day = 0
    package var hotlistVersion: Int64 = 0
    /// Old transit cards imported on migration day (`--legacy`), and what became of them.
    package var legacyCount = 0
    package var legacyPlans: [LegacyPlan] = []
    package var legacyActivity = LegacyActivity()
    /// Cards that expire within the run (`--expiring`) and residents who die in it (`--deaths`).
    package var expiringCount = 0
    package var deathCount = 0
    /// The department that reports the deaths.
    package var department: Actor?
    package var lifeSteps: [ScheduledStep] = []
    package var lifeActivity = LifeActivity()

    package init(
        env: ServiceEnvironment, link: any AcquirerLink, clock: SimulationClock, firstDay: CalendarDate,
        cardCount: Int, terminalCount: Int, dayCount: Int, taps: Int, fraud: Double, seed: UInt64, clears: Bool,
        database: String
    ) {
        self.database = database
        self.env = env
        self.link = link
        self.clock = clock
        self.firstDay = firstDay
        self.cardCount = cardCount
        self.terminalCount = terminalCount
        self.dayCount = dayCount
        self.taps = taps
        self.fraud = fraud
        self.clears = clears
        random = SimulationRandom(seed: seed)
    }

    package func at(day: Int, second: Int64) -> Timestamp {
        CalendarDate(daysSinceEpoch: firstDay.daysSinceEpoch + Int64(day - 1)).startTimestamp(offsetSeconds: offset)
            .adding(seconds: second)
    }

    // MARK: Setup

    package mutating func setUp(createDemoCity: Bool) async throws {
        clock.set(at(day: 0, second: 9 * 3600))
        counters = try await Self.counters(env)
        if counters.isEmpty {
            guard createDemoCity, !(try await DemoCity(env).exists()) else {
                throw CommandFailure(
                    description:
                        "the database has no outlet with both an outlet operator and a supervisor: the simulation needs them for the counter work (with --server, give --data the server's data directory)"
                )
            }
            let demo = try await DemoCity(env).create(personCount: 0)
            counters = try await Self.counters(env)
            say(
                "Created the demo city's reference data, as `serve` does on a new database: rules, fees, \(counters.count) outlets, \(demo.logins.count) staff accounts (password \(DemoCity.password))."
            )
        }
        try await setUpTerminals()
        try await setUpCards()
        try await setUpDeaths()
        if legacyCount > 0 {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                "citizencard-migration-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            try await setUpLegacy(in: directory)
        }
        // Every terminal starts its first day with no hotlist.
        for index in terminals.indices {
            _ = try await link.signIn(key: terminals[index].key, hotlistVersion: 0)
        }
        say("Terminals signed in with hotlist version 0.")
    }

    package static func counters(_ env: ServiceEnvironment) async throws -> [Counter] {
        let staff = try await env.store.operators().filter(\.active)
        var counters: [Counter] = []
        for outlet in try await env.store.outlets() {
            guard let clerk = staff.first(where: { $0.role == .outletOperator && $0.outletID == outlet.id }),
                let supervisor = staff.first(where: { $0.role == .supervisor && $0.outletID == outlet.id })
            else { continue }
            counters.append(
                Counter(
                    outlet: outlet, clerk: Actor(clerk), supervisor: Actor(supervisor),
                    loadTerminal: String(format: "33090000%04X", counters.count + 1)))
        }
        return counters
    }

    package static let merchantKinds: [(code: String, name: String, commission: Int64, place: String)] = [
        ("BUS", "Zhoushan City Bus 舟山公交", 60, "Bus line"),
        ("FERRY", "Zhoushan Ferries 舟山轮渡", 80, "Ferry pier"),
        ("SHOP", "Island Convenience Stores 海岛便利店", 150, "Shop"),
    ]

    /// 2-3 merchants with unique codes, M terminals within about 15 km of Dinghai, and with fraud
    /// two terminals in Shanghai.
    package mutating func setUpTerminals() async throws {
        var system = SystemRandomNumberGenerator()
        let tag = UInt32.random(in: 0...UInt32.max, using: &system)
        let code = "SIM" + String(tag, radix: 36).uppercased()
        let kinds = Self.merchantKinds.prefix(max(1, min(3, terminalCount)))
        for kind in kinds {
            merchants.append(
                try await link.registerMerchant(
                    .init(code: "\(code)-\(kind.code)", name: kind.name, commissionBasisPoints: kind.commission)))
        }
        // The server must be using the database this process works on.
        guard try await env.store.merchant(id: merchants[0].id) != nil else {
            throw CommandFailure(
                description:
                    "merchant \(merchants[0].code) registered over HTTP is not in \(database): give --data (and --database) of the server"
            )
        }
        let far = fraud > 0 ? 2 : 0
        for index in 0..<(terminalCount + far) {
            let isFar = index >= terminalCount
            let merchant = isFar ? merchants.count - 1 : index % merchants.count
            let place: (Double, Double)
            if isFar {
                place = (31.2304 + Double(index - terminalCount) * 0.01, 121.4737)
            } else {
                let radius = 15.0 * Double.random(in: 0...1, using: &random).squareRoot()
                let angle = Double.random(in: 0..<(2 * .pi), using: &random)
                place = (
                    30.0 + radius * cos(angle) / 111.32, 122.1 + radius * sin(angle) / (111.32 * cos(30.0 * .pi / 180))
                )
            }
            let kind = kinds[kinds.startIndex + merchant]
            let location =
                isFar
                ? "Shanghai, Nanjing Road \(index - terminalCount + 1)" : "\(kind.place) \(index / kinds.count + 1)"
            let number = String(format: "%08X%04X", tag, index)
            let psam = String(format: "A5%08X%06X", tag, index)
            let registration = try await link.registerTerminal(
                merchant: merchants[merchant].id,
                .init(number: number, psamSerial: psam, location: location, latitude: place.0, longitude: place.1))
            let device = PurchaseTerminal(
                psam: PSAM(
                    terminalID: try TerminalID(hex: number), serialNumber: try Hex.decode(psam),
                    masterPurchaseKey: try env.issuerKeys.masterKey(.purchase, version: 1)))
            terminals.append(
                SimTerminal(
                    terminal: registration.terminal, key: registration.key,
                    device: device, place: place, far: isFar))
        }
        say(
            "Merchants \(merchants.map(\.code).joined(separator: ", ")): \(terminalCount) terminals in the city\(far > 0 ? " and \(far) in Shanghai (for the far-away taps)" : "")."
        )
    }

    package static let surnames = Array("王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢姜")
    package static let given = Array("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏辉建国海波宁晨浩宇欣怡舟岚渔帆")
    package static let regions = ["330902", "330903", "330921", "330922"]

    /// N residents taken to an active card through the use cases, a chip each and a first load;
    /// those of `--expiring` ten years before their expiry on a day of the run.
    package mutating func setUpCards() async throws {
        let loadsBefore = (activity.loads, activity.loadFen)
        try await makeCards(cardCount - expiringCount)
        try await setUpExpiring()
        let outlets = Set(cards.map(\.counter)).count
        say(
            "\(cards.count) residents with active cards at \(outlets) outlets; chips personalised; purses loaded with \(Money(fen: activity.loadFen - loadsBefore.1)) in \(activity.loads - loadsBefore.0) online loads."
        )
    }

    /// `count` residents taken to an active card at the simulation clock's time, through the use
    /// cases, each with a personalised chip and a first load.
    package mutating func makeCards(_ count: Int) async throws {
        let registry = RegistryService(env)
        let service = CardService(env)
        var applied: [(card: Card.ID, idNumber: String, counter: Int)] = []
        for index in cards.count..<(cards.count + count) {
            let counter = index % counters.count
            var person: PersonView?
            var idNumber = ""
            for _ in 0..<50 where person == nil {
                let birth = CalendarDate(
                    year: random.int(1950...2004), month: random.int(1...12), day: random.int(1...28))!
                idNumber =
                    ResidentID.make(
                        region: Self.regions[random.int(0...3)], birth: birth, sequence: random.int(0...999)
                    ).number
                let name =
                    String(Self.surnames[random.int(0...Self.surnames.count - 1)])
                    + String(Self.given[random.int(0...Self.given.count - 1)])
                    + String(Self.given[random.int(0...Self.given.count - 1)])
                person = try await Self.register(
                    registry,
                    .init(
                        idNumber: idNumber, name: name, phone: "13\(random.int(100_000_000...999_999_999))",
                        address: "浙江省舟山市定海区解放路\(random.int(1...300))号", household: .local,
                        socialInsurance: true, ruralMedical: false, reason: "transit simulation"),
                    actor: counters[counter].clerk)
            }
            guard let person else { throw CommandFailure(description: "no free resident ID number found") }
            _ = try await registry.storePhoto(person.id, bytes: Self.portrait, actor: counters[counter].clerk)
            let result = try await service.apply(.init(personId: person.id), actor: counters[counter].clerk)
            _ = try await service.verify(
                result.card.id, decision: .approve, reason: nil, actor: counters[counter].supervisor)
            applied.append((result.card.id, idNumber, counter))
        }
        let production = ProductionService(env)
        var start = 0
        while start < applied.count {
            let chunk = applied[start..<min(applied.count, start + 5_000)]
            let batch = try await production.createBatch(.init(cardIds: chunk.map(\.card)), actor: admin)
            _ = try await production.recordResults(
                batch.batch.id, .init(results: batch.cards.map { .init(cardNumber: $0.number, outcome: .ok) }),
                actor: admin)
            _ = try await production.deliver(batch.batch.id, actor: admin)
            start += chunk.count
        }
        for (cardID, idNumber, counter) in applied {
            let issued = try await service.issue(
                cardID, identity: .init(idNumber: idNumber, documentChecked: true), actor: counters[counter].clerk
            ).card
            let chip = try personalise(issued, idNumber: idNumber)
            cards.append(
                SimCard(
                    id: issued.id, asn: issued.asn.uppercased(), idNumber: idNumber, counter: counter, chip: chip,
                    expiresAt: issued.expiresAt))
            // 10-200 yuan, so that some cards need a top-up within the run.
            try await load(cards.count - 1, fen: Int64(random.int(1...20)) * 1_000)
        }
    }

    /// The registered person; nil when the ID number is taken (by an earlier run).
    package static func register(
        _ registry: RegistryService, _ registration: RegistryService.Registration, actor: Actor
    ) async throws -> PersonView? {
        do {
            return try await registry.register(registration, actor: actor, source: .demo)
        } catch {
            if error.code == .personExists { return nil }
            throw error
        }
    }

    /// An online cash load at the card's outlet: INITIALIZE FOR LOAD on the chip, the host's
    /// approval (MAC2), CREDIT FOR LOAD on the chip, the host's check of the card's TAC.
    package mutating func load(
        _ index: Int, fen: Int64, funding: PurseLoad.Funding = .cash, legacyCardID: LegacyCard.ID? = nil
    ) async throws {
        let counter = counters[cards[index].counter]
        let purse = PurseService(env)
        let time = localDigits(clock.now(), offsetSeconds: offset)
        var chip = cards[index].chip
        _ = chip.process([0x00, 0xA4, 0x04, 0x00, 0x09] + SoftwareCard.purseAID + [0x00])
        let amount = (0..<4).map { UInt8(truncatingIfNeeded: fen >> (24 - 8 * $0)) }
        let initialize = chip.process(
            [0x80, 0x50, 0x00, 0x02, 0x0B, 0x01] + amount + (try Hex.decode(counter.loadTerminal)) + [0x10])
        guard initialize.count == 18, initialize.suffix(2) == [0x90, 0x00] else {
            throw CommandFailure(description: "INITIALIZE FOR LOAD refused: \(Hex.encode(initialize))")
        }
        let approval = try await purse.approveLoad(
            cards[index].id,
            .init(
                amountFen: fen, funding: funding, terminalId: counter.loadTerminal, transactionTime: time,
                initializeResponse: Hex.encode(initialize.dropLast(2)), legacyCardId: legacyCardID),
            actor: counter.clerk)
        let credit = chip.process(
            [0x80, 0x52, 0x00, 0x00, 0x0B] + (try Hex.decode(time)) + (try Hex.decode(approval.mac2)) + [0x04])
        guard credit.count == 6, credit.suffix(2) == [0x90, 0x00] else {
            throw CommandFailure(description: "CREDIT FOR LOAD refused: \(Hex.encode(credit))")
        }
        _ = try await purse.completeLoad(approval.load.id, tac: Hex.encode(credit.prefix(4)), actor: counter.clerk)
        cards[index].chip = chip
        cards[index].balanceFen += fen
        guard funding == .cash else { return }
        activity.loads += 1
        activity.loadFen += fen
    }

    // MARK: A day

    package enum EventKind {
        case tap(InjectedFraud?)
        case reportLoss
        case farTap
        case finderTap
        /// The holder folds an old card's balance in at the counter (`legacyPlans` index).
        case foldLegacy(Int)
        /// A step at the end of a card's life: renewal, a death, a refund (`--expiring`, `--deaths`).
        case endOfLife(EndOfLifeStep)
    }

    package struct Event {
        var second: Int64
        var sequence: Int
        var card: Int
        var kind: EventKind
    }

    /// Weights of the hours 6-21: the morning and evening rush.
    package static let hourWeights = [2, 6, 8, 4, 3, 3, 4, 3, 3, 3, 4, 6, 7, 4, 3, 2]

    package mutating func randomSecond() -> Int64 {
        var pick = random.int(0...(Self.hourWeights.reduce(0, +) - 1))
        var hour = 6
        for weight in Self.hourWeights {
            if pick < weight { break }
            pick -= weight
            hour += 1
        }
        return Int64(hour * 3600 + random.int(0...3539))
    }

    package mutating func events() -> [Event] {
        var events: [Event] = []
        func add(_ second: Int64, _ card: Int, _ kind: EventKind) {
            events.append(Event(second: second, sequence: events.count, card: card, kind: kind))
        }
        for index in cards.indices {
            if cards[index].retired { continue }
            if cards[index].lost {
                // Whoever found the card tries it once a day; terminals with the new hotlist refuse it.
                add(randomSecond(), index, .finderTap)
                continue
            }
            let count = taps == 1 ? 1 : random.int((taps - 1)...(taps + 1))
            for _ in 0..<count {
                let second = randomSecond()
                let kind: InjectedFraud? =
                    fraud > 0 && random.chance(fraud) ? InjectedFraud.allCases[random.int(0...4)] : nil
                switch kind {
                case .afterLoss:
                    add(second, index, .reportLoss)
                    add(second + Int64(random.int(60...300)), index, .tap(.afterLoss))
                case .farAway:
                    add(second, index, .tap(.farAway))
                    add(second + Int64(random.int(180...600)), index, .farTap)
                default:
                    add(second, index, .tap(kind))
                }
            }
        }
        for fold in legacyEvents(day: day) { add(fold.second, fold.card, .foldLegacy(fold.plan)) }
        for step in endOfLifeEvents(day: day) { add(step.second, step.card, .endOfLife(step.step)) }
        return events.sorted { ($0.second, $0.sequence) < ($1.second, $1.sequence) }
    }

    package mutating func run(day: Int) async throws {
        self.day = day
        let date = CalendarDate(daysSinceEpoch: firstDay.daysSinceEpoch + Int64(day - 1))
        let before = activity
        let foldedBefore = legacyActivity.folded
        let lifeBefore = lifeActivity
        // 05:30: every terminal signs in, fetches the hotlist changes and reports its new version.
        clock.set(at(day: day, second: 5 * 3600 + 1800))
        for index in terminals.indices { try await signIn(index) }
        let events = events()
        var next = 0
        for hour in 0..<24 {
            let end = Int64(hour + 1) * 3600
            while next < events.count && events[next].second < end {
                clock.set(at(day: day, second: events[next].second))
                do {
                    try await handle(events[next])
                } catch {
                    throw CommandFailure(
                        description:
                            "day \(day), \(events[next].kind) of card \(events[next].card) (\(cards[events[next].card].id)): \(error)"
                    )
                }
                next += 1
            }
            clock.set(at(day: day, second: end - 1))
            try await flush(deliverWithheld: hour >= 6)
            try await hourlyJobs()
        }
        clock.set(at(day: day + 1, second: 10))
        var line =
            "Day \(day) (\(date.iso8601)): taps \(activity.taps - before.taps), top-ups \(activity.loads - before.loads), cards reported lost \(activity.lostCards - before.lostCards), batches \(activity.batches - before.batches);"
        if legacyCount > 0 { line += " old cards folded in \(legacyActivity.folded - foldedBefore);" }
        line += endOfLifeDayLine(since: lifeBefore)
        line += " the host answered "
        line += ["posted", "risk", "parked", "duplicate"].map {
            "\(activity.answered[$0, default: 0] - before.answered[$0, default: 0]) \($0)"
        }.joined(separator: ", ")
        say(line)
        if clears {
            let report = try await ClearingService(env).run(date, actor: admin)
            say(
                "  cleared \(date.iso8601): \(report.merchants.count) merchants, \(report.records) records, gross \(Money(fen: report.grossFen)), commission \(Money(fen: report.commissionFen)), net \(Money(fen: report.netFen)); reconciliation: \(report.differences.isEmpty ? "no differences" : "\(report.differences.count) difference(s)") (\(report.checks.count) checks)"
            )
            for difference in report.differences { say("    ✗ \(difference)") }
        }
        let publication = try await link.publishHotlist()
        hotlistVersion = publication.version
        say("  hotlist published: version \(publication.version), \(publication.count) cards")
    }

    package mutating func signIn(_ index: Int) async throws {
        let answer = try await link.signIn(key: terminals[index].key, hotlistVersion: terminals[index].hotlistVersion)
        guard !answer.hotlistCurrent else { return }
        guard let delta = try await link.hotlistDelta(key: terminals[index].key, since: terminals[index].hotlistVersion)
        else { return }
        for entry in delta.changed { terminals[index].hotlist.insert(entry.asn.hex) }
        for asn in delta.removed { terminals[index].hotlist.remove(asn.hex) }
        terminals[index].hotlistVersion = Int64(delta.toVersion)
        _ = try await link.signIn(key: terminals[index].key, hotlistVersion: terminals[index].hotlistVersion)
    }

    /// A city terminal the holder can have reached since the last tap at 60 km/h; nil if none.
    package mutating func reachableTerminal(_ card: Int, at second: Int64) -> Int? {
        let now = at(day: day, second: second).secondsSinceEpoch
        guard let place = cards[card].lastPlace, let last = cards[card].lastTapAt else {
            return random.int(0...(terminalCount - 1))
        }
        let kilometres = Double(max(0, now - last)) / 3600 * 60
        let candidates = (0..<terminalCount).filter {
            OfflineBatchAssessment.distanceKm(place, terminals[$0].place) <= kilometres
        }
        guard !candidates.isEmpty else { return nil }
        return candidates[random.int(0...(candidates.count - 1))]
    }

    package mutating func handle(_ event: Event) async throws {
        let index = event.card
        switch event.kind {
        case .foldLegacy(let plan):
            try await foldLegacy(plan)
        case .endOfLife(let step):
            try await perform(step, card: index)
        case .reportLoss:
            guard !cards[index].lost, cards[index].withheldOutstanding == 0, inUse(index) else { return }
            let counter = counters[cards[index].counter]
            _ = try await CardService(env).reportWrittenLoss(
                cards[index].id, identity: .init(idNumber: cards[index].idNumber, documentChecked: true),
                actor: counter.clerk)
            cards[index].lost = true
            activity.lostCards += 1
            hotlistVersion = try await link.publishHotlist().version
        case .tap(let kind):
            var kind = kind
            if cards[index].lost && kind != .afterLoss {
                activity.skippedLost += 1
                return
            }
            if kind == .afterLoss && !cards[index].lost {
                // The loss could not be reported (a withheld record leaves a hole in the chain).
                kind = .forgedTAC
                activity.fallbacks += 1
            }
            if kind == .farAway && cards[index].withheldOutstanding > 0 {
                kind = .forgedTAC
                activity.fallbacks += 1
            }
            guard let terminal = reachableTerminal(index, at: event.second) else {
                activity.skippedTravel += 1
                return
            }
            guard let record = try await tap(index, at: terminal, event.second) else { return }
            let item = Pending(record: record, card: index)
            switch kind {
            case nil, .farAway:
                terminals[terminal].pending.append(item)
            case .forgedTAC:
                terminals[terminal].pending.append(item)
                // A record the card never made: a genuine one copied under another counter and TSN,
                // with one hex digit of its TAC changed.
                var forged = record
                forged.cardCounter = record.cardCounter &+ 40_000
                forged.terminalSerial = terminals[terminal].forgedSerial
                terminals[terminal].forgedSerial += 1
                forged.tac = changeOneDigit(record.tac)
                terminals[terminal].extras.append(forged)
                activity.injected[.forgedTAC, default: 0] += 1
            case .replay:
                terminals[terminal].pending.append(item)
                // The same card counter and TSN again, with another amount.
                var replay = record
                let change = Int64(random.int(1...10)) * 10
                replay.amountFen =
                    record.balanceBeforeFen >= record.amountFen + change
                    ? record.amountFen + change : max(1, record.amountFen - change)
                replay.balanceAfterFen = replay.balanceBeforeFen - replay.amountFen
                terminals[terminal].extras.append(replay)
                activity.injected[.replay, default: 0] += 1
            case .withheld:
                terminals[terminal].withheld.append((item, day < dayCount ? day + 1 : nil))
                cards[index].withheldOutstanding += 1
                activity.injected[.withheld, default: 0] += 1
            case .afterLoss:
                terminals[terminal].pending.append(item)
                activity.injected[.afterLoss, default: 0] += 1
            }
        case .farTap:
            guard !cards[index].lost, cards[index].withheldOutstanding == 0, !cards[index].lastTapFar,
                let last = cards[index].lastTapAt, at(day: day, second: event.second).secondsSinceEpoch - last <= 900
            else { return }
            let terminal = terminals.indices.filter { terminals[$0].far }[random.int(0...1)]
            guard let record = try await tap(index, at: terminal, event.second) else { return }
            terminals[terminal].pending.append(Pending(record: record, card: index))
            activity.injected[.farAway, default: 0] += 1
        case .finderTap:
            guard let terminal = reachableTerminal(index, at: event.second) else { return }
            guard let record = try await tap(index, at: terminal, event.second) else { return }
            terminals[terminal].pending.append(Pending(record: record, card: index))
            activity.injected[.afterLoss, default: 0] += 1
        }
    }

    package mutating func changeOneDigit(_ hex: String) -> String {
        var digits = Array(hex.uppercased())
        let position = random.int(0...(digits.count - 1))
        let all = Array("0123456789ABCDEF")
        let old = all.firstIndex(of: digits[position]) ?? 0
        digits[position] = all[(old + random.int(1...15)) % 16]
        return String(digits)
    }

    /// One purchase of 1-5 yuan on the chip, through the terminal's PSAM; a top-up first when the
    /// balance is low. Nil when the terminal or the card refuses.
    package mutating func tap(_ index: Int, at terminal: Int, _ second: Int64) async throws -> PurchaseRecord? {
        if terminals[terminal].hotlist.contains(cards[index].asn) {
            activity.refusedHotlist += 1
            return nil
        }
        // Its holder died or uses the renewed card now.
        if cards[index].retired { return nil }
        // The terminal reads the expiry date on the chip and refuses an expired card.
        if let expiresAt = cards[index].expiresAt, at(day: day, second: second) >= expiresAt {
            lifeActivity.refusedExpired += 1
            return nil
        }
        let fen = Int64(random.int(10...50)) * 10
        if cards[index].balanceFen < max(fen, 2_000) && !cards[index].lost {
            try await load(index, fen: Int64(random.int(5...20)) * 1_000)
        }
        guard cards[index].balanceFen >= fen else {
            activity.refusedBalance += 1
            return nil
        }
        let time = at(day: day, second: second)
        var chip = cards[index].chip
        var device = terminals[terminal].device
        let record: PurchaseRecord
        do {
            record = try device.purchase(
                amountFen: UInt32(fen),
                dateTime: try TransactionDateTime(digits: localDigits(time, offsetSeconds: offset)),
                on: &chip)
        } catch {
            throw CommandFailure(description: "a purchase on the chip failed: \(error)")
        }
        cards[index].chip = chip
        terminals[terminal].device = device
        cards[index].balanceFen = record.balanceAfterFen
        cards[index].lastPlace = terminals[terminal].place
        cards[index].lastTapAt = time.secondsSinceEpoch
        cards[index].lastTapFar = terminals[terminal].far
        activity.taps += 1
        activity.tapFen += fen
        return record
    }

    /// Every terminal uploads what it holds. Genuine records go in counter order across terminals
    /// (a terminal uploads the longest run of its records whose card has nothing older waiting at
    /// another terminal), so that only the injected frauds make gaps; then the forged and replayed
    /// records. Withheld records due today go with the first upload of the working day.
    package mutating func flush(deliverWithheld: Bool) async throws {
        for index in terminals.indices where deliverWithheld && !terminals[index].withheld.isEmpty {
            var due: [Pending] = []
            var kept: [(item: Pending, day: Int?)] = []
            for entry in terminals[index].withheld {
                if let when = entry.day, when <= day { due.append(entry.item) } else { kept.append(entry) }
            }
            guard !due.isEmpty else { continue }
            terminals[index].withheld = kept
            terminals[index].pending = due + terminals[index].pending
            for item in due { cards[item.card].withheldOutstanding -= 1 }
            activity.withheldLate += due.count
        }
        var waiting: [Int: [Int]] = [:]
        for terminal in terminals {
            for item in terminal.pending { waiting[item.card, default: []].append(Int(item.record.cardCounter)) }
        }
        for key in Array(waiting.keys) { waiting[key]!.sort() }
        while terminals.contains(where: { !$0.pending.isEmpty }) {
            var progress = false
            for index in terminals.indices where !terminals[index].pending.isEmpty {
                var used: [Int: Int] = [:]
                var take = 0
                for item in terminals[index].pending {
                    let position = used[item.card, default: 0]
                    guard let list = waiting[item.card], position < list.count,
                        list[position] == Int(item.record.cardCounter)
                    else { break }
                    used[item.card] = position + 1
                    take += 1
                }
                guard take > 0 else { continue }
                for (card, count) in used { waiting[card]!.removeFirst(count) }
                let items = Array(terminals[index].pending.prefix(take))
                terminals[index].pending.removeFirst(take)
                try await upload(index, items.map(\.record), genuine: true)
                for item in items { cards[item.card].uploaded.append(Int(item.record.cardCounter)) }
                progress = true
            }
            if !progress {
                // Cannot happen (the oldest waiting record is always ready); upload as it is.
                for index in terminals.indices where !terminals[index].pending.isEmpty {
                    let items = terminals[index].pending
                    terminals[index].pending = []
                    try await upload(index, items.map(\.record), genuine: true)
                    for item in items { cards[item.card].uploaded.append(Int(item.record.cardCounter)) }
                }
            }
        }
        for index in terminals.indices where !terminals[index].extras.isEmpty {
            let extras = terminals[index].extras
            terminals[index].extras = []
            try await upload(index, extras, genuine: false)
        }
    }

    package mutating func upload(_ index: Int, _ records: [PurchaseRecord], genuine: Bool) async throws {
        var start = 0
        while start < records.count {
            let chunk = Array(records[start..<min(records.count, start + AcquiringService.batchRecordCountMax)])
            let number = terminals[index].nextBatch
            terminals[index].nextBatch += 1
            let answer = try await link.upload(key: terminals[index].key, .init(batchNumber: number, records: chunk))
            activity.batches += 1
            activity.uploadedRecords += chunk.count
            for result in answer.records {
                activity.answered[result.outcome.rawValue, default: 0] += 1
                if genuine && result.reason == .badTAC {
                    throw CommandFailure(
                        description:
                            "the host does not verify the TAC of a genuine purchase: it holds other issuer keys than this process (with --server, give --data the server's data directory)"
                    )
                }
            }
            start += chunk.count
        }
    }

    // MARK: Summary

    /// The figures of the run, read back from the database, next to what the simulator injected.
    /// False when the ledger does not sum to 0 or a reconciliation names a difference.
    package mutating func summarize() async throws -> Bool {
        clock.set(at(day: dayCount + 1, second: 300))
        let store = env.store
        let ourTerminals = Set(terminals.map(\.terminal.id))
        let ourMerchants = Set(merchants.map(\.id))
        let ourASNs = Set(cards.map(\.asn))
        var healthy = true
        func mark(_ ok: Bool) -> String { ok ? "✓" : "✗" }

        // Every record of the run's cards, whatever became of it.
        var outcomes: [String: Int] = [:]
        var reasons: [String: Int] = [:]
        var riskFen: Int64 = 0
        var parkedChainFen: Int64 = 0
        var records = 0
        for card in cards {
            for purchase in try await store.purchases(cardID: card.id, limit: 1_000_000) {
                records += 1
                outcomes[purchase.outcome.rawValue, default: 0] += 1
                if purchase.outcome == .risk { riskFen += purchase.amountFen }
                if let reason = purchase.reason, purchase.outcome == .parked {
                    reasons[reason.rawValue, default: 0] += 1
                    if reason == .gap || reason == .balanceMismatch { parkedChainFen += purchase.amountFen }
                }
            }
        }
        // A parked gap record at exactly the counter its card's chain expects: the hole before it
        // was filled, yet it was not released.
        var stuckCards = 0
        var lossAt: [Card.ID: Timestamp] = [:]
        var afterLossParked = 0
        let chains = try await store.purseChains(cardIDs: cards.map(\.id))
        let expectedCounter = Dictionary(uniqueKeysWithValues: chains.map { ($0.cardID, $0.nextCounter) })
        for card in cards {
            if card.lost, let loss = try await store.card(id: card.id)?.loss { lossAt[card.id] = loss.effectiveAt }
        }
        for card in cards {
            var stuck = false
            for purchase in try await store.purchases(cardID: card.id, limit: 1_000_000)
            where purchase.outcome == .parked && (purchase.reason == .gap || purchase.reason == .balanceMismatch) {
                if purchase.cardCounter == expectedCounter[card.id] { stuck = true }
                if let loss = lossAt[card.id], purchase.tappedAt >= loss { afterLossParked += 1 }
            }
            if stuck { stuckCards += 1 }
        }
        // The exceptions queue, of the run's terminals.
        var queue: [String: Int] = [:]
        var after: OfflinePurchase.ID?
        while true {
            let page = try await store.parkedPurchases(after: after, limit: 1_000)
            for purchase in page where ourTerminals.contains(purchase.terminalID) {
                queue[purchase.reason?.rawValue ?? "none", default: 0] += 1
            }
            guard page.count == 1_000 else { break }
            after = page.last?.id
        }
        // Fraud signals about the run's cards.
        var signals: [String: Int] = [:]
        var before: FraudSignal.ID?
        while true {
            let page = try await store.fraudSignals(before: before, limit: 1_000)
            for signal in page where ourASNs.contains(signal.asn.uppercased()) {
                signals[signal.kind.rawValue, default: 0] += 1
            }
            guard page.count == 1_000 else { break }
            before = page.last?.id
        }
        let totals = try await store.batchTotals(
            from: Timestamp(secondsSinceEpoch: 0), until: Timestamp(secondsSinceEpoch: 4_102_444_800)
        ).filter { ourTerminals.contains($0.terminalID) }

        say("")
        say("Summary, recomputed from the database (\(database))")
        say(
            "  uploads: \(totals.reduce(0) { $0 + $1.batches }) batches, \(totals.reduce(0) { $0 + $1.records }) records, \(totals.reduce(0) { $0 + $1.duplicates }) duplicates (the simulator sent \(activity.batches) batches, \(activity.uploadedRecords) records)"
        )
        say(
            "  records of the run's cards: \(records) — posted \(outcomes["posted", default: 0]), risk \(outcomes["risk", default: 0]) (\(Money(fen: riskFen))), parked \(outcomes["parked", default: 0])"
        )
        let reasonList = OfflinePurchase.ParkReason.allCases.map {
            "\($0.rawValue) \(reasons[$0.rawValue, default: 0])"
        }
        say("  parked by reason: \(reasonList.joined(separator: ", "))")
        let queueTotal = queue.values.reduce(0, +)
        say(
            "  exceptions queue of the run's terminals: \(queueTotal) \(mark(queueTotal == outcomes["parked", default: 0]))"
        )
        let signalList = FraudSignal.Kind.allCases.map { "\($0.rawValue) \(signals[$0.rawValue, default: 0])" }
        say("  fraud signals: \(signalList.joined(separator: ", "))")

        // Each day: what was posted (from the records), what was settled (from the clearing results)
        // and a fresh reconciliation.
        var dates: [CalendarDate] = []
        if clears {
            dates = (0..<dayCount).map { CalendarDate(daysSinceEpoch: firstDay.daysSinceEpoch + Int64($0)) }
        } else {
            dates = [SystemClock().now().calendarDate(offsetSeconds: offset)]
        }
        var differences = 0
        for date in dates {
            let lines = try await store.clearingLines(businessDate: date).filter {
                ourTerminals.contains($0.terminalID)
            }
            func sum(_ outcome: OfflinePurchase.Outcome) -> (Int64, Int64) {
                let chosen = lines.filter { $0.outcome == outcome }
                return (chosen.reduce(0) { $0 + $1.count }, chosen.reduce(0) { $0 + $1.amountFen })
            }
            let (posted, postedFen) = sum(.posted)
            let (risk, riskDayFen) = sum(.risk)
            let released = lines.reduce(0) { $0 + $1.releasedCount }
            var line =
                "  \(date.iso8601): posted \(posted) (\(Money(fen: postedFen))), risk \(risk) (\(Money(fen: riskDayFen))), of them released from the queue \(released)"
            let results = try await store.clearingResults(businessDate: date).filter {
                ourMerchants.contains($0.merchantID)
            }
            if results.isEmpty {
                line += clears ? "; not cleared" : ""
            } else {
                line +=
                    "; settled gross \(Money(fen: results.reduce(0) { $0 + $1.grossFen })), commission \(Money(fen: results.reduce(0) { $0 + $1.commissionFen })), net \(Money(fen: results.reduce(0) { $0 + $1.netFen }))"
            }
            say(line)
            if clears, let report = try await ClearingService(env).report(date, actor: admin) {
                say(
                    "    reconciliation: \(report.differences.isEmpty ? "no differences" : "\(report.differences.count) difference(s)") (\(report.checks.count) checks) \(mark(report.differences.isEmpty))"
                )
                for difference in report.differences { say("      ✗ \(difference)") }
                differences += report.differences.count
            } else if clears {
                say("    reconciliation: the day was not cleared ✗")
                differences += 1
            }
        }
        if !clears {
            let today = dates[0]
            say(
                "  clearing skipped: the server posted the records on its own clock, business day \(today.iso8601), which is not over; run `citizencard clearing run --date \(today.iso8601)` (or POST /api/v1/clearing-runs) after midnight"
            )
        }
        if differences > 0 { healthy = false }

        // The ledger as a whole, and the purses of the run's cards against their chips.
        let balances = try await store.ledgerAllBalances()
        let ledgerSum = balances.values.reduce(0, &+)
        say("  ledger: \(balances.count) accounts, sum \(ledgerSum) \(mark(ledgerSum == 0))")
        if ledgerSum != 0 { healthy = false }
        let riskAccount = balances.first { "\($0.key)" == "risk:operator" }?.value ?? 0
        say("  operator risk account: \(Money(fen: riskAccount)) (all time)")
        var shadowFen: Int64 = 0
        for card in cards { shadowFen -= balances.first { "\($0.key)" == "purse:\(card.id.rawValue)" }?.value ?? 0 }
        var chipFen: Int64 = 0
        for index in cards.indices {
            var chip = cards[index].chip
            _ = chip.process([0x00, 0xA4, 0x04, 0x00, 0x09] + SoftwareCard.purseAID + [0x00])
            let answer = chip.process([0x80, 0x5C, 0x00, 0x02, 0x04])
            if answer.count == 6 { chipFen += answer.prefix(4).reduce(Int64(0)) { $0 << 8 | Int64($1) } }
        }
        var neverFen: Int64 = 0
        var never = 0
        for terminal in terminals {
            for entry in terminal.withheld {
                never += 1
                neverFen += entry.item.record.amountFen
            }
        }
        let expected = neverFen + parkedChainFen + riskFen
        let life = try await summarizeEndOfLife(balances: balances)
        if life.closedFen == 0 {
            say(
                "  purses of the run's cards: host \(Money(fen: shadowFen)), chips \(Money(fen: chipFen)); the difference \(Money(fen: shadowFen - chipFen)) = never delivered \(Money(fen: neverFen)) + parked gap/balance_mismatch \(Money(fen: parkedChainFen)) + charged to risk \(Money(fen: riskFen)) \(mark(shadowFen - chipFen == expected))"
            )
        } else {
            // A closed purse's balance left the purse account (refunds payable); the old chip keeps it.
            let host = shadowFen + life.closedFen
            say(
                "  purses of the run's cards: host \(Money(fen: shadowFen)) + closed purses \(Money(fen: life.closedFen)) = \(Money(fen: host)), chips \(Money(fen: chipFen)); the difference \(Money(fen: host - chipFen)) = never delivered \(Money(fen: neverFen)) + parked gap/balance_mismatch \(Money(fen: parkedChainFen)) + charged to risk \(Money(fen: riskFen)) \(mark(host - chipFen == expected))"
            )
        }
        for line in life.lines { say(line) }
        if !life.ok { healthy = false }

        let legacyLines = try await summarizeLegacy()
        for line in legacyLines.lines { say(line) }
        if !legacyLines.ok { healthy = false }

        // What the simulator injected, next to what the database shows.
        let injected = activity.injected
        say("")
        say(
            "Injected by the simulator (\(activity.taps) taps on chips, \(activity.loads) online loads, \(activity.lostCards) cards reported lost) → the database"
        )
        let forged = injected[.forgedTAC, default: 0]
        say(
            "  forged TACs      \(forged) → \(reasons["bad_tac", default: 0]) parked bad_tac, \(signals["forged_tac", default: 0]) forged_tac signals \(mark(forged == reasons["bad_tac", default: 0] && forged == signals["forged_tac", default: 0]))"
        )
        let replays = injected[.replay, default: 0]
        say(
            "  replayed records \(replays) → \(reasons["replay", default: 0]) parked replay, \(signals["replay", default: 0]) replay signals \(mark(replays == reasons["replay", default: 0] && replays == signals["replay", default: 0]))"
        )
        // The gap a never-delivered record leaves: every later uploaded record of its card.
        var expectedGap = 0
        for (index, card) in cards.enumerated() {
            let held = terminals.flatMap(\.withheld).filter { $0.item.card == index }.map {
                Int($0.item.record.cardCounter)
            }
            guard let first = held.min() else { continue }
            expectedGap += card.uploaded.filter { $0 > first }.count
        }
        let withheld = injected[.withheld, default: 0]
        say(
            "  withheld records \(withheld) (\(activity.withheldLate) delivered a day late, \(never) never) → \(signals["counter_gap", default: 0]) counter_gap signals; \(reasons["gap", default: 0]) records parked gap now (expected \(expectedGap): those behind a record never delivered) \(mark(expectedGap == reasons["gap", default: 0] && (withheld == 0 || signals["counter_gap", default: 0] > 0)))"
        )
        if stuckCards > 0 {
            say(
                "    ✗ \(stuckCards) card(s) hold a parked gap record at exactly the counter their chain expects: the hole was filled but the record was not released"
            )
        }
        let afterLoss = injected[.afterLoss, default: 0]
        say(
            "  taps after loss  \(afterLoss) (\(activity.lostCards) cards reported lost, hotlist version \(hotlistVersion)) → \(outcomes["risk", default: 0]) risk records, \(signals["use_after_loss", default: 0]) use_after_loss signals \(mark(afterLoss == outcomes["risk", default: 0] && afterLoss == signals["use_after_loss", default: 0]))"
        )
        if afterLossParked > 0 {
            say("    ✗ \(afterLossParked) tap(s) after loss are parked gap behind such a record instead")
        }
        let far = injected[.farAway, default: 0]
        say(
            "  taps far away    \(far) → \(signals["impossible_travel", default: 0]) impossible_travel signals \(mark(far == signals["impossible_travel", default: 0]))"
        )
        say(
            "  not injected: balance_mismatch \(reasons["balance_mismatch", default: 0]), unknown_card \(reasons["unknown_card", default: 0]) \(mark(reasons["balance_mismatch", default: 0] == 0 && reasons["unknown_card", default: 0] == 0))"
        )
        say(
            "  terminals refused \(activity.refusedHotlist) taps of hotlisted cards; \(activity.refusedBalance) taps refused for balance; \(activity.skippedLost) taps of lost cards not made; \(lifeActivity.refusedExpired) taps of expired cards refused; \(activity.skippedTravel) taps skipped (no terminal within reach); \(activity.fallbacks) frauds made a forged TAC instead (the card had a withheld record)"
        )
        say(
            healthy
                ? "Books balance: the ledger sums to 0 and no reconciliation names a difference."
                : "PROBLEM: the ledger does not sum to 0 or a reconciliation names a difference."
        )
        return healthy
    }

    /// A 1×1 PNG standing in for a portrait.
    package static let portrait = Data([
        0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00,
        0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4, 0x89, 0x00, 0x00, 0x00,
        0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0xF8, 0xCF, 0xC0, 0xF0, 0x1F, 0x00, 0x05, 0x00, 0x01, 0xFF,
        0x89, 0x99, 0x3D, 0x1D, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
    ])
}
