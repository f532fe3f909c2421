import CitizenCardDomain
@testable import CitizenCardServices
import CitizenCardTesting
import Foundation
import PropertyBased
import Testing

/// The feed file reader (docs/departments.md): JSON lines and CSV, a row for every line, and
/// never a crash whatever the bytes.
@Suite("Feed files")
struct FeedFileTests {
    static func write(_ text: some DataProtocol, suffix: String = ".jsonl") throws -> (TemporaryDirectory, String) {
        let directory = TemporaryDirectory("feed-file")
        let path = directory.file("feed\(suffix)").path
        _ = FileManager.default.createFile(atPath: path, contents: Data(text))
        return (directory, path)
    }

    static func rows(_ path: String, format: FeedFileReader.Format? = nil) throws -> [FeedFileReader.Row] {
        let reader = try FeedFileReader(path: path, format: format)
        var rows: [FeedFileReader.Row] = []
        while let row = try reader.next() { rows.append(row) }
        return rows
    }

    @Test("JSON lines: messages, refusals with their line, blank lines skipped")
    func jsonLines() throws {
        let text = """
            {"messageId":"1","kind":"death","idNumber":"x","occurredOn":"2026-01-01"}

            {"messageId":"2","kind":"birth","idNumber":"y","name":"王小宝","household":null}
            not json
            {"messageId":"3","kind":"birth","idNumber":"y","colour":"red"}
            {"messageId":4,"kind":"birth","idNumber":"y"}
            {"kind":"birth","idNumber":"y"}
            """
        let (directory, path) = try Self.write(Data(text.utf8))
        _ = directory
        let rows = try Self.rows(path)
        #expect(rows.map(\.line) == [1, 3, 4, 5, 6, 7])
        #expect(rows[0].message.value?.occurredOn == "2026-01-01")
        #expect(rows[1].message.value?.name == "王小宝" && rows[1].message.value?.household == nil)
        for row in rows[2...] {
            guard case .refused(let result) = row.message else {
                Issue.record("line \(row.line) read as a message")
                continue
            }
            #expect(result.outcome == .invalid && result.code == "malformed_request")
        }
    }

    @Test("CSV: the header names the columns in any order; unknown or missing columns refuse the file")
    func csv() throws {
        let text = "kind,messageId,idNumber,newName\r\nname_change,N1,330902198501010011,\"王, 晓明\"\r\nbirth,N2,x,\r\n"
        let (directory, path) = try Self.write(Data(text.utf8), suffix: ".csv")
        _ = directory
        let rows = try Self.rows(path)
        #expect(rows.count == 2)
        #expect(rows[0].message.value?.newName == "王, 晓明" && rows[0].message.value?.messageId == "N1")
        #expect(rows[1].message.value?.newName == nil)
        let (other, bad) = try Self.write(Data("messageId,kind,idNumber,colour\n".utf8), suffix: ".csv")
        _ = other
        #expect(throws: FeedFileError.self) { try Self.rows(bad) }
        let (third, missing) = try Self.write(Data("messageId,idNumber\n".utf8), suffix: ".csv")
        _ = third
        #expect(throws: FeedFileError.self) { try Self.rows(missing) }
    }

    static let byte = Gen<UInt8?>.element(
        of: [0x7B, 0x7D, 0x22, 0x3A, 0x2C, 0x0A, 0x0D, 0x61, 0x20, 0xE7, 0xFF, 0x00, 0x5C, 0x6E] as [UInt8]
    ).map { $0! }

    @Test("arbitrary bytes never crash the reader; every non-blank line is a row")
    func arbitraryBytes() async throws {
        await propertyCheck(count: 300, input: Self.byte.array(of: 0...120)) { bytes in
            let (directory, path) = try Self.write(bytes)
            _ = directory
            let rows = try Self.rows(path, format: .jsonLines)
            let lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false)
                .filter { !$0.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D } }
            #expect(rows.count == lines.count)
            #expect(rows.map(\.line) == rows.map(\.line).sorted())
        }
    }
}
