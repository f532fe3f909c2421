import CitizenCardDomain
import Foundation
import Ledger
package import Storage

extension Writes {
    /// E-purse loads and closures.
    package static func purse(
        _ change: ChangeSet.Change.Purse, dialect: SQLDialect
    ) throws(StorageError) -> WritePlan {
        switch change {
        case .insertPurseLoad(let load):
            .steps([
                WriteStep(
                    """
                    INSERT INTO purse_loads (\(raw: Rows.purseLoadColumns.joined(separator: ", ")))
                    VALUES (\(SQL.list(purseLoadValues(load))))
                    """)
            ])
        case .updatePurseLoad(let load, let expected):
            .steps([
                WriteStep(
                    """
                    UPDATE purse_loads SET tac = \(load.tac), status = \(load.status.rawValue),
                        resolved_at = \(load.resolvedAt?.secondsSinceEpoch), resolution = \(load.resolution),
                        version = \(load.version)
                    WHERE id = \(load.id.rawValue) AND version = \(expected)
                    """, rows: .one(conflict: "load"))
            ])
        case .insertPurseClosure(let c):
            .steps([
                WriteStep(
                    """
                    INSERT INTO purse_closures (card_id, successor_id, kind, amount_fen, status, closed_at, settled_at,
                        settlement, version)
                    VALUES (\(c.cardID.rawValue), \(c.successorID?.rawValue), \(c.kind.rawValue), \(c.amountFen),
                        \(c.status.rawValue), \(c.closedAt.secondsSinceEpoch), \(c.settledAt?.secondsSinceEpoch),
                        \(c.settlement), \(c.version))
                    """)
            ])
        case .updatePurseClosure(let c, let expected):
            .steps([
                WriteStep(
                    """
                    UPDATE purse_closures SET status = \(c.status.rawValue),
                        settled_at = \(c.settledAt?.secondsSinceEpoch), settlement = \(c.settlement),
                        version = \(c.version)
                    WHERE card_id = \(c.cardID.rawValue) AND version = \(expected)
                    """, rows: .one(conflict: "purse closure"))
            ])
        }
    }
}
