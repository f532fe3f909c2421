public import Storage
public import StorageSQL
import Foundation
import CitizenCardDomain
import GRDB

/// A GRDB row read through the backend-neutral decoders of `Rows`.
struct SQLiteRow: RowReader {
    let row: Row
    /// The statement's columns by name (first of a name wins, as GRDB's lookup by name), so that a
    /// decoder's lookups by name are a hash each instead of GRDB's case-insensitive scan.
    let columns: [String: Int]?

    init(_ row: Row, columns: [String: Int]? = nil) {
        self.row = row
        self.columns = columns
    }

    /// `columns` for a statement's result columns.
    static func columnMap(_ names: [String]) -> [String: Int] {
        var map: [String: Int] = [:]
        for (index, name) in names.enumerated().reversed() { map[name.lowercased()] = index }
        return map
    }

    func column(_ name: String) throws -> DatabaseValue {
        if let columns {
            guard let index = columns[name] ?? columns[name.lowercased()] else {
                throw StorageError.corrupt(reason: "no column \(name)")
            }
            return row[index]
        }
        guard let value = row[name] as DatabaseValue? else { throw StorageError.corrupt(reason: "no column \(name)") }
        return value
    }

    func string(_ name: String) throws -> String {
        guard let value = String.fromDatabaseValue(try column(name)) else { throw StorageError.corrupt(reason: name) }
        return value
    }

    func optionalString(_ name: String) throws -> String? {
        let value = try column(name)
        if value.isNull { return nil }
        guard let text = String.fromDatabaseValue(value) else { throw StorageError.corrupt(reason: name) }
        return text
    }

    func int(_ name: String) throws -> Int64 {
        guard let value = Int64.fromDatabaseValue(try column(name)) else { throw StorageError.corrupt(reason: name) }
        return value
    }

    func optionalInt(_ name: String) throws -> Int64? {
        let value = try column(name)
        if value.isNull { return nil }
        guard let number = Int64.fromDatabaseValue(value) else { throw StorageError.corrupt(reason: name) }
        return number
    }

    func bool(_ name: String) throws -> Bool {
        guard let value = Bool.fromDatabaseValue(try column(name)) else { throw StorageError.corrupt(reason: name) }
        return value
    }

    func data(_ name: String) throws -> Data {
        guard let value = Data.fromDatabaseValue(try column(name)) else { throw StorageError.corrupt(reason: name) }
        return value
    }
    func optionalData(_ name: String) throws -> Data? {
        let value = try column(name)
        if value.isNull { return nil }
        guard let data = Data.fromDatabaseValue(value) else { throw StorageError.corrupt(reason: name) }
        return data
    }
}

extension SQLiteStore: SQLStore {
    public var dialect: SQLDialect { .sqlite }

    public func fetch<T: Sendable>(
        _ sql: StorageSQL.SQL, _ decode: @escaping @Sendable (any RowReader) throws -> T
    ) async throws(StorageError) -> [T] {
        let (text, values) = sql.rendered(.sqlite)
        let arguments = StatementArguments(values.map(\.databaseValue))
        return try await read { db in try Self.decodeAll(try db.cachedStatement(sql: text), arguments, decode) }
    }

    public func fetchInSnapshot<T: Sendable>(
        _ queries: [StorageSQL.SQL], _ decode: @escaping @Sendable (Int, any RowReader) throws -> T
    ) async throws(StorageError) -> [[T]] {
        // A read is one read transaction: one snapshot (WAL).
        try await read { db in
            try queries.enumerated().map { index, query in try Self.fetch(query, db) { try decode(index, $0) } }
        }
    }

    /// Runs a shared statement inside a transaction the caller holds.
    static func fetch<T>(_ sql: StorageSQL.SQL, _ db: Database, _ decode: (any RowReader) throws -> T) throws -> [T] {
        let (text, values) = sql.rendered(.sqlite)
        return try decodeAll(try db.cachedStatement(sql: text), StatementArguments(values.map(\.databaseValue))) {
            try decode($0)
        }
    }

    /// Runs a statement and decodes each row as it is stepped (no copies of the rows).
    static func decodeAll<T>(
        _ statement: Statement, _ arguments: StatementArguments, _ decode: (SQLiteRow) throws -> T
    ) throws -> [T] {
        let columns = SQLiteRow.columnMap(statement.columnNames)
        let cursor = try Row.fetchCursor(statement, arguments: arguments)
        var result: [T] = []
        while let row = try cursor.next() { result.append(try decode(SQLiteRow(row, columns: columns))) }
        return result
    }

    public func verifyAuditChain() async throws(StorageError) -> AuditVerification {
        try await read { db in
            var verifier = AuditChain.Verifier(laneCount: SQLiteSchema.auditLaneCount)
            let rows = try Row.fetchCursor(db, sql: AuditChain.entriesInOrder.rendered(.sqlite).text)
            while let row = try rows.next() {
                if !verifier.check(try Rows.audit(SQLiteRow(row))) { break }
            }
            return verifier.finish(heads: try Self.fetch(AuditChain.headsInOrder, db, AuditChain.head))
        }
    }
}
