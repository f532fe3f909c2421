public import Foundation
import Crypto

/// The hash chain of the audit log, shared by every backend and by `audit verify`.
public enum AuditChain {
    /// The previous hash of the first entry.
    public static let genesis = Data(repeating: 0, count: 32)

    /// SHA-256 over the previous hash and a length-prefixed encoding of every field, so that no
    /// two different entries encode alike.
    public static func hash(previous: Data, sequence: Int64, draft: AuditDraft) -> Data {
        var hasher = SHA256()
        hasher.update(data: previous)
        var fields: [UInt8] = []
        func append(_ text: String) {
            let bytes = Array(text.utf8)
            append(UInt64(bytes.count))
            fields += bytes
        }
        func append(_ number: UInt64) {
            for shift in stride(from: 56, through: 0, by: -8) {
                fields.append(UInt8(truncatingIfNeeded: number >> UInt64(shift)))
            }
        }
        append(UInt64(bitPattern: sequence))
        append(UInt64(bitPattern: draft.at.secondsSinceEpoch))
        append(draft.actor)
        append(draft.action)
        append(draft.subject)
        append(draft.personID?.rawValue ?? "")
        append(draft.purpose)
        append(draft.detail)
        hasher.update(data: fields)
        return Data(hasher.finalize())
    }

    /// Checks entries in ascending sequence order, as they come, without holding them all.
    public struct Verifier {
        public private(set) var checked: Int64 = 0
        public private(set) var firstBad: (sequence: Int64, problem: AuditVerification.Problem)?
        public private(set) var lastHash = AuditChain.genesis
        var expectedSequence: Int64 = 1

        public init() {}

        /// Feeds the next stored entry; returns false once a bad entry was found.
        public mutating func check(_ entry: AuditEntry) -> Bool {
            guard firstBad == nil else { return false }
            checked += 1
            if entry.sequence != expectedSequence {
                firstBad = (entry.sequence, .missingEntries(expected: expectedSequence))
            } else if entry.previousHash != lastHash {
                firstBad = (entry.sequence, .brokenLink)
            } else if AuditChain.hash(previous: entry.previousHash, sequence: entry.sequence, draft: entry.draft)
                != entry.hash
            {
                firstBad = (entry.sequence, .contentAltered)
            }
            lastHash = entry.hash
            expectedSequence = entry.sequence + 1
            return firstBad == nil
        }

        /// Compares the end of the chain with the recorded head (sequence and hash).
        public mutating func finish(headSequence: Int64, headHash: Data) -> AuditVerification {
            if firstBad == nil && (headSequence != expectedSequence - 1 || headHash != lastHash) {
                firstBad = (max(headSequence, expectedSequence - 1), .headMismatch)
            }
            return AuditVerification(entriesChecked: checked, firstBad: firstBad, headHash: lastHash)
        }
    }
}
