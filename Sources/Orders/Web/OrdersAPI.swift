import Foundation
import Identity
import Postgres
import Web

/// `GET /api/orders` and `/api/orders/{id}`: a customer's own orders; an organiser's also those
/// of their concerts (`?concertId=` for one), an admin's all.
struct OrdersAPI: Sendable {
    let access: OrderAccess

    func add(to router: inout Router<RequestContext>) {
        router.get("/api/orders", list)
        router.get("/api/orders/:id", show)
    }

    func list(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let principal = try context.requireSignedIn()
        let orders = try context.database.with { connection -> [OrderView] in
            if let concertId = request.query["concertId"], !concertId.isEmpty {
                guard try access.managesConcert(concertId, principal, on: connection) else {
                    // A concert that is not theirs shows only their own orders of it.
                    return try OrderQueries.mine(userId: principal.userId, on: connection).filter {
                        $0.concertId == concertId
                    }
                }
                return try OrderQueries.list(
                    concertIds: [concertId], search: request.query["q"], status: request.query["status"], on: connection
                )
            }
            switch principal.role {
            case .admin:
                return try OrderQueries.list(
                    concertIds: nil, search: request.query["q"], status: request.query["status"], on: connection)
            case .organiser:
                let managed = try access.concerts.managedBy(principal.userId, connection)
                let theirs = try OrderQueries.list(
                    concertIds: managed, search: request.query["q"], status: request.query["status"], on: connection)
                let own = try OrderQueries.mine(userId: principal.userId, on: connection)
                return (theirs + own.filter { order in !theirs.contains { $0.id == order.id } })
                    .sorted { ($0.createdAt, $0.id) > ($1.createdAt, $1.id) }
            case .customer:
                return try OrderQueries.mine(userId: principal.userId, on: connection)
            }
        }
        return try .json(["orders": orders])
    }

    func show(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let principal = try context.requireSignedIn()
        let order = try context.database.with {
            try access.visible(request.routeParameters["id"] ?? "", to: principal, on: $0)
        }
        return try .json(["order": order])
    }
}

/// The Orders context's errors, as the API answers them.
extension OrderError: HTTPErrorConvertible {
    public var http: HTTPError {
        switch self {
        case .notFound: HTTPError(status: 404, code: "unknown_order", message: "You have no such order.")
        case .alreadyExists: HTTPError(status: 409, code: "order_exists", message: "This order exists already.")
        case .paymentNotConfirmed:
            HTTPError(status: 409, code: "payment_not_confirmed", message: "The order's payment is not confirmed.")
        case .alreadyCompleted:
            HTTPError(status: 409, code: "order_completed", message: "The order is paid; it can only be refunded.")
        case .notCompleted(let status):
            HTTPError(
                status: 409, code: "order_not_completed",
                message: "Only a completed order can be refunded; this one is \(status.rawValue).")
        case .invalid(let field, let message): .invalid(field, message)
        }
    }
}
