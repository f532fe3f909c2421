import Storage
import StorageSQL
import CitizenCardDomain
import Foundation
import Ledger
import NIOCore
import PostgresNIO

/// The commit of an uploaded batch of offline purchases as one statement, atomic by itself (no
/// BEGIN and COMMIT): it writes the batch, its records, the released records, the chains and the
/// fraud signals, adds the transfer's postings to the ledger's balances where they are stored
/// (accounts updated, then the new ones created) and checks them there against the policy's limits
/// (`LedgerPolicy.signedLimits`), and appends the audit entry. A chain or a released record moved
/// by a concurrent commit, or a limit broken, raises an error inside the statement, so that
/// nothing of it is kept; a refusal by the ledger is then decided again change by change, where
/// the ledger says exactly which rule broke.
struct UploadCommit: Sendable {
    var batch: PurchaseBatch
    var response: Data
    var purchases: [OfflinePurchase] = []
    var released: [OfflinePurchase] = []
    var chains: [PurseChain] = []
    var transfer: (Transfer, LedgerPolicy)?
    var signals: [FraudSignal] = []

    enum Outcome: Sendable { case committed, ledgerRefused }

    /// The changes of an upload (`AcquiringService`): a batch first, then at most one of each of
    /// the other kinds; nil for any other change set.
    init?(_ changes: ChangeSet) {
        guard !changes.audit.isEmpty,
            case .acquiring(.insertPurchaseBatch(let batch, let response))? = changes.changes.first
        else { return nil }
        self.batch = batch
        self.response = response
        var seen = Set<Int>()
        for change in changes.changes.dropFirst() {
            let kind: Int
            switch change {
            case .acquiring(.insertPurchases(let p)):
                kind = 0
                purchases = p
            case .acquiring(.releasePurchases(let p)):
                kind = 1
                released = p
            case .acquiring(.putPurseChains(let c)):
                kind = 2
                chains = c
            case .ledger(.postTransfer(let t, let policy)):
                kind = 3
                transfer = (t, policy)
            case .acquiring(.insertFraudSignals(let s)):
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
    /// `.ledgerRefused` when the ledger's rules refused the transfer in the statement (a limit,
    /// an overflow, an id already taken): nothing was written, and the caller decides again with
    /// the ledger's own checks. Throws `.conflict` when a chain or a released record moved.
    func commit(_ upload: UploadCommit, audit: [AuditDraft]) async throws(StorageError) -> UploadCommit.Outcome {
        if let (transfer, policy) = upload.transfer {
            do { try transfer.validate(policy: policy) } catch { throw .ledger(error) }
        }
        let lane = Int64(AuditChain.lane(of: audit, count: PostgresSchema.auditLaneCount))
        let statement = PostgresPrepared.UploadCommitStatement(upload, audit: audit, lane: lane)
        let logger = self.logger
        return try await self.statement { connection in
            do {
                for try await _ in try await connection.execute(statement, logger: logger) {}
                return .committed
            } catch  where Self.isLedgerRefusal(error) {
                return .ledgerRefused
            }
        }
    }

    /// The ledger's refusals inside the upload statement: a limit (`CC422`), an overflow of a
    /// balance (`22003`), a transfer id already taken.
    static func isLedgerRefusal(_ error: any Error) -> Bool {
        guard let error = underlying(error) as? PSQLError, let state = error.serverInfo?[.sqlState] else {
            return false
        }
        return state == "CC422" || state == "22003"
            || (state == "23505" && error.serverInfo?[.constraintName] == "ledger_transfers_pkey")
    }
}

extension PostgresPrepared {
    /// `PostgresStore.commit(_:audit:)`'s statement. Its result is the audit's last sequence.
    struct UploadCommitStatement: PostgresPreparedStatement {
        static let name = "citizencard_upload_commit"
        static let sql = """
            WITH batch AS (
                INSERT INTO purchase_batches (id, terminal_id, merchant_id, number, content_hash, record_count,
                    posted_count, risk_count, parked_count, duplicate_count, accepted_fen, received_at, response)
                VALUES ($1::text, $2::text, $3::text, $4::bigint, $5::text, $6::bigint, $7::bigint, $8::bigint,
                    $9::bigint, $10::bigint, $11::bigint, $12::bigint, $13::bytea)
            ), purchases AS (
                \(purchasesInsert(into: "offline_purchases", first: 14))
            ), released AS (
                UPDATE offline_purchases SET outcome = r.outcome, reason = NULL, posted_at = r.posted_at,
                    posted_on = r.posted_on
                FROM unnest($38::text[], $39::text[], $40::bigint[], $41::text[]) AS r (id, outcome, posted_at, posted_on)
                WHERE offline_purchases.id = r.id AND offline_purchases.outcome = 'parked'
                RETURNING 1
            ), \(chainsWrites(first: 42)), signals AS (
                INSERT INTO fraud_signals (id, kind, card_id, asn, purchase_id, evidence, detected_at)
                SELECT id, kind, NULLIF(card_id, ''), asn, NULLIF(purchase_id, ''), evidence, detected_at
                FROM unnest($51::text[], $52::text[], $53::text[], $54::text[], $55::text[], $56::text[],
                    $57::bigint[])
                    AS r (id, kind, card_id, asn, purchase_id, evidence, detected_at)
            ), transfer AS (
                INSERT INTO ledger_transfers (id, sequence, kind, at, memo)
                SELECT $58::text, nextval('ledger_sequence'), $59::text, $60::bigint, $61::text WHERE $62::boolean
                RETURNING id, sequence
            ), updated AS (
                -- Accounts the ledger has, the posting added where the balance is stored: taken in key
                -- order when the plan follows the array; a deadlock with another upload is retried.
                UPDATE ledger_accounts a SET balance_fen = CASE
                    WHEN (l.amount < 0 AND a.balance_fen + l.amount < l.lower)
                        OR (l.amount > 0 AND a.balance_fen + l.amount > l.upper)
                    THEN citizencard_refuse('CC422', 'ledger limit')
                    ELSE a.balance_fen + l.amount END
                FROM unnest($63::text[], $65::bigint[], $66::bigint[], $67::bigint[]) AS l (id, amount, lower, upper)
                WHERE a.id = l.id
                RETURNING a.id, a.balance_fen AS after, l.amount
            ), created AS (
                -- Accounts new to the ledger (not among those updated) start at their posting, if it
                -- keeps to their limits.
                INSERT INTO ledger_accounts (id, category, balance_fen)
                SELECT id, category, amount FROM unnest($63::text[], $64::text[], $65::bigint[], $66::bigint[],
                    $67::bigint[]) AS m (id, category, amount, lower, upper)
                WHERE m.id NOT IN (SELECT id FROM updated)
                    AND NOT ((amount < 0 AND amount < lower) OR (amount > 0 AND amount > upper))
                ON CONFLICT (id) DO NOTHING
                RETURNING id, balance_fen AS after, balance_fen AS amount
            ), postings AS (
                INSERT INTO ledger_postings (transfer_id, account_id, sequence, amount_fen, balance_after_fen)
                SELECT transfer.id, moved.id, transfer.sequence, moved.amount, moved.after
                FROM transfer, (SELECT * FROM created UNION ALL SELECT * FROM updated) AS moved
                RETURNING 1
            )
            SELECT CASE
                WHEN \(chainsWritten) <> $76::bigint THEN citizencard_refuse('CC409', 'purse chain')
                WHEN (SELECT count(*) FROM released) <> $77::bigint
                    THEN citizencard_refuse('CC409', 'offline purchase')
                -- A new account beyond its limits, or one created by a concurrent commit after this
                -- statement began: decided again change by change.
                WHEN (SELECT count(*) FROM postings) <> cardinality($63::text[])
                    THEN citizencard_refuse('CC422', 'ledger limit')
                ELSE audit_append($68::bigint, $69::bigint[], $70::text[], $71::text[], $72::text[], $73::text[],
                    $74::text[], $75::text[])
            END
            """
        var binds: PostgresBindings

        init(_ u: UploadCommit, audit: [AuditDraft], lane: Int64) {
            var binds = PostgresBindings(capacity: 77)
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
            appendPurchases(u.purchases, to: &binds)
            let r = u.released
            binds.appendColumn(r.map(\.id.rawValue))
            binds.appendColumn(r.map(\.outcome.rawValue))
            binds.appendColumn(r.map { $0.postedAt?.secondsSinceEpoch ?? 0 })
            binds.appendColumn(r.map { Rows.postedOn($0.postedAt) ?? "" })
            let c = u.chains
            appendChains(c, to: &binds)
            let s = u.signals
            binds.appendColumn(s.map(\.id.rawValue))
            binds.appendColumn(s.map(\.kind.rawValue))
            binds.appendColumn(s.map { $0.cardID?.rawValue ?? "" })
            binds.appendColumn(s.map(\.asn))
            binds.appendColumn(s.map { $0.purchaseID?.rawValue ?? "" })
            binds.appendColumn(s.map(\.evidence))
            binds.appendColumn(s.map(\.detectedAt.secondsSinceEpoch))
            let transfer = u.transfer?.0
            binds.append(transfer?.id.rawValue ?? "")
            binds.append(transfer?.kind.rawValue ?? "")
            binds.append(transfer?.at.secondsSinceEpoch ?? 0)
            binds.append(transfer?.memo ?? "")
            binds.append(transfer != nil)
            // Postings in key order, the order the accounts are locked in: a transfer keeps its
            // postings sorted by account, one per account once validated.
            let postings = transfer?.postings ?? []
            let limits = postings.map { u.transfer!.1.signedLimits(for: $0.account) }
            binds.appendColumn(postings.map(\.account.rawValue))
            binds.appendColumn(postings.map(\.account.category.rawValue))
            binds.appendColumn(postings.map(\.amountFen))
            binds.appendColumn(limits.map(\.lower))
            binds.appendColumn(limits.map(\.upper))
            binds.append(lane)
            binds.appendColumn(audit.map(\.at.secondsSinceEpoch))
            binds.appendColumn(audit.map(\.actor))
            binds.appendColumn(audit.map(\.action))
            binds.appendColumn(audit.map(\.subject))
            binds.appendColumn(audit.map { $0.personID?.rawValue ?? "" })
            binds.appendColumn(audit.map(\.purpose))
            binds.appendColumn(audit.map(\.detail))
            binds.append(Int64(c.count))
            binds.append(Int64(r.count))
            self.binds = binds
        }

        func makeBindings() throws -> PostgresBindings { binds }

        func decodeRow(_ row: PostgresRow) throws -> PostgresRow { row }
    }
}

extension PostgresPrepared {
    /// The chains' writes as two CTEs, `chains_moved` and `chains_new`, one row returned per chain
    /// written (`chainsWritten`); their nine arrays (`appendChains`) are the parameters from
    /// `$first` on. A chain the store had moves only from its version before
    /// (`version = new version - 1`); a new one (version 1) is inserted, unless a concurrent commit
    /// inserted it first. A plain update, not an upsert: an upsert locks each row it finds before
    /// updating it, one more write per chain.
    static func chainsWrites(first: Int) -> String {
        let p = (first..<first + 9).map { "$\($0)" }
        let rows = """
            unnest(\(p[0])::text[], \(p[1])::bigint[], \(p[2])::bigint[], \(p[3])::bigint[], \(p[4])::bigint[],
                \(p[5])::text[], \(p[6])::bigint[], \(p[7])::bigint[], \(p[8])::bigint[])
                AS r (card_id, next_counter, balance_fen, next_online_counter, last_tapped_at, last_terminal_id,
                latitude, longitude, version)
            """
        return """
            chains_moved AS (
                UPDATE purse_chains SET next_counter = r.next_counter, balance_fen = r.balance_fen,
                    next_online_counter = r.next_online_counter, last_tapped_at = NULLIF(r.last_tapped_at, -1),
                    last_terminal_id = NULLIF(r.last_terminal_id, ''),
                    last_latitude_e6 = NULLIF(r.latitude, -999999999),
                    last_longitude_e6 = NULLIF(r.longitude, -999999999), version = r.version
                FROM \(rows)
                WHERE purse_chains.card_id = r.card_id AND purse_chains.version = r.version - 1
                RETURNING 1
            ), chains_new AS (
                INSERT INTO purse_chains (card_id, next_counter, balance_fen, next_online_counter, last_tapped_at,
                    last_terminal_id, last_latitude_e6, last_longitude_e6, version)
                SELECT card_id, next_counter, balance_fen, next_online_counter, NULLIF(last_tapped_at, -1),
                    NULLIF(last_terminal_id, ''), NULLIF(latitude, -999999999), NULLIF(longitude, -999999999), version
                FROM \(rows)
                WHERE r.version = 1
                ON CONFLICT (card_id) DO NOTHING
                RETURNING 1
            )
            """
    }

    /// The number of chains `chainsWrites` wrote.
    static let chainsWritten = "((SELECT count(*) FROM chains_moved) + (SELECT count(*) FROM chains_new))"

    /// The insert of purchase rows into `table` (`offline_purchases`, or the ingest benchmark's
    /// copy) from their 24 column arrays (`appendPurchases`), the parameters from `$first` on;
    /// NULLs travel as "" or -1.
    static func purchasesInsert(into table: String, first: Int) -> String {
        let types = [
            "text", "text", "text", "text", "text", "text", "bigint", "text", "bigint", "bigint", "bigint", "bigint",
            "bigint", "bigint", "bigint", "bigint", "text", "text", "text", "text", "text", "bigint", "text", "bigint",
        ]
        let arrays = types.enumerated().map { "$\(first + $0.offset)::\($0.element)[]" }.joined(separator: ", ")
        return """
            INSERT INTO \(table) (id, batch_id, terminal_id, merchant_id, card_id, asn, card_counter, psam_serial,
                terminal_serial, amount_fen, balance_before_fen, balance_after_fen, transaction_type, tapped_at,
                key_version, algorithm_id, tac, mac2, record_status, outcome, reason, posted_at, posted_on,
                received_at)
            SELECT id, batch_id, terminal_id, merchant_id, NULLIF(card_id, ''), asn, card_counter, psam_serial,
                terminal_serial, amount_fen, balance_before_fen, balance_after_fen, transaction_type, tapped_at,
                key_version, algorithm_id, tac, mac2, record_status, outcome, NULLIF(reason, ''),
                NULLIF(posted_at, -1), NULLIF(posted_on, ''), received_at
            FROM unnest(\(arrays))
                AS r (id, batch_id, terminal_id, merchant_id, card_id, asn, card_counter, psam_serial,
                terminal_serial, amount_fen, balance_before_fen, balance_after_fen, transaction_type, tapped_at,
                key_version, algorithm_id, tac, mac2, record_status, outcome, reason, posted_at, posted_on,
                received_at)
            """
    }

    /// The 24 arrays of `purchasesInsert`.
    static func appendPurchases(_ p: [OfflinePurchase], to binds: inout PostgresBindings) {
        binds.appendColumn(p.map(\.id.rawValue))
        binds.appendColumn(p.map(\.batchID.rawValue))
        binds.appendColumn(p.map(\.terminalID.rawValue))
        binds.appendColumn(p.map(\.merchantID.rawValue))
        binds.appendColumn(p.map { $0.cardID?.rawValue ?? "" })
        binds.appendColumn(p.map(\.asn))
        binds.appendColumn(p.map(\.cardCounter))
        binds.appendColumn(p.map(\.psamSerial))
        binds.appendColumn(p.map(\.terminalSerial))
        binds.appendColumn(p.map(\.amountFen))
        binds.appendColumn(p.map(\.balanceBeforeFen))
        binds.appendColumn(p.map(\.balanceAfterFen))
        binds.appendColumn(p.map(\.transactionType))
        binds.appendColumn(p.map(\.tappedAt.secondsSinceEpoch))
        binds.appendColumn(p.map(\.keyVersion))
        binds.appendColumn(p.map(\.algorithmID))
        binds.appendColumn(p.map(\.tac))
        binds.appendColumn(p.map(\.mac2))
        binds.appendColumn(p.map(\.recordStatus))
        binds.appendColumn(p.map(\.outcome.rawValue))
        binds.appendColumn(p.map { $0.reason?.rawValue ?? "" })
        binds.appendColumn(p.map { $0.postedAt?.secondsSinceEpoch ?? -1 })
        binds.appendColumn(p.map { Rows.postedOn($0.postedAt) ?? "" })
        binds.appendColumn(p.map(\.receivedAt.secondsSinceEpoch))
    }

    /// The nine arrays of `chainsWrites`.
    static func appendChains(_ c: [PurseChain], to binds: inout PostgresBindings) {
        binds.appendColumn(c.map(\.cardID.rawValue))
        binds.appendColumn(c.map(\.nextCounter))
        binds.appendColumn(c.map(\.balanceFen))
        binds.appendColumn(c.map(\.nextOnlineCounter))
        binds.appendColumn(c.map { $0.lastTappedAt?.secondsSinceEpoch ?? -1 })
        binds.appendColumn(c.map { $0.lastTerminalID?.rawValue ?? "" })
        binds.appendColumn(c.map { $0.lastLatitudeE6 ?? -999_999_999 })
        binds.appendColumn(c.map { $0.lastLongitudeE6 ?? -999_999_999 })
        binds.appendColumn(c.map(\.version))
    }
}
