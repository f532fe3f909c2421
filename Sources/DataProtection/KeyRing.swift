public import Foundation
public import Crypto
import OwnerOnlyFiles
#if canImport(Glibc)
    import Glibc
#endif

/// The keys that protect personal data: AES-256-GCM data keys by id (the newest seals, all open)
/// and the blind-index key. Kept in one JSON file readable by its owner only; never logged.
public struct KeyRing: Sendable {
    public struct DataKey: Sendable {
        public let id: String
        public let createdAt: String
        let symmetricKey: SymmetricKey
    }

    public let keys: [DataKey]
    public let currentID: String
    public let indexKey: SymmetricKey

    public var current: DataKey { keys.first { $0.id == currentID }! }

    public func key(id: String) -> DataKey? { keys.first { $0.id == id } }

    public init(keys: [DataKey], currentID: String, indexKey: SymmetricKey) {
        precondition(keys.contains { $0.id == currentID }, "the current key must be in the ring")
        self.keys = keys
        self.currentID = currentID
        self.indexKey = indexKey
    }

    /// A new ring with one random data key and a random index key.
    public static func generate(createdAt: String) -> KeyRing {
        let key = DataKey(id: "k1", createdAt: createdAt, symmetricKey: SymmetricKey(size: .bits256))
        return KeyRing(keys: [key], currentID: key.id, indexKey: SymmetricKey(size: .bits256))
    }

    /// The ring with one more random data key, which becomes current. Old keys stay to open old data.
    public func rotated(createdAt: String) -> KeyRing {
        let id = "k\((keys.compactMap { Int($0.id.dropFirst()) }.max() ?? 0) + 1)"
        let key = DataKey(id: id, createdAt: createdAt, symmetricKey: SymmetricKey(size: .bits256))
        return KeyRing(keys: keys + [key], currentID: id, indexKey: indexKey)
    }

    /// A check value of each key (by id, and `index` for the index key): the first 8 bytes of
    /// HMAC-SHA256 under the key of a fixed text, in hex. It names a key without revealing it, so
    /// that a backup can say which keys open it and a restore can refuse other keys.
    public var checkValues: [String: String] {
        func check(_ key: SymmetricKey) -> String {
            let mac = HMAC<SHA256>.authenticationCode(for: Data("citizencard key check".utf8), using: key)
            return mac.prefix(8).map { String(format: "%02X", $0) }.joined()
        }
        var values = Dictionary(uniqueKeysWithValues: keys.map { ($0.id, check($0.symmetricKey)) })
        values["index"] = check(indexKey)
        return values
    }

    public var sealer: Sealer { Sealer(keyRing: self) }
    public var blindIndex: BlindIndex { BlindIndex(key: indexKey) }

    // MARK: File

    struct File: Codable {
        struct Key: Codable {
            var id: String
            var createdAt: String
            var key: String
        }
        var format: Int
        var current: String
        var keys: [Key]
        var indexKey: String
    }

    /// Reads the ring; refuses a file that group or others may read.
    public static func load(from url: URL) throws(DataProtectionError) -> KeyRing {
        let path = url.path
        let data: Data
        do {
            data = try OwnerOnlyFile.read(url)
        } catch .readableByOthers {
            throw .keyFile("\(path) must be readable by its owner only (chmod 600)")
        } catch {
            throw .keyFile("cannot read \(path)")
        }
        let file: File
        do {
            file = try JSONDecoder().decode(File.self, from: data)
        } catch {
            throw .keyFile("\(path) is not a key file")
        }
        var keys: [DataKey] = []
        for key in file.keys {
            guard let bytes = Data(base64Encoded: key.key), bytes.count == 32 else {
                throw .keyFile("key \(key.id) is not 32 bytes of base64")
            }
            keys.append(DataKey(id: key.id, createdAt: key.createdAt, symmetricKey: SymmetricKey(data: bytes)))
        }
        guard keys.contains(where: { $0.id == file.current }) else {
            throw .keyFile("the current key \(file.current) is missing")
        }
        guard let index = Data(base64Encoded: file.indexKey), index.count == 32 else {
            throw .keyFile("the index key is not 32 bytes of base64")
        }
        return KeyRing(keys: keys, currentID: file.current, indexKey: SymmetricKey(data: index))
    }

    /// Writes the ring with mode 0600 through a temporary file and a rename, so that a crash never
    /// leaves a half-written key file.
    public func write(to url: URL) throws(DataProtectionError) {
        let file = File(
            format: 1, current: currentID,
            keys: keys.map { File.Key(id: $0.id, createdAt: $0.createdAt, key: $0.symmetricKey.base64) },
            indexKey: indexKey.base64)
        do {
            try OwnerOnlyFile.writeJSON(file, to: url)
        } catch {
            throw .keyFile("cannot write \(url.path)")
        }
    }

    /// Loads the ring at `url`, or creates and writes a new one if there is no file.
    public static func loadOrCreate(
        at url: URL, createdAt: String
    ) throws(DataProtectionError) -> (KeyRing, created: Bool) {
        if FileManager.default.fileExists(atPath: url.path) { return (try load(from: url), false) }
        let ring = generate(createdAt: createdAt)
        try ring.write(to: url)
        return (ring, true)
    }
}

extension SymmetricKey {
    var base64: String { withUnsafeBytes { Data($0).base64EncodedString() } }
}
