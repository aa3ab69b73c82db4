import EventStore
import Foundation
import Postgres
import Web

/// The organisers' panel under `/admin/concerts`: list, create, edit, ticket levels, cancel
/// (with a confirmation step) and history. Organisers manage their own concerts; admins all.
public enum OrganiserPages {
    public static func register(_ router: inout Router<RequestContext>) {
        router.get("/admin") { _, context in
            try context.require(.organiser)
            return .redirect(to: "/admin/concerts", status: 302)
        }

        router.get("/admin/concerts") { request, context in
            let organiser = try context.require(.organiser)
            let (concerts, taken) = try context.database.with { connection in
                let concerts = try ConcertQueries.managed(
                    by: organiser.role == .admin ? nil : organiser.userId, on: connection)
                // Held and sold come from the Reservations context, not from capacity - available:
                // a cancelled concert has nothing available and may have sold nothing.
                let taken = try concerts.map { try ConcertQueries.taken(connection, $0.id) }
                return (concerts, taken)
            }
            return try context.page(
                "admin_concerts", title: "Your concerts",
                [
                    "notice": request.query["done"].map(notice) as Any,
                    "concerts": zip(concerts, taken).map { concert, taken in
                        [
                            "id": concert.id, "artist": concert.artist, "title": concert.title, "city": concert.city,
                            "startsAt": ConcertPages.display(concert.startsAt), "cancelled": concert.isCancelled,
                            "levels": concert.ticketLevels.map { level in
                                [
                                    "name": level.name, "capacity": level.capacity, "available": level.available,
                                    "taken": taken[level.id] ?? 0,
                                    "price": ConcertInput.money(level.price, concert.currency),
                                ]
                            },
                        ] as [String: Any]
                    },
                    "hasConcerts": !concerts.isEmpty,
                ])
        }

        router.get("/admin/concerts/new") { _, context in
            try context.require(.organiser)
            return try form(context: context, values: ["currency": "PLN"], levels: [], action: "/admin/concerts/new")
        }
        router.post("/admin/concerts/new") { request, context in
            let organiser = try context.require(.organiser)
            let input = request.form
            do {
                let details = try details(from: input)
                let levels = try levels(from: input)
                let id = try context.database.with {
                    try ConcertsAPI.commands($0).create(
                        organiserId: organiser.userId, details: details, currency: input["currency"] ?? "",
                        ticketLevels: levels,
                        metadata: EventMetadata(correlationId: request.requestId, userId: organiser.userId))
                }
                return .redirect(to: "/admin/concerts?done=created#concert-\(id)")
            } catch let error as ConcertError {
                return try form(
                    context: context, values: input, levels: typedLevels(input), action: "/admin/concerts/new",
                    error: error.http)
            }
        }

        router.get("/admin/concerts/:id/edit") { request, context in
            let id = request.routeParameters["id"] ?? ""
            try ConcertsAPI.manage(id, context)
            let concert = try ConcertsAPI.find(id, context)
            return try form(
                context: context,
                values: [
                    "artist": concert.artist, "title": concert.title, "venue": concert.venue, "city": concert.city,
                    "startsAt": formDate(concert.startsAt), "currency": concert.currency,
                ],
                levels: nil, action: "/admin/concerts/\(id)/edit", concert: concert)
        }
        router.post("/admin/concerts/:id/edit") { request, context in
            let id = request.routeParameters["id"] ?? ""
            let organiser = try ConcertsAPI.manage(id, context)
            let input = request.form
            do {
                let details = try details(from: input)
                try context.database.with {
                    try ConcertsAPI.commands($0).update(
                        id, details: details,
                        metadata: EventMetadata(correlationId: request.requestId, userId: organiser.userId))
                }
                return .redirect(to: "/admin/concerts?done=updated#concert-\(id)")
            } catch let error as ConcertError {
                let concert = try ConcertsAPI.find(id, context)
                return try form(
                    context: context, values: input, levels: nil, action: "/admin/concerts/\(id)/edit",
                    concert: concert, error: error.http)
            }
        }

        router.get("/admin/concerts/:id/levels") { request, context in
            let id = request.routeParameters["id"] ?? ""
            try ConcertsAPI.manage(id, context)
            let concert = try ConcertsAPI.find(id, context)
            return try levelsPage(
                context: context, concert: concert,
                levels: concert.ticketLevels.map {
                    [
                        "id": $0.id, "name": $0.name, "capacity": "\($0.capacity)",
                        "price": ConcertInput.majorUnits($0.price),
                    ]
                })
        }
        router.post("/admin/concerts/:id/levels") { request, context in
            let id = request.routeParameters["id"] ?? ""
            let organiser = try ConcertsAPI.manage(id, context)
            let input = request.form
            do {
                let levels = try levels(from: input)
                try context.database.with {
                    try ConcertQueries.checkCapacity(levels, concertId: id, on: $0)
                    try ConcertsAPI.commands($0).updateTicketLevels(
                        id, levels: levels,
                        metadata: EventMetadata(correlationId: request.requestId, userId: organiser.userId))
                }
                return .redirect(to: "/admin/concerts?done=levels#concert-\(id)")
            } catch let error as ConcertError {
                return try levelsPage(
                    context: context, concert: try ConcertsAPI.find(id, context), levels: typedLevels(input),
                    error: error.http)
            }
        }

        router.get("/admin/concerts/:id/cancel") { request, context in
            let id = request.routeParameters["id"] ?? ""
            try ConcertsAPI.manage(id, context)
            let concert = try ConcertsAPI.find(id, context)
            return try context.page(
                "admin_concert_cancel", title: "Cancel \(concert.artist)",
                [
                    "id": concert.id, "artist": concert.artist, "title": concert.title, "city": concert.city,
                    "startsAt": ConcertPages.display(concert.startsAt), "cancelled": concert.isCancelled,
                ])
        }
        router.post("/admin/concerts/:id/cancel") { request, context in
            let id = request.routeParameters["id"] ?? ""
            let organiser = try ConcertsAPI.manage(id, context)
            try mappingConcertErrors {
                try context.database.with {
                    try ConcertsAPI.commands($0).cancel(
                        id, by: organiser.userId, reason: request.form["reason"] ?? "",
                        metadata: EventMetadata(correlationId: request.requestId, userId: organiser.userId))
                }
            }
            return .redirect(to: "/admin/concerts?done=cancelled#concert-\(id)")
        }

        router.get("/admin/concerts/:id/history") { request, context in
            let id = request.routeParameters["id"] ?? ""
            try ConcertsAPI.manage(id, context)
            let concert = try ConcertsAPI.find(id, context)
            let history = try context.database.with { try StreamHistory.load(Concert.streamId(id), on: $0) }
            let names = try context.database.with { connection in
                var names: [String: String] = [:]
                for userId in Set(history.entries.compactMap(\.metadata.userId)) {
                    if let row = try connection.query("SELECT name FROM users WHERE id = \(userId)").first {
                        names[userId] = try row.decode("name")
                    }
                }
                return names
            }
            return try context.page(
                "admin_concert_history", title: "History of \(concert.artist)",
                [
                    "id": concert.id, "artist": concert.artist, "title": concert.title,
                    "events": history.entries.reversed().map { entry in
                        [
                            "version": entry.version, "type": entry.eventType,
                            "at": EventFormatter.timestamp(entry.recordedAt),
                            "by": entry.metadata.userId.map { names[$0] ?? $0 } ?? "system", "data": entry.data,
                        ] as [String: Any]
                    },
                ])
        }
    }

    static func notice(_ key: String) -> String {
        switch key {
        case "created": "The concert is created and on sale."
        case "updated": "The concert is updated."
        case "levels": "The ticket levels are saved."
        case "cancelled": "The concert is cancelled."
        default: "Saved."
        }
    }

    static func details(from input: [String: String]) throws -> ConcertDetails {
        try ConcertDetails(
            artist: input["artist"] ?? "", title: input["title"] ?? "", venue: input["venue"] ?? "",
            city: input["city"] ?? "", startsAt: try ConcertInput.formDate(input["startsAt"] ?? ""))
    }

    /// Level rows `levels[N].id|name|capacity|price`; rows with neither name nor capacity are
    /// blank and ignored.
    static func levels(from input: [String: String]) throws -> [TicketLevel] {
        var levels: [TicketLevel] = []
        for (index, row) in typedLevels(input).enumerated() {
            let name = row["name"] ?? ""
            guard let capacity = Int((row["capacity"] ?? "").trimmingCharacters(in: .whitespaces)) else {
                throw ConcertError.invalid(
                    field: "ticketLevels[\(index)].capacity", message: "Enter how many tickets of this level exist.")
            }
            let id = (row["id"] ?? "").isEmpty ? ConcertInput.slug(name) : row["id"]!
            levels.append(
                try TicketLevel(
                    id: id, name: name, capacity: capacity,
                    price: try ConcertInput.formPrice(row["price"] ?? "", position: index),
                    position: index))
        }
        try TicketLevel.validate(levels)
        return levels
    }

    static func typedLevels(_ input: [String: String]) -> [[String: String]] {
        var rows: [[String: String]] = []
        for index in 0..<20 {
            let row = ["id", "name", "capacity", "price"].reduce(into: [String: String]()) { row, key in
                row[key] = input["levels[\(index)].\(key)"] ?? ""
            }
            if (row["name"] ?? "").isEmpty && (row["capacity"] ?? "").isEmpty && (row["price"] ?? "").isEmpty {
                continue
            }
            rows.append(row)
        }
        return rows
    }

    static func levelRows(_ levels: [[String: String]], error: HTTPError?) -> [[String: Any]] {
        let padded = levels + Array(repeating: [:], count: max(2, 4 - levels.count))
        return padded.enumerated().map { index, row in
            var out: [String: Any] = row
            out["index"] = index
            if let field = error?.field, field.hasPrefix("ticketLevels[\(index)]") { out["error"] = error?.message }
            return out
        }
    }

    static func formDate(_ date: Date) -> String {
        DateText.dateTimeLocal(date)
    }

    static func form(
        context: RequestContext, values: [String: String], levels: [[String: String]]?, action: String,
        concert: ConcertView? = nil, error: HTTPError? = nil
    ) throws -> HTTPResponse {
        var data: [String: Any] = values
        // `title` is the page's title in the layout; the concert's title goes by another key.
        data["concertTitle"] = values["title"] ?? ""
        data["action"] = action
        data["isNew"] = concert == nil
        if let concert { data["id"] = concert.id }
        if let levels { data["levels"] = levelRows(levels, error: error) }
        if let error {
            if let field = error.field, !field.hasPrefix("ticketLevels") {
                data["error_\(field)"] = error.message
            } else {
                data["formError"] = error.message
            }
        }
        var response = try context.page(
            "admin_concert_form", title: concert == nil ? "New concert" : "Edit concert", data)
        if let error { response.status = error.status }
        return response
    }

    static func levelsPage(
        context: RequestContext, concert: ConcertView, levels: [[String: String]], error: HTTPError? = nil
    ) throws -> HTTPResponse {
        var data: [String: Any] = [
            "id": concert.id, "artist": concert.artist, "currency": concert.currency,
            "levels": levelRows(levels, error: error), "cancelled": concert.isCancelled,
        ]
        if let error { data["formError"] = error.message }
        var response = try context.page("admin_concert_levels", title: "Ticket levels", data)
        if let error { response.status = error.status }
        return response
    }
}
