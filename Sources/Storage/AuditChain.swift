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

    /// The lane of a commit's entries: from whose data the first entry concerns (or its subject),
    /// so that one person's history stays in one chain. FNV-1a, stable across processes.
    public static func lane(of drafts: [AuditDraft], count: Int) -> Int {
        precondition(count > 0)
        guard count > 1, let first = drafts.first else { return 0 }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in (first.personID?.rawValue ?? first.subject).utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        return Int(hash % UInt64(count))
    }

    /// SHA-256 over the heads of all lanes, in lane order.
    public static func combinedHead(_ heads: [(sequence: Int64, hash: Data)]) -> Data {
        var hasher = SHA256()
        for head in heads {
            hasher.update(data: withUnsafeBytes(of: head.sequence.bigEndian) { Data($0) })
            hasher.update(data: head.hash)
        }
        return Data(hasher.finalize())
    }

    /// Checks entries ordered by lane, then sequence, as they come, without holding them all.
    public struct Verifier {
        public private(set) var checked: Int64 = 0
        public private(set) var firstBad: AuditVerification.Bad?
        let laneCount: Int
        var lane = -1
        var lastHash = AuditChain.genesis
        var expectedSequence: Int64 = 1
        /// The last sequence and hash seen in each lane.
        var ends: [Int: (sequence: Int64, hash: Data)] = [:]

        public init(laneCount: Int) { self.laneCount = laneCount }

        /// Feeds the next stored entry; returns false once a bad entry was found.
        public mutating func check(_ entry: AuditEntry) -> Bool {
            guard firstBad == nil else { return false }
            checked += 1
            if entry.lane != lane {
                lane = entry.lane
                lastHash = AuditChain.genesis
                expectedSequence = 1
            }
            let problem: AuditVerification.Problem?
            if !(0..<laneCount).contains(entry.lane) {
                problem = .unknownLane
            } else if entry.sequence != expectedSequence {
                problem = .missingEntries(expected: expectedSequence)
            } else if entry.previousHash != lastHash {
                problem = .brokenLink
            } else if AuditChain.hash(previous: entry.previousHash, sequence: entry.sequence, draft: entry.draft)
                != entry.hash
            {
                problem = .contentAltered
            } else {
                problem = nil
            }
            if let problem { firstBad = .init(lane: entry.lane, sequence: entry.sequence, problem: problem) }
            lastHash = entry.hash
            expectedSequence = entry.sequence + 1
            ends[entry.lane] = (entry.sequence, entry.hash)
            return firstBad == nil
        }

        /// Compares the end of each lane with its recorded head (`heads[lane]`).
        public mutating func finish(heads: [(sequence: Int64, hash: Data)]) -> AuditVerification {
            if firstBad == nil {
                for (lane, head) in heads.enumerated() {
                    let end = ends[lane] ?? (0, AuditChain.genesis)
                    if head.sequence != end.sequence || head.hash != end.hash {
                        firstBad = .init(lane: lane, sequence: max(head.sequence, end.sequence), problem: .headMismatch)
                        break
                    }
                }
                if heads.count != laneCount && firstBad == nil {
                    firstBad = .init(lane: heads.count, sequence: 0, problem: .unknownLane)
                }
            }
            return AuditVerification(
                entriesChecked: checked, firstBad: firstBad, headHash: AuditChain.combinedHead(heads))
        }
    }
}
