public import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Files that hold secrets (key files, card files): written so that a crash never leaves a
/// half-written file and no other user can read them at any moment, and read only when no other
/// user could have read them. Shared by the personal-data key file, the issuer keyring and the
/// software card's file.
public enum OwnerOnlyFile {
    public enum Failure: Error, Equatable, Sendable {
        case unreadable(path: String)
        /// Group or others may read the file: its secrets must be considered leaked.
        case readableByOthers(path: String)
        case unwritable(path: String)
    }

    /// Writes `data` to `url` with mode 0600 (the directory, if created, 0700): into a temporary
    /// file next to it — its mode set to 0600 before a byte is written, even if a stale one from
    /// a crash had another mode — synced, then renamed over `url`.
    public static func write(_ data: Data, to url: URL, createDirectory: Bool = true) throws(Failure) {
        let directory = url.deletingLastPathComponent()
        let temporary = directory.appendingPathComponent(".\(url.lastPathComponent).tmp")
        do {
            if createDirectory {
                try FileManager.default.createDirectory(
                    at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            }
            guard
                FileManager.default.createFile(
                    atPath: temporary.path, contents: nil, attributes: [.posixPermissions: 0o600])
            else { throw Failure.unwritable(path: temporary.path) }
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: temporary.path)
            let handle = try FileHandle(forWritingTo: temporary)
            try handle.truncate(atOffset: 0)
            try handle.write(contentsOf: data)
            try handle.synchronize()
            try handle.close()
            guard rename(temporary.path, url.path) == 0 else { throw Failure.unwritable(path: url.path) }
        } catch let error as Failure {
            throw error
        } catch {
            throw .unwritable(path: url.path)
        }
    }

    /// Writes `value` as pretty-printed JSON with sorted keys (stable, diffable key files), as `write`.
    public static func writeJSON(_ value: some Encodable, to url: URL) throws(Failure) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data: Data
        do {
            data = try encoder.encode(value)
        } catch {
            throw .unwritable(path: url.path)
        }
        try write(data, to: url)
    }

    /// The file's bytes; refused when group or others may read it.
    public static func read(_ url: URL) throws(Failure) -> Data {
        var info = stat()
        guard stat(url.path, &info) == 0 else { throw .unreadable(path: url.path) }
        guard info.st_mode & 0o077 == 0 else { throw .readableByOthers(path: url.path) }
        do {
            return try Data(contentsOf: url)
        } catch {
            throw .unreadable(path: url.path)
        }
    }
}
