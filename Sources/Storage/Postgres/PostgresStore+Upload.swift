import CitizenCardDomain
import Foundation
import Ledger
import NIOCore
import PostgresNIO

/// The commit of an uploaded batch of offline purchases in two statements between BEGIN and
/// COMMIT instead of one per change: the first writes the batch, its records, the released
/// records, the chains and the fraud signals, creates the ledger accounts of the transfer and locks
/// them; the second, once the transfer is decided on the balances read under those locks, posts it
/// and appends the audit entry. Both are prepared once per connection.
struct UploadCommit: Sendable {
    var batch: PurchaseBatch
    var response: Data
    var purchases: [OfflinePurchase] = []
    var released: [OfflinePurchase] = []
    var chains: [PurseChain] = []
    var transfer: (Transfer, LedgerPolicy)?
    var signals: [FraudSignal] = []

    /// The changes of an upload (`AcquiringService`): a batch first, then at most one of each of
    /// the other kinds; nil for any other change set.
    init?(_ changes: ChangeSet) {
        guard !changes.audit.isEmpty, case .insertPurchaseBatch(let batch, let response)? = changes.changes.first
        else { return nil }
        self.batch = batch
        self.response = response
        var seen = Set<Int>()
        for change in changes.changes.dropFirst() {
            let kind: Int
            switch change {
            case .insertPurchases(let p):
                kind = 0
                purchases = p
            case .releasePurchases(let p):
                kind = 1
                released = p
            case .putPurseChains(let c):
                kind = 2
                chains = c
            case .postTransfer(let t, let policy):
                kind = 3
                transfer = (t, policy)
            case .insertFraudSignals(let s):
                kind = 4
                signals = s
            default:
                return nil
            }
            guard seen.insert(kind).inserted else { return nil }
        }
    }
}

extension PostgresStore {
    static func commit(
        _ upload: UploadCommit, audit: [AuditDraft], _ connection: PostgresConnection, _ logger: Logger
    ) async throws {
        let accounts = upload.transfer?.0.accounts.sorted() ?? []
        var balances: [AccountID: Int64] = [:]
        var chainCount = 0, releasedCount = 0
        var transferExists = false
        for try await (kind, id, number) in try await connection.execute(
            PostgresPrepared.UploadWrite(upload, accounts: accounts), logger: logger)
        {
            switch kind {
            case "account":
                guard let account = AccountID(parsing: id) else {
                    throw StorageError.corrupt(reason: "ledger account key")
                }
                balances[account] = number
            case "chains": chainCount = Int(number)
            case "released": releasedCount = Int(number)
            default: transferExists = true
            }
        }
        guard chainCount == upload.chains.count else { throw StorageError.conflict(entity: "purse chain") }
        guard releasedCount == upload.released.count else { throw StorageError.conflict(entity: "offline purchase") }
        var posting: (Transfer, [AccountID: Int64])? = nil
        if let (transfer, policy) = upload.transfer {
            // An account created by a concurrent commit after this statement's snapshot: lock it now.
            let missing = accounts.filter { balances[$0] == nil }
            if !missing.isEmpty {
                let locked = try await connection.query(
                    """
                    SELECT id, balance_fen FROM ledger_accounts WHERE id = ANY(\(missing.map(\.rawValue)))
                    ORDER BY id FOR UPDATE
                    """, logger: logger)
                for try await (id, balance) in locked.decode((String, Int64).self) {
                    guard let account = AccountID(parsing: id) else {
                        throw StorageError.corrupt(reason: "ledger account key")
                    }
                    balances[account] = balance
                }
            }
            let existing = transferExists ? try await entry(transfer.id.rawValue, connection, logger) : nil
            if let after = try LedgerRows.decide(transfer, policy: policy, existing: existing, balances: balances) {
                posting = (transfer, after)
            }
        }
        let lane = Int64(AuditChain.lane(of: audit, count: PostgresSchema.auditLaneCount))
        for try await _ in try await connection.execute(
            PostgresPrepared.UploadPosting(posting, audit: audit, lane: lane), logger: logger)
        {}
    }
}

extension PostgresPrepared {
    /// The first statement of `PostgresStore.commit(_:audit:_:_:)`: every write of the upload but
    /// the ledger's, the transfer's accounts created and locked. Rows: ("account", id, balance)
    /// per account, ("chains", "", rows written), ("released", "", rows written), and
    /// ("transfer", "", sequence) if the transfer's id is taken.
    struct UploadWrite: PostgresPreparedStatement {
        static let name = "citizencard_upload_write"
        static let sql = """
            WITH batch AS (
                INSERT INTO purchase_batches (id, terminal_id, merchant_id, number, content_hash, record_count,
                    posted_count, risk_count, parked_count, duplicate_count, accepted_fen, received_at, response)
                VALUES ($1::text, $2::text, $3::text, $4::bigint, $5::text, $6::bigint, $7::bigint, $8::bigint,
                    $9::bigint, $10::bigint, $11::bigint, $12::bigint, $13::bytea)
            ), purchases AS (
                INSERT INTO offline_purchases (id, batch_id, terminal_id, merchant_id, card_id, asn, card_counter,
                    psam_serial, terminal_serial, amount_fen, balance_before_fen, balance_after_fen, transaction_type,
                    tapped_at, key_version, algorithm_id, tac, mac2, record_status, outcome, reason, posted_at,
                    posted_on, received_at)
                SELECT id, batch_id, terminal_id, merchant_id, NULLIF(card_id, ''), asn, card_counter, psam_serial,
                    terminal_serial, amount_fen, balance_before_fen, balance_after_fen, transaction_type, tapped_at,
                    key_version, algorithm_id, tac, mac2, record_status, outcome, NULLIF(reason, ''),
                    NULLIF(posted_at, -1), NULLIF(posted_on, ''), received_at
                FROM unnest($14::text[], $15::text[], $16::text[], $17::text[], $18::text[], $19::text[],
                    $20::bigint[], $21::text[], $22::bigint[], $23::bigint[], $24::bigint[], $25::bigint[],
                    $26::bigint[], $27::bigint[], $28::bigint[], $29::bigint[], $30::text[], $31::text[],
                    $32::text[], $33::text[], $34::text[], $35::bigint[], $36::text[], $37::bigint[])
                    AS r (id, batch_id, terminal_id, merchant_id, card_id, asn, card_counter, psam_serial,
                    terminal_serial, amount_fen, balance_before_fen, balance_after_fen, transaction_type, tapped_at,
                    key_version, algorithm_id, tac, mac2, record_status, outcome, reason, posted_at, posted_on,
                    received_at)
            ), released AS (
                UPDATE offline_purchases SET outcome = r.outcome, reason = NULL, posted_at = r.posted_at,
                    posted_on = r.posted_on
                FROM unnest($38::text[], $39::text[], $40::bigint[], $41::text[]) AS r (id, outcome, posted_at, posted_on)
                WHERE offline_purchases.id = r.id AND offline_purchases.outcome = 'parked'
                RETURNING 1
            ), chains AS (
                INSERT INTO purse_chains (card_id, next_counter, balance_fen, next_online_counter, last_tapped_at,
                    last_terminal_id, last_latitude_e6, last_longitude_e6, version)
                SELECT card_id, next_counter, balance_fen, next_online_counter, NULLIF(last_tapped_at, -1),
                    NULLIF(last_terminal_id, ''), NULLIF(latitude, -999999999), NULLIF(longitude, -999999999), version
                FROM unnest($42::text[], $43::bigint[], $44::bigint[], $45::bigint[], $46::bigint[], $47::text[],
                    $48::bigint[], $49::bigint[], $50::bigint[])
                    AS r (card_id, next_counter, balance_fen, next_online_counter, last_tapped_at, last_terminal_id,
                    latitude, longitude, version)
                ON CONFLICT (card_id) DO UPDATE SET next_counter = excluded.next_counter,
                    balance_fen = excluded.balance_fen, next_online_counter = excluded.next_online_counter,
                    last_tapped_at = excluded.last_tapped_at, last_terminal_id = excluded.last_terminal_id,
                    last_latitude_e6 = excluded.last_latitude_e6, last_longitude_e6 = excluded.last_longitude_e6,
                    version = excluded.version
                WHERE purse_chains.version = excluded.version - 1
                RETURNING 1
            ), signals AS (
                INSERT INTO fraud_signals (id, kind, card_id, asn, purchase_id, evidence, detected_at)
                SELECT id, kind, NULLIF(card_id, ''), asn, NULLIF(purchase_id, ''), evidence, detected_at
                FROM unnest($51::text[], $52::text[], $53::text[], $54::text[], $55::text[], $56::text[],
                    $57::bigint[])
                    AS r (id, kind, card_id, asn, purchase_id, evidence, detected_at)
            ), created AS (
                INSERT INTO ledger_accounts (id, category, balance_fen)
                SELECT id, category, 0 FROM unnest($58::text[], $59::text[]) AS a (id, category)
                ORDER BY id
                ON CONFLICT (id) DO NOTHING
                RETURNING id
            ), locked AS (
                SELECT id, balance_fen FROM ledger_accounts WHERE id IN (SELECT unnest($58::text[]))
                ORDER BY id FOR UPDATE
            )
            SELECT 'account' AS kind, id, balance_fen AS n FROM locked
            UNION ALL SELECT 'account', id, 0 FROM created
            UNION ALL SELECT 'chains', '', count(*) FROM chains
            UNION ALL SELECT 'released', '', count(*) FROM released
            UNION ALL SELECT 'transfer', '', sequence FROM ledger_transfers WHERE id = $60::text
            """
        var binds: PostgresBindings

        init(_ u: UploadCommit, accounts: [AccountID]) {
            var binds = PostgresBindings(capacity: 60)
            let b = u.batch
            binds.append(b.id.rawValue)
            binds.append(b.terminalID.rawValue)
            binds.append(b.merchantID.rawValue)
            binds.append(b.number)
            binds.append(b.contentHash)
            binds.append(b.recordCount)
            binds.append(b.postedCount)
            binds.append(b.riskCount)
            binds.append(b.parkedCount)
            binds.append(b.duplicateCount)
            binds.append(b.acceptedFen)
            binds.append(b.receivedAt.secondsSinceEpoch)
            binds.append(ByteBuffer(bytes: u.response))
            let p = u.purchases
            binds.append(p.map(\.id.rawValue))
            binds.append(p.map(\.batchID.rawValue))
            binds.append(p.map(\.terminalID.rawValue))
            binds.append(p.map(\.merchantID.rawValue))
            binds.append(p.map { $0.cardID?.rawValue ?? "" })
            binds.append(p.map(\.asn))
            binds.append(p.map(\.cardCounter))
            binds.append(p.map(\.psamSerial))
            binds.append(p.map(\.terminalSerial))
            binds.append(p.map(\.amountFen))
            binds.append(p.map(\.balanceBeforeFen))
            binds.append(p.map(\.balanceAfterFen))
            binds.append(p.map(\.transactionType))
            binds.append(p.map(\.tappedAt.secondsSinceEpoch))
            binds.append(p.map(\.keyVersion))
            binds.append(p.map(\.algorithmID))
            binds.append(p.map(\.tac))
            binds.append(p.map(\.mac2))
            binds.append(p.map(\.recordStatus))
            binds.append(p.map(\.outcome.rawValue))
            binds.append(p.map { $0.reason?.rawValue ?? "" })
            binds.append(p.map { $0.postedAt?.secondsSinceEpoch ?? -1 })
            binds.append(p.map { Rows.postedOn($0.postedAt) ?? "" })
            binds.append(p.map(\.receivedAt.secondsSinceEpoch))
            let r = u.released
            binds.append(r.map(\.id.rawValue))
            binds.append(r.map(\.outcome.rawValue))
            binds.append(r.map { $0.postedAt?.secondsSinceEpoch ?? 0 })
            binds.append(r.map { Rows.postedOn($0.postedAt) ?? "" })
            let c = u.chains
            binds.append(c.map(\.cardID.rawValue))
            binds.append(c.map(\.nextCounter))
            binds.append(c.map(\.balanceFen))
            binds.append(c.map(\.nextOnlineCounter))
            binds.append(c.map { $0.lastTappedAt?.secondsSinceEpoch ?? -1 })
            binds.append(c.map { $0.lastTerminalID?.rawValue ?? "" })
            binds.append(c.map { $0.lastLatitudeE6 ?? -999_999_999 })
            binds.append(c.map { $0.lastLongitudeE6 ?? -999_999_999 })
            binds.append(c.map(\.version))
            let s = u.signals
            binds.append(s.map(\.id.rawValue))
            binds.append(s.map(\.kind.rawValue))
            binds.append(s.map { $0.cardID?.rawValue ?? "" })
            binds.append(s.map(\.asn))
            binds.append(s.map { $0.purchaseID?.rawValue ?? "" })
            binds.append(s.map(\.evidence))
            binds.append(s.map(\.detectedAt.secondsSinceEpoch))
            binds.append(accounts.map(\.rawValue))
            binds.append(accounts.map(\.category.rawValue))
            binds.append(u.transfer?.0.id.rawValue ?? "")
            self.binds = binds
        }

        func makeBindings() throws -> PostgresBindings { binds }

        func decodeRow(_ row: PostgresRow) throws -> (String, String, Int64) {
            try row.decode((String, String, Int64).self)
        }
    }

    /// The second statement: the transfer posted (when given) with the balances after, then the
    /// audit entries chained after the head of their lane (`audit_append`), which stays locked
    /// until the commit.
    struct UploadPosting: PostgresPreparedStatement {
        static let name = "citizencard_upload_posting"
        static let sql = """
            WITH transfer AS (
                INSERT INTO ledger_transfers (id, sequence, kind, at, memo)
                SELECT $1::text, nextval('ledger_sequence'), $2::text, $3::bigint, $4::text WHERE $5::boolean
                RETURNING id, sequence
            ), postings AS (
                INSERT INTO ledger_postings (transfer_id, account_id, sequence, amount_fen, balance_after_fen)
                SELECT transfer.id, p.account, transfer.sequence, p.amount, p.after
                FROM transfer, unnest($6::text[], $7::bigint[], $8::bigint[]) AS p (account, amount, after)
            ), balances AS (
                UPDATE ledger_accounts SET balance_fen = n.after
                FROM unnest($6::text[], $8::bigint[]) AS n (account, after)
                WHERE ledger_accounts.id = n.account
            )
            SELECT audit_append($9::bigint, $10::bigint[], $11::text[], $12::text[], $13::text[], $14::text[],
                $15::text[], $16::text[])
            """
        var binds: PostgresBindings

        init(_ posting: (Transfer, [AccountID: Int64])?, audit: [AuditDraft], lane: Int64) {
            var binds = PostgresBindings(capacity: 16)
            let transfer = posting?.0
            binds.append(transfer?.id.rawValue ?? "")
            binds.append(transfer?.kind.rawValue ?? "")
            binds.append(transfer?.at.secondsSinceEpoch ?? 0)
            binds.append(transfer?.memo ?? "")
            binds.append(posting != nil)
            let postings = transfer?.postings ?? []
            binds.append(postings.map(\.account.rawValue))
            binds.append(postings.map(\.amountFen))
            binds.append(postings.map { posting?.1[$0.account] ?? 0 })
            binds.append(lane)
            binds.append(audit.map(\.at.secondsSinceEpoch))
            binds.append(audit.map(\.actor))
            binds.append(audit.map(\.action))
            binds.append(audit.map(\.subject))
            binds.append(audit.map { $0.personID?.rawValue ?? "" })
            binds.append(audit.map(\.purpose))
            binds.append(audit.map(\.detail))
            self.binds = binds
        }

        func makeBindings() throws -> PostgresBindings { binds }

        func decodeRow(_ row: PostgresRow) throws -> PostgresRow { row }
    }
}
