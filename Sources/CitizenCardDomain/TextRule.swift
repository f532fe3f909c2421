/// The one rule for every text the system stores or hashes (issue 16, R-02, R-42).
///
/// A text is a sequence of Unicode scalar values (Swift's `String` guarantees that; the HTTP edge
/// refuses bodies that are not UTF-8 and JSON escapes that are lone surrogates) and never holds:
///
/// - U+0000 (NUL): SQLite cuts text at it, so a value hashed whole would be stored cut and the
///   audit chain would report its entry as edited for ever; PostgreSQL refuses it;
/// - any other C0 or C1 control character or DEL, except line breaks (LF, CR, U+2028, U+2029) in a
///   field that allows several lines (`multiline`);
/// - a bidirectional formatting character (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069),
///   which can make stored text read differently on screen than it is ("Trojan Source");
/// - a noncharacter (U+FDD0–U+FDEF, U+xxFFFE, U+xxFFFF);
/// - in a name (of a person, an account, an outlet, a merchant), any other format character
///   (general category Cf: zero-width space, joiners, soft hyphen, U+FEFF, tags …), which make two
///   names that look the same compare different.
///
/// Private-use characters are allowed: some registries still write rare characters of names
/// (生僻字) there. Errors name the field and the kind of character, never the value.
public enum TextRule {
    public enum Kind: Sendable, Hashable {
        /// One line: reasons, purposes, references, addresses.
        case line
        /// Free text that may hold line breaks: notes.
        case multiline
        /// A name: one line, and no invisible format characters.
        case name
    }

    /// Why a text breaks the rule, by kind of character (never the character itself).
    public enum Violation: Sendable, Hashable {
        case nul
        case controlCharacter
        case lineBreak
        case directionalFormatting
        case nonCharacter
        case invisibleCharacter

        var english: String {
            switch self {
            case .nul: "must not contain the NUL character (U+0000)"
            case .controlCharacter: "must not contain control characters"
            case .lineBreak: "must be a single line"
            case .directionalFormatting: "must not contain bidirectional formatting characters"
            case .nonCharacter: "must not contain Unicode noncharacters"
            case .invisibleCharacter: "must not contain invisible characters (zero-width, joiners, soft hyphens)"
            }
        }

        var chinese: String {
            switch self {
            case .nul: "不能包含空字符(U+0000)"
            case .controlCharacter: "不能包含控制字符"
            case .lineBreak: "只能是一行"
            case .directionalFormatting: "不能包含双向文字控制字符"
            case .nonCharacter: "不能包含Unicode非字符"
            case .invisibleCharacter: "不能包含零宽字符等不可见字符"
            }
        }
    }

    /// The first violation in `text`, or nil when it follows the rule for `kind`.
    public static func violation(in text: some StringProtocol, kind: Kind) -> Violation? {
        for scalar in text.unicodeScalars {
            if let violation = violation(of: scalar, kind: kind) { return violation }
        }
        return nil
    }

    /// Refuses `text` with `invalid_field` naming `field` when it breaks the rule for `kind`.
    public static func check(_ text: some StringProtocol, field: String, kind: Kind) throws(CitizenCardError) {
        guard let violation = violation(in: text, kind: kind) else { return }
        throw error(violation, field: field)
    }

    /// The error for a violation in `field`: 422 `invalid_field`, the field named.
    public static func error(_ violation: Violation, field: String) -> CitizenCardError {
        CitizenCardError.invalid(
            field, "'\(field)' \(violation.english)", zh: "字段\(field)\(violation.chinese)")
    }

    /// The rule for one scalar. ASCII letters, digits and punctuation take the first branch.
    public static func violation(of scalar: Unicode.Scalar, kind: Kind) -> Violation? {
        let value = scalar.value
        if value >= 0x20 && value < 0x7F { return nil }
        if value < 0x20 || (0x7F...0x9F).contains(value) {
            switch value {
            case 0x00: return .nul
            case 0x0A, 0x0D: return kind == .multiline ? nil : .lineBreak
            default: return .controlCharacter
            }
        }
        if value < 0x0600 {
            // Latin, Greek, Cyrillic …: only the soft hyphen (U+00AD) and the combining grapheme
            // joiner (U+034F) are invisible format characters below the Arabic block.
            return kind == .name && (value == 0xAD || value == 0x34F) ? .invisibleCharacter : nil
        }
        switch value {
        case 0x2028, 0x2029: return kind == .multiline ? nil : .lineBreak
        case 0x061C, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: return .directionalFormatting
        default: break
        }
        if scalar.properties.isNoncharacterCodePoint { return .nonCharacter }
        if kind == .name {
            let category = scalar.properties.generalCategory
            // Cf: zero-width space and joiners, U+FEFF, word joiner, tags, interlinear annotation.
            // The Hangul fillers render as nothing but are letters (Lo); they are refused too.
            if category == .format || [0x115F, 0x1160, 0x3164, 0xFFA0].contains(value) {
                return .invisibleCharacter
            }
        }
        return nil
    }
}
