import EventStore
import Foundation
import Postgres
import Web

/// The Concerts JSON API (see API.md).
public enum ConcertsAPI {
    struct LevelBody: Decodable {
        let id: String?
        let name: String
        let capacity: Int
        let price: Int
    }

    struct ConcertBody: Encodable {
        let concert: ConcertView
    }

    static func levels(_ bodies: [LevelBody]) throws -> [TicketLevel] {
        try bodies.enumerated().map { index, level in
            try TicketLevel(
                id: level.id ?? ConcertInput.slug(level.name), name: level.name, capacity: level.capacity,
                price: level.price, position: index)
        }
    }

    public static func register(_ router: inout Router<RequestContext>) {
        router.get("/api/concerts") { _, context in
            let concerts = try context.database.with { try ConcertQueries.upcoming(on: $0) }
            return try .json(["concerts": concerts])
        }

        router.get("/api/concerts/:id") { request, context in
            let concert = try context.database.with {
                try ConcertQueries.find(id: request.routeParameters["id"] ?? "", on: $0)
            }
            guard let concert else { throw ConcertError.notFound.http }
            return try .json(ConcertBody(concert: concert))
        }

        router.post("/api/concerts") { request, context in
            struct Body: Decodable {
                let artist: String
                let title: String?
                let venue: String
                let city: String
                let startsAt: String
                let currency: String
                let ticketLevels: [LevelBody]
            }
            let organiser = try context.require(.organiser)
            let body = try request.decodeJSON(Body.self)
            let id = try mappingConcertErrors {
                let details = try ConcertDetails(
                    artist: body.artist, title: body.title ?? "", venue: body.venue, city: body.city,
                    startsAt: try ConcertInput.date(body.startsAt))
                let levels = try levels(body.ticketLevels)
                return try context.database.with {
                    try commands($0).create(
                        organiserId: organiser.userId, details: details, currency: body.currency, ticketLevels: levels,
                        metadata: EventMetadata(correlationId: request.requestId, userId: organiser.userId),
                        idempotencyKey: request.header("Idempotency-Key").map { "concerts:\(organiser.userId):\($0)" })
                }
            }
            return try .json(ConcertBody(concert: try find(id, context)), status: 201)
        }

        router.patch("/api/concerts/:id") { request, context in
            struct Body: Decodable {
                let artist: String?
                let title: String?
                let venue: String?
                let city: String?
                let startsAt: String?
            }
            let id = request.routeParameters["id"] ?? ""
            let organiser = try manage(id, context)
            let body = try request.decodeJSON(Body.self)
            let current = try find(id, context)
            try mappingConcertErrors {
                let details = try ConcertDetails(
                    artist: body.artist ?? current.artist, title: body.title ?? current.title,
                    venue: body.venue ?? current.venue, city: body.city ?? current.city,
                    startsAt: try body.startsAt.map { try ConcertInput.date($0) } ?? current.startsAt)
                try context.database.with {
                    try commands($0).update(
                        id, details: details,
                        metadata: EventMetadata(correlationId: request.requestId, userId: organiser.userId))
                }
            }
            return try .json(ConcertBody(concert: try find(id, context)))
        }

        router.put("/api/concerts/:id/ticket-levels") { request, context in
            struct Body: Decodable { let ticketLevels: [LevelBody] }
            let id = request.routeParameters["id"] ?? ""
            let organiser = try manage(id, context)
            let body = try request.decodeJSON(Body.self)
            try mappingConcertErrors {
                let levels = try levels(body.ticketLevels)
                try context.database.with {
                    try ConcertQueries.checkCapacity(levels, concertId: id, on: $0)
                    try commands($0).updateTicketLevels(
                        id, levels: levels,
                        metadata: EventMetadata(correlationId: request.requestId, userId: organiser.userId))
                }
            }
            return try .json(ConcertBody(concert: try find(id, context)))
        }

        router.post("/api/concerts/:id/cancel") { request, context in
            struct Body: Decodable { let reason: String? }
            let id = request.routeParameters["id"] ?? ""
            let organiser = try manage(id, context)
            let reason = request.body.isEmpty ? nil : try request.decodeJSON(Body.self).reason
            try mappingConcertErrors {
                try context.database.with {
                    try commands($0).cancel(
                        id, by: organiser.userId, reason: reason ?? "",
                        metadata: EventMetadata(correlationId: request.requestId, userId: organiser.userId))
                }
            }
            return try .json(ConcertBody(concert: try find(id, context)))
        }

        router.get("/api/concerts/:id/history") { request, context in
            let id = request.routeParameters["id"] ?? ""
            try manage(id, context)
            let history = try context.database.with { try StreamHistory.load(Concert.streamId(id), on: $0) }
            struct Entry: Encodable {
                let version: Int64
                let type: String
                let recordedAt: Date
                let userId: String?
                let data: String
            }
            return try .json([
                "events": history.entries.map {
                    Entry(
                        version: $0.version, type: $0.eventType, recordedAt: $0.recordedAt, userId: $0.metadata.userId,
                        data: $0.data)
                }
            ])
        }
    }

    static func commands(_ connection: Connection) -> ConcertCommands {
        ConcertCommands(
            connection: connection, inlineProjections: ProjectionRegistry.shared.inline, groupCommit: .shared)
    }

    static func find(_ id: String, _ context: RequestContext) throws -> ConcertView {
        guard let concert = try context.database.with({ try ConcertQueries.find(id: id, on: $0) }) else {
            throw ConcertError.notFound.http
        }
        return concert
    }

    /// The organiser who may manage this concert: its creator, or any admin. Another
    /// organiser's concert answers 404, not 403, so ids are not confirmed.
    @discardableResult
    static func manage(_ id: String, _ context: RequestContext) throws -> Principal {
        let principal = try context.require(.organiser)
        let concert = try find(id, context)
        guard principal.role == .admin || concert.organiserId == principal.userId else {
            throw ConcertError.notFound.http
        }
        return principal
    }
}
