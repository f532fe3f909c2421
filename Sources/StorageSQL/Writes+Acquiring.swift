import CitizenCardDomain
import Foundation
import Ledger
package import Storage

extension Writes {
    /// Merchants, terminals, their uploads, records, chains, signals, exceptions and clearing.
    package static func acquiring(
        _ change: ChangeSet.Change.Acquiring, dialect: SQLDialect
    ) throws(StorageError) -> WritePlan {
        switch change {
        case .insertMerchant(let m):
            .steps([
                WriteStep(
                    """
                    INSERT INTO merchants (id, code, name, commission_bp, active, created_at, version)
                    VALUES (\(m.id.rawValue), \(m.code), \(m.name), \(m.commissionBasisPoints), \(m.active),
                        \(m.createdAt.secondsSinceEpoch), \(m.version))
                    """)
            ])
        case .updateMerchant(let m, let expected):
            .steps([
                WriteStep(
                    """
                    UPDATE merchants SET code = \(m.code), name = \(m.name), commission_bp = \(m.commissionBasisPoints),
                        active = \(m.active), version = \(m.version)
                    WHERE id = \(m.id.rawValue) AND version = \(expected)
                    """, rows: .one(conflict: "merchant"))
            ])
        case .insertTerminal(let t):
            .steps([
                WriteStep(
                    """
                    INSERT INTO terminals (id, number, merchant_id, psam_serial, location, latitude_e6, longitude_e6,
                        key_hash, hotlist_version, last_sign_in_at, active, created_at, version)
                    VALUES (\(t.id.rawValue), \(t.number), \(t.merchantID.rawValue), \(t.psamSerial), \(t.location),
                        \(t.latitudeE6), \(t.longitudeE6), \(Data(t.keyHash)), \(t.hotlistVersion),
                        \(t.lastSignInAt?.secondsSinceEpoch), \(t.active), \(t.createdAt.secondsSinceEpoch),
                        \(t.version))
                    """)
            ])
        case .updateTerminal(let t, let expected):
            .steps([
                WriteStep(
                    """
                    UPDATE terminals SET number = \(t.number), merchant_id = \(t.merchantID.rawValue),
                        psam_serial = \(t.psamSerial), location = \(t.location), latitude_e6 = \(t.latitudeE6),
                        longitude_e6 = \(t.longitudeE6), key_hash = \(Data(t.keyHash)),
                        hotlist_version = \(t.hotlistVersion), last_sign_in_at = \(t.lastSignInAt?.secondsSinceEpoch),
                        active = \(t.active), version = \(t.version)
                    WHERE id = \(t.id.rawValue) AND version = \(expected)
                    """, rows: .one(conflict: "terminal"))
            ])
        case .insertPurchaseBatch(let b, let response):
            .steps([
                WriteStep(
                    """
                    INSERT INTO purchase_batches (id, terminal_id, merchant_id, number, content_hash, record_count,
                        posted_count, risk_count, parked_count, duplicate_count, accepted_fen, received_at, response)
                    VALUES (\(b.id.rawValue), \(b.terminalID.rawValue), \(b.merchantID.rawValue), \(b.number),
                        \(b.contentHash), \(b.recordCount), \(b.postedCount), \(b.riskCount), \(b.parkedCount),
                        \(b.duplicateCount), \(b.acceptedFen), \(b.receivedAt.secondsSinceEpoch), \(response))
                    """)
            ])
        case .insertPurchases(let purchases): .bulk(.insertPurchases(purchases))
        case .releasePurchases(let purchases): .bulk(.releasePurchases(purchases))
        case .putPurseChains(let chains): .bulk(.putPurseChains(chains))
        case .insertFraudSignals(let signals): .bulk(.insertFraudSignals(signals))
        case .closeException(let c):
            .steps([
                WriteStep(
                    """
                    INSERT INTO purchase_exception_closures (purchase_id, note, closed_by, closed_at)
                    SELECT id, \(c.note), \(c.closedBy), \(c.closedAt.secondsSinceEpoch) FROM offline_purchases
                    WHERE id = \(c.purchaseID.rawValue) AND outcome = 'parked'
                        AND (reason IN (\(raw: Rows.closableReasonsSQL))
                            OR card_counter
                                < (SELECT next_counter FROM purse_chains WHERE card_id = offline_purchases.card_id))
                    ON CONFLICT (purchase_id) DO NOTHING
                    """, rows: .one(conflict: "exception"))
            ])
        case .insertClearingResults(let results): .steps(results.isEmpty ? [] : [clearingResultsInsert(results)])
        }
    }
}
