import COpenSSL

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A block cipher of the card world.
public enum BlockAlgorithm: String, Sendable, CaseIterable, CustomStringConvertible {
    /// Single DES: 8-byte key, 8-byte block. The MAC key of PBOC session and TAC keys.
    case des
    /// Triple DES EDE: E(K1)·D(K2)·E(K3) with a 16-byte two-key key (K3 = K1, the PBOC case) or
    /// a 24-byte three-key key.
    case tripleDES
    /// SM4 (GB/T 32907): 16-byte key, 16-byte block.
    case sm4

    public var blockByteCount: Int { self == .sm4 ? 16 : 8 }

    /// The key lengths in bytes the algorithm accepts.
    public var keyByteCounts: [Int] {
        switch self {
        case .des: [8]
        case .tripleDES: [16, 24]
        case .sm4: [16]
        }
    }

    public var description: String {
        switch self {
        case .des: "DES"
        case .tripleDES: "3DES"
        case .sm4: "SM4"
        }
    }

    /// Encrypts one block (ECB, no padding) with this thread's cipher contexts.
    public func encrypt(_ block: [UInt8], key: SecretKey) throws(CardCryptoError) -> [UInt8] {
        try CipherEngine.current.encrypt(block, algorithm: self, key: key)
    }

    /// Decrypts one block (ECB, no padding) with this thread's cipher contexts.
    public func decrypt(_ block: [UInt8], key: SecretKey) throws(CardCryptoError) -> [UInt8] {
        try CipherEngine.current.decrypt(block, algorithm: self, key: key)
    }

    func variant(for key: SecretKey) throws(CardCryptoError) -> CipherVariant {
        switch (self, key.byteCount) {
        case (.des, 8): .des
        case (.tripleDES, 16): .tripleDES2
        case (.tripleDES, 24): .tripleDES3
        case (.sm4, 16): .sm4
        default: throw .invalidKeyLength(algorithm: description, byteCount: key.byteCount)
        }
    }
}

/// Reusable OpenSSL cipher contexts: one per cipher, mode and direction, created on first use and
/// re-keyed only when the key changes. Creating and keying an `EVP_CIPHER_CTX` costs more than
/// encrypting a block, so code that runs many operations (a clearing run verifying TACs, the SM4
/// million-iteration test) must reuse one engine.
///
/// Not thread-safe: use one engine per thread. `CipherEngine.current` is this thread's engine,
/// which every convenience function uses by default.
public final class CipherEngine {
    private static let slotCount = CipherVariant.allCases.count * 4
    /// Contexts by `slotIndex`; fixed storage rather than an array property, so that the hot path
    /// pays no exclusivity or copy-on-write checks.
    private let slots: UnsafeMutablePointer<CipherSlot?>
    /// Output space for CBC runs, so that a MAC allocates no cipher buffer.
    private var scratch: UnsafeMutablePointer<UInt8>
    private var scratchByteCount = 256

    public init() {
        slots = .allocate(capacity: Self.slotCount)
        slots.initialize(repeating: nil, count: Self.slotCount)
        scratch = .allocate(capacity: scratchByteCount)
    }

    deinit {
        slots.deinitialize(count: Self.slotCount)
        slots.deallocate()
        scratch.initialize(repeating: 0, count: scratchByteCount)
        scratch.deallocate()
    }

    /// The engine of the calling thread, created on first use and freed when the thread ends.
    /// Do not hand it to another thread.
    public static var current: CipherEngine {
        if let pointer = pthread_getspecific(threadKey) {
            return Unmanaged<CipherEngine>.fromOpaque(pointer).takeUnretainedValue()
        }
        let engine = CipherEngine()
        pthread_setspecific(threadKey, Unmanaged.passRetained(engine).toOpaque())
        return engine
    }

    /// True when this OpenSSL could not load its legacy provider and single DES runs as 3DES with
    /// a repeated key (same results, slower). Reported by the benchmark.
    public static var singleDESRunsAsTripleDES: Bool { OpenSSLAlgorithms.shared.singleDESViaTripleDES }

    /// Encrypts one block, ECB without padding.
    public func encrypt(
        _ block: [UInt8], algorithm: BlockAlgorithm, key: SecretKey
    ) throws(CardCryptoError) -> [UInt8] {
        try transform(block, algorithm: algorithm, key: key, encrypt: true)
    }

    /// Decrypts one block, ECB without padding.
    public func decrypt(
        _ block: [UInt8], algorithm: BlockAlgorithm, key: SecretKey
    ) throws(CardCryptoError) -> [UInt8] {
        try transform(block, algorithm: algorithm, key: key, encrypt: false)
    }

    private func transform(
        _ block: [UInt8], algorithm: BlockAlgorithm, key: SecretKey, encrypt: Bool
    ) throws(CardCryptoError) -> [UInt8] {
        let variant = try algorithm.variant(for: key)
        guard block.count == variant.blockByteCount else {
            throw .invalidBlockLength(algorithm: algorithm.description, byteCount: block.count)
        }
        let slot = try self.slot(variant, cbc: false, encrypt: encrypt)
        try slot.setKey(key)
        var ok = false
        let out = [UInt8](unsafeUninitializedCapacity: block.count) { buffer, count in
            ok = block.withUnsafeBufferPointer { slot.run(buffer.baseAddress, $0.baseAddress, count: block.count) }
            count = block.count
        }
        guard ok else { throw OpenSSL.error(encrypt ? "encrypt" : "decrypt") }
        return out
    }

    /// ECB encryption of an 8- or 16-byte `input` (one or two blocks), returned as a key: the
    /// derivations (diversification D ‖ ~D in one call, session keys) go from cipher to key with no
    /// array in between. The key length is checked by the callers.
    func encryptToKey(
        _ input: UnsafeRawBufferPointer, variant: CipherVariant, key: SecretKey
    ) throws(CardCryptoError) -> SecretKey {
        let count = input.count
        precondition(count == 8 || count == 16, "derivation input of \(count) bytes")
        let slot = try self.slot(variant, cbc: false, encrypt: true)
        try slot.setKey(key)
        let source = input.baseAddress.unsafelyUnwrapped.assumingMemoryBound(to: UInt8.self)
        guard slot.run(scratch, source, count: count) else { throw OpenSSL.error("encrypt") }
        return SecretKey(copying: scratch, byteCount: count)
    }

    func encryptToKey(_ input: [UInt8], variant: CipherVariant, key: SecretKey) throws(CardCryptoError) -> SecretKey {
        let result = input.withUnsafeBytes { raw in
            Result { () throws(CardCryptoError) in
                try encryptToKey(raw, variant: variant, key: key)
            }
        }
        return try result.get()
    }

    /// CBC encryption of `data` padded with `padding`, from `iv`, in the scratch buffer; returns the
    /// offset of the last block there. Padding in place saves a copy of the input per MAC.
    private func cbcIntoScratch(
        _ data: [UInt8], padding: MACPadding, variant: CipherVariant, key: SecretKey, iv: [UInt8]
    ) throws(CardCryptoError) -> Int {
        let blockSize = variant.blockByteCount
        precondition(iv.count == blockSize, "CBC-MAC IV of the wrong length")
        let padded = padding.paddedByteCount(data.count, blockByteCount: blockSize)
        if scratchByteCount < padded {
            scratch.initialize(repeating: 0, count: scratchByteCount)
            scratch.deallocate()
            scratchByteCount = max(padded, 2 * scratchByteCount)
            scratch = .allocate(capacity: scratchByteCount)
        }
        let slot = try self.slot(variant, cbc: true, encrypt: true)
        try slot.setKey(key, iv: iv)
        data.withUnsafeBufferPointer { source in
            if let base = source.baseAddress { scratch.update(from: base, count: data.count) }
        }
        if padded > data.count {
            var index = data.count
            if padding == .iso80 {
                scratch[index] = 0x80
                index += 1
            }
            (scratch + index).update(repeating: 0, count: padded - index)
        }
        guard slot.run(scratch, scratch, count: padded) else { throw OpenSSL.error("CBC-MAC") }
        return padded - blockSize
    }

    /// The last block of the CBC-MAC of `data`.
    func cbcLastBlock(
        _ data: [UInt8], padding: MACPadding, algorithm: BlockAlgorithm, key: SecretKey, iv: [UInt8]
    ) throws(CardCryptoError) -> [UInt8] {
        let variant = try algorithm.variant(for: key)
        let start = try cbcIntoScratch(data, padding: padding, variant: variant, key: key, iv: iv)
        return Array(UnsafeBufferPointer(start: scratch + start, count: variant.blockByteCount))
    }

    /// The leftmost 4 bytes of the CBC-MAC of `data`, after folding the last block's halves
    /// (left 8 XOR right 8) when `fold` is set; no intermediate array.
    func cbcMAC4(
        _ data: [UInt8], padding: MACPadding, algorithm: BlockAlgorithm, key: SecretKey, iv: [UInt8], fold: Bool
    ) throws(CardCryptoError) -> MAC4 {
        let variant = try algorithm.variant(for: key)
        let start = try cbcIntoScratch(data, padding: padding, variant: variant, key: key, iv: iv)
        var value: UInt32 = 0
        for index in start..<(start + 4) {
            let byte = fold ? scratch[index] ^ scratch[index + 8] : scratch[index]
            value = value << 8 | UInt32(byte)
        }
        return MAC4(value: value)
    }

    private func slot(_ variant: CipherVariant, cbc: Bool, encrypt: Bool) throws(CardCryptoError) -> CipherSlot {
        let index = variant.rawValue * 4 + (cbc ? 2 : 0) + (encrypt ? 0 : 1)
        if let slot = slots[index] { return slot }
        let slot = try CipherSlot(variant, cbc: cbc, encrypt: encrypt)
        slots[index] = slot
        return slot
    }
}

/// One `EVP_CIPHER_CTX` and the key it currently holds.
package final class CipherSlot {
    private let context: OpaquePointer
    private let encrypt: Bool
    /// Single DES run as 3DES K ‖ K (no legacy provider): keys are doubled before use.
    private let doublesKey: Bool
    /// The key the context was last initialised with, if any.
    private var key: SecretKey?

    package init(_ variant: CipherVariant, cbc: Bool, encrypt: Bool) throws(CardCryptoError) {
        let cipher = try OpenSSLAlgorithms.shared.cipher(variant, cbc: cbc)
        guard let context = EVP_CIPHER_CTX_new() else { throw OpenSSL.error("EVP_CIPHER_CTX_new") }
        // No EVP_CIPHER_CTX_set_padding: EVP_Cipher never pads, and a padding setting would be
        // re-applied through OpenSSL's parameter lookup on every re-key.
        guard EVP_CipherInit_ex2(context, cipher, nil, nil, encrypt ? 1 : 0, nil) == 1 else {
            EVP_CIPHER_CTX_free(context)
            throw OpenSSL.error("EVP_CipherInit_ex2")
        }
        self.context = context
        self.encrypt = encrypt
        self.doublesKey = variant == .des && OpenSSLAlgorithms.shared.singleDESViaTripleDES
    }

    deinit { EVP_CIPHER_CTX_free(context) }

    /// Keys the context unless it already holds `newKey` (re-keying costs more than a block); sets
    /// the IV when one is given (CBC), which is cheap.
    package func setKey(_ newKey: SecretKey, iv: [UInt8]? = nil) throws(CardCryptoError) {
        let sameKey = key == newKey
        if sameKey && iv == nil { return }
        let ok: Int32
        if sameKey {
            ok = EVP_CipherInit_ex2(context, nil, nil, iv, -1, nil)
        } else if doublesKey {
            ok = EVP_CipherInit_ex2(context, nil, newKey.bytes + newKey.bytes, iv, -1, nil)
        } else {
            ok = newKey.withUnsafePointer { EVP_CipherInit_ex2(context, nil, $0, iv, -1, nil) }
        }
        guard ok == 1 else {
            key = nil
            throw OpenSSL.error("EVP_CipherInit_ex2")
        }
        key = newKey
    }

    /// Runs the cipher over `count` bytes (whole blocks) from `input` to `output` (which may be the
    /// same buffer); false if OpenSSL refused.
    package func run(_ output: UnsafeMutablePointer<UInt8>?, _ input: UnsafePointer<UInt8>?, count: Int) -> Bool {
        EVP_Cipher(context, output, input, UInt32(count)) > 0
    }
}

// MARK: One engine per thread

#if canImport(Darwin)
    private func releaseEngine(_ pointer: UnsafeMutableRawPointer) {
        Unmanaged<CipherEngine>.fromOpaque(pointer).release()
    }
#else
    private func releaseEngine(_ pointer: UnsafeMutableRawPointer?) {
        guard let pointer else { return }
        Unmanaged<CipherEngine>.fromOpaque(pointer).release()
    }
#endif

private let threadKey: pthread_key_t = {
    var key = pthread_key_t()
    let status = pthread_key_create(&key, releaseEngine)
    precondition(status == 0, "pthread_key_create failed: \(status)")
    return key
}()
