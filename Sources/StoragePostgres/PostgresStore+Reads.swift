public import Storage
public import StorageSQL
public import Foundation
public import CitizenCardDomain
import NIOCore
import PostgresNIO

extension PostgresStore: SQLStore {
    public var dialect: SQLDialect { .postgres }

    public func fetch<T: Sendable>(
        _ sql: SQL, _ decode: @escaping @Sendable (any RowReader) throws -> T
    ) async throws(StorageError) -> [T] {
        try await reading(sql.postgresQuery) { try decode($0) }
    }

    public func fetchInSnapshot<T: Sendable>(
        _ queries: [SQL], _ decode: @escaping @Sendable (Int, any RowReader) throws -> T
    ) async throws(StorageError) -> [[T]] {
        let logger = self.logger
        return try await transaction { connection in
            try await connection.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", logger: logger)
            var result: [[T]] = []
            for (index, query) in queries.enumerated() {
                result.append(try await Self.fetch(query, connection, logger) { try decode(index, $0) })
            }
            return result
        }
    }

    /// Runs a shared statement inside a transaction the caller holds.
    static func fetch<T>(
        _ sql: SQL, _ connection: PostgresConnection, _ logger: Logger, _ decode: (any RowReader) throws -> T
    ) async throws -> [T] {
        var result: [T] = []
        for try await row in try await connection.query(sql.postgresQuery, logger: logger) {
            result.append(try decode(Columns(row.makeRandomAccess())))
        }
        return result
    }

    // MARK: Persons

    /// Persons whose ID-number claim is missing or points elsewhere, plus claims without their
    /// person: 0 when `person_id_claims` mirrors `persons` (docs/scaling.md; a nightly check on a
    /// distributed database, where the two live on different shards).
    public func personIDClaimMismatches() async throws(StorageError) -> Int {
        let rows = try await reading(
            """
            SELECT count(*) AS n FROM persons p
            FULL JOIN person_id_claims c ON c.id_index = p.id_index AND c.person_id = p.id
            WHERE p.id IS NULL OR c.person_id IS NULL
            """
        ) { try $0.int("n") }
        return Int(rows.first ?? 0)
    }

    /// PostgreSQL's own: the identity check of every lifecycle action reads the card with its
    /// holder's blind index, so the query is prepared once per connection (the shared version in
    /// `SQLStore` is parsed on every call and cost the lifecycle benchmark about a tenth).
    public func cardWithHolderIndex(id: Card.ID) async throws(StorageError) -> (card: Card, holderIndex: Data)? {
        do {
            for try await row in try await client.execute(
                PostgresPrepared.CardWithHolder(id: id.rawValue), logger: logger)
            {
                let columns = Columns(row.makeRandomAccess())
                return (try Rows.card(columns), try columns.data("holder_index"))
            }
            return nil
        } catch {
            throw failed(error)
        }
    }

    public func verifyAuditChain() async throws(StorageError) -> AuditVerification {
        do {
            return try await client.withConnection { connection in
                // One snapshot for the chain and its head.
                try await connection.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: logger)
                var verifier = AuditChain.Verifier(laneCount: PostgresSchema.auditLaneCount)
                for try await row in try await connection.query(
                    AuditChain.entriesInOrder.postgresQuery, logger: logger)
                {
                    if !verifier.check(try Rows.audit(Columns(row.makeRandomAccess()))) { break }
                }
                let heads = try await Self.fetch(AuditChain.headsInOrder, connection, logger, AuditChain.head)
                try await connection.query("COMMIT", logger: logger)
                return verifier.finish(heads: heads)
            }
        } catch {
            throw failed(error)
        }
    }
}
