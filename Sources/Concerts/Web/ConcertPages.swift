import Foundation
import Postgres
import Web

/// The public concert pages: the list on `/` (with search, filters and pages) and one
/// concert with its levels, its start on the venue's clock.
///
/// These are the most visited pages of an on-sale. Each reads indexed queries of the
/// `concerts` read model, bounded whatever the number of concerts; for visitors who are not signed in they may be cached for a few
/// seconds (by nginx or the browser), since nothing on them is personal.
struct ConcertPages: Sendable {
    let catalog: ConcertCatalog

    func add(to router: inout Router<RequestContext>) {
        router.get("/", home)
        router.get("/concerts/:id", concert)
    }

    struct HomePage: Encodable {
        /// The search form as typed.
        struct Search: Encodable {
            let q, city, from, to: String
            let hasTickets: Bool
            let isFiltered: Bool
        }
        let search: Search
        let errors: FormFields
        let heading: String
        let concerts: [Item]
        let hasConcerts: Bool
        let nextURL: String?
        let firstURL: String?
        let pages: Bool
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

        init(_ concert: ConcertSummary) {
            id = concert.id
            artist = concert.artist
            title = concert.title
            venue = concert.venue
            city = concert.city
            startsAt = VenueTimeText.display(concert.startsAt, zone: concert.timeZone)
            startsAtISO = VenueTimeText.iso(concert.startsAt, zone: concert.timeZone)
            fromPrice = MoneyText.display(concert.minPrice, concert.currency)
            cancelled = concert.isCancelled
            soldOut = concert.isSoldOut
        }
    }

    /// Concerts on a page of the list: four rows of three cards on a wide screen.
    static let pageSize = 12

    /// The list, `pageSize` concerts a page whatever the number of concerts, with the search
    /// form and a link to the next page (the keyset cursor of `ConcertCatalog.discover`).
    func home(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let query = request.query
        let page = try HTTPError.answering(statuses: [422]) {
            var search = try ConcertListInput.search(query, limitAllowed: false)
            search.limit = Self.pageSize
            let found = try context.database.with { try catalog.discoverSummaries(search, on: $0) }
            let filters = ConcertListInput.filterQuery(query)
            return try homePage(
                query, search: search, concerts: found.concerts,
                nextURL: found.next.map { "/" + ConcertListInput.queryString(filters + [("cursor", $0.token)]) },
                firstURL: search.after == nil ? nil : "/" + ConcertListInput.queryString(filters), context: context)
        } withPage: { error in
            // Errors of the form's fields go next to them; a cursor's above the list.
            let field = error.field.flatMap { ["q", "city", "from", "to"].contains($0) ? $0 : nil } ?? "form"
            return try homePage(
                query, search: nil, concerts: [], nextURL: nil, firstURL: nil, context: context,
                errors: FormFields([field: error.message]))
        }
        return cacheable(page, request, context)
    }

    func homePage(
        _ query: [String: String], search: ConcertSearch?, concerts: [ConcertSummary], nextURL: String?,
        firstURL: String?, context: RequestContext, errors: FormFields = FormFields()
    ) throws -> HTTPResponse {
        let typed = HomePage.Search(
            q: query["q"] ?? "", city: query["city"] ?? "", from: query["from"] ?? "", to: query["to"] ?? "",
            hasTickets: (try? ConcertListInput.flag(query["hasTickets"], field: "hasTickets")) ?? false,
            isFiltered: search?.isFiltered ?? true)
        let heading = typed.isFiltered ? "Concerts found" : "Upcoming concerts"
        return try context.page(
            "home", title: "Concerts",
            HomePage(
                search: typed, errors: errors, heading: heading, concerts: concerts.map(Item.init),
                hasConcerts: !concerts.isEmpty, nextURL: nextURL, firstURL: firstURL,
                pages: nextURL != nil || firstURL != nil))
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
        /// "Europe/Warsaw", and the same moment in UTC (nil for a concert in UTC).
        let timeZone: String
        let startsAtUTC: String?
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
                city: concert.city, startsAt: VenueTimeText.display(concert.startsAt, zone: concert.timeZone),
                startsAtISO: VenueTimeText.iso(concert.startsAt, zone: concert.timeZone), timeZone: concert.timeZone,
                startsAtUTC: concert.timeZone == VenueTimeZone.utc ? nil : DateText.display(concert.startsAt),
                cancelled: concert.isCancelled,
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
