package import ArgumentParser
import CitizenCardDomain
import CitizenCardHTTP
import CitizenCardRuntime
import CitizenCardServices
import CommandSupport
package import Foundation
import GRDB
import Logging
import Storage

#if canImport(Glibc)
    import Glibc
#endif

/// The department side's figures (issue 18, docs/performance.md), each next to its baseline in
/// the same run: online card checks and person queries over HTTP against the same server's
/// `/health`, with N keep-alive connections; a feed file of insured-status changes against a bare
/// UPDATE of the same rows in the same database.
package struct BenchDepartments: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(commandName: "departments")

    @Option(help: "Concurrent keep-alive connections.")
    package var connections = 16

    @Option(help: "Seconds each HTTP measurement runs.")
    package var seconds = 10

    @Option(help: "Insured-status changes in the feed file (0: skip the feed measurement).")
    package var changes = 1_000_000

    @Flag(help: "Skip the HTTP measurements.")
    package var skipHttp = false

    package func run() async throws {
        guard (1...256).contains(connections), (1...600).contains(seconds), (0...5_000_000).contains(changes) else {
            throw ValidationError("--connections 1-256, --seconds 1-600, --changes 0-5000000")
        }
        let directory = URL(fileURLWithPath: NSTemporaryDirectory() + "citizencard-bench-departments-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        if !skipHttp { try await http(directory: directory.appendingPathComponent("http")) }
        if changes > 0 { try await feed(directory: directory.appendingPathComponent("feed")) }
    }

    // MARK: HTTP

    func http(directory: URL) async throws {
        let options = try BenchData.storeOptions(data: directory)
        let runtime = try await Runtime.open(options, logger: makeLogger(label: "bench", level: .warning))
        var setup = runtime.env
        setup.passwordCost = 4
        // The benchmark measures the normal path: the scraping detector would stop it on purpose.
        setup.grantMonitor = GrantMonitor(window: 600, signalPersons: 10_000_000, suspendPersons: 10_000_000)
        let env = setup
        _ = try await DemoCity(env).create(personCount: 200)
        let targets = try await BenchLifecycle().workingSet(env)
        guard !targets.isEmpty else { throw CommandFailure(description: "the demo city has no active cards") }
        var holders: [(number: String, idNumber: String)] = []
        for target in targets {
            guard let card = try await env.store.card(id: target.card) else { continue }
            holders.append((card.number, target.idNumber))
        }
        let (key, grant) = try await Self.departmentWithGrant(env)

        var logger = Logger(label: "bench.http")
        logger.logLevel = .critical
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let app = try CitizenCardApp.application(env: env, host: "127.0.0.1", port: 0, logger: logger) { port in
            continuation.yield(port)
        }
        let server = Task { try await app.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw CommandFailure(description: "the server did not start") }

        let health = [LoadRequest(method: "GET", path: "/health", headers: [], body: nil)]
        let purpose = [
            "Authorization: Bearer \(key)", "X-Purpose: insurance%20check", "X-Case-Number: BENCH-1",
            "X-End-User: bench",
        ]
        let checks = holders.map { holder in
            LoadRequest(
                method: "POST", path: "/api/v1/card-checks", headers: purpose,
                body: #"{"cards":[{"cardNumber":"\#(holder.number)","idNumber":"\#(holder.idNumber)"}]}"#)
        }
        let queries = holders.map { holder in
            LoadRequest(
                method: "POST", path: "/api/v1/department/person-queries", headers: purpose,
                body: #"{"grantId":"\#(grant)","idNumbers":["\#(holder.idNumber)"]}"#)
        }
        say("department routes over HTTP, \(connections) keep-alive connections, \(seconds) s each, SQLite")
        let baseline = try LoadGenerator(port: port, connections: connections, seconds: seconds).run(health)
        say("  /health:                      \(baseline.line)")
        let checked = try LoadGenerator(port: port, connections: connections, seconds: seconds).run(checks)
        say("  card check (one card):        \(checked.line)")
        say(
            "    ratio card checks / health:   \(String(format: "%.2f", checked.rate / baseline.rate))  (goal >= 0.5, p99 < 10 ms)"
        )
        let queried = try LoadGenerator(port: port, connections: connections, seconds: seconds).run(queries)
        say("  person query (grant, audited): \(queried.line)")
        say("    ratio queries / health:       \(String(format: "%.2f", queried.rate / baseline.rate))  (goal >= 0.3)")
        server.cancel()
        _ = try? await server.value
        try await runtime.store.close()
    }

    /// A department with a client key and an active grant (requested by the department, approved
    /// by a commissioner, the agreement recorded by the center).
    static func departmentWithGrant(_ env: ServiceEnvironment) async throws -> (key: String, grant: Grant.ID) {
        let admin = Actor(operatorID: nil, name: "admin", role: .administrator, outletID: nil)
        let commissioner = Actor(operatorID: nil, name: "bench.commissioner", role: .commissioner, outletID: nil)
        let departments = DepartmentService(env)
        let department = try await departments.create(
            .init(code: "BENCH", name: "Benchmark", nameZh: "基准", kind: "health", feedKinds: FeedKind.allCases),
            actor: admin)
        let client = try await departments.createClient(department: department.id, .init(name: "bench"), actor: admin)
        let key = client.issuedKey!.key
        let actor = try await AuthService(env).authenticate(token: key)
        let grants = GrantService(env)
        let today = env.clock.now().calendarDate()
        let grant = try await grants.request(
            .init(
                fields: ["name": "masked", "socialInsurance": "yes_no", "birthDate": "year_only"], purpose: "benchmark",
                legalBasis: "benchmark", validFrom: today,
                validUntil: CalendarDate(daysSinceEpoch: today.daysSinceEpoch + 30),
                dailyVolume: 1_000_000, ratePerMinute: 60_000),
            actor: actor)
        _ = try await grants.approve(grant.id, .init(), actor: commissioner)
        _ = try await grants.recordAgreement(
            grant.id, .init(reference: "BENCH", signatory: "bench", signedOn: today), actor: admin)
        return (key, grant.id)
    }

    // MARK: Feed

    func feed(directory: URL) async throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let csv = directory.appendingPathComponent("persons.csv")
        say("feed file of \(changes) insured-status changes, SQLite, synchronous=FULL")
        let numbers = try BenchData.writeCSV(rows: changes, to: csv)
        let options = try BenchData.storeOptions(data: directory.appendingPathComponent("data"))
        let runtime = try await Runtime.open(
            options, logger: makeLogger(label: "bench", level: .warning), cacheMebibytes: Runtime.importCacheMebibytes)
        _ = try await PersonImporter(runtime.env).run(
            path: csv.path, errorReport: directory.appendingPathComponent("errors.csv"), actor: .commandLine("bench"))
        try? FileManager.default.removeItem(at: csv)
        let admin = Actor(operatorID: nil, name: "admin", role: .administrator, outletID: nil)
        _ = try await DepartmentService(runtime.env).create(
            .init(
                code: "HRSS", name: "HRSS", nameZh: "人社局", kind: "human_resources_social_security",
                feedKinds: [.insuranceEnrolment, .insuranceEnd]), actor: admin)
        let file = directory.appendingPathComponent("insurance.jsonl")
        _ = FileManager.default.createFile(atPath: file.path, contents: nil)
        let handle = try FileHandle(forWritingTo: file)
        var text = ""
        for (index, number) in numbers.enumerated() {
            text += #"{"messageId":"HRSS-\#(index)","kind":"insurance_end","idNumber":"\#(number)"}"# + "\n"
            if text.utf8.count > 1 << 20 {
                try handle.write(contentsOf: Data(text.utf8))
                text = ""
            }
        }
        try handle.write(contentsOf: Data(text.utf8))
        try handle.close()
        let peakBefore = BenchData.peakResidentBytes()
        let report = try await FeedFileRunner(runtime.env).run(
            path: file.path, department: "HRSS", results: directory.appendingPathComponent("results.jsonl"))
        let peakAfter = BenchData.peakResidentBytes()
        let applied = report.outcomes[.applied] ?? 0
        // The baseline: the same rows' insured flag set back by a prepared UPDATE by blind index,
        // in transactions of the feed's chunk size; the indexes are computed outside the timing.
        let indexes = numbers.map { runtime.env.vault.indexOf(try! FieldsBench.parse($0)) }
        try await runtime.store.close()
        let bare = try Self.bareUpdate(
            indexes, at: directory.appendingPathComponent("data/citizencard.sqlite"), chunk: FeedFileRunner.chunkSize)
        let feedRate = Double(report.rows) / report.elapsedSeconds
        let bareRate = Double(indexes.count) / bare
        say(
            """
              feed apply:          \(String(format: "%8.1f", report.elapsedSeconds)) s  \(Int(feedRate)) rows/s  (applied \(applied) of \(report.rows))
              bare UPDATE:         \(String(format: "%8.1f", bare)) s  \(Int(bareRate)) rows/s
              ratio feed/bare:     \(String(format: "%.2f", feedRate / bareRate))  (goal >= 0.3)
              peak memory:         \(peakBefore / 1_048_576) MiB before the feed, \(peakAfter / 1_048_576) MiB after  (memory flat: the feed is read a chunk at a time)
            """)
    }

    static func bareUpdate(_ indexes: [Data], at url: URL, chunk: Int) throws -> Double {
        var configuration = GRDB.Configuration()
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            try db.execute(sql: "PRAGMA cache_size = -\(Runtime.importCacheMebibytes * 1024)")
        }
        let pool = try DatabasePool(path: url.path, configuration: configuration)
        let start = ContinuousClock.now
        var done = 0
        while done < indexes.count {
            let part = indexes[done..<min(done + chunk, indexes.count)]
            try pool.write { db in
                let statement = try db.makeStatement(sql: "UPDATE persons SET social_insurance = 1 WHERE id_index = ?")
                for index in part { try statement.execute(arguments: [index]) }
            }
            done += part.count
        }
        let seconds = BenchData.milliseconds(since: start) / 1000
        try pool.close()
        return seconds
    }
}

/// One request the load generator sends.
struct LoadRequest: Sendable {
    var method: String
    var path: String
    var headers: [String]
    var body: String?

    var bytes: [UInt8] {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        for header in headers { head += header + "\r\n" }
        if let body {
            head += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body
        } else {
            head += "\r\n"
        }
        return Array(head.utf8)
    }
}

/// HTTP/1.1 over keep-alive connections, one thread each with blocking sockets (so that the
/// client's own cost is small and the same for every route), for a fixed time.
struct LoadGenerator {
    var port: Int
    var connections: Int
    var seconds: Int

    struct Result {
        var requests: Int
        var errors: Int
        var elapsed: Double
        var latencies: [Double]

        var rate: Double { Double(requests) / elapsed }
        var line: String {
            "\(String(format: "%7.0f", rate)) requests/s  p50 \(BenchData.percentile(latencies, 0.5)) ms  p99 \(BenchData.percentile(latencies, 0.99)) ms\(errors > 0 ? "  (\(errors) not 200)" : "")"
        }
    }

    func run(_ requests: [LoadRequest]) throws -> Result {
        let encoded = requests.map(\.bytes)
        let deadline = Date().addingTimeInterval(Double(seconds))
        let shared = Shared()
        let group = DispatchGroup()
        let started = ContinuousClock.now
        for worker in 0..<connections {
            group.enter()
            let thread = Thread {
                defer { group.leave() }
                do {
                    let socket = try Self.connect(port: port)
                    defer { close(socket) }
                    var latencies: [Double] = []
                    var errors = 0
                    var index = worker
                    var buffer = [UInt8](repeating: 0, count: 1 << 16)
                    while Date() < deadline {
                        let request = encoded[index % encoded.count]
                        index += connections
                        let start = ContinuousClock.now
                        let status = try Self.exchange(socket, request, buffer: &buffer)
                        latencies.append(BenchData.milliseconds(since: start))
                        if status != 200 { errors += 1 }
                    }
                    shared.add(latencies, errors: errors)
                } catch {
                    shared.fail(error)
                }
            }
            thread.start()
        }
        group.wait()
        var total = shared.total
        total.elapsed = BenchData.milliseconds(since: started) / 1000
        if let failure = shared.failure { throw failure }
        return total
    }

    /// What the worker threads report, behind a lock.
    final class Shared: @unchecked Sendable {
        private let lock = NSLock()
        private var result = Result(requests: 0, errors: 0, elapsed: 0, latencies: [])
        private var error: (any Error)?

        var total: Result { lock.withLock { result } }
        var failure: (any Error)? { lock.withLock { error } }

        func add(_ latencies: [Double], errors: Int) {
            lock.withLock {
                result.requests += latencies.count
                result.errors += errors
                result.latencies += latencies
            }
        }

        func fail(_ failure: any Error) { lock.withLock { error = failure } }
    }

    static func connect(port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw CommandFailure(description: "socket") }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            close(fd)
            throw CommandFailure(description: "cannot connect to the server")
        }
        return fd
    }

    /// Sends one request and reads its answer; returns the status code.
    static func exchange(_ fd: Int32, _ request: [UInt8], buffer: inout [UInt8]) throws -> Int {
        var sent = 0
        while sent < request.count {
            let n = request.withUnsafeBytes { send(fd, $0.baseAddress! + sent, request.count - sent, 0) }
            guard n > 0 else { throw CommandFailure(description: "the server closed the connection") }
            sent += n
        }
        var received: [UInt8] = []
        var headerEnd: Int? = nil
        var length = 0
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            guard n > 0 else { throw CommandFailure(description: "the server closed the connection") }
            received += buffer[0..<n]
            if headerEnd == nil, let end = Self.find([13, 10, 13, 10], in: received) {
                headerEnd = end + 4
                let head = String(decoding: received[0..<end], as: UTF8.self).lowercased()
                for line in head.split(separator: "\r\n") where line.hasPrefix("content-length:") {
                    length = Int(line.dropFirst(15).trimmingCharacters(in: .whitespaces)) ?? 0
                }
            }
            if let headerEnd, received.count >= headerEnd + length {
                let status = String(decoding: received[9..<12], as: UTF8.self)
                return Int(status) ?? 0
            }
        }
    }

    static func find(_ pattern: [UInt8], in bytes: [UInt8]) -> Int? {
        guard bytes.count >= pattern.count else { return nil }
        for start in 0...(bytes.count - pattern.count) where bytes[start] == pattern[0] {
            if Array(bytes[start..<start + pattern.count]) == pattern { return start }
        }
        return nil
    }
}
