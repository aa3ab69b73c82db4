import EventStore
import Foundation
import Identity
import Postgres
import Web

/// The Reservations context as the composition root wires it: availability per level (in
/// shards) and the reservations that hold tickets until they are paid, cancelled or expire.
///
/// What it offers other contexts: what is left and taken per level (`available`, `taken`), and
/// the reserving itself, which the checkout (Sales) runs.
public struct ReservationsContext: BoundedContext {
    public init() {}

    public var name: String { "reservations" }
    public var inlineProjections: [any Projection] { [AvailabilityProjection(), ReservationsProjection()] }
    public var resources: URL? { Bundle.module.resourceURL }

    public func routes(_ router: inout Router<RequestContext>, store: StoreSetup) {
        ReservationsAPI(store: store).add(to: &router)
    }

    /// `expiry`: returns the tickets of held reservations whose time is up, once each.
    public func backgroundJobs(store: StoreSetup) -> [BackgroundJob] {
        [
            BackgroundJob(name: "expiry") { environment in
                { shouldStop in Self.expireDue(store: store, environment: environment, shouldStop: shouldStop) }
            }
        ]
    }

    /// Held reservations, and those whose time is up but that the expiry job has not returned yet.
    public func metrics(on connection: Connection) throws -> [Metric] {
        guard
            let row = try connection.query(
                """
                SELECT count(*) FILTER (WHERE status = 'held') AS held,
                       count(*) FILTER (WHERE status = 'held' AND expires_at < now()) AS due
                FROM reservations WHERE status = 'held'
                """
            ).first
        else { return [] }
        return [
            Metric(
                "encore_reservations_held", .gauge, help: "Reservations holding tickets, unpaid.",
                value: Double(try row.decode("held", as: Int.self))),
            Metric(
                "encore_reservations_expiry_backlog", .gauge,
                help: "Held reservations whose time is up that the expiry job has not returned to sale yet.",
                value: Double(try row.decode("due", as: Int.self))),
        ]
    }

    /// Tickets still on sale per concert and level.
    public var available: @Sendable (_ concertIds: [String], _ connection: Connection) throws -> [String: [String: Int]]
    {
        { try AvailabilityQueries.available(concertIds: $0, on: $1) }
    }

    /// `available` for one level, as a SQL expression another context's statement can select
    /// (`TicketCounts.availableSQL`).
    public var availableSQL: @Sendable (_ concertIdSQL: String, _ levelIdSQL: String) -> String {
        { AvailabilityQueries.availableSQL(concertIdSQL: $0, levelIdSQL: $1) }
    }

    /// Tickets held or sold per level of a concert.
    public var taken: @Sendable (_ concertId: String, _ connection: Connection) throws -> [String: Int] {
        { try AvailabilityQueries.levels(concertId: $0, on: $1).mapValues { $0.held + $0.sold } }
    }

    /// Cancels one of the user's held reservations and returns it.
    public static func cancel(
        _ id: String, user: Principal, requestId: String, context: RequestContext, store: StoreSetup
    ) throws -> ReservationView {
        try context.database.with { connection in
            guard try ReservationQueries.find(id: id, userId: user.userId, on: connection) != nil else {
                throw ReservationError.notFound
            }
            try TicketReservations(connection: connection, inlineProjections: store.inlineProjections).end(
                id, .cancel, now: Date(), metadata: EventMetadata(correlationId: requestId, userId: user.userId))
            guard let updated = try ReservationQueries.find(id: id, userId: user.userId, on: connection) else {
                throw ReservationError.notFound
            }
            return updated
        }
    }

    /// The expiry job's loop: a batch of due reservations, then a short rest unless the batch
    /// was full. A failed run drops the connection and tries again after the rest.
    static func expireDue(store: StoreSetup, environment: BackgroundJob.Environment, shouldStop: () -> Bool) {
        let logger = environment.logger
        var connection: Connection?
        while !shouldStop() {
            do {
                let open = try connection ?? Connection(url: environment.databaseURL)
                connection = open
                let expired = try TicketReservations(connection: open, inlineProjections: store.inlineProjections)
                    .expireDue(now: Date())
                if expired > 0 { logger.info("reservations expired", metadata: ["count": "\(expired)"]) }
                if expired >= 100 { continue }
            } catch {
                logger.error("expiry run failed", metadata: ["error": "\(error)"])
                connection = nil
            }
            for _ in 0..<10 where !shouldStop() { Thread.sleep(forTimeInterval: 0.1) }
        }
    }
}
