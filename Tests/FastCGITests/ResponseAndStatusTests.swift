import Testing

@testable import FastCGI

@Suite struct ResponseAndStatusTests {
    @Test func serializesCGIStatusHeadersAndLength() {
        let response = FastCGIResponse(status: 201, headers: [("Content-Type", "text/plain")], body: Array("hi".utf8))
        let text = String(decoding: response.serialized, as: UTF8.self)
        #expect(text == "Status: 201 Created\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi")
    }

    @Test func errorBodyFollowsTheAPIShape() {
        let response = FastCGIResponse.error(413, code: "payload_too_large", message: "Too big.")
        #expect(
            String(decoding: response.body, as: UTF8.self)
                == #"{"error":{"code":"payload_too_large","message":"Too big."}}"#)
    }

    @Test func requestPathDropsTheQuery() {
        let request = FastCGIRequest(params: ["REQUEST_URI": "/concerts/1?x=2", "QUERY_STRING": "x=2"])
        #expect(request.path == "/concerts/1")
        #expect(request.query == "x=2")
        #expect(request.method == "GET")
    }

    @Test func scoreboardSumsLiveAndRetiredWorkers() throws {
        let board = try Scoreboard.create()
        let first = try #require(board.claimSlot(generation: 1, threads: 4, kind: 0))
        let second = try #require(board.claimSlot(generation: 1, threads: 4, kind: 0))
        board.worker(first, .state).store(Scoreboard.WorkerState.running.rawValue, ordering: .relaxed)
        board.worker(second, .state).store(Scoreboard.WorkerState.running.rawValue, ordering: .relaxed)
        board.worker(first, .requestsServed).store(10, ordering: .relaxed)
        board.worker(second, .requestsServed).store(5, ordering: .relaxed)
        board.thread(first, 0, .active).store(1, ordering: .relaxed)
        var status = board.snapshot()
        #expect(status.acceptedRequests == 15)
        #expect(status.activeThreads == 1)
        #expect(status.idleThreads == 7)
        board.retire(slot: second)
        status = board.snapshot()
        #expect(status.acceptedRequests == 15)
        #expect(status.workers.count == 1)
        #expect(status.prometheusText.contains("encore_pool_accepted_requests_total 15"))
    }
}
