import Foundation
import Postgres
import Web

/// The public concert pages: the list on `/` and one concert with its levels.
///
/// These are the most visited pages of an on-sale. Each reads one indexed query of the
/// `concerts` read model; for visitors who are not signed in they may be cached for a few
/// seconds (by nginx or the browser), since nothing on them is personal.
struct ConcertPages: Sendable {
    let catalog: ConcertCatalog

    func add(to router: inout Router<RequestContext>) {
        router.get("/", home)
        router.get("/concerts/:id", concert)
    }

    struct HomePage: Encodable {
        let concerts: [Item]
        let hasConcerts: Bool

        init(concerts: [Item]) {
            self.concerts = concerts
            hasConcerts = !concerts.isEmpty
        }
    }

    /// A concert in a list.
    struct Item: Encodable {
        let id: String
        let artist: String
        let title: String
        let venue: String
        let city: String
        let startsAt: String
        let startsAtISO: String
        let fromPrice: String
        let cancelled: Bool
        let soldOut: Bool

        init(_ concert: ConcertView) {
            id = concert.id
            artist = concert.artist
            title = concert.title
            venue = concert.venue
            city = concert.city
            startsAt = DateText.display(concert.startsAt)
            startsAtISO = DateText.rfc3339(concert.startsAt)
            fromPrice = MoneyText.display(concert.minPrice, concert.currency)
            cancelled = concert.isCancelled
            soldOut = concert.isSoldOut
        }
    }

    func home(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let concerts = try context.database.with { try catalog.upcoming(on: $0) }
        let page = try context.page("home", title: "Concerts", HomePage(concerts: concerts.map(Item.init)))
        return cacheable(page, request, context)
    }

    struct ConcertPage: Encodable {
        struct Level: Encodable {
            let id: String
            let name: String
            let price: String
            let available: Int
            let soldOut: Bool
            let maxQuantity: Int
        }
        let concertId: String
        let artist: String
        let concertTitle: String
        let venue: String
        let city: String
        let startsAt: String
        let startsAtISO: String
        let cancelled: Bool
        let soldOut: Bool
        let onSale: Bool
        let levels: [Level]
    }

    func concert(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let concert = try context.database.with { try catalog.find(id: request.routeParameters["id"] ?? "", on: $0) }
        guard let concert else { throw ConcertError.notFound }
        let page = try context.page(
            "concert", title: "\(concert.artist) — \(concert.city)",
            ConcertPage(
                concertId: concert.id, artist: concert.artist, concertTitle: concert.title, venue: concert.venue,
                city: concert.city, startsAt: DateText.display(concert.startsAt),
                startsAtISO: DateText.rfc3339(concert.startsAt), cancelled: concert.isCancelled,
                soldOut: concert.isSoldOut, onSale: !concert.isCancelled && !concert.isSoldOut,
                levels: concert.ticketLevels.map { level in
                    .init(
                        id: level.id, name: level.name, price: MoneyText.display(level.price, concert.currency),
                        available: level.available, soldOut: level.available == 0,
                        maxQuantity: min(level.available, 10))
                }))
        return cacheable(page, request, context)
    }

    /// Anonymous visitors get a short public cache lifetime; signed-in ones see their name in
    /// the header, so their copy is private.
    func cacheable(_ page: HTTPResponse, _ request: HTTPRequest, _ context: RequestContext) -> HTTPResponse {
        let anonymous =
            context.principal == nil && request.cookies[Cookies.sessionName] == nil
            && context.cookies.isEmpty
        return page.with(header: "Cache-Control", anonymous ? "public, max-age=5" : "private, no-cache")
            .with(header: "Vary", "Cookie")
    }
}
