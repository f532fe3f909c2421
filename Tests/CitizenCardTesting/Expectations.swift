public import CitizenCardDomain
public import Testing

/// Expects `body` to fail with a `CitizenCardError` of `code`; records an issue at the caller
/// otherwise. Returns the error, for a closer look.
@discardableResult
public func expectError(
    _ code: CitizenCardError.Code, _ body: () async throws -> some Any,
    sourceLocation: SourceLocation = #_sourceLocation
) async -> CitizenCardError? {
    do {
        _ = try await body()
        Issue.record("expected \(code.rawValue)", sourceLocation: sourceLocation)
    } catch let error as CitizenCardError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("unexpected \(error)", sourceLocation: sourceLocation)
    }
    return nil
}
