import Foundation
import Testing

@testable import CitizenCardHTTP

/// The pages' form parser: round trips of random fields and files, and random damage to a valid
/// body never crashes it.
@Suite("Web form parsing")
struct WebFormTests {
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let alphabet = Array("abcXYZ019 -_.~&=+%?/#\"'<>;:王李张\r\n\t")

    static func text(_ random: inout Generator, length: ClosedRange<Int> = 0...12) -> String {
        String((0..<Int.random(in: length, using: &random)).map { _ in alphabet.randomElement(using: &random)! })
    }

    static func encode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed)!
    }

    @Test("url-encoded fields come back as sent, in order")
    func urlEncodedRoundTrip() {
        var random = Generator(state: 1)
        for _ in 0..<500 {
            let fields = (0..<Int.random(in: 0...6, using: &random)).map { _ in
                (Self.text(&random, length: 1...8), Self.text(&random))
            }
            let body = fields.map { "\(Self.encode($0.0))=\(Self.encode($0.1))" }.joined(separator: "&")
            let form = WebForm.parse(contentType: "application/x-www-form-urlencoded", body: Data(body.utf8))
            #expect(form?.fields.map(\.name) == fields.map(\.0))
            #expect(form?.fields.map(\.value) == fields.map(\.1))
        }
        // '+' is a space; a lone '%' is kept as written.
        #expect(WebForm.urlEncoded("a=1+2&b=%&c").fields.map(\.value) == ["1 2", "%", ""])
    }

    static func multipart(
        boundary: String, fields: [(String, String)], files: [(String, String, Data)]
    ) -> Data {
        var body = Data()
        for (name, value) in fields {
            body += Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n".utf8)
        }
        for (name, filename, bytes) in files {
            body += Data(
                "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"; filename=\"\(filename)\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                    .utf8)
            body += bytes
            body += Data("\r\n".utf8)
        }
        body += Data("--\(boundary)--\r\n".utf8)
        return body
    }

    @Test("multipart fields and files, binary included, come back as sent")
    func multipartRoundTrip() {
        var random = Generator(state: 2)
        let boundary = "----cc-boundary-7d93"
        for _ in 0..<300 {
            let fields = (0..<Int.random(in: 0...4, using: &random)).map { index in
                ("f\(index)", Self.text(&random))
            }
            let bytes = Data(
                (0..<Int.random(in: 0...300, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) })
            let body = Self.multipart(boundary: boundary, fields: fields, files: [("photo", "p.png", bytes)])
            let form = WebForm.parse(contentType: "multipart/form-data; boundary=\(boundary)", body: body)
            #expect(form?.fields.map(\.name) == fields.map(\.0))
            #expect(form?.fields.map(\.value) == fields.map(\.1))
            if bytes.isEmpty {
                #expect(form?.files["photo"]?.bytes ?? Data() == Data())
            } else {
                #expect(form?.files["photo"]?.bytes == bytes)
                #expect(form?.files["photo"]?.filename == "p.png")
            }
        }
    }

    @Test("damaged bodies and odd content types are refused or parsed, never a crash")
    func damage() {
        var random = Generator(state: 3)
        let boundary = "xyz"
        let valid = Self.multipart(
            boundary: boundary, fields: [("_csrf", "token"), ("name", "王")],
            files: [("file", "a.csv", Data("1,2\r\n".utf8))])
        for _ in 0..<3000 {
            var bytes = [UInt8](valid)
            for _ in 0..<Int.random(in: 1...6, using: &random) {
                switch Int.random(in: 0...2, using: &random) {
                case 0 where !bytes.isEmpty:
                    bytes[Int.random(in: 0..<bytes.count, using: &random)] = .random(in: 0...255, using: &random)
                case 1 where !bytes.isEmpty: bytes.remove(at: Int.random(in: 0..<bytes.count, using: &random))
                default:
                    bytes.insert(
                        Array("-\r\n".utf8).randomElement(using: &random)!,
                        at: Int.random(in: 0...bytes.count, using: &random))
                }
            }
            _ = WebForm.parse(contentType: "multipart/form-data; boundary=\(boundary)", body: Data(bytes))
            _ = WebForm.parse(contentType: "application/x-www-form-urlencoded", body: Data(bytes))
        }
        #expect(WebForm.parse(contentType: "multipart/form-data", body: valid) == nil, "no boundary")
        #expect(WebForm.parse(contentType: "multipart/form-data; boundary=\"\"", body: valid) == nil)
        #expect(WebForm.parse(contentType: "application/json", body: valid) == nil)
        #expect(WebForm.parse(contentType: nil, body: valid) == nil)
        #expect(WebForm.multipart(Data("--xyz\r\nno headers end".utf8), boundary: "xyz") == nil)
    }
}
