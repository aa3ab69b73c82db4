import Concerts
import FastCGI
import Foundation
import Glibc
import Logging
import Postgres
import Reservations
import Users
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
        EncoreProjections.registerAll()
        var router = Router<RequestContext>()
        OperationsRoutes.register(&router, openAPI: openAPI)
        ConcertPages.register(&router)
        ConcertsAPI.register(&router)
        OrganiserPages.register(&router)
        CartAPI.register(&router)
        CheckoutPages.register(&router)
        ReservationsAPI.register(&router, errors: ReservationErrors.http)
        UsersAPI.register(&router)
        UsersPages.register(&router)
        if testRoutes { TestRoutes.register(&router) }
        self.router = router
    }

    /// The factory the worker pool calls once per thread.
    public func handlerFactory() -> RequestHandlerFactory {
        { context in EncoreRequestHandler(application: self, thread: context) }
    }
}

/// Serves one worker thread's requests, holding that thread's database connection.
final class EncoreRequestHandler: RequestHandler {
    private let application: EncoreApplication
    private var context: RequestContext

    init(application: EncoreApplication, thread: WorkerThreadContext) {
        self.application = application
        context = RequestContext(
            database: ThreadDatabase(
                url: thread.configuration.databaseURL, statementTimeout: thread.configuration.requestTimeout,
                logger: application.logger),
            templates: application.templates, logger: application.logger, thread: thread)
    }

    func handle(_ request: FastCGIRequest) -> FastCGIResponse {
        context.reset()
        switch IdempotentRequests.claim(request, database: context.database) {
        case .none:
            return route(request)
        case .answer(let response):
            return response
        case .claimed(let scope, let key):
            let response = route(request)
            IdempotentRequests.store(response, scope: scope, key: key, database: context.database)
            return response
        }
    }

    private func route(_ request: FastCGIRequest) -> FastCGIResponse {
        var response = application.router.respond(to: request, context: &context, logger: context.logger) {
            request, context in
            // Who is asking, then whether an unsafe request carries the CSRF token.
            if request.path != "/healthz" && !request.path.hasPrefix("/_test/") {
                try Authentication.resolve(request, context: context)
            }
            try CSRF.verify(request, principal: context.principal)
        }
        for cookie in context.cookies { response.headers.append(("Set-Cookie", cookie)) }
        if application.testRoutes { response.headers.append(("X-Encore-Worker", "\(getpid())")) }
        return response
    }
}
