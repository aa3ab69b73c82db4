import Foundation
import Testing

@testable import Web

@Suite struct PercentDecodingTests {
    @Test(arguments: [
        "/concerts/beyonce-warsaw-2027", "/", "", "/caf%C3%A9", "%2Fa%2fb", "a+b%20c", "%41%42%43", "100%",
        "%zz", "%4", "%C3", "%FF%FE", "ok%00end", "/%E2%82%AC/x",
    ])
    func decodesAsFoundationDoes(_ text: String) {
        #expect(PercentDecoding.decode(text) == text.removingPercentEncoding)
    }

    @Test func leavesPlusSignsToTheFormDecoder() {
        #expect(PercentDecoding.decode("a+b") == "a+b")
        #expect(FormDecoder.decode("q=rock+%26+roll&x=%C3%A9") == ["q": "rock & roll", "x": "é"])
    }
}
