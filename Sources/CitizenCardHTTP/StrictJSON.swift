public import CitizenCardDomain

/// Checks a request body before anything decodes it (issue 16): JSON text of RFC 8259 in UTF-8
/// only (no byte order mark, no UTF-16 or UTF-32, no invalid UTF-8), no object with a key twice,
/// no lone surrogate in a `\u` escape, at most `depthMax` levels of nesting, and every string
/// value within `TextRule` (no NUL, no control character but line breaks, no bidirectional
/// formatting, no noncharacter). A syntax problem is 400 `malformed_request`; a string that breaks
/// the text rule is 422 `invalid_field` naming the field by its path (`identity.idNumber`,
/// `results[3].cardNumber`). Nothing is hashed, throttled or stored before this passes.
///
/// Foundation's decoders are lenient where an attacker can use it: they accept UTF-16 bodies and
/// duplicate keys (the last wins, so a proxy or a log that reads the first sees another request).
public struct StrictJSON {
    public static let depthMax = 32

    /// The body, read without bounds checks on each byte: every access is guarded by `position <
    /// bytes.count` or by a length checked before it.
    private let bytes: UnsafeBufferPointer<UInt8>
    private var position = 0
    /// Where the reader is: keys and array indexes, made into a field's name only for an error.
    private var path: [PathComponent] = []
    /// The keys of every object being read, innermost last (a frame per object, `object`
    /// remembers where its own starts): compared for duplicates without a set per object.
    private var keys: [Key] = []

    /// A key as read: the bytes between its quotes when it is printable ASCII without escapes
    /// (nearly every key), else its decoded text.
    private enum Key {
        case plain(Range<Int>)
        case decoded(String)
    }

    private enum PathComponent {
        case key(Key)
        case index(Int)
    }

    private func text(_ key: Key) -> String {
        switch key {
        case .plain(let range): String(decoding: bytes[range], as: UTF8.self)
        case .decoded(let text): text
        }
    }

    private func same(_ left: Key, _ right: Key) -> Bool {
        switch (left, right) {
        case (.plain(let a), .plain(let b)):
            a.count == b.count && bytes[a].elementsEqual(bytes[b])
        case (.decoded(let a), .decoded(let b)): a == b
        default: text(left) == text(right)
        }
    }

    /// `identity.idNumber`, `results[3].cardNumber`; `body` for the top level.
    private var fieldName: String {
        var name = ""
        for component in path {
            switch component {
            case .key(let key): name += name.isEmpty ? text(key) : ".\(text(key))"
            case .index(let index): name += "[\(index)]"
            }
        }
        return name.isEmpty ? "body" : name
    }

    private init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    /// Throws the first problem found in `bytes`, which must hold exactly one JSON value.
    public static func check(_ bytes: [UInt8]) throws(CitizenCardError) {
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { throw malformed("a byte order mark is not allowed; send UTF-8") }
        let result: Result<Void, CitizenCardError> = bytes.withUnsafeBufferPointer { buffer in
            var scanner = StrictJSON(buffer)
            do throws(CitizenCardError) {
                scanner.skipWhitespace()
                try scanner.value(depth: 0)
                scanner.skipWhitespace()
                guard scanner.position == buffer.count else { throw malformed("there is more after the JSON value") }
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        try result.get()
    }

    static func malformed(_ detail: String, zh: String = "请求内容不是有效的UTF-8 JSON") -> CitizenCardError {
        CitizenCardError(.malformedRequest, detail, zh: zh)
    }

    private static func isDigit(_ byte: UInt8) -> Bool { (0x30...0x39).contains(byte) }

    private var malformedHere: CitizenCardError {
        Self.malformed("the body is not valid JSON (byte \(position))")
    }

    private mutating func skipWhitespace() {
        while position < bytes.count {
            let byte = bytes[position]
            guard byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 else { return }
            position += 1
        }
    }

    private mutating func value(depth: Int) throws(CitizenCardError) {
        guard depth <= Self.depthMax else {
            throw Self.malformed("JSON nested deeper than \(Self.depthMax) levels", zh: "JSON嵌套层数过多")
        }
        guard position < bytes.count else { throw malformedHere }
        switch bytes[position] {
        case UInt8(ascii: "{"): try object(depth: depth)
        case UInt8(ascii: "["): try array(depth: depth)
        case UInt8(ascii: "\""):
            _ = try string(keeping: false)
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default: try number()
        }
    }

    private mutating func object(depth: Int) throws(CitizenCardError) {
        position += 1
        skipWhitespace()
        if position < bytes.count, bytes[position] == UInt8(ascii: "}") {
            position += 1
            return
        }
        let frame = keys.count
        defer { keys.removeSubrange(frame...) }
        while true {
            guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { throw malformedHere }
            let key: Key
            if let plain = plainKey() {
                key = .plain(plain)
            } else {
                let decoded = try string(keeping: true)
                guard TextRule.violation(in: decoded, kind: .line) == nil else {
                    throw CitizenCardError(.unknownField, "a field name holds characters that are not allowed")
                }
                key = .decoded(decoded)
            }
            path.append(.key(key))
            guard !keys[frame...].contains(where: { same($0, key) }) else {
                let field = fieldName
                throw CitizenCardError(
                    .malformedRequest, field: field, "'\(field)' is given twice", zh: "字段\(field)重复")
            }
            keys.append(key)
            skipWhitespace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else { throw malformedHere }
            position += 1
            skipWhitespace()
            try value(depth: depth + 1)
            path.removeLast()
            skipWhitespace()
            guard position < bytes.count else { throw malformedHere }
            if bytes[position] == UInt8(ascii: ",") {
                position += 1
                skipWhitespace()
            } else if bytes[position] == UInt8(ascii: "}") {
                position += 1
                return
            } else {
                throw malformedHere
            }
        }
    }

    private mutating func array(depth: Int) throws(CitizenCardError) {
        position += 1
        skipWhitespace()
        if position < bytes.count, bytes[position] == UInt8(ascii: "]") {
            position += 1
            return
        }
        var index = 0
        while true {
            path.append(.index(index))
            try value(depth: depth + 1)
            path.removeLast()
            index += 1
            skipWhitespace()
            guard position < bytes.count else { throw malformedHere }
            if bytes[position] == UInt8(ascii: ",") {
                position += 1
                skipWhitespace()
            } else if bytes[position] == UInt8(ascii: "]") {
                position += 1
                return
            } else {
                throw malformedHere
            }
        }
    }

    private mutating func literal(_ word: StaticString) throws(CitizenCardError) {
        let expected = UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
        guard bytes.count - position >= expected.count,
            bytes[position..<(position + expected.count)].elementsEqual(expected)
        else { throw malformedHere }
        position += expected.count
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    private mutating func number() throws(CitizenCardError) {
        func digits() -> Int {
            let start = position
            while position < bytes.count, Self.isDigit(bytes[position]) { position += 1 }
            return position - start
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: "-") { position += 1 }
        guard position < bytes.count, Self.isDigit(bytes[position]) else { throw malformedHere }
        if bytes[position] == UInt8(ascii: "0") { position += 1 } else { _ = digits() }
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            position += 1
            guard digits() > 0 else { throw malformedHere }
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E") {
            position += 1
            if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") {
                position += 1
            }
            guard digits() > 0 else { throw malformedHere }
        }
    }

    /// A key of printable ASCII without escapes (nearly every key): the range of its bytes, read
    /// past its closing quote; nil, having read nothing, for any other key.
    private mutating func plainKey() -> Range<Int>? {
        var end = position + 1
        while end < bytes.count {
            let byte = bytes[end]
            if byte == UInt8(ascii: "\"") {
                let range = (position + 1)..<end
                position = end + 1
                return range
            }
            guard byte >= 0x20 && byte < 0x7F && byte != UInt8(ascii: "\\") else { return nil }
            end += 1
        }
        return nil
    }

    /// A string starting at the quote: valid UTF-8, escapes of RFC 8259 with surrogates in pairs,
    /// every scalar within the text rule (checked as it is read; printable ASCII, the bulk of any
    /// body, passes without decoding). Returns the text only when `keeping` (object keys).
    private mutating func string(keeping: Bool) throws(CitizenCardError) -> String {
        position += 1
        var scalars = String.UnicodeScalarView()
        while true {
            if !keeping {
                // Printable ASCII but the quote and the backslash: nothing to decode or check.
                while position < bytes.count {
                    let byte = bytes[position]
                    guard byte >= 0x20 && byte < 0x7F && byte != 0x22 && byte != 0x5C else { break }
                    position += 1
                }
            }
            guard position < bytes.count else { throw malformedHere }
            let byte = bytes[position]
            let scalar: Unicode.Scalar
            switch byte {
            case UInt8(ascii: "\""):
                position += 1
                return keeping ? String(scalars) : ""
            case UInt8(ascii: "\\"):
                position += 1
                scalar = try escape()
                if !keeping { try checkRule(scalar) }
            case 0x00..<0x20:
                // A raw control character is not JSON at all; escaped, it meets the text rule.
                throw malformedHere
            case 0x20..<0x7F:
                position += 1
                if !keeping { continue }
                scalar = Unicode.Scalar(byte)
            case 0x7F:
                position += 1
                scalar = Unicode.Scalar(byte)
                if !keeping { try checkRule(scalar) }
            default:
                scalar = try utf8Sequence()
                if !keeping { try checkRule(scalar) }
            }
            if keeping { scalars.append(scalar) }
        }
    }

    /// A value's scalar within the text rule (a key's is checked whole by `object`).
    private func checkRule(_ scalar: Unicode.Scalar) throws(CitizenCardError) {
        if let violation = TextRule.violation(of: scalar, kind: .multiline) {
            throw TextRule.error(violation, field: fieldName)
        }
    }

    private mutating func escape() throws(CitizenCardError) -> Unicode.Scalar {
        guard position < bytes.count else { throw malformedHere }
        let byte = bytes[position]
        position += 1
        switch byte {
        case UInt8(ascii: "\""): return "\""
        case UInt8(ascii: "\\"): return "\\"
        case UInt8(ascii: "/"): return "/"
        case UInt8(ascii: "b"): return "\u{08}"
        case UInt8(ascii: "f"): return "\u{0C}"
        case UInt8(ascii: "n"): return "\n"
        case UInt8(ascii: "r"): return "\r"
        case UInt8(ascii: "t"): return "\t"
        case UInt8(ascii: "u"):
            let first = try hex4()
            if (0xD800...0xDBFF).contains(first) {
                guard bytes.count - position >= 6, bytes[position] == UInt8(ascii: "\\"),
                    bytes[position + 1] == UInt8(ascii: "u")
                else { throw loneSurrogate }
                position += 2
                let second = try hex4()
                guard (0xDC00...0xDFFF).contains(second) else { throw loneSurrogate }
                return Unicode.Scalar(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00))!
            }
            guard let scalar = Unicode.Scalar(first) else { throw loneSurrogate }
            return scalar
        default:
            position -= 1
            throw malformedHere
        }
    }

    private var loneSurrogate: CitizenCardError {
        let field = fieldName
        return CitizenCardError.invalid(
            field, "'\(field)' holds a lone surrogate escape; text is Unicode scalar values only",
            zh: "字段\(field)包含无效的Unicode转义")
    }

    private mutating func hex4() throws(CitizenCardError) -> UInt32 {
        guard bytes.count - position >= 4 else { throw malformedHere }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[position]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw malformedHere
            }
            value = value << 4 | UInt32(digit)
            position += 1
        }
        return value
    }

    /// One multi-byte UTF-8 sequence (RFC 3629: no overlong forms, no surrogates, at most U+10FFFF).
    private mutating func utf8Sequence() throws(CitizenCardError) -> Unicode.Scalar {
        let lead = bytes[position]
        let length: Int
        let minimum: UInt32
        var value: UInt32
        switch lead {
        case 0xC2...0xDF: (length, minimum, value) = (2, 0x80, UInt32(lead & 0x1F))
        case 0xE0...0xEF: (length, minimum, value) = (3, 0x800, UInt32(lead & 0x0F))
        case 0xF0...0xF4: (length, minimum, value) = (4, 0x10000, UInt32(lead & 0x07))
        default: throw Self.malformed("the body is not UTF-8 (byte \(position))")
        }
        guard bytes.count - position >= length else { throw Self.malformed("the body is not UTF-8 (byte \(position))") }
        for offset in 1..<length {
            let continuation = bytes[position + offset]
            guard continuation & 0xC0 == 0x80 else {
                throw Self.malformed("the body is not UTF-8 (byte \(position + offset))")
            }
            value = value << 6 | UInt32(continuation & 0x3F)
        }
        guard value >= minimum, let scalar = Unicode.Scalar(value) else {
            throw Self.malformed("the body is not UTF-8 (byte \(position))")
        }
        position += length
        return scalar
    }
}
