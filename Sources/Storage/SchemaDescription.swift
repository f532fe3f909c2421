/// A backend-neutral description of the schema: tables, their columns (type family and
/// nullability), primary keys and unique rules. `SchemaParityTests` compares the SQLite and the
/// PostgreSQL schema through it, so the two hand-written schemas cannot drift apart.
public struct SchemaDescription: Hashable, Sendable, CustomStringConvertible {
    public struct Column: Hashable, Sendable {
        /// `text`, `integer` (booleans included: SQLite keeps them as 0/1) or `blob`.
        public var family: String
        public var nullable: Bool

        public init(family: String, nullable: Bool) {
            self.family = family
            self.nullable = nullable
        }
    }

    public struct Table: Hashable, Sendable {
        public var columns: [String: Column]
        /// Column names of the primary key, in key order.
        public var primaryKey: [String]
        /// Column sets that are unique (constraints and unique indexes), each sorted.
        public var uniques: Set<[String]>

        package init(columns: [String: Column], primaryKey: [String], uniques: Set<[String]>) {
            self.columns = columns
            self.primaryKey = primaryKey
            self.uniques = uniques
        }
    }

    public var tables: [String: Table]

    package init(tables: [String: Table]) { self.tables = tables }

    public var description: String {
        tables.keys.sorted().map { name in
            let table = tables[name]!
            let columns = table.columns.keys.sorted().map {
                "\($0) \(table.columns[$0]!.family)\(table.columns[$0]!.nullable ? "?" : "")"
            }
            return
                "\(name)(\(columns.joined(separator: ", "))) pk \(table.primaryKey) unique \(table.uniques.sorted { $0.description < $1.description })"
        }.joined(separator: "\n")
    }

    /// The tables of the application (not the migration bookkeeping, not partitions).
    public static let applicationTables: Set<String> = [
        "persons", "person_versions", "photos", "outlets", "operators", "sessions", "production_batches", "cards",
        "card_events", "receipts", "fee_entries", "eligibility_rules", "audit_log", "audit_heads", "sequences",
        "idempotency_records", "settings", "ledger_accounts", "ledger_transfers", "ledger_postings",
        "purse_loads", "merchants", "terminals", "purchase_batches", "offline_purchases", "purse_chains",
        "fraud_signals", "hotlist_versions", "hotlist_entries", "clearing_results", "purse_closures",
        "query_credentials", "portal_sessions", "catalogue_entries", "service_activations",
        "purchase_exception_closures",
    ]

    /// Tables that only PostgreSQL has, for its distributed layout (docs/scaling.md).
    public static let postgresOnlyTables: Set<String> = ["person_id_claims"]

    package static func family(sqlite type: String) -> String {
        switch type.uppercased() {
        case "TEXT": "text"
        case "BLOB": "blob"
        default: "integer"
        }
    }

    package static func family(postgres type: String) -> String {
        switch type {
        case "text": "text"
        case "bytea": "blob"
        default: "integer"
        }
    }
}

/// Stores that can describe their schema.
public protocol SchemaDescribing {
    func describeSchema() async throws(StorageError) -> SchemaDescription
}
