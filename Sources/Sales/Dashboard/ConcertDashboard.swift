import Concerts
import Foundation
import Identity
import Orders
import Postgres
import TicketDelivery
import Web

/// The organiser's dashboard of a concert, `/admin/concerts/{id}/dashboard`: tickets sold and
/// takings per day and per level (two charts drawn on the server, and the same figures in
/// tables), what the door has seen, and the downloads: the orders' CSV (the Orders context's)
/// and the attendees' (`/admin/concerts/{id}/attendees.csv`, here).
///
/// It lives in Sales because it composes three contexts, each read through its own queries:
/// the concert and its levels (Concerts), the sales per day and the buyers (Orders), the tickets
/// and check-ins (TicketDelivery). Who may see it is the Orders context's rule
/// (`OrderAccess`): the concert's organiser and admins; another organiser's concert is 404.
struct ConcertDashboard: Sendable {
    let catalog: ConcertCatalog
    let access: OrderAccess

    func add(to router: inout Router<RequestContext>) {
        router.get("/admin/concerts/:id/dashboard", dashboard)
        router.get("/admin/concerts/:id/attendees.csv", attendees)
    }

    /// Where a concert's day begins: at midnight on its venue's clock. The read model keeps
    /// quarter-hours, so the days follow the zone without a rebuild.
    static func timeZone(of concert: ConcertView) -> String { concert.timeZone }

    func dashboard(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let principal = try context.require(.organiser)
        let concertId = request.routeParameters["id"] ?? ""
        let (concert, daily, door) = try context.database.with { connection in
            try access.requireManaging(concertId, principal, on: connection)
            guard let concert = try catalog.find(id: concertId, withAvailability: false, on: connection) else {
                throw OrderAccess.unknownConcert
            }
            return (
                concert,
                try OrderQueries.dailySales(concertId: concertId, timeZone: Self.timeZone(of: concert), on: connection),
                try TicketQueries.doorCount(concertId: concertId, on: connection)
            )
        }
        let figures = DashboardFigures(
            levels: concert.ticketLevels.map { .init(id: $0.id, name: $0.name, capacity: $0.capacity) },
            currency: concert.currency, daily: daily)
        return try context.page(
            "admin_concert_dashboard", title: "Dashboard: \(concert.label)",
            DashboardPage(concert: concert, zone: Self.timeZone(of: concert), figures: figures, door: door)
        ).with(header: "Cache-Control", "private, no-store")
    }

    func attendees(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let principal = try context.require(.organiser)
        let concertId = request.routeParameters["id"] ?? ""
        let (tickets, orders) = try context.database.with { connection in
            try access.requireManaging(concertId, principal, on: connection)
            return (
                try TicketQueries.attendees(concertId: concertId, on: connection),
                try OrderQueries.ofConcert(concertId, on: connection)
            )
        }
        return AttendeesExport.csv(tickets: tickets, orders: orders).response(filename: "attendees-\(concertId).csv")
    }
}
