import CitizenCardDomain
import Synchronization

/// Predictable identifiers: `00000000-0000-7000-8000-000000000001`, `…02`, … in order of creation.
final class SequentialIDs: IdentifierGenerator {
    private let counter = Mutex<Int>(0)

    func next() -> String {
        let value = counter.withLock { count in
            count += 1
            return count
        }
        let hex = String(value, radix: 16)
        return "00000000-0000-7000-8000-" + String(repeating: "0", count: 12 - hex.count) + hex
    }
}

/// A fixed UUID for fixtures, `n` in the last group.
func fixedID<Tag>(_ n: Int, _: Tag.Type = Tag.self) -> Identifier<Tag> {
    let hex = String(n, radix: 16)
    return Identifier(rawValue: "00000000-0000-7000-8000-" + String(repeating: "0", count: 12 - hex.count) + hex)
}

extension Timestamp {
    /// A literal RFC 3339 time for tests; crashes on a typo, which is what a test wants.
    static func at(_ text: String) -> Timestamp {
        guard let value = Timestamp(iso8601: text) else { preconditionFailure("bad test time \(text)") }
        return value
    }
}

extension CalendarDate {
    static func on(_ text: String) -> CalendarDate {
        guard let value = CalendarDate(iso8601: text) else { preconditionFailure("bad test date \(text)") }
        return value
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }

    var success: Success? {
        if case .success(let value) = self { return value }
        return nil
    }
}

/// Region codes that exist (Zhoushan's districts and a few others, including the special
/// province-level codes 71, 81 and 82 whose county part is 0000).
let knownRegions = [
    "330900", "330902", "330903", "330921", "330922", "110105", "360426", "440305", "650102", "710000", "810000",
    "820000",
]

/// Runs `body` and returns the `CitizenCardError` it threw, or nil if it did not throw.
func caughtError<T>(_ body: () throws(CitizenCardError) -> T) -> CitizenCardError? {
    do {
        _ = try body()
        return nil
    } catch {
        return error
    }
}
