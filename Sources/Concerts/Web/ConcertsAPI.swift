import EventStore
import Foundation
import Identity
import Postgres
import Web

/// The Concerts JSON API: the public list and detail, and the organisers' commands.
struct ConcertsAPI: Sendable {
    let store: StoreSetup
    let catalog: ConcertCatalog

    func add(to router: inout Router<RequestContext>) {
        router.get("/api/concerts", list)
        router.get("/api/concerts/:id", show)
        router.post("/api/concerts", create)
        router.patch("/api/concerts/:id", update)
        router.put("/api/concerts/:id/ticket-levels", replaceLevels)
        router.post("/api/concerts/:id/cancel", cancel)
        router.get("/api/concerts/:id/history", history)
    }

    struct LevelBody: Decodable {
        let id: String?
        let name: String
        let capacity: Int
        let price: Int
    }

    struct ConcertBody: Encodable {
        let concert: ConcertView
    }

    /// `{concerts, next}`: `next` is null on the last page, and also given as a `Link` header.
    struct ListBody: Encodable {
        let concerts: [ConcertView]
        let next: String?

        enum CodingKeys: String, CodingKey { case concerts, next }

        func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(concerts, forKey: .concerts)
            try container.encode(next, forKey: .next)  // null, not absent, on the last page
        }
    }

    func list(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let search = try ConcertListInput.search(request.query)
        let page = try context.database.with { try catalog.discover(search, on: $0) }
        let response = try HTTPResponse.json(ListBody(concerts: page.concerts, next: page.next?.token))
        guard let next = page.next else { return response }
        let limit = request.query["limit"].flatMap { $0.isEmpty ? nil : [("limit", $0)] } ?? []
        let link =
            "/api/concerts"
            + ConcertListInput.queryString(
                ConcertListInput.filterQuery(request.query) + limit + [("cursor", next.token)])
        return response.with(header: "Link", "<\(link)>; rel=\"next\"")
    }

    func show(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        try .json(ConcertBody(concert: try find(request.routeParameters["id"] ?? "", context)))
    }

    func create(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        struct Body: Decodable {
            let artist: String
            let title: String?
            let venue: String
            let city: String
            let startsAt: String
            let timeZone: String?
            let currency: String
            let ticketLevels: [LevelBody]
        }
        let organiser = try context.require(.organiser)
        let body = try request.decodeJSON(Body.self)
        let details = try ConcertDetails(
            artist: body.artist, title: body.title ?? "", venue: body.venue, city: body.city,
            startsAt: try ConcertInput.date(body.startsAt), timeZone: body.timeZone ?? VenueTimeZone.utc)
        let levels = try levels(body.ticketLevels)
        let id = try context.database.with {
            try commands($0).create(
                organiserId: organiser.userId, details: details, currency: body.currency, ticketLevels: levels,
                metadata: EventMetadata(correlationId: request.requestId, userId: organiser.userId),
                idempotencyKey: request.header("Idempotency-Key").map { "concerts:\(organiser.userId):\($0)" })
        }
        return try .json(ConcertBody(concert: try find(id, context)), status: 201)
    }

    func update(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        struct Body: Decodable {
            let artist: String?
            let title: String?
            let venue: String?
            let city: String?
            let startsAt: String?
            let timeZone: String?
        }
        let id = request.routeParameters["id"] ?? ""
        let organiser = try manage(id, context)
        let body = try request.decodeJSON(Body.self)
        let current = try find(id, context)
        let details = try ConcertDetails(
            artist: body.artist ?? current.artist, title: body.title ?? current.title,
            venue: body.venue ?? current.venue, city: body.city ?? current.city,
            startsAt: try body.startsAt.map { try ConcertInput.date($0) } ?? current.startsAt,
            timeZone: body.timeZone ?? current.timeZone)
        try update(id, details: details, by: organiser, request: request, context: context)
        return try .json(ConcertBody(concert: try find(id, context)))
    }

    func replaceLevels(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        struct Body: Decodable { let ticketLevels: [LevelBody] }
        let id = request.routeParameters["id"] ?? ""
        let organiser = try manage(id, context)
        let body = try request.decodeJSON(Body.self)
        try replaceLevels(id, with: try levels(body.ticketLevels), by: organiser, request: request, context: context)
        return try .json(ConcertBody(concert: try find(id, context)))
    }

    func cancel(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        struct Body: Decodable { let reason: String? }
        let id = request.routeParameters["id"] ?? ""
        let organiser = try manage(id, context)
        let reason = request.body.isEmpty ? nil : try request.decodeJSON(Body.self).reason
        try cancel(id, reason: reason ?? "", by: organiser, request: request, context: context)
        return try .json(ConcertBody(concert: try find(id, context)))
    }

    func history(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        struct Entry: Encodable {
            let version: Int64
            let type: String
            let recordedAt: Date
            let userId: String?
            let data: String
        }
        let id = request.routeParameters["id"] ?? ""
        try manage(id, context)
        let history = try context.database.with { try StreamHistory.load(Concert.streamId(id), on: $0) }
        return try .json([
            "events": history.entries.map {
                Entry(
                    version: $0.version, type: $0.eventType, recordedAt: $0.recordedAt, userId: $0.metadata.userId,
                    data: $0.data)
            }
        ])
    }

    // MARK: The commands, shared with the organisers' pages

    func update(
        _ id: String, details: ConcertDetails, by organiser: Principal, request: HTTPRequest, context: RequestContext
    )
        throws
    {
        try context.database.with {
            try commands($0).update(
                id, details: details,
                metadata: EventMetadata(correlationId: request.requestId, userId: organiser.userId))
        }
    }

    /// Replaces the levels, with what is held or sold of each as the sales context counts it.
    func replaceLevels(
        _ id: String, with levels: [TicketLevel], by organiser: Principal, request: HTTPRequest, context: RequestContext
    ) throws {
        try context.database.with {
            try commands($0).updateTicketLevels(
                id, levels: levels, taken: try catalog.taken(concertId: id, on: $0),
                metadata: EventMetadata(correlationId: request.requestId, userId: organiser.userId))
        }
    }

    func cancel(_ id: String, reason: String, by organiser: Principal, request: HTTPRequest, context: RequestContext)
        throws
    {
        try context.database.with {
            try commands($0).cancel(
                id, by: organiser.userId, reason: reason,
                metadata: EventMetadata(correlationId: request.requestId, userId: organiser.userId))
        }
    }

    func levels(_ bodies: [LevelBody]) throws -> [TicketLevel] {
        guard bodies.count <= TicketLevel.maxLevels else {
            throw HTTPError.invalid("ticketLevels", "A concert has at most \(TicketLevel.maxLevels) ticket levels.")
        }
        return try bodies.enumerated().map { index, level in
            try TicketLevel(
                id: level.id ?? ConcertInput.slug(level.name), name: level.name, capacity: level.capacity,
                price: level.price, position: index)
        }
    }

    func commands(_ connection: Connection) -> ConcertCommands {
        ConcertCommands(connection: connection, store: store)
    }

    func find(_ id: String, _ context: RequestContext) throws -> ConcertView {
        guard let concert = try context.database.with({ try catalog.find(id: id, on: $0) }) else {
            throw ConcertError.notFound
        }
        return concert
    }

    /// The organiser who may manage this concert: its creator, or any admin. Another
    /// organiser's concert answers 404, not 403, so ids are not confirmed.
    @discardableResult
    func manage(_ id: String, _ context: RequestContext) throws -> Principal {
        let principal = try context.require(.organiser)
        let concert = try find(id, context)
        guard principal.role == .admin || concert.organiserId == principal.userId else { throw ConcertError.notFound }
        return principal
    }
}
