/// Padding of MAC input to whole blocks (ISO/IEC 9797-1).
public enum MACPadding: Sendable {
    /// Method 1: zero bytes up to a whole block; nothing when already aligned (an empty input
    /// becomes one zero block).
    case zeros
    /// Method 2: `80`, then zero bytes up to a whole block. The `80` is always added, even to
    /// aligned input. PBOC uses this method everywhere (CARDTECH.md §5.1).
    case iso80

    /// The length of `byteCount` bytes after padding.
    func paddedByteCount(_ byteCount: Int, blockByteCount: Int) -> Int {
        switch self {
        case .zeros:
            byteCount == 0 ? blockByteCount : (byteCount + blockByteCount - 1) / blockByteCount * blockByteCount
        case .iso80: (byteCount / blockByteCount + 1) * blockByteCount
        }
    }
}

/// How an SM4 CBC-MAC result (16 bytes) becomes a 4-byte purse MAC. **[U]** CARDTECH.md §7 item 2:
/// no public primary text says which one the national-algorithm purse uses.
public enum SM4MACOutput: String, Sendable, CaseIterable, Codable {
    /// The leftmost 4 bytes of the last CBC block, as in the 3DES purse.
    case leftmost4
    /// The last CBC block folded first (left 8 bytes XOR right 8 bytes), then its leftmost 4 bytes.
    case foldedLeftmost4
}

/// The MACs of the card world (CARDTECH.md §5.1 and §7).
public enum CardMAC {
    /// The PBOC MAC with an 8-byte key (session keys, the 3DES TAC key), §5.1: append `80` and
    /// zeros to a multiple of 8 (always), single-DES CBC from `initialVector` (zero by default),
    /// keep the leftmost 4 bytes.
    ///
    /// - Throws: `invalidKeyLength` unless the key has 8 bytes; `invalidLength` for an IV that is
    ///   not 8 bytes.
    public static func pboc(
        key: SecretKey, data: [UInt8], initialVector: [UInt8] = zeroBlock8, using engine: CipherEngine = .current
    ) throws(CardCryptoError) -> MAC4 {
        guard key.byteCount == 8 else { throw .invalidKeyLength(algorithm: "the PBOC MAC", byteCount: key.byteCount) }
        guard initialVector.count == 8 else {
            throw .invalidLength(field: "initial vector", expected: 8, actual: initialVector.count)
        }
        return try engine.cbcMAC4(data, padding: .iso80, algorithm: .des, key: key, iv: initialVector, fold: false)
    }

    /// ISO/IEC 9797-1 MAC algorithm 3 (the "retail MAC") with a 16-byte key KL ‖ KR, §5.1 and §8:
    /// single-DES CBC with KL over every block from `initialVector`, then the last result is
    /// decrypted with KR and encrypted with KL. Returns all 8 bytes.
    ///
    /// - Parameter initialVector: 8 bytes, or a 4-byte GET CHALLENGE value, which becomes
    ///   challenge ‖ `00000000`.
    public static func retail(
        key: SecretKey, data: [UInt8], initialVector: [UInt8] = zeroBlock8, padding: MACPadding = .iso80,
        using engine: CipherEngine = .current
    ) throws(CardCryptoError) -> [UInt8] {
        guard key.byteCount == 16 else {
            throw .invalidKeyLength(algorithm: "the retail MAC", byteCount: key.byteCount)
        }
        let iv: [UInt8]
        switch initialVector.count {
        case 8: iv = initialVector
        case 4: iv = initialVector + [0, 0, 0, 0]
        default: throw .invalidLength(field: "initial vector or challenge", expected: 8, actual: initialVector.count)
        }
        let chained = try engine.cbcLastBlock(data, padding: padding, algorithm: .des, key: key.left, iv: iv)
        // E(KL)·D(KR)·E(KL) of the CBC state after the last block's E(KL) is E(KL)(D(KR)(state)).
        let decrypted = try engine.decrypt(chained, algorithm: .des, key: key.right)
        return try engine.encrypt(decrypted, algorithm: .des, key: key.left)
    }

    /// The line-protection MAC of a command with secure messaging (`04 D6 …`, `84 1E …`), §5.1:
    /// the retail MAC with padding method 2 and IV = challenge ‖ `00000000`, leftmost 4 bytes.
    public static func lineProtection(
        key: SecretKey, challenge: [UInt8], data: [UInt8], using engine: CipherEngine = .current
    ) throws(CardCryptoError) -> MAC4 {
        let full = try retail(key: key, data: data, initialVector: challenge, padding: .iso80, using: engine)
        return MAC4(value: BigEndian.uint32(full[0..<4]))
    }

    /// The SM4 MAC, §7: append `80` and zeros to a multiple of 16 (always), SM4-CBC from
    /// `initialVector` (zero by default), then `output` turns the last block into 4 bytes.
    /// `output` is **[U]**; see `SM4MACOutput`.
    public static func sm4(
        key: SecretKey, data: [UInt8], output: SM4MACOutput, initialVector: [UInt8] = zeroBlock16,
        using engine: CipherEngine = .current
    ) throws(CardCryptoError) -> MAC4 {
        guard key.byteCount == 16 else { throw .invalidKeyLength(algorithm: "the SM4 MAC", byteCount: key.byteCount) }
        guard initialVector.count == 16 else {
            throw .invalidLength(field: "initial vector", expected: 16, actual: initialVector.count)
        }
        return try engine.cbcMAC4(
            data, padding: .iso80, algorithm: .sm4, key: key, iv: initialVector, fold: output == .foldedLeftmost4)
    }

    public static let zeroBlock8 = [UInt8](repeating: 0, count: 8)
    public static let zeroBlock16 = [UInt8](repeating: 0, count: 16)
}
