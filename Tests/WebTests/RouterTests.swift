import EventStore
import FastCGI
import Logging
import Testing

@testable import Web

@Suite struct RouterTests {
    struct Context {}

    func request(_ method: String, _ uri: String, body: String = "", accept: String? = nil) -> FastCGIRequest {
        var params = ["REQUEST_METHOD": method, "REQUEST_URI": uri]
        if let question = uri.firstIndex(of: "?") {
            params["QUERY_STRING"] = String(uri[uri.index(after: question)...])
        }
        if let accept { params["HTTP_ACCEPT"] = accept }
        if !body.isEmpty { params["CONTENT_TYPE"] = "application/json" }
        return FastCGIRequest(params: params, body: Array(body.utf8))
    }

    var router: Router<Context> {
        var router = Router<Context>()
        router.get("/concerts/:id") { request, _ in .text("concert \(request.routeParameters["id"] ?? "")") }
        router.post("/api/things") { request, _ in
            struct Thing: Decodable { let name: String }
            let thing = try request.decodeJSON(Thing.self)
            return .text(thing.name, status: 201)
        }
        router.post("/api/counts") { request, _ in
            struct Counts: Decodable {
                struct Line: Decodable { let quantity: Int }
                let lines: [Line]
            }
            return .text("\(try request.decodeJSON(Counts.self).lines.count)", status: 201)
        }
        router.get("/down") { _, _ in throw HTTPError(status: 503, code: "busy", message: "Later.") }
        router.get("/busy") { _, _ in .text("later", status: 503) }
        router.get("/boom") { _, _ in
            struct Secret: Error {}
            throw Secret()
        }
        router.post("/race") { _, _ in
            throw WrongExpectedVersion(streamId: "concert-1", expected: .version(3), actual: 4)
        }
        router.post("/rule") { _, _ in throw Refusal() }
        return router
    }

    func respond(_ raw: FastCGIRequest) -> FastCGIResponse {
        router.respond(to: raw, context: Context(), logger: Logger(label: "test"))
    }

    @Test func capturesPathParameters() {
        let response = respond(request("GET", "/concerts/abc?x=1"))
        #expect(response.status == 200)
        #expect(String(decoding: response.body, as: UTF8.self) == "concert abc")
    }

    @Test func headIsServedByGetWithoutABody() {
        let response = respond(request("HEAD", "/concerts/abc"))
        #expect(response.status == 200)
        #expect(response.body.isEmpty)
    }

    @Test func unknownPathIs404AndWrongMethodIs405() {
        #expect(respond(request("GET", "/nothing")).status == 404)
        #expect(respond(request("DELETE", "/concerts/1")).status == 405)
    }

    @Test func malformedJSONIs400AndAMissingFieldIs422NamingIt() {
        let malformed = respond(request("POST", "/api/things", body: "{nope"))
        #expect(malformed.status == 400)
        let missing = respond(request("POST", "/api/things", body: "{}"))
        #expect(missing.status == 422)
        #expect(String(decoding: missing.body, as: UTF8.self).contains(#""field":"name""#))
    }

    @Test func aNumberItsFieldCannotHoldIs422NamingTheField() {
        for number in ["9223372036854775808", "-9223372036854775809", "1e300", "1.5"] {
            let response = respond(
                request("POST", "/api/counts", body: #"{"lines": [{"quantity": 1}, {"quantity": \#(number)}]}"#))
            #expect(response.status == 422, "\(number)")
            #expect(String(decoding: response.body, as: UTF8.self).contains(#""field":"lines[1].quantity""#))
        }
        #expect(
            respond(request("POST", "/api/counts", body: #"{"lines": [{"quantity": 9223372036854775807}]}"#)).status
                == 201)
    }

    @Test func every503SaysWhenToRetry() {
        for path in ["/down", "/busy"] {
            let response = respond(request("GET", path))
            #expect(response.status == 503)
            #expect(response.headers.contains { $0.0 == "Retry-After" && $0.1 == "1" }, "\(path)")
        }
        #expect(HTTPError.unavailable.headers["Retry-After"] == "1")
    }

    @Test func aBodyThatIsNotJSONIs415() {
        var params = ["REQUEST_METHOD": "POST", "REQUEST_URI": "/api/things", "CONTENT_TYPE": "text/plain"]
        params["CONTENT_LENGTH"] = "15"
        let response = router.respond(
            to: FastCGIRequest(params: params, body: Array(#"{"name":"x"}"#.utf8)), context: Context(),
            logger: Logger(label: "test"))
        #expect(response.status == 415)
    }

    struct Refusal: HTTPErrorConvertible {
        var http: HTTPError { HTTPError(status: 409, code: "sold_out", message: "Sold out.") }
    }

    @Test func aCommandThatKeepsLosingItsRaceIs409ConflictNever500() {
        let response = respond(request("POST", "/race", accept: "application/json"))
        #expect(response.status == 409)
        #expect(String(decoding: response.body, as: UTF8.self).contains(#""code":"conflict""#))
    }

    @Test func aDomainErrorIsAnsweredByItsHTTPFace() {
        let response = respond(request("POST", "/rule", accept: "application/json"))
        #expect(response.status == 409)
        #expect(String(decoding: response.body, as: UTF8.self).contains(#""code":"sold_out""#))
    }

    @Test func unexpectedErrorsAreAGeneric500() {
        let response = respond(request("GET", "/boom", accept: "application/json"))
        #expect(response.status == 500)
        let body = String(decoding: response.body, as: UTF8.self)
        #expect(body.contains("internal_error"))
        #expect(!body.contains("Secret"))
    }

    @Test func browsersGetAnHTMLErrorPageWithEscapedText() {
        let response = respond(request("GET", "/nothing"))
        #expect(response.headers.contains { $0.0 == "Content-Type" && $0.1.hasPrefix("text/html") })
    }

    @Test func formDecodingHandlesPlusAndPercent() {
        #expect(FormDecoder.decode("a=1+2&b=%C3%A9&c") == ["a": "1 2", "b": "é", "c": ""])
    }

    @Test func escapingCoversTheFiveCharacters() {
        #expect(HTML.escape(#"<a href="x">'&'</a>"#) == "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;")
    }

    @Test func routesAreTriedInTheOrderTheyWereAddedWhicheverSegmentCaptures() {
        var router = Router<Context>()
        router.get("/:kind/new") { request, _ in .text("capture first \(request.routeParameters["kind"] ?? "")") }
        router.get("/concerts/:id") { request, _ in .text("concert \(request.routeParameters["id"] ?? "")") }
        router.get("/:kind/:id") { request, _ in .text("any \(request.routeParameters["kind"] ?? "")") }
        router.post("/concerts/new") { _, _ in .text("never reached by GET") }
        router.get("/") { _, _ in .text("home") }
        func body(_ method: String, _ path: String) -> String {
            String(
                decoding: router.respond(to: request(method, path), context: Context(), logger: Logger(label: "t"))
                    .body,
                as: UTF8.self)
        }
        #expect(body("GET", "/concerts/new") == "capture first concerts")
        #expect(body("GET", "/concerts/7") == "concert 7")
        #expect(body("GET", "/users/7") == "any users")
        #expect(body("POST", "/concerts/new") == "never reached by GET")
        #expect(body("GET", "/") == "home")
        let wrongMethod = router.respond(
            to: request("DELETE", "/concerts/new"), context: Context(), logger: Logger(label: "t"))
        #expect(wrongMethod.status == 405)
        #expect(wrongMethod.headers.contains { $0.0 == "Allow" && $0.1 == "GET, HEAD, POST" })
    }
}
