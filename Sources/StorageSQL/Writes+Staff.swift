import CitizenCardDomain
import Foundation
import Ledger
package import Storage

extension Writes {
    /// Outlets, staff accounts and their sessions.
    package static func staff(
        _ change: ChangeSet.Change.Staff, dialect: SQLDialect
    ) throws(StorageError) -> WritePlan {
        switch change {
        case .insertOutlet(let outlet):
            .steps([
                WriteStep(
                    """
                    INSERT INTO outlets (id, code, name, name_zh, region_code, address)
                    VALUES (\(outlet.id.rawValue), \(outlet.code), \(outlet.name), \(outlet.nameZh),
                        \(outlet.regionCode), \(outlet.address))
                    """)
            ])
        case .insertOperator(let staff):
            .steps([
                WriteStep(
                    """
                    INSERT INTO operators (id, username, display_name, role, outlet_id, password_hash, active)
                    VALUES (\(staff.id.rawValue), \(staff.username), \(staff.displayName), \(staff.role.rawValue),
                        \(staff.outletID?.rawValue), \(staff.passwordHash), \(staff.active))
                    """)
            ])
        case .updateOperator(let staff):
            .steps([
                WriteStep(
                    """
                    UPDATE operators SET display_name = \(staff.displayName), role = \(staff.role.rawValue),
                        outlet_id = \(staff.outletID?.rawValue), password_hash = \(staff.passwordHash),
                        active = \(staff.active)
                    WHERE id = \(staff.id.rawValue)
                    """, rows: .one(conflict: "operator"))
            ])
        case .insertSession(let session):
            .steps([
                WriteStep(
                    """
                    INSERT INTO sessions (token_hash, operator_id, created_at, expires_at)
                    VALUES (\(session.tokenHash), \(session.operatorID.rawValue),
                        \(session.createdAt.secondsSinceEpoch), \(session.expiresAt.secondsSinceEpoch))
                    """)
            ])
        case .deleteSession(let tokenHash):
            .steps([WriteStep("DELETE FROM sessions WHERE token_hash = \(tokenHash)")])
        case .deleteSessions(let operatorID, let keeping):
            .steps([
                WriteStep(
                    """
                    DELETE FROM sessions
                    WHERE operator_id = \(operatorID.rawValue) AND token_hash \(isDistinctFrom) \(keeping)
                    """)
            ])
        }
    }
}
