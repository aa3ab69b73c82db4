import EventStore
import FastCGI
import Foundation
import Logging
import Postgres

/// A bounded context as the composition root sees it: everything the context brings to the
/// application, declared in one place, so that wiring a context is one line in the root's list.
///
/// A context is built by the root with what it needs from other contexts (small functions or
/// protocols that the context itself declares), and is handed the event store's setup when its
/// routes, background projections and jobs are made. It reaches for nothing global.
public protocol BoundedContext: Sendable {
    /// A short name for logs and error messages ("concerts").
    var name: String { get }
    /// Schema migrations, numbered in the context's own range of versions.
    var migrations: [Migration] { get }
    /// Projections run in every append's transaction. They only read events, so they need
    /// nothing from the rest of the application.
    var inlineProjections: [any Projection] { get }
    /// Async projections and reactors (process managers), run by the projection daemon in the
    /// global order; `store` is for the commands a reactor runs.
    func backgroundProjections(store: StoreSetup) -> [any Projection]
    /// Adds the context's routes: its API, its pages.
    func routes(_ router: inout Router<RequestContext>, store: StoreSetup)
    /// Supervised background jobs, each run in a process of its own by the pool's supervisor.
    func backgroundJobs(store: StoreSetup) -> [BackgroundJob]
    /// What an operator alerts on, for `/metrics` (backlogs, queues, failures), read now.
    func metrics(on connection: Connection) throws -> [Metric]
    /// The folder of the context's resources (`Bundle.module.resourceURL`): `Templates/*.mustache`
    /// (names unique across the application) and `openapi.json` (its paths and component
    /// schemas), copied from the module's `Resources/` folder; nil when it has none.
    var resources: URL? { get }
}

extension BoundedContext {
    public var migrations: [Migration] { [] }
    public var inlineProjections: [any Projection] { [] }
    public func backgroundProjections(store: StoreSetup) -> [any Projection] { [] }
    public func routes(_ router: inout Router<RequestContext>, store: StoreSetup) {}
    public func backgroundJobs(store: StoreSetup) -> [BackgroundJob] { [] }
    public func metrics(on connection: Connection) throws -> [Metric] { [] }
    public var resources: URL? { nil }
}

/// A supervised background job: a name (`encore background NAME`) and how to start it.
public struct BackgroundJob: Sendable {
    /// What a job is started with.
    public struct Environment: Sendable {
        public let databaseURL: String
        public let logger: Logger

        public init(databaseURL: String, logger: Logger) {
            self.databaseURL = databaseURL
            self.logger = logger
        }
    }

    public let name: String
    public let start: @Sendable (Environment) -> BackgroundProcess.Job

    public init(name: String, start: @escaping @Sendable (Environment) -> BackgroundProcess.Job) {
        self.name = name
        self.start = start
    }
}
