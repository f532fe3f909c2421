import CitizenCardTesting
import Foundation
import Testing

/// The server on a primary and a synchronous standby named together in the database URL (issue
/// 22): the primary is killed with SIGKILL, the standby promoted (by hand here, as a failover
/// engine does), and the server finds the new primary by itself. Requests during the switch get
/// 503 `unavailable` with Retry-After; a session written before the loss is on the new primary
/// (synchronous replication); /health and /metrics name the primary and the switch's duration.
@Suite("Failover to a promoted standby", .serialized)
struct FailoverTests {
    static var available: Bool {
        Backend.preferred == .postgres
            && !((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []).isEmpty
    }

    /// `scripts/pg-pair.sh` with `arguments`; its standard output, trimmed.
    static func pair(_ arguments: [String]) throws -> String { try Scripts.run("pg-pair.sh", arguments) }

    @Test(
        "SIGKILL of the primary: 503 with Retry-After during the switch, then the promoted standby with every acknowledged write",
        .enabled(if: available))
    func promotedStandby() async throws {
        let scratch = try Scratch()
        let cluster = "/tmp/citizencard-pair-\(UUID().uuidString)"
        defer {
            _ = try? Self.pair(["stop", cluster])
            try? FileManager.default.removeItem(atPath: cluster)
        }
        let first = try FakeVPCD.unusedPort()
        var second = try FakeVPCD.unusedPort()
        while second == first { second = try FakeVPCD.unusedPort() }
        let url = try Self.pair(["start", cluster, "\(first)", "\(second)"])
        #expect(url.contains(",127.0.0.1:\(second)/"))
        let server = try Server(
            directory: scratch.url, arguments: ["--database", url, "--demo-persons", "2", "--no-demo-bank"],
            environment: ["CITIZENCARD_DATABASE_URL": ""])
        defer { server.stop() }
        let health = try await server.send("GET", "/health")
        #expect(health.json["primary"] as? String == "127.0.0.1:\(first)", "\(health.json)")
        // A write acknowledged before the loss: a session.
        let token = try await server.login("admin")
        #expect(!token.isEmpty)

        _ = try Self.pair(["kill", cluster])
        let killed = ContinuousClock.now
        // During the switch: 503 with Retry-After, never another answer.
        var unavailable = 0
        for _ in 0..<6 {
            let reply = try await server.send("GET", "/api/v1/hotlist", token: token)
            #expect(reply.status == 503 || reply.status == 200, "\(reply.status)")
            if reply.status == 503 {
                unavailable += 1
                #expect(reply.json["code"] as? String == "unavailable")
            }
            try await Task.sleep(for: .milliseconds(250))
        }
        #expect(unavailable > 0, "the primary is gone: no request may succeed before the promotion")
        _ = try Self.pair(["promote", cluster])
        var switched: [String: Any] = [:]
        for _ in 0..<120 {
            let reply = try await server.send("GET", "/health")
            if reply.status == 200 {
                switched = reply.json
                break
            }
            #expect(reply.status == 503)
            try await Task.sleep(for: .milliseconds(250))
        }
        let downSeconds = Double((ContinuousClock.now - killed).components.seconds)
        #expect(switched["primary"] as? String == "127.0.0.1:\(second)", "\(switched)")
        #expect(switched["primarySwitches"] as? Int == 1)
        let switchSeconds = try #require(switched["lastPrimarySwitchSeconds"] as? Double)
        print(
            "failover: the server found the promoted standby \(switchSeconds) s after it noticed the loss; about \(downSeconds) s from SIGKILL to the first answer"
        )
        // The session written before the loss is there; writes go on.
        let staff = try await server.send("GET", "/api/v1/hotlist", token: token)
        #expect(staff.status == 200, "\(staff.status)")
        #expect(!(try await server.login("admin")).isEmpty)
        let metrics = try await server.send("GET", "/metrics")
        let text = String(decoding: metrics.body, as: UTF8.self)
        #expect(text.contains("citizencard_db_primary_switches_total"), "\(text.prefix(400))")
        #expect(text.contains("citizencard_db_last_switch_seconds"))
    }
}
