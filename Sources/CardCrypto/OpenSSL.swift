import COpenSSL

/// The OpenSSL 3 algorithms CardCrypto uses, fetched once per process from a private library
/// context, so that loading the legacy provider (which holds single DES) changes nothing for other
/// users of libcrypto in the process. Explicit fetching also avoids OpenSSL 3's implicit fetch on
/// every cipher initialisation, which is slow.
package final class OpenSSLAlgorithms: @unchecked Sendable {
    // @unchecked: every stored pointer is written once in `init` and never again; fetched
    // EVP_CIPHER and EVP_MD objects are immutable and may be shared between threads.

    package static let shared = OpenSSLAlgorithms()

    /// EVP_CIPHER pointers by `CipherVariant.rawValue * 2 + mode` (0 = ECB, 1 = CBC); nil if the
    /// provider lacks the algorithm, which turns into a typed error at the first use.
    private let ciphers: [OpaquePointer?]
    let sm3: OpaquePointer?
    /// True when the legacy provider could not be loaded and single DES with key K runs as
    /// two-key 3DES with key K ‖ K (E(K)·D(K)·E(K) = E(K)), which gives the same result 3 times slower.
    package let singleDESViaTripleDES: Bool

    private init() {
        let context = OSSL_LIB_CTX_new()
        _ = OSSL_PROVIDER_load(context, "default")
        let legacy = OSSL_PROVIDER_load(context, "legacy")
        func fetch(_ name: String) -> OpaquePointer? { EVP_CIPHER_fetch(context, name, nil) }
        let desECB = legacy == nil ? nil : fetch("DES-ECB")
        let desCBC = legacy == nil ? nil : fetch("DES-CBC")
        let viaTripleDES = desECB == nil || desCBC == nil
        var ciphers = [OpaquePointer?](repeating: nil, count: CipherVariant.allCases.count * 2)
        for variant in CipherVariant.allCases {
            let names: (String, String) =
                switch variant {
                case .des: viaTripleDES ? ("DES-EDE-ECB", "DES-EDE-CBC") : ("DES-ECB", "DES-CBC")
                case .tripleDES2: ("DES-EDE-ECB", "DES-EDE-CBC")
                case .tripleDES3: ("DES-EDE3-ECB", "DES-EDE3-CBC")
                case .sm4: ("SM4-ECB", "SM4-CBC")
                }
            ciphers[variant.rawValue * 2] = fetch(names.0)
            ciphers[variant.rawValue * 2 + 1] = fetch(names.1)
        }
        self.ciphers = ciphers
        self.singleDESViaTripleDES = viaTripleDES
        self.sm3 = EVP_MD_fetch(context, "SM3", nil)
        ERR_clear_error()
        // The library context and providers live as long as the process, like the fetched objects.
    }

    package func cipher(_ variant: CipherVariant, cbc: Bool) throws(CardCryptoError) -> OpaquePointer {
        guard let cipher = ciphers[variant.rawValue * 2 + (cbc ? 1 : 0)] else {
            throw .openSSL(operation: "fetch \(variant) \(cbc ? "CBC" : "ECB")", detail: "not provided by this OpenSSL")
        }
        return cipher
    }
}

/// The concrete OpenSSL cipher behind a `BlockAlgorithm` and key length.
package enum CipherVariant: Int, CaseIterable, Sendable {
    case des = 0
    case tripleDES2 = 1
    case tripleDES3 = 2
    case sm4 = 3

    package var blockByteCount: Int { self == .sm4 ? 16 : 8 }
}

package enum OpenSSL {
    /// A typed error carrying OpenSSL's own text for the oldest queued error; clears the queue so
    /// that the next failure reports its own cause.
    package static func error(_ operation: String) -> CardCryptoError {
        let code = ERR_get_error()
        ERR_clear_error()
        guard code != 0 else { return .openSSL(operation: operation, detail: "no detail") }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        let text = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return .openSSL(operation: operation, detail: String(decoding: text, as: UTF8.self))
    }

    /// `count` bytes from OpenSSL's CSPRNG.
    static func randomBytes(_ count: Int) throws(CardCryptoError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        guard count == 0 || RAND_bytes(&bytes, Int32(count)) == 1 else {
            ERR_clear_error()
            throw .randomUnavailable
        }
        return bytes
    }
}

/// SM3 (GB/T 32905), the national hash, as OpenSSL 3 provides it.
public enum SM3 {
    /// The 32-byte SM3 digest of `data`.
    public static func hash(_ data: some Sequence<UInt8>) throws(CardCryptoError) -> [UInt8] {
        guard let sm3 = OpenSSLAlgorithms.shared.sm3 else {
            throw .openSSL(operation: "fetch SM3", detail: "not provided by this OpenSSL")
        }
        let input = Array(data)
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        let ok = input.withUnsafeBytes { raw in
            EVP_Digest(raw.baseAddress, raw.count, &digest, &length, sm3, nil)
        }
        guard ok == 1, length == 32 else { throw OpenSSL.error("SM3 digest") }
        return digest
    }
}
