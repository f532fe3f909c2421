import Foundation
import PropertyBased
import StorageSQL
import Testing

/// The SQL type both backends render (issue 17): placeholders, typed NULLs, dialect choices,
/// nested statements; values never end up in the text.
@Suite("SQL rendering")
struct SQLRenderingTests {
    @Test("placeholders: ? on SQLite, $1… on PostgreSQL, values in order")
    func placeholders() {
        let name: String? = nil
        let statement: SQL = """
            UPDATE cards SET state = \("active"), note = \(name), version = \(Int64(3)) \
            WHERE id = \("c-1") AND version = \(2)
            """
        let sqlite = statement.rendered(.sqlite), postgres = statement.rendered(.postgres)
        #expect(sqlite.text == "UPDATE cards SET state = ?, note = ?, version = ? WHERE id = ? AND version = ?")
        #expect(postgres.text == "UPDATE cards SET state = $1, note = $2, version = $3 WHERE id = $4 AND version = $5")
        #expect(sqlite.values == postgres.values)
        #expect(
            sqlite.values == [.text("active"), .null(.text), .integer(3), .text("c-1"), .integer(2)])
    }

    @Test("dialect choices, raw text, nested statements and lists")
    func pieces() {
        let inner: SQL = "SELECT id FROM persons WHERE id_index = \(Data([1, 2]))"
        let list = SQL.joined(["\(1)", "\(2)", "\(3)"], separator: ", ")
        let statement: SQL = """
            SELECT \(raw: "asn")\(sqlite: "", postgres: " COLLATE \"C\"") FROM cards \
            WHERE person_id IN (\(inner)) AND slot IN (\(list)) AND active = \(true)
            """
        #expect(
            statement.rendered(.sqlite).text
                == "SELECT asn FROM cards WHERE person_id IN (SELECT id FROM persons WHERE id_index = ?) AND slot IN (?, ?, ?) AND active = ?"
        )
        #expect(
            statement.rendered(.postgres).text
                == "SELECT asn COLLATE \"C\" FROM cards WHERE person_id IN (SELECT id FROM persons WHERE id_index = $1) AND slot IN ($2, $3, $4) AND active = $5"
        )
        #expect(statement.rendered(.postgres).values.last == .boolean(true))
        #expect(statement.description == statement.rendered(.sqlite).text)
    }

    @Test("any text as a value stays a value: never in the statement's text")
    func valuesNeverInText() async {
        let scalars = Gen<Unicode.Scalar>.oneOf(
            Gen.unicodeScalar(in: " "..."~"), Gen.unicodeScalar(in: "\u{4E00}"..."\u{9FFF}"),
            Gen.unicodeScalar(in: "\u{0}"..."\u{1F}"))
        await propertyCheck(input: scalars.array(of: 0...40)) { list in
            let text = String(String.UnicodeScalarView(list))
            let statement: SQL =
                "SELECT * FROM persons WHERE id = \(text) OR id = \(text + "'; DROP TABLE persons; --")"
            for dialect in [SQLDialect.sqlite, .postgres] {
                let (rendered, values) = statement.rendered(dialect)
                #expect(values == [.text(text), .text(text + "'; DROP TABLE persons; --")])
                #expect(!rendered.contains("DROP"))
                let placeholders =
                    dialect == .sqlite
                    ? rendered.filter { $0 == "?" }.count : rendered.components(separatedBy: "$").count - 1
                #expect(placeholders == 2)
            }
        }
    }

    @Test("a step checks the rows it touched")
    func stepRows() {
        #expect(WriteStep("DELETE FROM sessions").failure(touched: 7) == nil)
        #expect(
            WriteStep("UPDATE cards", rows: .one(conflict: "card")).failure(touched: 0) == .conflict(entity: "card"))
        #expect(WriteStep("UPDATE cards", rows: .one(conflict: "card")).failure(touched: 1) == nil)
        #expect(
            WriteStep("INSERT", rows: .oneOrDuplicate(.personIDNumber)).failure(touched: 0)
                == .duplicate(.personIDNumber))
    }
}
