/// A Token Status List (draft-ietf-oauth-status-list-20, §4): the status of every issued card code
/// reference, `bits` bits per entry, packed into bytes.
///
/// Entry `i` takes bits `(i mod k)·bits … (i mod k)·bits + bits − 1` of byte `i / k`, where
/// `k = 8 / bits`, counting from the least significant bit (draft §4.1 step 3): with `bits` 1,
/// entries 0–7 are bits 0–7 of byte 0. Status values (draft §7): 0 valid, 1 invalid (revoked),
/// 2 suspended; 3 and 12–15 application-specific.
///
/// Size: `count · bits / 8` bytes before compression, so one bit per card is 125,000 bytes for
/// 1,000,000 cards; zlib shrinks that to a few hundred bytes when few cards are revoked, and never
/// much beyond the raw size.
///
/// Guarantees: `bits` is 1, 2, 4 or 8; `count` is always a whole number of bytes' worth of
/// entries (a list made for 10 one-bit entries has 16, the last 6 valid), as the draft's decoders
/// see it; every value fits in `bits`.
public struct StatusList: Hashable, Sendable {
    /// The widths the draft allows.
    public static let allowedBits: Set<Int> = [1, 2, 4, 8]
    /// The most entries a decoded list may have by default: 2²⁴ (16,777,216), 2 MiB at one bit.
    public static let entryCountMaxDefault = 1 << 24

    public let bits: Int
    /// The packed entries, as compressed into `lst`.
    public private(set) var bytes: [UInt8]

    /// The number of entries: `bytes.count · 8 / bits`.
    public var count: Int { bytes.count * (8 / bits) }

    /// A list of at least `count` entries, all 0 (valid), rounded up to whole bytes.
    ///
    /// - Precondition: `bits` is 1, 2, 4 or 8; `count` is not negative.
    public init(bits: Int, count: Int) {
        precondition(Self.allowedBits.contains(bits), "a status list has 1, 2, 4 or 8 bits per entry")
        precondition(count >= 0, "a status list cannot have a negative count")
        let perByte = 8 / bits
        self.bits = bits
        self.bytes = [UInt8](repeating: 0, count: count / perByte + (count % perByte == 0 ? 0 : 1))
    }

    /// - Precondition: `bits` is 1, 2, 4 or 8.
    public init(bits: Int, bytes: [UInt8]) {
        precondition(Self.allowedBits.contains(bits), "a status list has 1, 2, 4 or 8 bits per entry")
        self.bits = bits
        self.bytes = bytes
    }

    /// The status at `index`, or nil when the list has no such entry (the draft: no statement can be
    /// made, the token must be rejected).
    public func get(_ index: Int) -> UInt8? {
        guard index >= 0, index < count else { return nil }
        let (byte, shift) = position(index)
        return (bytes[byte] >> shift) & mask
    }

    /// Sets the status at `index`.
    ///
    /// - Precondition: `index` in `0..<count`, `value` fits in `bits` (a programmer error: the
    ///   issuer numbers its own cards and knows its statuses).
    public mutating func set(_ index: Int, to value: UInt8) {
        precondition(index >= 0 && index < count, "status list index out of range")
        precondition(value <= mask, "status value does not fit in the list's bits")
        let (byte, shift) = position(index)
        bytes[byte] = bytes[byte] & ~(mask << shift) | value << shift
    }

    private var mask: UInt8 { bits == 8 ? 0xFF : UInt8(1 << bits) - 1 }

    private func position(_ index: Int) -> (byte: Int, shift: UInt8) {
        let perByte = 8 / bits
        return (index / perByte, UInt8(index % perByte * bits))
    }

    /// `lst`: the bytes in the zlib format at the highest level (draft §4.1 step 4).
    public func compressed() -> [UInt8] { Deflate.compress(bytes, level: Deflate.bestCompression) }

    /// A list from `lst` as published.
    ///
    /// - Throws: `.invalidStatusList` when `bits` is not 1, 2, 4 or 8; `.deflate` when `compressed`
    ///   is not zlib data or inflates to more than `entryCountMax` entries' worth of bytes.
    public init(
        bits: Int, compressed: [UInt8], entryCountMax: Int = entryCountMaxDefault
    )
        throws(CredentialFormatError)
    {
        guard Self.allowedBits.contains(bits) else { throw .invalidStatusList(reason: "bits is not 1, 2, 4 or 8") }
        precondition(entryCountMax >= 0, "entry limit cannot be negative")
        let bytes: [UInt8]
        do {
            bytes = try Deflate.decompress(compressed, byteCountMax: entryCountMax / (8 / bits))
        } catch { throw .deflate(error) }
        self.init(bits: bits, bytes: bytes)
    }
}

// MARK: - CBOR

extension StatusList {
    /// The `StatusList` CBOR structure (draft §4.3): `{"bits": uint, "lst": bstr}`.
    public func cbor() -> CBOR {
        ["bits": .unsigned(UInt64(bits)), "lst": .byteString(compressed())]
    }

    /// Reads the `StatusList` CBOR structure; `aggregation_uri` and other members are ignored.
    ///
    /// - Throws: `.invalidStatusList` when it is not a map, `bits` is absent or not 1, 2, 4 or 8,
    ///   `lst` is absent or not bytes; then the errors of `init(bits:compressed:entryCountMax:)`.
    public init(cbor: CBOR, entryCountMax: Int = entryCountMaxDefault) throws(CredentialFormatError) {
        guard cbor.entries != nil else { throw .invalidStatusList(reason: "not a map") }
        guard let bits = cbor["bits"]?.uint64, bits <= 8 else {
            throw .invalidStatusList(reason: "bits is not 1, 2, 4 or 8")
        }
        guard let lst = cbor["lst"]?.bytes else { throw .invalidStatusList(reason: "lst is not bytes") }
        try self.init(bits: Int(bits), compressed: lst, entryCountMax: entryCountMax)
    }
}
