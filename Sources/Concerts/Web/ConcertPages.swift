import Foundation
import Postgres
import Web

/// The public concert pages: the list on `/` and one concert with its levels.
///
/// These are the most visited pages of an on-sale. Each reads one indexed query of the
/// `concerts` read model; for visitors who are not signed in they may be cached for a few
/// seconds (by nginx or the browser), since nothing on them is personal.
public enum ConcertPages {
    public static func register(_ router: inout Router<RequestContext>) {
        router.get("/") { request, context in
            let concerts = try context.database.with { try ConcertQueries.upcoming(on: $0) }
            let page = try context.page(
                "home", title: "Concerts",
                ["concerts": concerts.map(listItem), "hasConcerts": !concerts.isEmpty])
            return cacheable(page, request, context)
        }

        router.get("/concerts/:id") { request, context in
            let concert = try context.database.with {
                try ConcertQueries.find(id: request.routeParameters["id"] ?? "", on: $0)
            }
            guard let concert else { throw ConcertError.notFound.http }
            let levels: [[String: Any]] = concert.ticketLevels.map { level in
                [
                    "id": level.id, "name": level.name, "price": ConcertInput.money(level.price, concert.currency),
                    "available": level.available, "soldOut": level.available == 0,
                    "maxQuantity": min(level.available, 10),
                ]
            }
            let page = try context.page(
                "concert", title: "\(concert.artist) — \(concert.city)",
                [
                    "concertId": concert.id, "artist": concert.artist, "concertTitle": concert.title,
                    "venue": concert.venue,
                    "city": concert.city, "startsAt": display(concert.startsAt),
                    "startsAtISO": DateText.rfc3339(concert.startsAt),
                    "cancelled": concert.isCancelled, "soldOut": concert.isSoldOut, "levels": levels,
                    "onSale": !concert.isCancelled && !concert.isSoldOut,
                ])
            return cacheable(page, request, context)
        }
    }

    static func listItem(_ concert: ConcertView) -> [String: Any] {
        [
            "id": concert.id, "artist": concert.artist, "title": concert.title, "venue": concert.venue,
            "city": concert.city, "startsAt": display(concert.startsAt),
            "startsAtISO": DateText.rfc3339(concert.startsAt),
            "fromPrice": ConcertInput.money(concert.minPrice, concert.currency), "cancelled": concert.isCancelled,
            "soldOut": concert.isSoldOut,
        ]
    }

    /// "Sat 12 Jun 2027, 20:00 UTC".
    static func display(_ date: Date) -> String {
        DateText.display(date)
    }

    /// Anonymous visitors get a short public cache lifetime; signed-in ones see their name in
    /// the header, so their copy is private.
    static func cacheable(_ page: HTTPResponse, _ request: HTTPRequest, _ context: RequestContext) -> HTTPResponse {
        let anonymous =
            context.principal == nil && request.cookies[Cookies.sessionName] == nil
            && context.cookies.isEmpty
        return page.with(header: "Cache-Control", anonymous ? "public, max-age=5" : "private, no-cache")
            .with(header: "Vary", "Cookie")
    }
}
