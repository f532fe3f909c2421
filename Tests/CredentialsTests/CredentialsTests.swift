import Testing

@testable import Credentials

@Suite("Credentials")
struct CredentialsTests {
    @Test("the module links")
    func links() {
        _ = Credentials.self
    }
}
