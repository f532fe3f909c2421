import CardCrypto
import Testing

/// CARDTECH.md §8: the standard known-answer tests of SM4, SM3, DES, 3DES and the retail MAC.
@Suite("Standard known-answer vectors (CARDTECH.md §8)")
struct StandardVectorTests {
    @Test("SM4 (GB/T 32907): one block")
    func sm4OneBlock() throws {
        let key = try SecretKey(hex: "0123456789ABCDEFFEDCBA9876543210")
        let plain = try hex("0123456789ABCDEFFEDCBA9876543210")
        let cipher = try BlockAlgorithm.sm4.encrypt(plain, key: key)
        #expect(Hex.encode(cipher) == "681EDF34D206965E86B3E94F536E4246")
        #expect(try BlockAlgorithm.sm4.decrypt(cipher, key: key) == plain)
    }

    @Test("SM4: 1,000,000 encryptions with one reused context")
    func sm4MillionIterations() throws {
        let key = try SecretKey(hex: "0123456789ABCDEFFEDCBA9876543210")
        let engine = CipherEngine()
        var block = try hex("0123456789ABCDEFFEDCBA9876543210")
        for _ in 0..<1_000_000 { block = try engine.encrypt(block, algorithm: .sm4, key: key) }
        #expect(Hex.encode(block) == "595298C7C6FD271F0402F804C33D3F66")
    }

    @Test(
        "SM3 (GB/T 32905)",
        arguments: [
            ("abc", "66C7F0F462EEEDD9D1F2D46BDC10E4E24167C4875CF2F7A2297DA02B8F4BA8E0"),
            (String(repeating: "abcd", count: 16), "DEBE9FF92275B8A138604889C18E5A4D6FDB70E5387E5765293DCBA39C0C5732"),
        ])
    func sm3(message: String, digest: String) throws {
        #expect(Hex.encode(try SM3.hash(Array(message.utf8))) == digest)
    }

    @Test("DES: FIPS 81 (three ECB blocks) and NIST SP 800-20 Table A.1")
    func des() throws {
        let fips = try SecretKey(hex: "0123456789ABCDEF")
        let text = Array("Now is the time for all ".utf8)
        #expect(Hex.encode(try ecb(.des, key: fips, text)) == "3FA40E8A984D48156A271787AB8883F9893D51EC4B563B53")
        let nist = try SecretKey(hex: "0101010101010101")
        #expect(Hex.encode(try BlockAlgorithm.des.encrypt(hex("8000000000000000"), key: nist)) == "95F8A5E5DD31D900")
        #expect(try BlockAlgorithm.des.decrypt(hex("95F8A5E5DD31D900"), key: nist) == hex("8000000000000000"))
    }

    @Test("3DES: SP 800-67 three-key and the two-key vector")
    func tripleDES() throws {
        let three = try SecretKey(hex: "0123456789ABCDEF23456789ABCDEF01456789ABCDEF0123")
        let text = Array("The qufck brown fox jump".utf8)
        #expect(Hex.encode(try ecb(.tripleDES, key: three, text)) == "A826FD8CE53B855FCCE21C8112256FE668D5C05DD9B6B900")
        let two = try SecretKey(hex: "9B397EBF81B1181E282F4BB8ADBADC6B")
        let cipher = try BlockAlgorithm.tripleDES.encrypt(hex("21E81B7ADE88A259"), key: two)
        #expect(Hex.encode(cipher) == "5C577D4D9B20C0F8")
        #expect(try BlockAlgorithm.tripleDES.decrypt(cipher, key: two) == hex("21E81B7ADE88A259"))
    }

    @Test("retail MAC (ISO 9797-1 algorithm 3, padding method 1, IV 0)")
    func retailMAC() throws {
        let key = try SecretKey(hex: "7CA110454A1A6E570131D9619DC1376E")
        let mac = try CardMAC.retail(key: key, data: Array("Hello World !!!!".utf8), padding: .zeros)
        #expect(Hex.encode(mac) == "F09B856213BAB83B")
    }

    @Test("single DES equals two-key 3DES with a repeated key (the fallback without OpenSSL's legacy provider)")
    func desAsTripleDES() throws {
        let block = try hex("4E6F772069732074")
        for keyHex in ["0123456789ABCDEF", "8888888888888888", "0101010101010101"] {
            let key = try SecretKey(hex: keyHex)
            let doubled = try SecretKey(hex: keyHex + keyHex)
            #expect(
                try BlockAlgorithm.des.encrypt(block, key: key) == BlockAlgorithm.tripleDES.encrypt(block, key: doubled)
            )
        }
    }

    private func ecb(_ algorithm: BlockAlgorithm, key: SecretKey, _ data: [UInt8]) throws -> [UInt8] {
        var out: [UInt8] = []
        for start in stride(from: 0, to: data.count, by: algorithm.blockByteCount) {
            let block = Array(data[start..<(start + algorithm.blockByteCount)])
            let cipher = try algorithm.encrypt(block, key: key)
            #expect(try algorithm.decrypt(cipher, key: key) == block)
            out += cipher
        }
        return out
    }
}

func hex(_ text: String) throws -> [UInt8] { try Hex.decode(text) }
