import FastCGI
import Logging
import Testing

@testable import Web

/// A capture with a literal suffix (`/api/invoices/:id.pdf`): it matches only segments that
/// end with the suffix, captures what comes before it, and leaves the rest to later routes.
@Suite struct RouteSuffixTests {
    struct Context {}

    var router: Router<Context> {
        var router = Router<Context>()
        router.get("/api/invoices/:id.pdf") { request, _ in .text("pdf \(request.routeParameters["id"] ?? "")") }
        router.get("/api/invoices/:id") { request, _ in .text("json \(request.routeParameters["id"] ?? "")") }
        return router
    }

    func body(_ uri: String) -> (Int, String) {
        let response = router.respond(
            to: FastCGIRequest(params: ["REQUEST_METHOD": "GET", "REQUEST_URI": uri], body: []), context: Context(),
            logger: Logger(label: "test"))
        return (response.status, String(decoding: response.body, as: UTF8.self))
    }

    @Test func theSuffixChoosesTheRouteAndIsNotCaptured() {
        #expect(body("/api/invoices/inv-1.pdf") == (200, "pdf inv-1"))
        #expect(body("/api/invoices/inv-1") == (200, "json inv-1"))
        #expect(body("/api/invoices/.pdf") == (200, "json .pdf"), "nothing before the suffix: not the PDF route")
        #expect(body("/api/invoices/inv-1.pdfx") == (200, "json inv-1.pdfx"))
    }

    @Test func theLabelKeepsTheSuffix() {
        #expect(router.labels == ["GET /api/invoices/:id.pdf", "GET /api/invoices/:id"])
    }
}
