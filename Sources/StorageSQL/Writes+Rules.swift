import CitizenCardDomain
import Foundation
import Ledger
package import Storage

extension Writes {
    /// Eligibility rules.
    package static func rules(
        _ change: ChangeSet.Change.Rules, dialect: SQLDialect
    ) throws(StorageError) -> WritePlan {
        switch change {
        case .insertEligibilityRule(let rule):
            .steps([
                WriteStep(
                    """
                    INSERT INTO eligibility_rules (id, code, title, title_zh, criteria, effective_from, effective_until)
                    VALUES (\(rule.id.rawValue), \(rule.code), \(rule.title), \(rule.titleZh), \(try criteria(rule)),
                        \(rule.effectiveFrom.iso8601), \(rule.effectiveUntil?.iso8601))
                    """)
            ])
        case .updateEligibilityRule(let rule):
            .steps([
                WriteStep(
                    """
                    UPDATE eligibility_rules SET code = \(rule.code), title = \(rule.title), title_zh = \(rule.titleZh),
                        criteria = \(try criteria(rule)), effective_from = \(rule.effectiveFrom.iso8601),
                        effective_until = \(rule.effectiveUntil?.iso8601)
                    WHERE id = \(rule.id.rawValue)
                    """, rows: .one(conflict: "eligibility rule"))
            ])
        }
    }
}
