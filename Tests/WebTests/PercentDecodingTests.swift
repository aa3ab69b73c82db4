import FastCGI
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

@Suite struct HeaderLookupTests {
    private let request = HTTPRequest(
        FastCGIRequest(
            params: [
                "REQUEST_METHOD": "POST", "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": "12",
                "HTTP_USER_AGENT": "curl/8", "HTTP_IDEMPOTENCY_KEY": "k-1",
            ], body: []))

    @Test func findsAHeaderByItsHTTPNameInAnyCase() {
        #expect(request.header("User-Agent") == "curl/8")
        #expect(request.header("user-agent") == "curl/8")
        #expect(request.header("Idempotency-Key") == "k-1")
        #expect(request.header("Content-Type") == "application/json")
        #expect(request.header("content-length") == "12")
        #expect(request.header("Authorization") == nil)
    }

    @Test(arguments: ["User-Agent", "x-forwarded-for", "Cookie", "A-b-C", "Sec-Fetch-Site", ""])
    func buildsTheCGINameOfAHeader(_ name: String) {
        #expect(
            HTTPRequest.cgiName(ofHeader: name) == "HTTP_" + name.uppercased().replacingOccurrences(of: "-", with: "_"))
    }
}

@Suite struct CookieHeaderTests {
    @Test func readsEachCookieOnceWithTheSpacesAroundItLeftOut() {
        #expect(
            HTTPRequest.parseCookies(" encore_session=abc ;\tencore_csrf = x-y_z ;theme=dark=blue")
                == ["encore_session": "abc", "encore_csrf": "x-y_z", "theme": "dark=blue"])
    }

    @Test func theFirstOfANameWinsAndEmptyPairsAreIgnored() {
        #expect(HTTPRequest.parseCookies("a=1; a=2; =3; b=; c; ;; d=4") == ["a": "1", "d": "4"])
        #expect(HTTPRequest.parseCookies("") == [:])
        #expect(HTTPRequest.parseCookies("é=ü; x=\u{1F3B8}") == ["é": "ü", "x": "\u{1F3B8}"])
    }

    @Test func aRequestReadsItsCookieHeader() {
        let request = HTTPRequest(FastCGIRequest(params: ["HTTP_COOKIE": "encore_session=t1"], body: []))
        #expect(request.cookies == ["encore_session": "t1"])
        #expect(HTTPRequest(FastCGIRequest(params: [:], body: [])).cookies.isEmpty)
    }
}
