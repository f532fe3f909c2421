import CardBridge
import PropertyBased
import Testing

/// The card bridge's inputs, tested without a card reader: the vpcd address (loopback only,
/// since vpcd carries unauthenticated card commands), the ASN and PIN of `card new`.
@Suite("Card bridge inputs")
struct CardBridgeTests {
    @Test(
        "loopback vpcd addresses are taken, in every spelling",
        arguments: [
            ("127.0.0.1:35963", "127.0.0.1", ["127.0.0.1"]), ("localhost:35963", "localhost", ["127.0.0.1", "::1"]),
            ("[::1]:35963", "::1", ["::1"]), ("127.8.9.10:1", "127.8.9.10", ["127.8.9.10"]),
            ("[::ffff:127.0.0.1]:35963", "::ffff:127.0.0.1", ["::ffff:127.0.0.1"]),
        ])
    func loopback(text: String, host: String, candidates: [String]) throws {
        let address = try VPCDAddress(text)
        #expect(address.host == host && address.candidates == candidates)
        #expect(address.description.hasSuffix(":\(address.port)"))
    }

    @Test(
        "anything else is refused with a message",
        arguments: [
            "10.0.0.1:35963", "192.168.1.5:35963", "[2001:db8::1]:35963", "example.org:35963", "127.0.0.1",
            "127.0.0.1:0", "127.0.0.1:65536", "::1:35963", "[::1]35963", "", ":35963", "0.0.0.0:35963",
        ])
    func refused(text: String) {
        #expect(throws: (any Error).self) { try VPCDAddress(text) }
    }

    @Test("ASN: exactly 20 hex digits")
    func asn() {
        #expect(CardNew.asnBytes("0123456789ABCDEF0123")?.count == 10)
        for bad in ["", "0123456789ABCDEF012", "0123456789ABCDEF01234", "0123456789ABCDEF012G"] {
            #expect(CardNew.asnBytes(bad) == nil)
        }
    }

    @Test("PIN: an even number of 4 to 12 digits, packed two to a byte")
    func pin() async {
        #expect(CardNew.pinBytes("123456") == [0x12, 0x34, 0x56])
        await propertyCheck(input: Gen.int(in: 0...99_999_999_999_999)) { number in
            let text = String(number)
            let valid = (4...12).contains(text.count) && text.count % 2 == 0
            #expect((CardNew.pinBytes(text) != nil) == valid)
        }
        for bad in ["12a4", "12 4", "１２３４", "-1234"] { #expect(CardNew.pinBytes(bad) == nil) }
    }
}
