import COpenSSL
public import Crypto
public import Foundation

/// Why a signing key could not be made, read or used.
public enum CredentialKeyError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A key's bytes do not make a key of its algorithm (wrong length, not on the curve).
    case invalidKey(String)
    /// OpenSSL refused an operation; carries its own text.
    case openSSL(operation: String, detail: String)
    /// The key file is missing, unreadable, readable by others, or not a credential keyring.
    case keyFile(String)
    /// No key can sign now (every key retired), or a key id is unknown.
    case noKey(String)

    public var description: String {
        switch self {
        case .invalidKey(let why): "invalid key: \(why)"
        case .openSSL(let operation, let detail): "OpenSSL \(operation): \(detail)"
        case .keyFile(let why): why
        case .noKey(let why): why
        }
    }
}

/// A private key of the city that signs card codes or key lists: SM2 with SM3 (GM/T 0003 and
/// GM/T 0004, through OpenSSL 3) or ECDSA P-256 with SHA-256 (swift-crypto), the configured
/// alternative for verifiers abroad. Signatures are the raw `r ‖ s` of 64 bytes that COSE uses
/// for both (RFC 9053 §2.1), never DER.
public struct CredentialSigningKey: Sendable {
    public let algorithm: CredentialAlgorithm
    /// The private scalar, 32 bytes.
    let scalar: [UInt8]
    public let publicKey: CredentialPublicKey
    private let backing: Backing

    enum Backing: Sendable {
        case sm2(SM2Key)
        case p256(P256.Signing.PrivateKey)
    }

    /// A new random key.
    public static func generate(_ algorithm: CredentialAlgorithm) throws(CredentialKeyError) -> CredentialSigningKey {
        switch algorithm {
        case .sm2sm3:
            let key = try SM2Key.generate()
            return try CredentialSigningKey(algorithm: .sm2sm3, scalar: try key.privateScalar())
        case .es256:
            return try CredentialSigningKey(
                algorithm: .es256, scalar: Array(P256.Signing.PrivateKey().rawRepresentation))
        }
    }

    /// The key with this private scalar (32 bytes); its public key is computed.
    public init(algorithm: CredentialAlgorithm, scalar: [UInt8]) throws(CredentialKeyError) {
        guard scalar.count == 32 else { throw .invalidKey("a private key is 32 bytes") }
        self.algorithm = algorithm
        self.scalar = scalar
        switch algorithm {
        case .sm2sm3:
            let key = try SM2Key(privateScalar: scalar)
            self.backing = .sm2(key)
            self.publicKey = try CredentialPublicKey(algorithm: .sm2sm3, point: try key.publicPoint())
        case .es256:
            let key: P256.Signing.PrivateKey
            do {
                key = try P256.Signing.PrivateKey(rawRepresentation: scalar)
            } catch {
                throw .invalidKey("not a P-256 private key")
            }
            self.backing = .p256(key)
            self.publicKey = try CredentialPublicKey(
                algorithm: .es256, point: Array(key.publicKey.x963Representation))
        }
    }

    /// The raw signature `r ‖ s` (64 bytes) of `message`: SM2 over SM3 with the default
    /// distinguishing identifier `1234567812345678` (GM/T 0009), or ECDSA over SHA-256.
    public func sign(_ message: [UInt8]) throws(CredentialKeyError) -> [UInt8] {
        switch backing {
        case .sm2(let key): return try key.sign(message)
        case .p256(let key):
            do {
                return Array(try key.signature(for: message).rawRepresentation)
            } catch {
                throw .openSSL(operation: "P-256 sign", detail: "\(error)")
            }
        }
    }
}

/// A public key that checks card codes or key lists: the uncompressed point `04 ‖ x ‖ y`.
public struct CredentialPublicKey: Sendable, Hashable {
    public let algorithm: CredentialAlgorithm
    /// `04 ‖ x ‖ y`, 65 bytes.
    public let point: [UInt8]
    private let backing: Backing

    enum Backing: Sendable, Hashable {
        case sm2(SM2Key)
        case p256(P256.Signing.PublicKey)

        static func == (lhs: Backing, rhs: Backing) -> Bool { true }  // equal points make equal keys
        func hash(into hasher: inout Hasher) {}
    }

    public init(algorithm: CredentialAlgorithm, point: [UInt8]) throws(CredentialKeyError) {
        guard point.count == 65, point.first == 0x04 else {
            throw .invalidKey("a public key is an uncompressed point of 65 bytes")
        }
        self.algorithm = algorithm
        self.point = point
        switch algorithm {
        case .sm2sm3:
            self.backing = .sm2(try SM2Key(publicPoint: point))
        case .es256:
            do {
                self.backing = .p256(try P256.Signing.PublicKey(x963Representation: point))
            } catch {
                throw .invalidKey("not a point on P-256")
            }
        }
    }

    /// The key id: the first 8 bytes of SHA-256 of the point, as the EU certificates derived
    /// theirs from the certificate.
    public var keyID: [UInt8] { Array(SHA256.hash(data: point).prefix(8)) }

    /// True if `signature` (raw `r ‖ s`) is this key's signature of `message`.
    public func isValid(signature: [UInt8], for message: [UInt8]) -> Bool {
        guard signature.count == 64 else { return false }
        switch backing {
        case .sm2(let key): return key.verify(signature: signature, message: message)
        case .p256(let key):
            guard let value = try? P256.Signing.ECDSASignature(rawRepresentation: signature) else { return false }
            return key.isValidSignature(value, for: message)
        }
    }

    /// The key as a SubjectPublicKeyInfo in PEM (for SM2: id-ecPublicKey on curve
    /// 1.2.156.10197.1.301), which the openssl tool and other libraries read.
    public func pem() throws(CredentialKeyError) -> String {
        let der: [UInt8]
        switch backing {
        case .sm2(let key): der = try key.subjectPublicKeyInfo()
        case .p256(let key): der = Array(key.derRepresentation)
        }
        let base64 = Data(der).base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
        return "-----BEGIN PUBLIC KEY-----\n\(base64)\n-----END PUBLIC KEY-----\n"
    }

    /// A key from a SubjectPublicKeyInfo in PEM: P-256, or a point on the SM2 curve.
    public init(pem: String) throws(CredentialKeyError) {
        if let key = try? P256.Signing.PublicKey(pemRepresentation: pem) {
            try self.init(algorithm: .es256, point: Array(key.x963Representation))
            return
        }
        let body = pem.split(whereSeparator: \.isNewline).filter { !$0.hasPrefix("-----") }.joined()
        guard pem.contains("-----BEGIN PUBLIC KEY-----"), let der = Data(base64Encoded: body) else {
            throw .invalidKey("not a PEM public key")
        }
        try self.init(algorithm: .sm2sm3, point: try SM2Key.point(fromSubjectPublicKeyInfo: Array(der)))
    }

    public static func == (lhs: CredentialPublicKey, rhs: CredentialPublicKey) -> Bool {
        lhs.algorithm == rhs.algorithm && lhs.point == rhs.point
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(algorithm)
        hasher.combine(point)
    }
}

/// An SM2 key held by OpenSSL 3 (EVP_PKEY of type SM2), private or public only.
final class SM2Key: @unchecked Sendable {
    // @unchecked: the EVP_PKEY is made in `init`, never changed, and freed in `deinit`; OpenSSL
    // allows one key to be used by several threads at once for signing and verifying.
    let pkey: OpaquePointer

    /// GM/T 0009's default distinguishing identifier, which every SM2 library takes when none is given.
    static let distinguishingID = Array("1234567812345678".utf8)

    private init(owning pkey: OpaquePointer) { self.pkey = pkey }
    deinit { EVP_PKEY_free(pkey) }

    static func generate() throws(CredentialKeyError) -> SM2Key {
        let library = SM2Library.shared
        guard let context = EVP_PKEY_CTX_new_from_name(library.context, "SM2", nil) else {
            throw SM2Library.error("SM2 key context")
        }
        defer { EVP_PKEY_CTX_free(context) }
        var pkey: OpaquePointer?
        guard EVP_PKEY_keygen_init(context) == 1, EVP_PKEY_generate(context, &pkey) == 1, let pkey else {
            throw SM2Library.error("SM2 key generation")
        }
        return SM2Key(owning: pkey)
    }

    convenience init(privateScalar: [UInt8]) throws(CredentialKeyError) {
        // The public point is computed from the scalar by a temporary key; OpenSSL's fromdata
        // needs both for a key pair.
        let point = try Self.point(forScalar: privateScalar)
        try self.init(parameters: privateScalar, point: point)
    }

    convenience init(publicPoint: [UInt8]) throws(CredentialKeyError) {
        try self.init(parameters: nil, point: publicPoint)
    }

    private convenience init(parameters scalar: [UInt8]?, point: [UInt8]) throws(CredentialKeyError) {
        let library = SM2Library.shared
        guard let builder = OSSL_PARAM_BLD_new() else { throw SM2Library.error("parameters") }
        defer { OSSL_PARAM_BLD_free(builder) }
        var number: OpaquePointer?
        defer { if let number { BN_clear_free(number) } }
        // The builder keeps pointers to the names and values until `OSSL_PARAM_BLD_to_param` copies
        // them, so the names are static strings and the values live in buffers of our own until then.
        let group = strdup("SM2")
        defer { free(group) }
        let pointBuffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: point.count)
        defer { pointBuffer.deallocate() }
        _ = pointBuffer.initialize(from: point)
        var ok = OSSL_PARAM_BLD_push_utf8_string(builder, Self.name("group"), group, 0) == 1
        ok =
            ok
            && OSSL_PARAM_BLD_push_octet_string(
                builder, Self.name("pub"), pointBuffer.baseAddress, point.count) == 1
        if let scalar {
            number = scalar.withUnsafeBufferPointer { BN_bin2bn($0.baseAddress, Int32($0.count), nil) }
            ok = ok && number != nil && OSSL_PARAM_BLD_push_BN(builder, Self.name("priv"), number) == 1
        }
        guard ok, let parameters = OSSL_PARAM_BLD_to_param(builder) else { throw SM2Library.error("SM2 parameters") }
        defer { OSSL_PARAM_free(parameters) }
        guard let context = EVP_PKEY_CTX_new_from_name(library.context, "SM2", nil) else {
            throw SM2Library.error("SM2 key context")
        }
        defer { EVP_PKEY_CTX_free(context) }
        var pkey: OpaquePointer?
        let selection = scalar == nil ? copenssl_select_public_key() : copenssl_select_keypair()
        guard EVP_PKEY_fromdata_init(context) == 1, EVP_PKEY_fromdata(context, &pkey, selection, parameters) == 1,
            let pkey
        else {
            let detail = SM2Library.error("fromdata")
            throw .invalidKey("not an SM2 key (\(detail))")
        }
        // fromdata does not check that the point is on the curve: a public-key check does.
        guard let check = EVP_PKEY_CTX_new_from_pkey(library.context, pkey, nil) else {
            EVP_PKEY_free(pkey)
            throw SM2Library.error("SM2 key check context")
        }
        defer { EVP_PKEY_CTX_free(check) }
        guard EVP_PKEY_public_check(check) == 1 else {
            ERR_clear_error()
            EVP_PKEY_free(pkey)
            throw .invalidKey("not a point on the SM2 curve")
        }
        self.init(owning: pkey)
    }

    /// A parameter name (OSSL_PKEY_PARAM_…) as a C string that lives as long as the process.
    private static func name(_ text: StaticString) -> UnsafePointer<CChar> {
        UnsafeRawPointer(text.utf8Start).assumingMemoryBound(to: CChar.self)
    }

    /// The public point of a scalar, through a key made from the scalar alone.
    private static func point(forScalar scalar: [UInt8]) throws(CredentialKeyError) -> [UInt8] {
        guard scalar.contains(where: { $0 != 0 }) else { throw .invalidKey("a private key is not zero") }
        // d·G computed by EC_POINT_mul would need the deprecated EC_KEY API; OpenSSL 3 derives the
        // public key when a key pair is imported without one only for some providers, so compute
        // it with the group's generator through EC_POINT functions of the low-level API.
        guard let group = EC_GROUP_new_by_curve_name(NID_sm2) else { throw SM2Library.error("SM2 group") }
        defer { EC_GROUP_free(group) }
        guard let point = EC_POINT_new(group) else { throw SM2Library.error("SM2 point") }
        defer { EC_POINT_free(point) }
        guard let number = scalar.withUnsafeBufferPointer({ BN_bin2bn($0.baseAddress, Int32($0.count), nil) }) else {
            throw SM2Library.error("SM2 scalar")
        }
        defer { BN_clear_free(number) }
        guard let order = EC_GROUP_get0_order(group), BN_cmp(number, order) < 0 else {
            throw .invalidKey("a private key is below the curve's order")
        }
        guard EC_POINT_mul(group, point, number, nil, nil, nil) == 1 else { throw SM2Library.error("SM2 d·G") }
        var bytes = [UInt8](repeating: 0, count: 65)
        let count = EC_POINT_point2oct(group, point, POINT_CONVERSION_UNCOMPRESSED, &bytes, 65, nil)
        guard count == 65 else { throw SM2Library.error("SM2 point encoding") }
        return bytes
    }

    func privateScalar() throws(CredentialKeyError) -> [UInt8] {
        var number: OpaquePointer?
        guard EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &number) == 1, let number else {
            throw SM2Library.error("SM2 private key")
        }
        defer { BN_clear_free(number) }
        var bytes = [UInt8](repeating: 0, count: 32)
        guard BN_bn2binpad(number, &bytes, 32) == 32 else { throw SM2Library.error("SM2 private key bytes") }
        return bytes
    }

    func publicPoint() throws(CredentialKeyError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 65)
        var count = 0
        guard EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, &bytes, 65, &count) == 1, count == 65
        else { throw SM2Library.error("SM2 public key") }
        return bytes
    }

    static func point(fromSubjectPublicKeyInfo der: [UInt8]) throws(CredentialKeyError) -> [UInt8] {
        var cursor: UnsafePointer<UInt8>? = nil
        let pkey: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
            cursor = buffer.baseAddress
            return d2i_PUBKEY_ex(nil, &cursor, buffer.count, SM2Library.shared.context, nil)
        }
        guard let pkey else {
            ERR_clear_error()
            throw .invalidKey("not a public key")
        }
        defer { EVP_PKEY_free(pkey) }
        var bytes = [UInt8](repeating: 0, count: 65)
        var count = 0
        guard EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, &bytes, 65, &count) == 1, count == 65
        else {
            ERR_clear_error()
            throw .invalidKey("not an uncompressed elliptic-curve point")
        }
        return bytes
    }

    func subjectPublicKeyInfo() throws(CredentialKeyError) -> [UInt8] {
        var output: UnsafeMutablePointer<UInt8>?
        let length = i2d_PUBKEY(pkey, &output)
        guard length > 0, let output else { throw SM2Library.error("SM2 public key encoding") }
        defer { CRYPTO_free(output, #fileID, #line) }
        return Array(UnsafeBufferPointer(start: output, count: Int(length)))
    }

    func sign(_ message: [UInt8]) throws(CredentialKeyError) -> [UInt8] {
        guard let digest = EVP_MD_CTX_new() else { throw SM2Library.error("digest context") }
        defer { EVP_MD_CTX_free(digest) }
        var context: OpaquePointer?
        guard EVP_DigestSignInit_ex(digest, &context, "SM3", SM2Library.shared.context, nil, pkey, nil) == 1,
            let context, EVP_PKEY_CTX_set1_id(context, Self.distinguishingID, Int32(Self.distinguishingID.count)) == 1
        else { throw SM2Library.error("SM2 sign init") }
        var der = [UInt8](repeating: 0, count: 80)
        var length = der.count
        guard EVP_DigestSign(digest, &der, &length, message, message.count) == 1 else {
            throw SM2Library.error("SM2 sign")
        }
        return try Self.raw(fromDER: Array(der.prefix(length)))
    }

    func verify(signature: [UInt8], message: [UInt8]) -> Bool {
        guard let der = Self.der(fromRaw: signature), let digest = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(digest) }
        var context: OpaquePointer?
        guard EVP_DigestVerifyInit_ex(digest, &context, "SM3", SM2Library.shared.context, nil, pkey, nil) == 1,
            let context, EVP_PKEY_CTX_set1_id(context, Self.distinguishingID, Int32(Self.distinguishingID.count)) == 1
        else {
            ERR_clear_error()
            return false
        }
        let valid = EVP_DigestVerify(digest, der, der.count, message, message.count) == 1
        ERR_clear_error()
        return valid
    }

    /// `r ‖ s` of 32 bytes each from OpenSSL's DER `SEQUENCE { INTEGER r, INTEGER s }`.
    static func raw(fromDER der: [UInt8]) throws(CredentialKeyError) -> [UInt8] {
        var cursor: UnsafePointer<UInt8>? = nil
        let signature: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
            cursor = buffer.baseAddress
            return d2i_ECDSA_SIG(nil, &cursor, buffer.count)
        }
        guard let signature else { throw SM2Library.error("SM2 signature") }
        defer { ECDSA_SIG_free(signature) }
        var raw = [UInt8](repeating: 0, count: 64)
        let written = raw.withUnsafeMutableBufferPointer { buffer in
            BN_bn2binpad(ECDSA_SIG_get0_r(signature), buffer.baseAddress, 32)
                + BN_bn2binpad(ECDSA_SIG_get0_s(signature), buffer.baseAddress! + 32, 32)
        }
        guard written == 64 else { throw SM2Library.error("SM2 signature values") }
        return raw
    }

    /// The DER form of a raw `r ‖ s`, or nil if either half is zero.
    static func der(fromRaw raw: [UInt8]) -> [UInt8]? {
        guard raw.count == 64, let signature = ECDSA_SIG_new() else { return nil }
        defer { ECDSA_SIG_free(signature) }
        let r = raw.withUnsafeBufferPointer { BN_bin2bn($0.baseAddress, 32, nil) }
        let s = raw.withUnsafeBufferPointer { BN_bin2bn($0.baseAddress! + 32, 32, nil) }
        guard let r, let s, BN_is_zero(r) == 0, BN_is_zero(s) == 0, ECDSA_SIG_set0(signature, r, s) == 1 else {
            if let r { BN_free(r) }
            if let s { BN_free(s) }
            return nil
        }
        var output: UnsafeMutablePointer<UInt8>?
        let length = i2d_ECDSA_SIG(signature, &output)
        guard length > 0, let output else { return nil }
        defer { CRYPTO_free(output, #fileID, #line) }
        return Array(UnsafeBufferPointer(start: output, count: Int(length)))
    }
}

/// OpenSSL's default provider in a library context of its own, for SM2 and SM3.
final class SM2Library: @unchecked Sendable {
    // @unchecked: the context is made once and lives as long as the process.
    static let shared = SM2Library()
    let context: OpaquePointer?

    private init() {
        let context = OSSL_LIB_CTX_new()
        _ = OSSL_PROVIDER_load(context, "default")
        self.context = context
    }

    static func error(_ operation: String) -> CredentialKeyError {
        let code = ERR_get_error()
        ERR_clear_error()
        guard code != 0 else { return .openSSL(operation: operation, detail: "no detail") }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        let text = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return .openSSL(operation: operation, detail: String(decoding: text, as: UTF8.self))
    }
}
