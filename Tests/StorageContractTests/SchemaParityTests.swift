import CitizenCardTesting
import Storage
import Testing

/// The two backends keep hand-written schemas (each uses its engine's strengths: partitioning on
/// PostgreSQL, WITHOUT ROWID on SQLite); this test keeps them in step.
@Suite("Schema parity")
struct SchemaParityTests {
    @Test(
        "SQLite and PostgreSQL have the same tables, columns, nullability, keys and unique rules",
        .enabled(if: Backend.postgresURL != nil, "set CITIZENCARD_TEST_POSTGRES_URL to compare with PostgreSQL"))
    func sameSchema() async throws {
        let directory = TemporaryDirectory()
        let sqlite = try await Backend.sqlite.makeStore(in: directory)
        let postgres = try await Backend.postgres.makeStore(in: directory)
        var left = try await (sqlite as! any SchemaDescribing).describeSchema()
        var right = try await (postgres as! any SchemaDescribing).describeSchema()
        // By design: a partitioned table's primary key must contain the partition key.
        #expect(right.tables["audit_log"]?.primaryKey == ["lane", "sequence", "at"])
        right.tables["audit_log"]?.primaryKey = ["lane", "sequence"]
        #expect(left.tables.count == SchemaDescription.applicationTables.count)
        for name in SchemaDescription.applicationTables.sorted() {
            #expect(left.tables[name]?.columns.isEmpty == false, "\(name) exists in SQLite")
            #expect(
                left.tables[name] == right.tables[name],
                "\(name):\nSQLite     \(String(describing: left.tables[name]))\nPostgreSQL \(String(describing: right.tables[name]))"
            )
        }
        // By design: PostgreSQL keeps ID-number claims for a distributed layout (docs/scaling.md).
        #expect(right.tables["person_id_claims"]?.primaryKey == ["id_index"])
        #expect(right.tables["cards"]?.uniques == [["number"], ["asn"], ["person_id", "slot"]])
        #expect(left.tables["persons"]?.columns["social_insurance"] == .init(family: "integer", nullable: false))
        #expect(right.tables["cards"]?.columns["successor_id"] == .init(family: "text", nullable: true))
        left.tables = [:]
        try await sqlite.close()
        try await postgres.close()
    }

    @Test(
        "PostgreSQL is included in this run",
        .enabled(
            if: Backend.postgresURL != nil,
            "skipped: set CITIZENCARD_TEST_POSTGRES_URL=postgres://user@host:port/database to run the storage contract (and, with CITIZENCARD_TEST_BACKEND=postgres, every test) on PostgreSQL too"
        ))
    func postgresIncluded() async throws {
        let directory = TemporaryDirectory()
        let store = try await Backend.postgres.makeStore(in: directory)
        #expect(try await store.setting("nothing") == nil)
        try await store.close()
    }
}
