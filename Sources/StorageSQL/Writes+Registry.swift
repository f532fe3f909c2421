import CitizenCardDomain
import Foundation
import Ledger
package import Storage

extension Writes {
    /// Persons and their photos.
    package static func registry(
        _ change: ChangeSet.Change.Registry, dialect: SQLDialect
    ) throws(StorageError) -> WritePlan {
        switch change {
        case .insertPerson(let person): .steps(personInsert(person, dialect: dialect))
        case .updatePerson(let person, let expected): .steps(personUpdate(person, expected, dialect: dialect))
        case .insertPhoto(let photo):
            .steps([
                WriteStep(
                    """
                    INSERT INTO photos (id, person_id, media_type, content, created_at)
                    VALUES (\(photo.id.rawValue), \(photo.personID.rawValue), \(photo.mediaType), \(photo.content),
                        \(photo.createdAt.secondsSinceEpoch))
                    """)
            ])
        }
    }
}
