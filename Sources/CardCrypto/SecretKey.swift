/// Secret key material: 8 bytes (single DES, session and TAC keys), 16 bytes (two-key 3DES, SM4,
/// master and card keys) or 24 bytes (three-key 3DES, for the standard test vectors only).
///
/// The bytes never appear in `description`, `debugDescription`, `dump` or string interpolation:
/// all of them print only the length. Code that must hand the bytes on (a keyring file, a card's
/// personalisation) asks for them by name through `withUnsafeKeyBytes`. Two keys compare in
/// constant time.
public struct SecretKey: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// The accepted lengths in bytes.
    public static let validByteCounts: Set<Int> = [8, 16, 24]

    /// The key bytes in place, unused bytes zero: no heap allocation and no reference counting
    /// per key, which matters when every card of a clearing run derives three keys.
    private var words: (UInt64, UInt64, UInt64) = (0, 0, 0)
    private let count: UInt8

    /// A key from its bytes; refuses any length but 8, 16 or 24.
    public init(bytes: some Sequence<UInt8>) throws(CardCryptoError) {
        let array = Array(bytes)
        guard Self.validByteCounts.contains(array.count) else {
            throw .invalidKeyLength(algorithm: "a card key", byteCount: array.count)
        }
        self.init(unchecked: array)
    }

    /// A key from hexadecimal text (`0123456789ABCDEFFEDCBA9876543210`).
    public init(hex: String) throws(CardCryptoError) {
        try self.init(bytes: Hex.decode(hex, field: "key"))
    }

    /// Bytes already checked by the caller (derivations that produce 8 or 16 bytes by construction).
    init(unchecked bytes: [UInt8]) {
        precondition(bytes.count == 8 || bytes.count == 16 || bytes.count == 24, "key of \(bytes.count) bytes")
        count = UInt8(bytes.count)
        withUnsafeMutableBytes(of: &words) { $0.copyBytes(from: bytes) }
    }

    /// The first `byteCount` (8 or 16) bytes at `source`.
    init(copying source: UnsafeRawPointer, byteCount: Int) {
        precondition(byteCount == 8 || byteCount == 16, "derived key of \(byteCount) bytes")
        count = UInt8(byteCount)
        withUnsafeMutableBytes(of: &words) {
            $0.copyMemory(from: UnsafeRawBufferPointer(start: source, count: byteCount))
        }
    }

    private init(words: (UInt64, UInt64, UInt64), count: UInt8) {
        self.words = words
        self.count = count
    }

    /// `byteCount` random bytes from OpenSSL's CSPRNG (`RAND_bytes`).
    public static func random(byteCount: Int = 16) throws(CardCryptoError) -> SecretKey {
        guard validByteCounts.contains(byteCount) else {
            throw .invalidKeyLength(algorithm: "a card key", byteCount: byteCount)
        }
        return SecretKey(unchecked: try OpenSSL.randomBytes(byteCount))
    }

    public var byteCount: Int { Int(count) }

    /// Lends the key bytes, for the few places that must store or transmit them (a keyring file,
    /// writing a card's keys at personalisation). Do not log what you receive.
    public func withUnsafeKeyBytes<Result, Failure: Error>(
        _ body: ([UInt8]) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try body(bytes)
    }

    /// The key bytes as an array, inside the module only.
    var bytes: [UInt8] { Swift.withUnsafeBytes(of: words) { Array($0.prefix(Int(count))) } }

    /// Lends a pointer to the key bytes to OpenSSL without copying them to the heap.
    func withUnsafePointer<Result>(_ body: (UnsafePointer<UInt8>) -> Result) -> Result {
        var copy = words
        return Swift.withUnsafeBytes(of: &copy) { raw in
            // The tuple of UInt64 is bound to its own type; bytes may be read through any pointer.
            body(raw.baseAddress.unsafelyUnwrapped.assumingMemoryBound(to: UInt8.self))
        }
    }

    /// The left half of a 16-byte key (KL), as an 8-byte key.
    package var left: SecretKey { SecretKey(words: (words.0, 0, 0), count: 8) }
    /// The right half of a 16-byte key (KR), as an 8-byte key.
    var right: SecretKey { SecretKey(words: (words.1, 0, 0), count: 8) }
    /// KL XOR KR of a 16-byte key, as an 8-byte key (the 3DES TAC key, §5.3).
    var folded: SecretKey { SecretKey(words: (words.0 ^ words.1, 0, 0), count: 8) }
    /// KL XOR KR twice, as a 16-byte key.
    var foldedTwice: SecretKey { SecretKey(words: (words.0 ^ words.1, words.0 ^ words.1, 0), count: 16) }

    /// The usual key check value: the first 3 bytes of the key encrypting a zero block. Safe to
    /// show to operators to tell keys apart; it does not reveal the key.
    public func checkValue(_ algorithm: BlockAlgorithm) throws(CardCryptoError) -> [UInt8] {
        let zero = [UInt8](repeating: 0, count: algorithm.blockByteCount)
        return Array(try algorithm.encrypt(zero, key: self).prefix(3))
    }

    /// Constant time: no branch depends on the key bytes.
    public static func == (lhs: SecretKey, rhs: SecretKey) -> Bool {
        let difference = (lhs.words.0 ^ rhs.words.0) | (lhs.words.1 ^ rhs.words.1) | (lhs.words.2 ^ rhs.words.2)
        return lhs.count == rhs.count && difference == 0
    }

    public var description: String { "SecretKey(\(count) bytes, redacted)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}
