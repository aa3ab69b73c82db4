import FastCGI
import Foundation
import Glibc
import Logging
import Postgres
import Web

/// The composition root: builds the routes of every context and the per-thread handler.
public struct EncoreApplication: Sendable {
    let router: Router<RequestContext>
    let templates: Templates
    let openAPI: [UInt8]
    let logger: Logger
    let testRoutes: Bool

    /// Loads templates and the OpenAPI document and registers every route.
    public init(testRoutes: Bool = false, logger: Logger) throws {
        self.logger = logger
        self.testRoutes = testRoutes
        templates = try Templates(directory: Resources.templatesDirectory)
        openAPI = Resources.openAPIDocument
        var router = Router<RequestContext>()
        OperationsRoutes.register(&router)
        HomeRoutes.register(&router)
        if testRoutes { TestRoutes.register(&router) }
        self.router = router
    }

    /// The factory the worker pool calls once per thread.
    public func handlerFactory() -> RequestHandlerFactory {
        { context in EncoreRequestHandler(application: self, thread: context) }
    }
}

/// What every route receives besides the request.
struct RequestContext {
    let application: EncoreApplication
    let database: ThreadDatabase
    let thread: WorkerThreadContext
    var templates: Templates { application.templates }
    var logger: Logger { application.logger }
}

/// Serves one worker thread's requests, holding that thread's database connection.
final class EncoreRequestHandler: RequestHandler {
    private var context: RequestContext

    init(application: EncoreApplication, thread: WorkerThreadContext) {
        context = RequestContext(
            application: application,
            database: ThreadDatabase(
                url: thread.configuration.databaseURL, statementTimeout: thread.configuration.requestTimeout,
                logger: application.logger),
            thread: thread)
    }

    func handle(_ request: FastCGIRequest) -> FastCGIResponse {
        var response = context.application.router.respond(to: request, context: &context, logger: context.logger)
        if context.application.testRoutes { response.headers.append(("X-Encore-Worker", "\(getpid())")) }
        return response
    }
}
