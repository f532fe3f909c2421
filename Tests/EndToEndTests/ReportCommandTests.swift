import CitizenCardDomain
import Foundation
import Testing

/// `citizencard report outlet` through the built binary, on the demo city's first day.
@Suite("Report command", .serialized)
struct ReportCommandTests {
    static func today() -> CalendarDate {
        Timestamp(secondsSinceEpoch: Int64(Date().timeIntervalSince1970)).calendarDate(offsetSeconds: 8 * 3600)
    }

    @Test("an outlet's day as a table and as JSON, audited; an unknown outlet or a bad date is refused")
    func outletReport() throws {
        let scratch = try Scratch()
        let data = scratch.file("data").path
        let before = Self.today()
        let server = try Server(scratch: scratch, arguments: ["--demo-persons", "12"])
        server.stop()
        let table = try scratch.run(["report", "outlet", "--outlet", "dh01", "--date", before.iso8601, "--data", data])
        #expect(table.status == 0, "\(table.output)\(table.errors)")
        #expect(table.output.contains("Outlet DH01 定海区市民卡服务大厅"), "\(table.output)")
        for heading in ["Business", "applications", "Staff", "Fees", "Loads", "Cash", "balance"] {
            #expect(table.output.contains(heading), "\(heading) in \(table.output)")
        }
        let json = try scratch.run(
            ["report", "outlet", "--outlet", "DH01", "--date", before.iso8601, "--data", data, "--json"])
        #expect(json.status == 0, "\(json.errors)")
        let report = try #require(
            try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any], "\(json.output)")
        #expect((report["outlet"] as? [String: Any])?["code"] as? String == "DH01")
        #expect(report["date"] as? String == before.iso8601)
        #expect((report["hours"] as? [Any])?.count == 24)
        if Self.today() == before {
            // The demo city's applications were taken at DH01 today (unless midnight passed meanwhile).
            let business = try #require(report["business"] as? [String: Any])
            #expect((business["applications"] as? Int ?? 0) > 0, "\(business)")
        }
        #expect(try scratch.query("SELECT count(*) FROM audit_log WHERE action = 'report.outlet.daily'") == "2")
        let verify = try scratch.run(["audit", "verify", "--data", data])
        #expect(verify.status == 0, "\(verify.output)\(verify.errors)")

        let unknown = try scratch.run(["report", "outlet", "--outlet", "XX99", "--date", "2026-03-02", "--data", data])
        #expect(unknown.status != 0 && unknown.errors.contains("no outlet with code XX99"), "\(unknown.errors)")
        let bad = try scratch.run(["report", "outlet", "--outlet", "DH01", "--date", "2 March", "--data", data])
        #expect(bad.status != 0 && bad.errors.contains("YYYY-MM-DD"), "\(bad.errors)")
    }
}
