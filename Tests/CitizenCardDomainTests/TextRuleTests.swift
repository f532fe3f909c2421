import CitizenCardDomain
import PropertyBased
import Testing

/// The one rule for stored and hashed text (issue 16): every control character, the bidirectional
/// formatting characters, noncharacters, and in names the invisible format characters.
@Suite("Text rule")
struct TextRuleTests {
    /// Any Unicode scalar value, the controls and format characters over-represented.
    static let scalar = Gen<Unicode.Scalar>.oneOf(
        Gen.unicodeScalar(in: "\u{0}"..."\u{9F}"),
        Gen.unicodeScalar(in: "\u{2000}"..."\u{206F}"),
        Gen.unicodeScalar(in: "\u{4E00}"..."\u{9FFF}"),
        Gen.unicodeScalar(in: Unicode.Scalar(0xFDD0)!...Unicode.Scalar(0xFFFF)!),
        Gen<UInt32>.value(in: 0...0x10FFFF).withoutShrink().map { Unicode.Scalar($0) ?? "\u{FFFD}" }
    )
    static let text = scalar.array(of: 0...12)

    /// An independent statement of the rule, scalar by scalar.
    static func allowed(_ scalar: Unicode.Scalar, _ kind: TextRule.Kind) -> Bool {
        let value = scalar.value
        let lineBreaks: Set<UInt32> = [0x0A, 0x0D, 0x2028, 0x2029]
        if lineBreaks.contains(value) { return kind == .multiline }
        if value <= 0x1F || (0x7F...0x9F).contains(value) { return false }
        let bidi: Set<UInt32> = [
            0x061C, 0x200E, 0x200F, 0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069,
        ]
        if bidi.contains(value) { return false }
        if (0xFDD0...0xFDEF).contains(value) || value & 0xFFFE == 0xFFFE { return false }
        if kind == .name {
            if scalar.properties.generalCategory == .format { return false }
            if [0x115F, 0x1160, 0x3164, 0xFFA0].contains(value) { return false }
        }
        return true
    }

    @Test("a text passes exactly when every scalar does, for every kind")
    func agreesWithTheModel() async {
        await propertyCheck(count: 3000, input: Self.text) { scalars in
            let text = String(String.UnicodeScalarView(scalars))
            for kind in [TextRule.Kind.line, .multiline, .name] {
                let expected = scalars.allSatisfy { Self.allowed($0, kind) }
                #expect(
                    (TextRule.violation(in: text, kind: kind) == nil) == expected, "\(scalars.map(\.value)) \(kind)")
            }
        }
    }

    @Test("every C0 and C1 control character and DEL is refused, NUL by name")
    func controls() throws {
        for value in Array(0x00...0x1F) + Array(0x7F...0x9F) {
            let text = "a\(Unicode.Scalar(UInt32(value))!)b"
            let violation = TextRule.violation(in: text, kind: .multiline)
            if value == 0x0A || value == 0x0D {
                #expect(violation == nil)
                #expect(TextRule.violation(in: text, kind: .line) == .lineBreak)
            } else if value == 0 {
                #expect(violation == .nul)
            } else {
                #expect(violation == .controlCharacter, "U+\(String(value, radix: 16))")
            }
        }
    }

    @Test(
        "names: bidirectional overrides and zero-width characters are refused; ideographs, the middle dot and private use pass"
    )
    func names() {
        #expect(TextRule.violation(in: "王\u{202E}明", kind: .name) == .directionalFormatting)
        #expect(TextRule.violation(in: "王\u{202E}明", kind: .line) == .directionalFormatting)
        #expect(TextRule.violation(in: "王\u{200B}明", kind: .name) == .invisibleCharacter)
        #expect(TextRule.violation(in: "王\u{200B}明", kind: .line) == nil)
        #expect(TextRule.violation(in: "王\u{FEFF}明", kind: .name) == .invisibleCharacter)
        #expect(TextRule.violation(in: "Ann\u{AD}a", kind: .name) == .invisibleCharacter)
        #expect(TextRule.violation(in: "\u{3164}", kind: .name) == .invisibleCharacter)
        #expect(TextRule.violation(in: String(Character(Unicode.Scalar(0xFFFF)!)), kind: .line) == .nonCharacter)
        #expect(TextRule.violation(in: "买买提·艾力", kind: .name) == nil)
        #expect(TextRule.violation(in: "王\u{E000}明", kind: .name) == nil)
        #expect(TextRule.violation(in: "𠀀𪚥", kind: .name) == nil)
        #expect(TextRule.violation(in: "José Müller-Lüdenscheidt", kind: .name) == nil)
    }

    @Test("the error names the field and the kind of character, never the value")
    func error() {
        #expect(throws: CitizenCardError.self) { try TextRule.check("x\u{0}secret", field: "purpose", kind: .line) }
        do {
            try TextRule.check("x\u{0}secret", field: "purpose", kind: .line)
        } catch {
            #expect(error.code == .invalidField && error.field == "purpose")
            #expect(error.detail?.contains("NUL") == true && error.detail?.contains("secret") == false)
        }
    }

    @Test("person fields apply the rule")
    func personFields() {
        #expect(throws: CitizenCardError.self) { try PersonFields.name("王\u{200D}明") }
        #expect(throws: CitizenCardError.self) { try PersonFields.name("王\n明") }
        #expect(throws: CitizenCardError.self) {
            try PersonFields.text("定海区\u{0}", field: "address", lengthMax: 200)
        }
        #expect((try? PersonFields.name(" 王小明 ")) == "王小明")
    }
}

@Suite("Masking of document references")
struct DocumentReferenceMaskingTests {
    @Test("letters and digits hidden but the last four; spaces and punctuation kept")
    func masks() {
        #expect(Masking.documentReference("33090219900101001X") == "**************001X")
        #expect(Masking.documentReference("No. 2023-0456") == "**. ****-0456")
        #expect(Masking.documentReference("死亡证明 A12") == "***明 A12")
        #expect(Masking.documentReference("ab") == "ab")
        #expect(Masking.documentReference("") == "")
    }

    @Test("the mask has the same length and never shows more than four significant characters")
    func property() async {
        await propertyCheck(count: 500, input: Gen.letterOrNumber.string(of: 0...40)) { text in
            let masked = Masking.documentReference(text)
            #expect(masked.count == text.count)
            #expect(masked.filter { $0 != "*" }.count <= 4)
            #expect(masked.suffix(min(4, text.count)) == text.suffix(min(4, text.count)))
        }
    }
}
