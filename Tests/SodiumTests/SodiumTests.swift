import Testing

@testable import Sodium

@Suite struct SodiumTests {
    @Test func hashesVerifyAndAreSalted() throws {
        let first = try PasswordHasher.hash("correct horse battery staple")
        let second = try PasswordHasher.hash("correct horse battery staple")
        #expect(first.hasPrefix("$argon2id$"))
        #expect(first != second)
        #expect(PasswordHasher.verify("correct horse battery staple", against: first))
        #expect(!PasswordHasher.verify("Correct horse battery staple", against: first))
        #expect(!PasswordHasher.needsRehash(first))
    }

    @Test func tokensAreRandomAndURLSafe() {
        let a = SecureRandom.token()
        let b = SecureRandom.token()
        #expect(a != b)
        #expect(a.count == 43)
        #expect(a.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
    }

    @Test func base64URLMatchesRFC4648() {
        #expect(Base64URL.encode(Array("f".utf8)) == "Zg")
        #expect(Base64URL.encode(Array("fo".utf8)) == "Zm8")
        #expect(Base64URL.encode(Array("foo".utf8)) == "Zm9v")
        #expect(Base64URL.encode([0xfb, 0xff]) == "-_8")
    }

    @Test func hmacMatchesRFC4231TestCase2() {
        let mac = Digest.hmacSHA256(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8))
        #expect(Digest.hex(mac) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test func constantTimeEquality() {
        #expect(Digest.constantTimeEqual([1, 2, 3], [1, 2, 3]))
        #expect(!Digest.constantTimeEqual([1, 2, 3], [1, 2, 4]))
        #expect(!Digest.constantTimeEqual([1, 2], [1, 2, 3]))
    }
}
