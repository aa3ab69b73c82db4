import EventStore
import Foundation
import Postgres
import Web

/// The Users context as the composition root wires it: accounts, sessions, roles.
///
/// What it offers other contexts: who is asking (`authenticate`, run before every request is
/// routed) and users' display names (`displayNames`).
public struct UsersContext: BoundedContext {
    public init() {}

    public var name: String { "users" }
    public var migrations: [Migration] { UsersSchema.migrations }
    public var inlineProjections: [any Projection] { [UsersProjection()] }
    public var resources: URL? { Bundle.module.resourceURL }

    public func routes(_ router: inout Router<RequestContext>, store: StoreSetup) {
        let api = UsersAPI(store: store)
        api.add(to: &router)
        UsersPages(api: api).add(to: &router)
    }

    /// Resolves the request's principal from its bearer token or session cookie.
    public func authenticate(_ request: HTTPRequest, _ context: RequestContext) throws {
        try Authentication.resolve(request, context: context)
    }

    /// Users' display names by id (ids of no user are left out).
    public var displayNames: @Sendable (_ userIds: [String], _ connection: Connection) throws -> [String: String] {
        { try UsersQueries.names(of: $0, on: $1) }
    }
}
