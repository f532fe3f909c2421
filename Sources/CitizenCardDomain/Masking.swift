/// How personal data is shown when the caller's role does not need the whole value.
///
/// Masks keep just enough for a person to recognise their own data, the way Chinese service
/// counters print it: `张*明`, `330902********123X`, `138****5678`.
public enum Masking {
    /// Keeps the first and, for names of three or more characters, the last character.
    public static func name(_ value: String) -> String {
        let characters = Array(value)
        switch characters.count {
        case 0: return ""
        case 1: return "*"
        case 2: return String(characters[0]) + "*"
        default:
            return String(characters[0]) + String(repeating: "*", count: characters.count - 2)
                + String(characters[characters.count - 1])
        }
    }

    /// Keeps the 6-digit region code and the last four characters.
    public static func residentID(_ value: String) -> String {
        let characters = Array(value)
        guard characters.count > 10 else { return String(repeating: "*", count: characters.count) }
        return String(characters.prefix(6)) + String(repeating: "*", count: characters.count - 10)
            + String(characters.suffix(4))
    }

    /// Keeps the first three and the last four digits.
    public static func phone(_ value: String) -> String {
        let characters = Array(value)
        guard characters.count > 7 else { return String(repeating: "*", count: characters.count) }
        return String(characters.prefix(3)) + String(repeating: "*", count: characters.count - 7)
            + String(characters.suffix(4))
    }

    /// Keeps the first six characters (usually the city and district), hides the rest.
    public static func address(_ value: String) -> String {
        let characters = Array(value)
        guard characters.count > 6 else { return String(repeating: "*", count: characters.count) }
        return String(characters.prefix(6)) + "****"
    }

    /// The reference of a document shown at a cancellation (a death certificate's or an ID
    /// number, a household-move certificate's): every letter and digit hidden but the last four,
    /// spaces and punctuation kept, so that a clerk can match it against the paper without the
    /// record giving the number away.
    public static func documentReference(_ value: String) -> String {
        let characters = Array(value)
        let significant = characters.indices.filter { characters[$0].isLetter || characters[$0].isNumber }
        let kept = Set(significant.suffix(4))
        return String(
            characters.indices.map { index in
                kept.contains(index) || !(characters[index].isLetter || characters[index].isNumber)
                    ? characters[index] : "*"
            })
    }

    /// Keeps the first two characters of an employer's name.
    public static func employer(_ value: String) -> String {
        let characters = Array(value)
        guard characters.count > 2 else { return String(repeating: "*", count: characters.count) }
        return String(characters.prefix(2)) + "****"
    }
}
