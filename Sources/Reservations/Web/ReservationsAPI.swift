import EventStore
import Foundation
import Identity
import Postgres
import Web

/// The customer's reservations. Another customer's reservation is "not found".
struct ReservationsAPI: Sendable {
    let store: StoreSetup

    func add(to router: inout Router<RequestContext>) {
        router.get("/api/reservations", list)
        router.get("/api/reservations/:id", show)
        router.post("/api/reservations/:id/cancel", cancel)
    }

    func list(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let user = try context.requireSignedIn()
        let list = try context.database.with { try ReservationQueries.mine(userId: user.userId, on: $0) }
        return try .json(["reservations": list])
    }

    func show(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let user = try context.requireSignedIn()
        let found = try context.database.with {
            try ReservationQueries.find(id: request.routeParameters["id"] ?? "", userId: user.userId, on: $0)
        }
        guard let found else { throw ReservationError.notFound }
        return try .json(["reservation": found])
    }

    func cancel(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let user = try context.requireSignedIn()
        let reservation = try ReservationsContext.cancel(
            request.routeParameters["id"] ?? "", user: user, requestId: request.requestId, context: context,
            store: store)
        return try .json(["reservation": reservation])
    }
}

/// The Reservations context's errors, as the API answers them. A refusal names the level by
/// its id here; the checkout, which knows the concerts, names it for people.
extension ReservationError: HTTPErrorConvertible {
    public var http: HTTPError {
        switch self {
        case .notEnoughTickets(let concertId, let levelId, let available):
            var http = HTTPError(
                status: 409, code: "not_enough_tickets",
                message: available == 0
                    ? "These tickets are sold out. Nothing was reserved."
                    : "Only \(available) of these tickets are left. Nothing was reserved.",
                field: "items")
            http.details = ["concertId": concertId, "ticketLevelId": levelId, "available": "\(available)"]
            return http
        case .salesClosed(let concertId):
            var http = HTTPError(
                status: 409, code: "concert_cancelled",
                message: "A concert in your cart is cancelled. Nothing was reserved.")
            http.details = ["concertId": concertId]
            return http
        case .notOnSaleYet(let concertId, let levelId):
            var http = HTTPError(
                status: 409, code: "not_on_sale_yet",
                message: "These tickets go on sale in a moment; try again. Nothing was reserved.", field: "items")
            http.details = ["concertId": concertId, "ticketLevelId": levelId]
            http.headers["Retry-After"] = "1"
            return http
        case .notFound:
            return HTTPError(status: 404, code: "unknown_reservation", message: "You have no such reservation.")
        case .alreadyCancelled:
            return HTTPError(status: 409, code: "already_cancelled", message: "The reservation is cancelled already.")
        case .alreadyExpired:
            return HTTPError(status: 409, code: "already_expired", message: "The reservation has expired.")
        case .alreadyPaid: return HTTPError(status: 409, code: "already_paid", message: "The reservation is paid.")
        case .notPaid:
            return HTTPError(status: 409, code: "not_paid", message: "The reservation is not paid; nothing to return.")
        case .alreadyExists, .notExpiredYet:
            return HTTPError(status: 409, code: "reservation_conflict", message: "The reservation changed; try again.")
        }
    }
}

extension TicketReservations.WaitOutOfOrder: HTTPErrorConvertible {
    public var http: HTTPError {
        var http = HTTPError(
            status: 503, code: "busy",
            message: "Too many customers are confirming these tickets at once. Nothing was reserved; try again.")
        http.headers["Retry-After"] = "1"
        return http
    }
}
