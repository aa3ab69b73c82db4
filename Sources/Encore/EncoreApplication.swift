import FastCGI
import Foundation
import Glibc
import Logging
import Web

/// The web application a worker process serves: every context's routes, templates and
/// OpenAPI part, and the per-thread request handler.
public struct EncoreApplication: Sendable {
    let encore: Encore
    let router: Router<RequestContext>
    let templates: Templates
    let logger: Logger
    let namesWorkers: Bool

    /// Gathers every context's routes, templates and OpenAPI part. `extraRoutes` are added
    /// last (the test routes of the end-to-end tests); with them, every response names the
    /// worker that served it (`X-Encore-Worker`).
    public init(
        encore: Encore, logger: Logger, extraRoutes: (@Sendable (inout Router<RequestContext>) -> Void)? = nil
    ) throws {
        self.encore = encore
        self.logger = logger
        let resources = encore.contexts.compactMap(\.resources)
        let rootResources = Bundle.module.resourceURL!
        templates = try Templates(
            directories: ([rootResources] + resources).map { $0.appendingPathComponent("Templates").path }
                .filter { FileManager.default.fileExists(atPath: $0) })
        let openAPI = try OpenAPIDocument.assemble(
            root: rootResources.appendingPathComponent("openapi.json"),
            parts: resources.map { $0.appendingPathComponent("openapi.json") }
                .filter { FileManager.default.fileExists(atPath: $0.path) })
        var router = Router<RequestContext>()
        OperationsRoutes.register(&router, openAPI: openAPI)
        for context in encore.contexts { context.routes(&router, store: encore.store) }
        extraRoutes?(&router)
        OperationsRoutes.registerMetrics(&router, encore: encore)
        self.router = router
        namesWorkers = extraRoutes != nil
    }

    /// The factory the worker pool calls once per thread.
    public func handlerFactory() -> RequestHandlerFactory {
        { context in EncoreRequestHandler(application: self, thread: context) }
    }
}

/// Serves one worker thread's requests, holding that thread's database connection.
final class EncoreRequestHandler: RequestHandler {
    private let application: EncoreApplication
    private let context: RequestContext

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
        let lease = context.thread.configuration.requestTimeout + 5
        switch IdempotentRequests.claim(request, database: context.database, lease: lease) {
        case .none:
            return route(request)
        case .answer(let response):
            return response
        case .claimed(let scope, let key):
            let response = route(request)
            IdempotentRequests.store(
                response, scope: scope, key: key, database: context.database, logger: context.logger)
            return response
        }
    }

    private func route(_ request: FastCGIRequest) -> FastCGIResponse {
        let users = application.encore.users
        var response = application.router.respond(to: request, context: context, logger: context.logger) {
            request, context in
            // Who is asking, then whether an unsafe request carries the CSRF token.
            if request.path != "/healthz" && !request.path.hasPrefix("/_test/") {
                try users.authenticate(request, context)
                context.anonymousCSRFToken = CSRF.visitorToken(in: request)
            }
            try CSRF.verify(request, principal: context.principal)
        }
        for cookie in context.cookies { response.headers.append(("Set-Cookie", cookie)) }
        if application.namesWorkers { response.headers.append(("X-Encore-Worker", "\(getpid())")) }
        return response
    }
}
