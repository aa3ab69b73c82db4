import HTTPClient
import Testing

@Suite struct HTTPClientTests {
    @Test func sendsMethodURLHeadersAndBodyAndReadsTheAnswer() throws {
        let server = try TestServer { request in
            TestServer.response(
                status: "201 Created", headers: ["X-Echo-Method: \(request.method)", "Content-Type: text/plain"],
                body: request.body.reversed())
        }
        defer { server.stop() }
        let client = try HTTPClient()
        let response = try client.send(
            HTTPClientRequest(
                method: .post, url: "http://127.0.0.1:\(server.port)/v1/things?x=1",
                headers: [
                    HTTPHeader("Content-Type", "application/x-www-form-urlencoded"), HTTPHeader("X-Key", "a b"),
                ],
                body: Array("abc".utf8)))
        #expect(response.status == 201)
        #expect(response.header("x-echo-method") == "POST")
        #expect(response.body == Array("cba".utf8))
        let request = try #require(server.requests.first)
        #expect(request.target == "/v1/things?x=1")
        #expect(request.header("X-Key") == "a b")
        #expect(request.header("Content-Type") == "application/x-www-form-urlencoded")
        #expect(request.header("Expect") == nil)
    }

    @Test func getAfterPostSendsNoBodyAndReusesTheConnection() throws {
        let server = try TestServer { _ in TestServer.ok("fine") }
        defer { server.stop() }
        let client = try HTTPClient()
        let base = "http://127.0.0.1:\(server.port)"
        _ = try client.send(HTTPClientRequest(method: .post, url: base + "/a", body: Array("x=1".utf8)))
        let get = try client.send(HTTPClientRequest(method: .get, url: base + "/b"))
        _ = try client.send(HTTPClientRequest(method: .post, url: base + "/c"))
        #expect(get.status == 200)
        #expect(String(decoding: get.body, as: UTF8.self) == "fine")
        #expect(server.requests.map(\.method) == ["POST", "GET", "POST"])
        #expect(server.requests[1].body.isEmpty)
        #expect(server.requests[2].header("Content-Length") == "0")
        #expect(server.connections == 1)
    }

    @Test func otherMethodsKeepTheirNames() throws {
        let server = try TestServer { _ in TestServer.ok("") }
        defer { server.stop() }
        let client = try HTTPClient()
        let base = "http://127.0.0.1:\(server.port)"
        _ = try client.send(HTTPClientRequest(method: .delete, url: base + "/d"))
        _ = try client.send(HTTPClientRequest(method: .put, url: base + "/p", body: [1, 2]))
        #expect(server.requests.map(\.method) == ["DELETE", "PUT"])
        #expect(server.requests[1].body == [1, 2])
    }

    @Test func refusesABodyLargerThanTheLimit() throws {
        let server = try TestServer { _ in TestServer.ok(String(repeating: "x", count: 5000)) }
        defer { server.stop() }
        let client = try HTTPClient(configuration: .init(maximumResponseSize: 1000))
        #expect(throws: HTTPClientError.tooLarge(limit: 1000)) {
            try client.send(HTTPClientRequest(method: .get, url: "http://127.0.0.1:\(server.port)/"))
        }
    }

    @Test func refusesAChunkedBodyLargerThanTheLimit() throws {
        // No Content-Length: only the write callback can tell.
        let server = try TestServer { _ in
            let chunk = String(repeating: "y", count: 4000)
            let body = "fa0\r\n\(chunk)\r\n0\r\n\r\n"
            return Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\(body)".utf8)
        }
        defer { server.stop() }
        let client = try HTTPClient(configuration: .init(maximumResponseSize: 1000))
        #expect(throws: HTTPClientError.tooLarge(limit: 1000)) {
            try client.send(HTTPClientRequest(method: .get, url: "http://127.0.0.1:\(server.port)/"))
        }
    }

    @Test func connectionRefusedIsCouldNotConnect() throws {
        let server = try TestServer(silent: true)
        let port = server.port
        server.stop()  // nothing listens on the port now
        let client = try HTTPClient()
        do {
            _ = try client.send(HTTPClientRequest(method: .get, url: "http://127.0.0.1:\(port)/"))
            Issue.record("expected an error")
        } catch {
            guard case .couldNotConnect = error else {
                Issue.record("got \(error)")
                return
            }
        }
    }

    @Test func aServerThatNeverAnswersTimesOut() throws {
        let server = try TestServer(silent: true)
        defer { server.stop() }
        let client = try HTTPClient(configuration: .init(timeout: .milliseconds(300)))
        let started = ContinuousClock.now
        do {
            _ = try client.send(HTTPClientRequest(method: .get, url: "http://127.0.0.1:\(server.port)/"))
            Issue.record("expected an error")
        } catch {
            guard case .timedOut = error else {
                Issue.record("got \(error)")
                return
            }
        }
        #expect(ContinuousClock.now - started < .seconds(5))
    }

    @Test func refusesHeaderInjection() throws {
        let client = try HTTPClient()
        let request = HTTPClientRequest(
            method: .get, url: "http://127.0.0.1:1/", headers: [HTTPHeader("X-A", "1\r\nX-B: 2")])
        #expect(throws: HTTPClientError.self) { try client.send(request) }
    }

    @Test func refusesOtherProtocols() throws {
        let client = try HTTPClient()
        #expect(throws: HTTPClientError.self) {
            try client.send(HTTPClientRequest(method: .get, url: "file:///etc/passwd"))
        }
    }
}
