import CitizenCardDomain
import Foundation

extension AcquiringService.BatchAnswer {
    /// The first byte of the compact form; a JSON answer starts with `{`.
    static let compactMarker: UInt8 = 0x01

    /// The answer as stored for an identical re-upload, which gets back an equal answer
    /// (`init(stored:)`). Compact when every record sits at its own index and every purchase id is a
    /// lowercase UUID, as in every answer this service makes: the batch as JSON, then per record its
    /// outcome, its reason and the 16 bytes of its id (about 19 bytes a record instead of about 80);
    /// JSON otherwise.
    func stored() throws -> Data {
        var bytes: [UInt8] = [Self.compactMarker]
        bytes.reserveCapacity(512 + 20 * records.count)
        let batchJSON = try APIJSON.encoder.encode(batch)
        Self.append(UInt32(batchJSON.count), to: &bytes)
        bytes.append(contentsOf: batchJSON)
        Self.append(UInt32(records.count), to: &bytes)
        for (position, record) in records.enumerated() {
            guard record.index == position, Self.appendUUID(record.purchaseId, to: &bytes) else {
                return try APIJSON.encoder.encode(self)
            }
            bytes.append(Self.code(record.outcome))
            bytes.append(record.reason.map(Self.code) ?? 0)
        }
        return Data(bytes)
    }

    /// An answer stored by `stored()`, in either form.
    init(stored data: Data) throws {
        guard data.first == Self.compactMarker else {
            self = try APIJSON.decoder.decode(Self.self, from: data)
            return
        }
        let bytes = [UInt8](data)
        var position = 1
        func take(_ count: Int) throws -> ArraySlice<UInt8> {
            guard count >= 0, bytes.count - position >= count else { throw StoredAnswerError() }
            defer { position += count }
            return bytes[position..<position + count]
        }
        func number() throws -> Int { try take(4).reduce(0) { $0 << 8 | Int($1) } }
        let batch = try APIJSON.decoder.decode(PurchaseBatch.self, from: Data(try take(try number())))
        let count = try number()
        var records: [OfflineBatchAssessment.RecordResult] = []
        records.reserveCapacity(min(count, bytes.count))
        for index in 0..<count {
            let id = Self.uuid(try take(16))
            let fields = try take(2)
            guard let outcome = Self.outcome(fields.first!) else { throw StoredAnswerError() }
            var reason: OfflinePurchase.ParkReason? = nil
            if fields.last! != 0 {
                guard let known = Self.reason(fields.last!) else { throw StoredAnswerError() }
                reason = known
            }
            records.append(.init(index: index, outcome: outcome, reason: reason, purchaseId: id))
        }
        guard position == bytes.count else { throw StoredAnswerError() }
        self.init(batch: batch, records: records)
    }

    struct StoredAnswerError: Error {}

    static func append(_ value: UInt32, to bytes: inout [UInt8]) {
        for shift in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> shift)) }
    }

    // The codes of the compact form: fixed here, whatever the order of the enumerations' cases.

    static func code(_ outcome: OfflineBatchAssessment.RecordResult.Outcome) -> UInt8 {
        switch outcome {
        case .posted: 1
        case .risk: 2
        case .parked: 3
        case .duplicate: 4
        }
    }

    static func outcome(_ code: UInt8) -> OfflineBatchAssessment.RecordResult.Outcome? {
        switch code {
        case 1: .posted
        case 2: .risk
        case 3: .parked
        case 4: .duplicate
        default: nil
        }
    }

    static func code(_ reason: OfflinePurchase.ParkReason) -> UInt8 {
        switch reason {
        case .badTAC: 1
        case .replay: 2
        case .gap: 3
        case .balanceMismatch: 4
        case .unknownCard: 5
        }
    }

    static func reason(_ code: UInt8) -> OfflinePurchase.ParkReason? {
        switch code {
        case 1: .badTAC
        case 2: .replay
        case 3: .gap
        case 4: .balanceMismatch
        case 5: .unknownCard
        default: nil
        }
    }

    /// The 16 bytes of `text` if it is a UUID in lowercase 8-4-4-4-12 form; false otherwise.
    static func appendUUID(_ text: String, to bytes: inout [UInt8]) -> Bool {
        var utf8 = text.utf8.makeIterator()
        var count = 0
        var high: UInt8? = nil
        var digits = 0
        let start = bytes.count
        while let byte = utf8.next() {
            defer { count += 1 }
            if count == 8 || count == 13 || count == 18 || count == 23 {
                guard byte == UInt8(ascii: "-") else { break }
                continue
            }
            let value: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): value = byte - UInt8(ascii: "a") + 10
            default:
                bytes.removeSubrange(start...)
                return false
            }
            digits += 1
            if let first = high {
                bytes.append(first << 4 | value)
                high = nil
            } else {
                high = value
            }
        }
        guard count == 36, digits == 32 else {
            bytes.removeSubrange(start...)
            return false
        }
        return true
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// Lowercase 8-4-4-4-12.
    static func uuid(_ bytes: ArraySlice<UInt8>) -> String {
        String(unsafeUninitializedCapacity: 36) { buffer in
            var position = 0
            for (index, byte) in bytes.enumerated() {
                if index == 4 || index == 6 || index == 8 || index == 10 {
                    buffer[position] = UInt8(ascii: "-")
                    position += 1
                }
                buffer[position] = hexDigits[Int(byte >> 4)]
                buffer[position + 1] = hexDigits[Int(byte & 0x0F)]
                position += 2
            }
            return position
        }
    }
}
