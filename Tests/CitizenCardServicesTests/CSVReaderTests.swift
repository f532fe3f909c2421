import Foundation
import PropertyBased
import Testing

@testable import CitizenCardServices

/// Reads `text` (or bytes) and returns each record's fields, or the error.
private func read(
    _ bytes: [UInt8], chunkSize: Int = CSVReader.defaultChunkSize,
    maxRecordBytes: Int = CSVReader.defaultMaxRecordBytes,
    skipsEmptyLines: Bool = true
) throws -> [Result<CSVRecord, CSVRecordError>] {
    try CSVReader(bytes: bytes, chunkSize: chunkSize, maxRecordBytes: maxRecordBytes, skipsEmptyLines: skipsEmptyLines)
        .readAll()
}

private func read(
    _ text: String, chunkSize: Int = CSVReader.defaultChunkSize
) throws -> [Result<CSVRecord, CSVRecordError>] {
    try read(Array(text.utf8), chunkSize: chunkSize)
}

private func fields(_ results: [Result<CSVRecord, CSVRecordError>]) -> [[String]] {
    results.compactMap { if case .success(let record) = $0 { record.fields } else { nil } }
}

private func errors(_ results: [Result<CSVRecord, CSVRecordError>]) -> [CSVRecordError] {
    results.compactMap { if case .failure(let error) = $0 { error } else { nil } }
}

/// A one-line summary per result: `3:a|b` for a record on line 3, `!5:kind` for an error on line 5.
private func summary(_ results: [Result<CSVRecord, CSVRecordError>]) -> [String] {
    results.map {
        switch $0 {
        case .success(let record): "\(record.line):" + record.fields.joined(separator: "|")
        case .failure(let error): "!\(error.line):\(error.kind)"
        }
    }
}

/// Chunk sizes that split records at every possible place, plus the default.
private let chunkSizes = [1, 2, 3, 5, 7, 16, 64, CSVReader.defaultChunkSize]

@Suite("CSV reader")
struct CSVReaderTests {
    @Test func readsSimpleRecordsWithLF() throws {
        let results = try read("a,b,c\n1,2,3\n")
        #expect(fields(results) == [["a", "b", "c"], ["1", "2", "3"]])
        #expect(results.map { try? $0.get().line } == [1, 2])
    }

    @Test func readsCRLFAndAMissingFinalLineEnd() throws {
        for chunkSize in chunkSizes {
            let results = try read("a,b\r\nc,d\r\ne,f", chunkSize: chunkSize)
            #expect(fields(results) == [["a", "b"], ["c", "d"], ["e", "f"]], "chunk \(chunkSize)")
        }
    }

    @Test func emptyFields() throws {
        #expect(fields(try read(",\n,a,\n\"\",\"\"\n")) == [["", ""], ["", "a", ""], ["", ""]])
    }

    @Test func quotedFieldsWithCommasQuotesAndLineEnds() throws {
        let text = "name,address\n\"王,伟\",\"舟山市\"\"定海\"\"区\"\n\"李娜\",\"第一行\r\n第二行\nthird\"\nlast,x\n"
        for chunkSize in chunkSizes {
            let results = try read(text, chunkSize: chunkSize)
            #expect(
                fields(results) == [
                    ["name", "address"], ["王,伟", "舟山市\"定海\"区"], ["李娜", "第一行\r\n第二行\nthird"], ["last", "x"],
                ], "chunk \(chunkSize)")
            // Line numbers are physical: the record after the 3-line record starts on line 6.
            #expect(results.map { try? $0.get().line } == [1, 2, 3, 6], "chunk \(chunkSize)")
        }
    }

    @Test func aLoneCarriageReturnIsData() throws {
        #expect(fields(try read("a\rb,c\n")) == [["a\rb", "c"]])
    }

    @Test func skipsTheByteOrderMarkOnlyAtTheStart() throws {
        let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
        for chunkSize in chunkSizes {
            let results = try read(bom + Array("id,name\n\u{FEFF}x,y\n".utf8), chunkSize: chunkSize)
            #expect(fields(results) == [["id", "name"], ["\u{FEFF}x", "y"]])
        }
        #expect(try read(bom).isEmpty)
    }

    @Test func emptyInputAndEmptyLines() throws {
        #expect(try read("").isEmpty)
        #expect(try read("\n\r\n\n").isEmpty)
        let results = try read("a\n\nb\r\n\r\nc\n")
        #expect(summary(results) == ["1:a", "3:b", "5:c"])
        let kept = try read(Array("a\n\nb\n".utf8), skipsEmptyLines: false)
        #expect(fields(kept) == [["a"], [""], ["b"]])
    }

    @Test func endOffsetsAreAfterEachRecord() throws {
        let text = "\u{FEFF}ab,c\r\n\"x\ny\",z\nlast"
        let bytes = Array(text.utf8)
        let reader = CSVReader(bytes: bytes, chunkSize: 4)
        var offsets: [Int64] = []
        while let result = try reader.next() { offsets.append(try result.get().endOffset) }
        #expect(offsets == [9, 17, Int64(bytes.count)])
        #expect(reader.offset == Int64(bytes.count))
        #expect(reader.size == Int64(bytes.count))
    }

    @Test func quoteInUnquotedFieldIsAnErrorForThatRecordOnly() throws {
        for chunkSize in chunkSizes {
            let results = try read("a,b\nx,5\" screen,y\nc,d\n", chunkSize: chunkSize)
            #expect(summary(results) == ["1:a|b", "!2:quoteInUnquotedField(field: 1)", "3:c|d"], "chunk \(chunkSize)")
            let error = errors(results)[0]
            #expect(error.endOffset == 18)
            #expect(error.field == 1)
            #expect(!error.reason.contains("screen"))
        }
    }

    @Test func textAfterAClosingQuote() throws {
        for chunkSize in chunkSizes {
            let results = try read("\"a\"b,c\n\"a\" ,c\n\"a\"\rb\nok\n", chunkSize: chunkSize)
            #expect(
                summary(results) == [
                    "!1:textAfterClosingQuote(field: 0)", "!2:textAfterClosingQuote(field: 0)",
                    "!3:textAfterClosingQuote(field: 0)", "4:ok",
                ], "chunk \(chunkSize)")
        }
    }

    @Test func anUnterminatedQuoteCostsOneLineNotTheRestOfTheFile() throws {
        for chunkSize in chunkSizes {
            let results = try read("h1,h2\n1,\"abc\n2,x\n3,y\n", chunkSize: chunkSize)
            #expect(
                summary(results) == ["1:h1|h2", "!2:unterminatedQuote(field: 1)", "3:2|x", "4:3|y"],
                "chunk \(chunkSize)")
        }
        // The quote is closed further on, followed by text: the error is still the record's first line.
        let results = try read("1,\"abc\n2,x\n3,\"y\"z\n4,w\n")
        #expect(
            summary(results) == [
                "!1:textAfterClosingQuote(field: 1)", "2:2|x", "!3:textAfterClosingQuote(field: 1)", "4:4|w",
            ])
    }

    @Test func invalidUTF8IsAnErrorForThatRecordOnly() throws {
        let bytes =
            Array("a,b\n".utf8) + [0x78, 0x2C, 0xFF, 0xFE, 0x0A] + Array("\"c\n\",d\n".utf8) + [0x22, 0xC3, 0x22, 0x0A]
            + Array("e,f\n".utf8)
        for chunkSize in chunkSizes {
            let results = try read(bytes, chunkSize: chunkSize)
            #expect(
                summary(results) == [
                    "1:a|b", "!2:invalidUTF8(field: 1)", "3:c\n|d", "!5:invalidUTF8(field: 0)", "6:e|f",
                ],
                "chunk \(chunkSize)")
        }
    }

    @Test func utf8Validation() throws {
        let valid: [[UInt8]] = [
            Array("王伟 ÿ €𝄞".utf8), [0xED, 0x9F, 0xBF], [0xF4, 0x8F, 0xBF, 0xBF], [0xE0, 0xA0, 0x80],
            [0xF0, 0x90, 0x80, 0x80],
        ]
        let invalid: [[UInt8]] = [
            [0xC0, 0x80], [0xC1, 0xBF], [0xE0, 0x9F, 0xBF], [0xED, 0xA0, 0x80], [0xF0, 0x8F, 0xBF, 0xBF],
            [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80], [0x80], [0xE4, 0xB8], [0xE4, 0x41, 0x80],
            Array("abcdefgh".utf8) + [0xFF],
        ]
        for bytes in valid {
            #expect(fields(try read(bytes + [0x0A])) == [[String(decoding: bytes, as: UTF8.self)]])
        }
        for bytes in invalid {
            #expect(summary(try read(bytes + [0x0A])) == ["!1:invalidUTF8(field: 0)"], "\(bytes)")
        }
    }

    @Test func aRecordLongerThanTheLimitIsAnError() throws {
        let long = String(repeating: "x", count: 100)
        for chunkSize in [1, 7, 64, 1000] {
            let results = try read(
                Array("a,b\n\(long),c\nd,e\n\"\(long)\n\(long)\nf,g\n".utf8), chunkSize: chunkSize, maxRecordBytes: 50)
            #expect(
                summary(results) == [
                    "1:a|b", "!2:recordTooLong(limit: 50)", "3:d|e", "!4:recordTooLong(limit: 50)",
                    "!5:recordTooLong(limit: 50)", "6:f|g",
                ], "chunk \(chunkSize)")
        }
    }

    @Test func readsAFileInChunks() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("csv-\(UUID().uuidString).csv")
        defer { try? FileManager.default.removeItem(at: url) }
        var text = "\u{FEFF}id,name,note\r\n"
        for index in 1...2000 { text += "\(index),王\(index),\"备注, \"\"\(index)\"\"\n第二行\"\r\n" }
        try Data(text.utf8).write(to: url)
        let reader = try CSVReader(path: url.path, chunkSize: 1000)
        var count = 0
        var lastLine = 0
        while let result = try reader.next() {
            let record = try result.get()
            if count > 0 {
                #expect(record.fields == ["\(count)", "王\(count)", "备注, \"\(count)\"\n第二行"])
                #expect(record.line == lastLine + (count == 1 ? 1 : 2))
            }
            lastLine = record.line
            count += 1
        }
        #expect(count == 2001)
        #expect(reader.offset == Int64(text.utf8.count))
        #expect(reader.size == Int64(text.utf8.count))
    }

    @Test func aMissingFileThrows() {
        #expect(throws: CSVFileError.self) { try CSVReader(path: "/nonexistent/persons.csv") }
        do {
            _ = try CSVReader(path: "/nonexistent/persons.csv")
        } catch {
            #expect(error.operation == "open")
            #expect(error.code == ENOENT)
        }
    }

    @Test func formatQuotesOnlyWhenNeeded() {
        #expect(CSVFormat.field("abc") == "abc")
        #expect(CSVFormat.field("") == "")
        #expect(CSVFormat.field("a,b") == "\"a,b\"")
        #expect(CSVFormat.field("5\" screen") == "\"5\"\" screen\"")
        #expect(CSVFormat.field("a\nb") == "\"a\nb\"")
        #expect(CSVFormat.record(["1", "name", "is required"]) == "1,name,is required\r\n")
        #expect(CSVFormat.record([""], lineEnding: "\n") == "\"\"\n")
    }

    // MARK: - Properties

    /// Characters that make quoting interesting.
    static let fieldCharacter = Gen<Character?>.element(
        of: ["a", "Z", "0", " ", ",", "\"", "\n", "\r\n", "\r", "王", "區", "€", "𝄞", "é", "\t", "x"] as [Character]
    ).map { $0! }

    static let table = zip(
        fieldCharacter.string(of: 0...6).array(of: 1...4).array(of: 0...8),
        Gen.bool, Gen.bool, Gen.int(in: 1...40), Gen.bool)

    @Test func randomTablesRoundTrip() async throws {
        await propertyCheck(count: 300, input: Self.table) { rows, crlf, quoteAll, chunkSize, finalLineEnd in
            let lineEnding = crlf ? "\r\n" : "\n"
            var text = ""
            for (index, row) in rows.enumerated() {
                let line =
                    quoteAll && !(row.count == 1 && row[0].isEmpty)
                    ? row.map { "\"" + $0.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }.joined(separator: ",")
                        + lineEnding
                    : CSVFormat.record(row, lineEnding: lineEnding)
                text += finalLineEnd || index < rows.count - 1 ? line : String(line.dropLast(lineEnding.count))
            }
            let bytes = Array(text.utf8)
            let results = try read(bytes, chunkSize: chunkSize)
            #expect(fields(results) == rows, "\(text.debugDescription)")
            // Lines: each record starts after the line ends of the records before it.
            var expectedLine = 1
            for (row, result) in zip(rows, results) {
                #expect((try? result.get().line) == expectedLine)
                expectedLine += 1 + row.joined().filter { $0 == "\n" || $0 == "\r\n" }.count
            }
            #expect(results.last.flatMap { try? $0.get().endOffset } ?? 0 == Int64(bytes.count))
        }
    }

    static let bytes = Gen<UInt8?>.element(
        of: [0x2C, 0x22, 0x0A, 0x0D, 0x61, 0x20, 0xE7, 0x8E, 0x8B, 0xFF, 0xC3, 0xEF, 0xBB, 0xBF] as [UInt8]
    ).map { $0! }

    @Test func arbitraryBytesNeverCrashAndReadTheSameInAnyChunking() async throws {
        await propertyCheck(count: 500, input: Self.bytes.array(of: 0...80), Gen.uint8().array(of: 0...40)) {
            special, random in
            for bytes in [special, random, special + random] {
                let reference = try read(bytes, maxRecordBytes: 30)
                for chunkSize in [1, 3, 8] {
                    #expect(summary(try read(bytes, chunkSize: chunkSize, maxRecordBytes: 30)) == summary(reference))
                }
                // Offsets only move forward and the last one is the end of the input.
                var previous: Int64 = 0
                for result in reference {
                    let offset =
                        switch result {
                        case .success(let record): record.endOffset
                        case .failure(let error): error.endOffset
                        }
                    #expect(offset > previous)
                    previous = offset
                }
                #expect(previous <= Int64(bytes.count))
            }
        }
    }
}
