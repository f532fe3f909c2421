import CitizenCardTesting
import Foundation
import GRDB
#if canImport(Glibc)
    import Glibc
#endif
import Testing
#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The repository's shell scripts (`scripts/pg-pitr.sh`, `scripts/pg-pair.sh`), run by tests.
enum Scripts {
    struct Failure: Error, CustomStringConvertible { var description: String }

    /// Runs `scripts/NAME` with `arguments`; its standard output, trimmed. Output goes to files,
    /// not pipes: a PostgreSQL server the script starts would hold a pipe open.
    static func run(_ name: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [Binary.packageRoot.appendingPathComponent("scripts/\(name)").path] + arguments
        let directory = TemporaryDirectory("citizencard-script")
        let output = directory.file("out")
        let errors = directory.file("err")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardError = try FileHandle(forWritingTo: errors)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let problems = (try? String(contentsOf: errors, encoding: .utf8)) ?? ""
            throw Failure(description: "\(name) \(arguments.joined(separator: " ")): \(problems)")
        }
        return ((try? String(contentsOf: output, encoding: .utf8)) ?? "").trimmingCharacters(
            in: .whitespacesAndNewlines)
    }
}

/// The real `citizencard` executable, as built by `swift build` / `swift test`.
enum Binary {
    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }

    static var url: URL {
        if let path = ProcessInfo.processInfo.environment["CITIZENCARD_BINARY"] { return URL(fileURLWithPath: path) }
        var directory = Bundle.main.bundleURL
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("citizencard")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory.deleteLastPathComponent()
        }
        return packageRoot.appendingPathComponent(".build/debug/citizencard")
    }

    struct Result {
        var status: Int32
        var output: String
        var errors: String
    }

    /// Runs the binary to completion.
    static func run(
        _ arguments: [String], in directory: URL, environment: [String: String] = [:], executable: URL? = nil
    ) throws -> Result {
        let process = Process()
        process.executableURL = executable ?? url
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = directory.appendingPathComponent("run-\(UUID().uuidString).out")
        let err = directory.appendingPathComponent("run-\(UUID().uuidString).err")
        FileManager.default.createFile(atPath: out.path, contents: nil)
        FileManager.default.createFile(atPath: err.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        try process.run()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus, output: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
            errors: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
    }
}

/// `citizencard serve` running in the background on a free port.
final class Server: @unchecked Sendable {
    let process = Process()
    let directory: URL
    let output: URL
    let errors: URL
    private(set) var baseURL = ""

    convenience init(scratch: Scratch, arguments: [String] = []) throws {
        try self.init(directory: scratch.url, arguments: arguments, environment: scratch.environment)
    }

    /// - Parameter dataDirectory: the server's data directory; by default `directory/data`.
    init(
        directory: URL, arguments: [String] = [], environment: [String: String] = [:], dataDirectory: URL? = nil
    ) throws {
        self.directory = directory
        output = directory.appendingPathComponent("serve.out")
        errors = directory.appendingPathComponent("serve.err")
        FileManager.default.createFile(atPath: output.path, contents: nil)
        FileManager.default.createFile(atPath: errors.path, contents: nil)
        process.executableURL = Binary.url
        process.arguments =
            ["serve", "--data", (dataDirectory ?? directory.appendingPathComponent("data")).path, "--port", "0"]
            + arguments
        process.currentDirectoryURL = directory
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardError = try FileHandle(forWritingTo: errors)
        try process.run()
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline {
            if let line = outputText.split(separator: "\n").first(where: { $0.hasPrefix("CitizenCard is running at ") }
            ),
                let url = line.split(separator: " ").first(where: {
                    $0.hasPrefix("http://") || $0.hasPrefix("https://")
                })
            {
                baseURL = String(url.dropLast(url.hasSuffix("/") ? 1 : 0))
                return
            }
            guard process.isRunning else { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        stop()
        throw ServerFailure(description: "the server did not start:\n\(outputText)\n\(errorText)")
    }

    struct ServerFailure: Error, CustomStringConvertible { var description: String }

    var outputText: String { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }
    var errorText: String { (try? String(contentsOf: errors, encoding: .utf8)) ?? "" }

    /// SIGKILL: no chance to finish anything; waits for the exit.
    func kill() {
        if process.isRunning {
            Glibc.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// SIGTERM: graceful shutdown; waits for the exit.
    @discardableResult
    func stop() -> Int32 {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        return process.terminationStatus
    }

    deinit { stop() }

    struct Reply {
        var status: Int
        var body: Data
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
    }

    /// One HTTP request with a JSON body. `timeout`: generous by default, since a log-in hashes a
    /// password on two cores shared with the other suites; the crash tests' load passes a short
    /// one, so that a server killed in the middle of an answer does not keep them waiting.
    func send(
        _ method: String, _ path: String, token: String? = nil, json: String? = nil, bytes: Data? = nil,
        contentType: String = "application/json", timeout: TimeInterval = 30
    ) async throws -> Reply {
        var request = URLRequest(url: URL(string: baseURL + path)!)
        request.httpMethod = method
        request.timeoutInterval = timeout
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let json {
            request.httpBody = Data(json.utf8)
            request.setValue(contentType, forHTTPHeaderField: "Content-Type")
        } else if let bytes {
            request.httpBody = bytes
            request.setValue(contentType, forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        return Reply(status: (response as? HTTPURLResponse)?.statusCode ?? 0, body: data)
    }

    func login(_ username: String, password: String = "citizencard") async throws -> String {
        let reply = try await send(
            "POST", "/api/v1/auth/login", json: #"{"username":"\#(username)","password":"\#(password)"}"#)
        #expect(reply.status == 200)
        return reply.json["token"] as? String ?? ""
    }
}

/// A scratch directory for one test, and the database its commands share: the SQLite file in
/// its data directory, or a fresh PostgreSQL schema when the tests run on PostgreSQL
/// (`CITIZENCARD_TEST_BACKEND=postgres`), passed to every command as `CITIZENCARD_DATABASE_URL`.
final class Scratch: @unchecked Sendable {
    let url: URL
    let backend: Backend
    let databaseURL: String
    private let temporary: TemporaryDirectory

    init() throws {
        temporary = TemporaryDirectory("citizencard-e2e")
        url = temporary.url
        backend = Backend.preferred
        databaseURL =
            backend == .sqlite
            ? "sqlite:" + url.appendingPathComponent("data/citizencard.sqlite").path : backend.freshURL(in: temporary)
    }

    func file(_ name: String) -> URL { url.appendingPathComponent(name) }

    /// What the commands of this test need in their environment.
    var environment: [String: String] { backend == .sqlite ? [:] : ["CITIZENCARD_DATABASE_URL": databaseURL] }

    func run(
        _ arguments: [String], environment extra: [String: String] = [:], executable: URL? = nil
    ) throws
        -> Binary.Result
    {
        try Binary.run(arguments, in: url, environment: environment.merging(extra) { $1 }, executable: executable)
    }

    /// Runs SQL on the test's database, outside the server: GRDB on the SQLite file, psql on PostgreSQL.
    func execute(_ sql: String) throws {
        switch backend {
        case .sqlite:
            try DatabaseQueue(path: String(databaseURL.dropFirst("sqlite:".count))).write { try $0.execute(sql: sql) }
        case .postgres:
            let parts = databaseURL.components(separatedBy: "?schema=")
            let bin =
                (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql"))?.sorted().last
                .map { "/usr/lib/postgresql/\($0)/bin/psql" } ?? "psql"
            let result = try Binary.run(
                ["-v", "ON_ERROR_STOP=1", "-qAt", "-c", "SET search_path TO \(parts[1]); \(sql)", parts[0]], in: url,
                executable: URL(fileURLWithPath: bin))
            guard result.status == 0 else { throw Server.ServerFailure(description: "psql: \(result.errors)") }
        }
    }

    /// The first column of the first row of a query, as text.
    func query(_ sql: String) throws -> String {
        switch backend {
        case .sqlite:
            return try DatabaseQueue(path: String(databaseURL.dropFirst("sqlite:".count))).read { db in
                try String.fetchOne(db, sql: sql) ?? ""
            }
        case .postgres:
            let parts = databaseURL.components(separatedBy: "?schema=")
            let bin =
                (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql"))?.sorted().last
                .map { "/usr/lib/postgresql/\($0)/bin/psql" } ?? "psql"
            let result = try Binary.run(
                ["-qAt", "-c", "SET search_path TO \(parts[1]); \(sql)", parts[0]], in: url,
                executable: URL(fileURLWithPath: bin))
            guard result.status == 0 else { throw Server.ServerFailure(description: "psql: \(result.errors)") }
            return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    /// Every byte the backend keeps for this test's database.
    func rawDatabase() throws -> Data { try backend.rawContents(url: databaseURL) }
}
