public import Foundation
public import CitizenCardDomain

/// A person as stored: the personal data sealed, the attributes in clear, the blind index for
/// lookups by ID number and a fingerprint for idempotent imports. Storage never sees plaintext.
public struct SealedPerson: Hashable, Sendable {
    public var id: Person.ID
    /// Keyed digest of the resident ID number; unique.
    public var idIndex: Data
    /// Keyed digest of details and attributes; equal fingerprints mean equal data.
    public var fingerprint: Data
    /// `PersonalDetails`, sealed with AES-256-GCM.
    public var details: Data
    public var attributes: PersonAttributes
    public var version: Int64
    public var provenance: Provenance
    public var createdAt: Timestamp

    public init(
        id: Person.ID, idIndex: Data, fingerprint: Data, details: Data, attributes: PersonAttributes, version: Int64,
        provenance: Provenance, createdAt: Timestamp
    ) {
        self.id = id
        self.idIndex = idIndex
        self.fingerprint = fingerprint
        self.details = details
        self.attributes = attributes
        self.version = version
        self.provenance = provenance
        self.createdAt = createdAt
    }
}

/// A sealed portrait. Photos are never overwritten: a new portrait is a new photo, and person
/// versions keep pointing at the photos they had.
public struct StoredPhoto: Hashable, Sendable {
    public var id: PhotoID
    public var personID: Person.ID
    public var mediaType: String
    /// The image bytes, sealed.
    public var content: Data
    public var createdAt: Timestamp

    public init(id: PhotoID, personID: Person.ID, mediaType: String, content: Data, createdAt: Timestamp) {
        self.id = id
        self.personID = personID
        self.mediaType = mediaType
        self.content = content
        self.createdAt = createdAt
    }
}

/// A login session; the token itself is never stored, only its SHA-256.
public struct Session: Hashable, Sendable {
    public var tokenHash: Data
    public var operatorID: Operator.ID
    public var createdAt: Timestamp
    public var expiresAt: Timestamp

    public init(tokenHash: Data, operatorID: Operator.ID, createdAt: Timestamp, expiresAt: Timestamp) {
        self.tokenHash = tokenHash
        self.operatorID = operatorID
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }
}

/// The stored answer to a request that carried an `Idempotency-Key`.
public struct IdempotencyRecord: Hashable, Sendable {
    public var key: String
    /// SHA-256 of the actor, the route and the body; a different request with the same key is refused.
    public var requestHash: Data
    public var status: Int
    public var response: Data
    public var createdAt: Timestamp

    public init(key: String, requestHash: Data, status: Int, response: Data, createdAt: Timestamp) {
        self.key = key
        self.requestHash = requestHash
        self.status = status
        self.response = response
        self.createdAt = createdAt
    }
}

/// An audit entry before it is chained.
///
/// Its text never holds U+0000: the HTTP edge refuses such input (`TextRule`), and should any path
/// miss it, the draft replaces the character with U+FFFD, because SQLite stores text cut at a NUL
/// while the hash covers it whole, and one such entry would read as edited for ever.
public struct AuditDraft: Hashable, Sendable {
    public var at: Timestamp
    /// Operator user name, `system`, `import`, `self-service:<card>`.
    public var actor: String { didSet { actor = Self.storable(actor) } }
    /// Dotted verb, e.g. `card.report_written_loss`, `person.read`.
    public var action: String { didSet { action = Self.storable(action) } }
    /// What was acted on: `person:<id>`, `card:<id>`, `batch:<id>` …
    public var subject: String { didSet { subject = Self.storable(subject) } }
    /// Whose personal data it concerns, when it concerns one person (for "who read my data").
    public var personID: Person.ID?
    /// Why: the purpose of a read, the reason of a change.
    public var purpose: String { didSet { purpose = Self.storable(purpose) } }
    /// Non-personal details as compact JSON (states, amounts, counts); never names or numbers of persons.
    public var detail: String { didSet { detail = Self.storable(detail) } }

    public init(
        at: Timestamp, actor: String, action: String, subject: String, personID: Person.ID? = nil, purpose: String,
        detail: String = "{}"
    ) {
        self.at = at
        self.actor = Self.storable(actor)
        self.action = Self.storable(action)
        self.subject = Self.storable(subject)
        self.personID = personID
        self.purpose = Self.storable(purpose)
        self.detail = Self.storable(detail)
    }

    /// `text` with every U+0000 replaced by U+FFFD.
    static func storable(_ text: String) -> String {
        guard text.utf8.contains(0) else { return text }
        return String(String.UnicodeScalarView(text.unicodeScalars.map { $0.value == 0 ? "\u{FFFD}" : $0 }))
    }
}

/// A chained audit entry: `hash = SHA-256(previous hash ‖ canonical encoding of this entry)`.
///
/// The log is several independent chains, *lanes*, so that commits about different people do not
/// wait for each other: an entry's lane comes from whose data it concerns (`AuditChain.lane`), and
/// each lane has its own sequence and head. The embedded backend uses one lane.
public struct AuditEntry: Hashable, Sendable {
    public var lane: Int
    public var sequence: Int64
    public var draft: AuditDraft
    public var previousHash: Data
    public var hash: Data

    public init(lane: Int = 0, sequence: Int64, draft: AuditDraft, previousHash: Data, hash: Data) {
        self.lane = lane
        self.sequence = sequence
        self.draft = draft
        self.previousHash = previousHash
        self.hash = hash
    }

    /// Where this entry sits in the newest-first order of `auditEntries`.
    public var cursor: AuditCursor { AuditCursor(at: draft.at, lane: lane, sequence: sequence) }
}

/// A position in the audit log's newest-first order (time, lane, sequence): paging goes on
/// "before" a cursor.
public struct AuditCursor: Hashable, Sendable, CustomStringConvertible {
    public var at: Timestamp
    public var lane: Int
    public var sequence: Int64

    public init(at: Timestamp, lane: Int, sequence: Int64) {
        self.at = at
        self.lane = lane
        self.sequence = sequence
    }

    /// `1764400000.3.1234`: seconds, lane, sequence.
    public var description: String { "\(at.secondsSinceEpoch).\(lane).\(sequence)" }

    public init?(_ text: String) {
        let parts = text.split(separator: ".")
        guard parts.count == 3, let at = Int64(parts[0]), let lane = Int(parts[1]), let sequence = Int64(parts[2]),
            lane >= 0
        else { return nil }
        self.init(at: Timestamp(secondsSinceEpoch: at), lane: lane, sequence: sequence)
    }
}

public struct AuditFilter: Hashable, Sendable {
    public var actor: String?
    public var action: String?
    public var subject: String?
    public var personID: Person.ID?
    public var from: Timestamp?
    public var until: Timestamp?
    /// Only entries older than this position (paging backwards from the newest).
    public var before: AuditCursor?

    public init(
        actor: String? = nil, action: String? = nil, subject: String? = nil, personID: Person.ID? = nil,
        from: Timestamp? = nil, until: Timestamp? = nil, before: AuditCursor? = nil
    ) {
        self.actor = actor
        self.action = action
        self.subject = subject
        self.personID = personID
        self.from = from
        self.until = until
        self.before = before
    }
}

/// The outcome of checking every lane of the audit chain from its first entry to its head.
public struct AuditVerification: Hashable, Sendable {
    public enum Problem: Hashable, Sendable {
        /// The entry's stored hash is not the hash of its content: it was edited.
        case contentAltered
        /// The entry does not point at the hash of the entry before it: something was removed,
        /// inserted or reordered before it.
        case brokenLink
        /// Sequence numbers jump: entries are missing before this one.
        case missingEntries(expected: Int64)
        /// The recorded head does not match the last entry: entries were removed from the end.
        case headMismatch
        /// The entry is in a lane the store does not have.
        case unknownLane
    }

    public struct Bad: Hashable, Sendable {
        public var lane: Int
        public var sequence: Int64
        public var problem: Problem

        public init(lane: Int, sequence: Int64, problem: Problem) {
            self.lane = lane
            self.sequence = sequence
            self.problem = problem
        }
    }

    public var entriesChecked: Int64
    /// The first bad entry (lowest lane, then sequence); nil when every lane is intact.
    public var firstBad: Bad?
    /// SHA-256 over the heads of all lanes in lane order: one value to note down outside the
    /// database (e.g. daily) to detect a rewrite of the whole log.
    public var headHash: Data

    public var isIntact: Bool { firstBad == nil }

    public init(entriesChecked: Int64, firstBad: Bad?, headHash: Data) {
        self.entriesChecked = entriesChecked
        self.firstBad = firstBad
        self.headHash = headHash
    }
}

/// What happened to one row of an import batch.
public enum PersonImportOutcome: Hashable, Sendable {
    case inserted
    /// The person was already registered with exactly this data.
    case unchanged(Person.ID)
    /// The person is registered with different data; nothing was changed.
    case differs(Person.ID)
}

/// Named number sequences; values are handed out once and never reused (gaps are possible).
public enum SequenceName: String, Sendable, CaseIterable {
    case card
    case receipt
    case batch
}
