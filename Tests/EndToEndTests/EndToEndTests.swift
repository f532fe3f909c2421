import CitizenCardDomain
import CitizenCardTesting
import Foundation
import GRDB
import Testing

/// The real binary, a real database file, real HTTP (R-…: the whole system end to end).
@Suite("End to end through the citizencard binary", .serialized)
struct EndToEndTests {
    @Test("serve creates a demo city, prints the URL and logins, and the README walkthrough passes against it")
    func serveAndWalkthrough() async throws {
        let scratch = try Scratch()
        let server = try Server(scratch: scratch, arguments: ["--demo-persons", "40"])
        #expect(server.outputText.contains("Demo logins (password for all: citizencard)"))
        #expect(server.outputText.contains("dh01.operator"))
        let data = scratch.file("data")
        let files =
            ["citizencard.json", "keys/personal-data.json"] + (scratch.backend == .sqlite ? ["citizencard.sqlite"] : [])
        for name in files {
            #expect(FileManager.default.fileExists(atPath: data.appendingPathComponent(name).path), "\(name)")
        }
        let keyMode =
            try FileManager.default.attributesOfItem(
                atPath: data.appendingPathComponent("keys/personal-data.json").path)[.posixPermissions] as? Int
        #expect(keyMode == 0o600)
        let walk = Process()
        walk.executableURL = URL(fileURLWithPath: "/bin/bash")
        walk.arguments = [Binary.packageRoot.appendingPathComponent("scripts/walkthrough.sh").path, server.baseURL]
        let log = scratch.file("walkthrough.log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        walk.standardOutput = try FileHandle(forWritingTo: log)
        walk.standardError = walk.standardOutput
        try walk.run()
        walk.waitUntilExit()
        #expect(walk.terminationStatus == 0, "\((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
        let metrics = try await server.send("GET", "/metrics")
        let text = String(decoding: metrics.body, as: UTF8.self)
        #expect(metrics.status == 200)
        for name in [
            "http_server_request_duration_bucket", "citizencard_db_commits_total",
            "citizencard_db_commit_duration_seconds",
            "citizencard_problems_total{code=\"transition_not_allowed\"}",
        ] {
            #expect(text.contains(name), "/metrics shows \(name)")
        }
        let health = try await server.send("GET", "/health")
        #expect(health.json["database"] as? String == "ok")
        #expect(server.stop() == 0, "graceful shutdown exits 0")
        // A second start finds the city and does not create it again.
        let again = try Server(scratch: scratch)
        #expect(!again.outputText.contains("Demo logins"))
        again.stop()
        let verify = try scratch.run(["audit", "verify", "--data", data.path])
        #expect(verify.status == 0, "\(verify.output)\(verify.errors)")
    }

    @Test("a lifecycle through the server leaves no name or ID number in its logs or its database file (R-41)")
    func noPersonalDataInLogsOrDatabase() async throws {
        let scratch = try Scratch()
        let server = try Server(scratch: scratch, arguments: ["--demo-persons", "10"])
        let name = "慕容复兴"
        let number = ResidentID.make(
            region: "330903", birth: CalendarDate(year: 1977, month: 7, day: 7)!, sequence: 135
        ).number
        let clerk = try await server.login("dh01.operator")
        let registered = try await server.send(
            "POST", "/api/v1/persons", token: clerk,
            json:
                #"{"idNumber":"\#(number)","name":"\#(name)","phone":"13905807777","address":"舟山市普陀区东港街道海韵路99号","household":"local","socialInsurance":true,"ruralMedical":false}"#
        )
        #expect(registered.status == 201)
        let personID = try #require(registered.json["id"] as? String)
        let png = Data(
            base64Encoded:
                "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGP4z8DwHwAFAAH/iZk9HQAAAABJRU5ErkJggg==")!
        #expect(
            try await server.send(
                "PUT", "/api/v1/persons/\(personID)/photo", token: clerk, bytes: png, contentType: "image/png"
            ).status == 200)
        let applied = try await server.send(
            "POST", "/api/v1/applications", token: clerk, json: #"{"personId":"\#(personID)"}"#)
        #expect(applied.status == 201)
        let lookup = try await server.send(
            "POST", "/api/v1/persons/lookup", token: clerk,
            json: #"{"idNumber":"\#(number)","reveal":true,"purpose":"e2e"}"#)
        #expect(lookup.json["name"] as? String == name)
        let bad = try await server.send(
            "POST", "/api/v1/persons/lookup", token: clerk, json: #"{"idNumber":"\#(number.dropLast())0"}"#)
        #expect(bad.status == 422 || bad.status == 404)
        _ = try await server.send(
            "POST", "/api/v1/auth/login", json: #"{"username":"\#(number)","password":"\#(name)"}"#)
        server.stop()
        let logs = server.outputText + server.errorText
        #expect(logs.contains("request"), "the access log is on")
        let raw = try scratch.rawDatabase()
        #expect(raw.count > 10_000)
        for secret in [name, number, String(number.prefix(14)), "13905807777", "海韵路"] {
            #expect(!logs.contains(secret), "a log line holds personal data")
            #expect(raw.range(of: Data(secret.utf8)) == nil, "the database file holds personal data in clear")
        }
    }

    @Test("audit verify names the first bad entry after an edit, a deletion or a reordering in the file (R-42)")
    func auditTampering() async throws {
        let scratch = try Scratch()
        let data = scratch.file("data")
        let server = try Server(scratch: scratch, arguments: ["--demo-persons", "12"])
        server.stop()
        let intact = try scratch.run(["audit", "verify", "--data", data.path])
        #expect(intact.status == 0 && intact.output.contains("audit chain intact"), "\(intact.output)\(intact.errors)")
        // Keep the intact chain to put back after each tampering.
        try scratch.execute(
            "CREATE TABLE audit_backup AS SELECT * FROM audit_log; CREATE TABLE head_backup AS SELECT * FROM audit_heads"
        )
        let restore = """
            DELETE FROM audit_log; INSERT INTO audit_log SELECT * FROM audit_backup;
            DELETE FROM audit_heads; INSERT INTO audit_heads SELECT * FROM head_backup
            """
        // The lane with the most entries (the embedded backend has one lane).
        let lane = try scratch.query("SELECT lane FROM audit_log GROUP BY lane ORDER BY count(*) DESC, lane LIMIT 1")
        let length = Int(try scratch.query("SELECT count(*) FROM audit_log WHERE lane = \(lane)")) ?? 0
        #expect(length >= 14, "enough entries in lane \(lane) to tamper with")
        let tamperings: [(String, String, String)] = [
            (
                "edit", "UPDATE audit_log SET actor = 'nobody' WHERE lane = \(lane) AND sequence = 7",
                "lane \(lane) entry 7"
            ),
            ("delete", "DELETE FROM audit_log WHERE lane = \(lane) AND sequence = 9", "lane \(lane) entry 10"),
            (
                "reorder",
                "UPDATE audit_log SET sequence = -sequence WHERE lane = \(lane) AND sequence IN (11, 12); UPDATE audit_log SET sequence = 12 WHERE lane = \(lane) AND sequence = -11; UPDATE audit_log SET sequence = 11 WHERE lane = \(lane) AND sequence = -12",
                "lane \(lane) entry 11"
            ),
            (
                "truncate",
                "DELETE FROM audit_log WHERE lane = \(lane) AND sequence = (SELECT max(sequence) FROM audit_backup WHERE lane = \(lane))",
                "lane \(lane) entry"
            ),
            (
                "forge",
                "UPDATE audit_log SET detail = '{}', hash = previous_hash WHERE lane = \(lane) AND sequence = 3",
                "lane \(lane) entry 3"
            ),
        ]
        for (label, sql, expected) in tamperings {
            try scratch.execute(sql)
            let result = try scratch.run(["audit", "verify", "--data", data.path])
            #expect(result.status == 1, "\(label): \(result.output)")
            #expect(result.output.contains("audit chain BROKEN at \(expected)"), "\(label): \(result.output)")
            try scratch.execute(restore)
            let repaired = try scratch.run(["audit", "verify", "--data", data.path])
            #expect(repaired.status == 0, "\(label): restoring the backup mends the chain")
        }
    }

    @Test("import persons: progress, per-row error report, exit status, safe to run again")
    func importCommand() throws {
        let scratch = try Scratch()
        let good = (1...3).map {
            ResidentID.make(region: "330921", birth: CalendarDate(year: 1990, month: 1, day: $0)!, sequence: 11).number
        }
        let csv = scratch.file("persons.csv")
        try Data(
            """
            id_number,name,sex,household,phone,address,employer,social_insurance,rural_medical
            \(good[0]),王一,male,local,,,,true,false
            \(good[1]),王二,male,nonlocal,,,,true,false
            \(good[2]),王三,female,local,,,,true,false
            123,王四,male,local,,,,true,false

            """.utf8
        ).write(to: csv)
        let data = scratch.file("data").path
        let first = try scratch.run(["import", "persons", csv.path, "--data", data])
        #expect(first.status == 2, "rejected rows give exit status 2: \(first.output)\(first.errors)")
        #expect(first.output.contains("imported:           2"))
        #expect(first.output.contains("rejected:           2"))
        let report = try String(contentsOf: URL(fileURLWithPath: csv.path + ".errors.csv"), encoding: .utf8)
        #expect(report.contains("4,sex,") && report.contains("5,id_number,"))
        let second = try scratch.run(["import", "persons", csv.path, "--data", data])
        #expect(second.output.contains("imported:           0") && second.output.contains("already registered: 2"))
        #expect(!second.errors.contains("rows/s"), "no progress bar when standard error is not a terminal")
        // On a terminal (a pseudo-terminal made by script(1)) the progress bar is drawn.
        let command = [Binary.url.path, "import", "persons", csv.path, "--data", data].map { "'\($0)'" }.joined(
            separator: " ")
        let terminal = try scratch.run(
            ["-qec", command, "/dev/null"], executable: URL(fileURLWithPath: "/usr/bin/script"))
        #expect(terminal.output.contains("100%") && terminal.output.contains("█"), "\(terminal.output)")
        let missing = try scratch.run(["import", "persons", scratch.file("nope.csv").path, "--data", data])
        #expect(missing.status != 0 && missing.errors.contains("cannot read"))
        let header = scratch.file("header.csv")
        try Data("id_number,name\n".utf8).write(to: header)
        let badHeader = try scratch.run(["import", "persons", header.path, "--data", data])
        #expect(badHeader.status != 0 && badHeader.errors.contains("missing columns"), "\(badHeader.errors)")
        let verify = try scratch.run(["audit", "verify", "--data", data])
        #expect(verify.status == 0)
    }

    @Test("without the demo, the first administrator is created on the command line and can log in")
    func firstAdministrator() async throws {
        let scratch = try Scratch()
        let data = scratch.file("data").path
        let added = try scratch.run(
            ["staff", "add", "chief", "--role", "admin", "--data", data],
            environment: ["CITIZENCARD_PASSWORD": "first admin password"])
        #expect(added.status == 0, "\(added.output)\(added.errors)")
        let weak = try scratch.run(
            ["staff", "add", "weak", "--role", "admin", "--data", data], environment: ["CITIZENCARD_PASSWORD": "short"])
        #expect(weak.status != 0 && weak.errors.contains("invalid_field"))
        let server = try Server(scratch: scratch, arguments: ["--no-demo"])
        #expect(!server.outputText.contains("Demo logins"))
        let token = try await server.login("chief", password: "first admin password")
        #expect(try await server.send("GET", "/api/v1/outlets", token: token).status == 200)
        server.stop()
        let reset = try scratch.run(
            ["staff", "password", "chief", "--data", data],
            environment: ["CITIZENCARD_PASSWORD": "second admin password"])
        #expect(reset.status == 0)
        let off = try scratch.run(["staff", "deactivate", "CHIEF", "--data", data])
        #expect(off.status == 0 && off.output.contains("chief deactivated"))
    }

    @Test("every subcommand takes --data and --database the same way; bad URLs are refused clearly")
    func sharedOptions() throws {
        let scratch = try Scratch()
        let data = scratch.file("data").path
        let migrate = try scratch.run(["migrate", "--data", data, "--database", "sqlite:other.sqlite"])
        #expect(migrate.status == 0 && migrate.output.contains("0001-core"), "\(migrate.output)\(migrate.errors)")
        #expect(FileManager.default.fileExists(atPath: data + "/other.sqlite"))
        let verify = try scratch.run(
            ["audit", "verify", "--data", data], environment: ["CITIZENCARD_DATABASE_URL": "sqlite:other.sqlite"])
        #expect(verify.status == 0 && verify.output.contains("0 entries"))
        let bad = try scratch.run(["migrate", "--data", data, "--database", "mysql://x"])
        #expect(bad.status != 0 && bad.errors.contains("unknown database URL scheme"))
        let help = try scratch.run(["--help"])
        for command in ["serve", "migrate", "import", "audit", "bench"] { #expect(help.output.contains(command)) }
        let unreachable = try scratch.run([
            "migrate", "--data", data, "--database", "postgres://nobody@127.0.0.1:1/none",
        ])
        #expect(unreachable.status != 0 && unreachable.errors.contains("cannot open the database"))
        #expect(!unreachable.errors.contains("password"))
        for (url, reason) in [
            ("postgres://u@127.0.0.1/db?sslmode=sometimes", "sslmode must be one of"),
            ("postgres://u@127.0.0.1/db?ssl=true", "unknown URL parameter ssl"),
            ("postgres://u@127.0.0.1/db?sslmode=verify-full&sslrootcert=/nonexistent.pem", "cannot be read"),
            // Several hosts (issue 22): each host:port well formed, none twice, for the primary.
            ("postgres://u@127.0.0.1:1,/db", "host1:port1,host2:port2"),
            ("postgres://u@127.0.0.1:1,127.0.0.1:x/db", "host1:port1,host2:port2"),
            ("postgres://u@127.0.0.1:1,127.0.0.1:70000/db", "host1:port1,host2:port2"),
            ("postgres://u@127.0.0.1:1,127.0.0.1:1/db", "a host is named twice"),
            ("postgres://u@127.0.0.1:1,127.0.0.1:2/db?target_session_attrs=read-only", "target_session_attrs"),
            (
                "postgres://u@"
                    + Array(repeating: "127.0.0.1:1", count: 9).enumerated().map { "\($0.element)\($0.offset)" }
                    .joined(separator: ",") + "/db", "at most 8 hosts"
            ),
        ] {
            let refused = try scratch.run(["migrate", "--data", data, "--database", url])
            #expect(refused.status != 0 && refused.errors.contains(reason), "\(url): \(refused.errors)")
        }
        if Backend.postgresURL != nil {
            let url = Backend.postgres.freshURL(in: TemporaryDirectory())
            let postgres = try scratch.run(["migrate", "--data", data, "--database", url])
            #expect(
                postgres.status == 0 && postgres.output.contains("PostgreSQL") && postgres.output.contains("0001-core"))
            let again = try scratch.run(["migrate", "--data", data], environment: ["CITIZENCARD_DATABASE_URL": url])
            #expect(again.status == 0, "migrating again is a no-op")
            // The test cluster offers no TLS: `prefer` (the default) falls back, `require` refuses.
            let plain = try scratch.run(["migrate", "--data", data, "--database", url + "&sslmode=prefer"])
            #expect(plain.status == 0)
            let encrypted = try scratch.run([
                "migrate", "--data", data, "--database", url + "&sslmode=require",
            ])
            #expect(encrypted.status != 0 && encrypted.errors.contains("does the server offer TLS"))
            // Several hosts, one of them dead: the primary is found among them.
            let components = try #require(URLComponents(string: url))
            let host = "\(components.host ?? ""):\(components.port ?? 5432)"
            let dead = try FakeVPCD.unusedPort()
            let pair = url.replacingOccurrences(of: host, with: "127.0.0.1:\(dead),\(host)")
            let found = try scratch.run([
                "migrate", "--data", data, "--database", pair + "&target_session_attrs=read-write",
            ])
            #expect(found.status == 0 && found.output.contains(",\(host)/"), "\(found.output)\(found.errors)")
        }
    }
}
