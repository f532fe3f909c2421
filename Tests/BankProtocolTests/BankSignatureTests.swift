import BankProtocol
import Foundation
import PropertyBased
import Testing

/// The signature both sides put on every message (docs/banks.md "Signatures"): what it binds,
/// and that any change to a signed part, a stale timestamp or the other direction is refused.
@Suite("Bank message signatures")
struct BankSignatureTests {
    let secret = Data((0..<32).map { UInt8($0) })
    var signer: BankSignature { BankSignature(secret: secret) }

    func sign(
        _ body: Data, direction: BankSignature.Direction = .toBank, path: String = "/notices",
        at time: Int64 = 1_800_000_000
    ) -> (timestamp: String, signature: String) {
        let headers = signer.headers(
            direction: direction, bankCode: "ICBC", timestamp: time, method: "POST", path: path, body: body)
        return (headers[1].value, headers[2].value)
    }

    func check(
        _ body: Data, _ signed: (timestamp: String, signature: String), direction: BankSignature.Direction = .toBank,
        path: String = "/notices", bank: String = "ICBC", secret: Data? = nil, now: Int64 = 1_800_000_000
    ) -> BankSignature.Failure? {
        do {
            try BankSignature(secret: secret ?? self.secret).verify(
                direction: direction, bankCode: bank, timestamp: signed.timestamp, signature: signed.signature,
                method: "POST", path: path, body: body, now: now)
            return nil
        } catch {
            return error
        }
    }

    @Test("a signed message verifies; the headers are the code, the timestamp and v1= with 64 hex digits")
    func roundTrip() {
        let body = Data(#"{"noticeId":"n1"}"#.utf8)
        let headers = signer.headers(
            direction: .toBank, bankCode: "ICBC", timestamp: 1_800_000_000, method: "POST", path: "/notices", body: body
        )
        #expect(headers.map(\.name) == ["CC-Bank-Code", "CC-Bank-Timestamp", "CC-Bank-Signature"])
        #expect(headers[0].value == "ICBC")
        #expect(headers[2].value.hasPrefix("v1=") && headers[2].value.utf8.count == 67)
        #expect(check(body, sign(body)) == nil)
    }

    @Test("the other direction, another path, another bank or another secret is refused")
    func boundParts() {
        let body = Data("{}".utf8)
        let signed = sign(body)
        #expect(check(body, signed, direction: .toCenter) == .mismatch)
        #expect(check(body, signed, path: "/accounts") == .mismatch)
        #expect(check(body, signed, bank: "BOC") == .mismatch)
        #expect(check(body, signed, secret: Data(repeating: 7, count: 32)) == .mismatch)
    }

    @Test("a timestamp outside the window is stale, at either side; at the edge it is accepted")
    func window() {
        let body = Data("{}".utf8)
        let signed = sign(body)
        #expect(check(body, signed, now: 1_800_000_000 + 300) == nil)
        #expect(check(body, signed, now: 1_800_000_000 - 300) == nil)
        #expect(check(body, signed, now: 1_800_000_000 + 301) == .stale)
        #expect(check(body, signed, now: 1_800_000_000 - 301) == .stale)
    }

    @Test("missing or malformed headers are named, never a crash")
    func malformed() {
        let body = Data("{}".utf8)
        let good = sign(body)
        #expect(check(body, (good.timestamp, "")) == .malformed)
        #expect(check(body, (good.timestamp, "v2=" + good.signature.dropFirst(3))) == .malformed)
        #expect(check(body, (good.timestamp, "v1=zz")) == .malformed)
        #expect(check(body, (good.timestamp, "v1=" + String(repeating: "0", count: 63))) == .malformed)
        #expect(check(body, ("12x", good.signature)) == .malformed)
        #expect(check(body, ("99999999999999999999", good.signature)) == .malformed)
        do {
            try signer.verify(
                direction: .toBank, bankCode: "ICBC", timestamp: nil, signature: good.signature, method: "POST",
                path: "/notices", body: body, now: 1_800_000_000)
            Issue.record("no timestamp was accepted")
        } catch {
            #expect(error == .missingHeaders)
        }
    }

    @Test("changing any one byte of the body breaks the signature (property)")
    func tamperedBody() async {
        await propertyCheck(input: Gen.uint8().array(of: 1...200), Gen.int(in: 0...10_000), Gen.uint8()) {
            bytes, at, delta in
            let body = Data(bytes)
            let signed = sign(body)
            var changed = bytes
            let index = at % changed.count
            changed[index] = changed[index] &+ (delta == 0 ? 1 : delta)
            #expect(check(Data(changed), signed) == .mismatch)
            #expect(check(body, signed) == nil)
        }
    }

    @Test("arbitrary header text is refused without a crash (property)")
    func arbitraryHeaders() async {
        await propertyCheck(input: Gen.ascii.string(of: 0...80), Gen.ascii.string(of: 0...80)) { timestamp, signature in
            #expect(check(Data("{}".utf8), (timestamp, signature)) != nil)
        }
    }
}

@Suite("Bank card numbers")
struct BankCardNumberTests {
    @Test("made numbers are well formed: the BIN, the length, a valid Luhn digit (property; sequences that fit)")
    func made() async {
        await propertyCheck(input: Gen.int(in: 100_000...99_999_999), Gen.int64(in: 0...999_999), Gen.int(in: 16...19))
        {
            bin, sequence, length in
            let number = BankCardNumber.make(bin: String(bin), sequence: sequence, length: length)
            #expect(number.hasPrefix(String(bin)))
            #expect(number.utf8.count == length)
            #expect(BankCardNumber.isWellFormed(number))
        }
    }

    @Test("one digit changed, or two neighbours swapped, fails the check")
    func singleErrors() {
        let number = BankCardNumber.make(bin: "622202", sequence: 12_345, length: 19)
        var digits = Array(number)
        for index in digits.indices {
            let original = digits[index]
            for replacement in "0123456789" where replacement != original {
                digits[index] = replacement
                #expect(!BankCardNumber.isWellFormed(String(digits)), "\(String(digits))")
            }
            digits[index] = original
        }
        for index in 0..<(digits.count - 1) where digits[index] != digits[index + 1] {
            var swapped = digits
            swapped.swapAt(index, index + 1)
            // Luhn misses only 09 <-> 90.
            if Set([digits[index], digits[index + 1]]) != Set(["0", "9"]) {
                #expect(!BankCardNumber.isWellFormed(String(swapped)))
            }
        }
    }

    @Test("known numbers, lengths, and what is not a number")
    func known() {
        #expect(BankCardNumber.isWellFormed("4111111111111111"))
        #expect(!BankCardNumber.isWellFormed("4111111111111112"))
        #expect(!BankCardNumber.isWellFormed("411111111111111"))  // 15 digits
        #expect(!BankCardNumber.isWellFormed("41111111111111111111"))  // 20 digits
        #expect(!BankCardNumber.isWellFormed("4111 1111 1111 1111"))
        #expect(!BankCardNumber.isWellFormed("４１１１１１１１１１１１１１１１"))
        #expect(!BankCardNumber.isWellFormed(""))
        #expect(BankCardNumber.masked("6222020000000012345") == "622202*********2345")
        #expect(BankCardNumber.masked("1234") == "****")
    }
}
