import EventStore
import Foundation
import Postgres
import Web

/// The customer's reservations (see API.md). Another customer's reservation is "not found".
public enum ReservationsAPI {
    public static func register(
        _ router: inout Router<RequestContext>,
        errors: @escaping @Sendable (ReservationError, Connection) throws -> HTTPError
    ) {
        router.get("/api/reservations") { _, context in
            let user = try context.requireSignedIn()
            let list = try context.database.with { try ReservationQueries.mine(userId: user.userId, on: $0) }
            return try .json(["reservations": list])
        }

        router.get("/api/reservations/:id") { request, context in
            let user = try context.requireSignedIn()
            let found = try context.database.with {
                try ReservationQueries.find(id: request.routeParameters["id"] ?? "", userId: user.userId, on: $0)
            }
            guard let found else {
                throw HTTPError(status: 404, code: "unknown_reservation", message: "You have no such reservation.")
            }
            return try .json(["reservation": found])
        }

        router.post("/api/reservations/:id/cancel") { request, context in
            let user = try context.requireSignedIn()
            let id = request.routeParameters["id"] ?? ""
            let reservation = try cancel(id, user: user, requestId: request.requestId, context: context, errors: errors)
            return try .json(["reservation": reservation])
        }
    }

    /// Cancels one of the user's held reservations and returns it.
    public static func cancel(
        _ id: String, user: Principal, requestId: String, context: RequestContext,
        errors: @escaping @Sendable (ReservationError, Connection) throws -> HTTPError
    ) throws -> ReservationView {
        try context.database.with { connection in
            guard try ReservationQueries.find(id: id, userId: user.userId, on: connection) != nil else {
                throw HTTPError(status: 404, code: "unknown_reservation", message: "You have no such reservation.")
            }
            do {
                try TicketReservations(connection: connection, inlineProjections: ProjectionRegistry.shared.inline)
                    .end(
                        id, .cancel, now: Date(), metadata: EventMetadata(correlationId: requestId, userId: user.userId)
                    )
            } catch let error as ReservationError {
                throw try errors(error, connection)
            } catch is WrongExpectedVersion {
                throw HTTPError(
                    status: 409, code: "reservation_changed", message: "The reservation changed meanwhile; reload it.")
            }
            guard let updated = try ReservationQueries.find(id: id, userId: user.userId, on: connection) else {
                throw HTTPError.notFound
            }
            return updated
        }
    }
}
