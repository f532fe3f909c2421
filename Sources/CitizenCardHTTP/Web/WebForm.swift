import CitizenCardDomain
import Foundation

/// A submitted form: `application/x-www-form-urlencoded` fields, or `multipart/form-data` fields
/// and files. Field names repeat only for check boxes; the first value wins for `[name]`.
struct WebForm: Sendable, Equatable {
    struct File: Sendable, Equatable {
        var filename: String
        var contentType: String
        var bytes: Data
    }

    var fields: [(name: String, value: String)] = []
    var files: [String: File] = [:]

    subscript(_ name: String) -> String? { fields.first { $0.name == name }?.value }

    /// The trimmed value, nil when absent or blank.
    func text(_ name: String) -> String? {
        guard let value = self[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty else {
            return nil
        }
        return value
    }

    /// A check box: present and not "off"/"false".
    func flag(_ name: String) -> Bool {
        guard let value = self[name] else { return false }
        return !["", "off", "false", "0"].contains(value.lowercased())
    }

    static func == (lhs: WebForm, rhs: WebForm) -> Bool {
        lhs.fields.map { "\($0.name)=\($0.value)" } == rhs.fields.map { "\($0.name)=\($0.value)" }
            && lhs.files == rhs.files
    }

    /// Every field's name and value within the text rule (line breaks allowed: a field's own
    /// rule decides whether it takes several lines), before any page handler sees the form:
    /// 422 `invalid_field` naming the field. A field's name that breaks it is 400.
    func checkText() throws(CitizenCardError) {
        for field in fields {
            guard TextRule.violation(in: field.name, kind: .line) == nil else {
                throw CitizenCardError(.malformedRequest, "a form field's name holds characters that are not allowed")
            }
            try TextRule.check(field.value, field: field.name, kind: .multiline)
        }
    }

    /// Parses a body by its content type; nil when the type is neither form encoding.
    static func parse(contentType: String?, body: Data) -> WebForm? {
        let type = (contentType ?? "").lowercased()
        if type.hasPrefix("application/x-www-form-urlencoded") {
            return urlEncoded(String(decoding: body, as: UTF8.self))
        }
        if type.hasPrefix("multipart/form-data") {
            guard let boundary = Self.boundary(in: contentType ?? "") else { return nil }
            return multipart(body, boundary: boundary)
        }
        return nil
    }

    static func urlEncoded(_ text: String) -> WebForm {
        var form = WebForm()
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = decode(parts[0])
            let value = parts.count > 1 ? decode(parts[1]) : ""
            form.fields.append((name, value))
        }
        return form
    }

    private static func decode(_ part: Substring) -> String {
        let spaced = part.replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? spaced
    }

    static func boundary(in contentType: String) -> String? {
        for parameter in contentType.split(separator: ";").dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, pair[0].trimmingCharacters(in: .whitespaces).lowercased() == "boundary" else {
                continue
            }
            var value = pair[1].trimmingCharacters(in: .whitespaces)
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 {
                value = String(value.dropFirst().dropLast())
            }
            guard (1...70).contains(value.utf8.count) else { return nil }
            return value
        }
        return nil
    }

    /// RFC 7578 multipart/form-data; nil when the body does not follow the format.
    static func multipart(_ body: Data, boundary: String) -> WebForm? {
        let bytes = [UInt8](body)
        let delimiter = Array("--\(boundary)".utf8)
        var form = WebForm()
        guard var position = find(delimiter, in: bytes, from: 0) else { return nil }
        position += delimiter.count
        while true {
            // After a delimiter: "--" ends the body, CRLF starts a part.
            if bytes.count >= position + 2, bytes[position] == 0x2D, bytes[position + 1] == 0x2D { return form }
            guard bytes.count >= position + 2, bytes[position] == 0x0D, bytes[position + 1] == 0x0A else { return nil }
            position += 2
            guard let headerEnd = find([0x0D, 0x0A, 0x0D, 0x0A], in: bytes, from: position) else { return nil }
            let headerText = String(decoding: bytes[position..<headerEnd], as: UTF8.self)
            let contentStart = headerEnd + 4
            guard let next = find([0x0D, 0x0A] + delimiter, in: bytes, from: contentStart) else { return nil }
            let content = Data(bytes[contentStart..<next])
            var name: String?
            var filename: String?
            var partType = "text/plain"
            for line in headerText.components(separatedBy: "\r\n") {
                let pair = line.split(separator: ":", maxSplits: 1)
                guard pair.count == 2 else { continue }
                let header = pair[0].trimmingCharacters(in: .whitespaces).lowercased()
                let value = pair[1].trimmingCharacters(in: .whitespaces)
                if header == "content-disposition" {
                    name = parameter("name", in: value)
                    filename = parameter("filename", in: value)
                } else if header == "content-type" {
                    partType = value
                }
            }
            guard let name else { return nil }
            if let filename {
                if !filename.isEmpty || !content.isEmpty {
                    form.files[name] = File(filename: filename, contentType: partType, bytes: content)
                }
            } else {
                form.fields.append((name, String(decoding: content, as: UTF8.self)))
            }
            position = next + 2 + delimiter.count
        }
    }

    private static func parameter(_ key: String, in value: String) -> String? {
        for part in value.split(separator: ";").dropFirst() {
            let pair = part.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, pair[0].trimmingCharacters(in: .whitespaces).lowercased() == key else { continue }
            var text = pair[1].trimmingCharacters(in: .whitespaces)
            if text.hasPrefix("\""), text.hasSuffix("\""), text.count >= 2 {
                text = String(text.dropFirst().dropLast())
            }
            return text
        }
        return nil
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count, start <= haystack.count - needle.count else {
            return nil
        }
        let first = needle[0]
        var index = start
        let last = haystack.count - needle.count
        while index <= last {
            if haystack[index] == first {
                var matched = true
                for offset in 1..<needle.count where haystack[index + offset] != needle[offset] {
                    matched = false
                    break
                }
                if matched { return index }
            }
            index += 1
        }
        return nil
    }
}
