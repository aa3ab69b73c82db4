import EventStore
import Foundation
import Postgres
import Web

/// The organisers' panel under `/admin/concerts`: list, create, edit, ticket levels, cancel
/// (with a confirmation step) and history. Organisers manage their own concerts; admins all.
/// The commands are the API's (`ConcertsAPI`); these handlers only read forms and show pages.
struct OrganiserPages: Sendable {
    let api: ConcertsAPI
    let userNames: UserNames

    func add(to router: inout Router<RequestContext>) {
        router.get("/admin") { _, context in
            try context.require(.organiser)
            return .redirect(to: "/admin/concerts", status: 302)
        }
        router.get("/admin/concerts", concerts)
        router.get("/admin/concerts/new") { _, context in
            try context.require(.organiser)
            return try form(
                context: context, typed: FormFields(["currency": "PLN", "timeZone": "Europe/Warsaw"]), levels: [],
                concert: nil)
        }
        router.post("/admin/concerts/new", create)
        router.get("/admin/concerts/:id/edit", edit)
        router.post("/admin/concerts/:id/edit", update)
        router.get("/admin/concerts/:id/levels", levels)
        router.post("/admin/concerts/:id/levels", replaceLevels)
        router.get("/admin/concerts/:id/cancel", confirmCancel)
        router.post("/admin/concerts/:id/cancel", cancel)
        router.get("/admin/concerts/:id/history", history)
    }

    // MARK: The list

    struct ConcertsPage: Encodable {
        struct Concert: Encodable {
            struct Level: Encodable {
                let name: String
                let price: String
                let capacity: Int
                let taken: Int
                let available: Int
            }
            let id: String
            let artist: String
            let title: String
            let city: String
            let startsAt: String
            let cancelled: Bool
            let levels: [Level]
        }
        let notice: String?
        let concerts: [Concert]
        let hasConcerts: Bool
    }

    func concerts(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let organiser = try context.require(.organiser)
        let (concerts, taken) = try context.database.with { connection in
            let concerts = try api.catalog.managed(
                by: organiser.role == .admin ? nil : organiser.userId, on: connection)
            // Held and sold are counted where tickets are sold, not as capacity - available:
            // a cancelled concert has nothing available and may have sold nothing.
            return (concerts, try concerts.map { try api.catalog.taken(concertId: $0.id, on: connection) })
        }
        let list = zip(concerts, taken).map { concert, taken in
            ConcertsPage.Concert(
                id: concert.id, artist: concert.artist, title: concert.title, city: concert.city,
                startsAt: VenueTimeText.display(concert.startsAt, zone: concert.timeZone),
                cancelled: concert.isCancelled,
                levels: concert.ticketLevels.map { level in
                    .init(
                        name: level.name, price: MoneyText.display(level.price, concert.currency),
                        capacity: level.capacity, taken: taken[level.id] ?? 0, available: level.available)
                })
        }
        return try context.page(
            "admin_concerts", title: "Your concerts",
            ConcertsPage(notice: request.query["done"].flatMap(notice), concerts: list, hasConcerts: !list.isEmpty))
    }

    /// What a `?done=` after a form's redirect says; nil for anything else.
    func notice(_ key: String) -> String? {
        switch key {
        case "created": "The concert is created and on sale."
        case "updated": "The concert is updated."
        case "levels": "The ticket levels are saved."
        case "cancelled": "The concert is cancelled."
        default: nil
        }
    }

    // MARK: Creating and editing

    struct ConcertForm: Encodable {
        let isNew: Bool
        let action: String
        let id: String?
        let typed: FormFields
        let errors: FormFields
        let levels: [LevelRow]?
        /// The tz database's zones, for the time zone field's suggestions.
        let zones: [String]
    }

    /// One row of the levels' fields (`levels[N].id|name|capacity|price`).
    struct LevelRow: Encodable {
        let index: Int
        let id: String
        let name: String
        let capacity: String
        let price: String
        let rowError: String?
    }

    func create(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let organiser = try context.require(.organiser)
        let input = request.form
        return try HTTPError.answering {
            let details = try details(from: input)
            let levels = try levels(from: input)
            let id = try context.database.with {
                try api.commands($0).create(
                    organiserId: organiser.userId, details: details, currency: input["currency"] ?? "",
                    ticketLevels: levels,
                    metadata: EventMetadata(correlationId: request.requestId, userId: organiser.userId))
            }
            return .redirect(to: "/admin/concerts?done=created#concert-\(id)")
        } withPage: { error in
            try form(context: context, typed: FormFields(input), levels: typedLevels(input), concert: nil, error: error)
        }
    }

    func edit(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let id = request.routeParameters["id"] ?? ""
        try api.manage(id, context)
        let concert = try api.find(id, context)
        let typed = FormFields([
            "artist": concert.artist, "title": concert.title, "venue": concert.venue, "city": concert.city,
            "startsAt": LocalDateTime(concert.startsAt, in: VenueTimeZone.stored(concert.timeZone)).description,
            "timeZone": concert.timeZone, "currency": concert.currency,
        ])
        return try form(context: context, typed: typed, levels: nil, concert: concert)
    }

    func update(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let id = request.routeParameters["id"] ?? ""
        let organiser = try api.manage(id, context)
        let input = request.form
        return try HTTPError.answering {
            try api.update(id, details: try details(from: input), by: organiser, request: request, context: context)
            return .redirect(to: "/admin/concerts?done=updated#concert-\(id)")
        } withPage: { error in
            try form(
                context: context, typed: FormFields(input), levels: nil, concert: try api.find(id, context),
                error: error)
        }
    }

    func form(
        context: RequestContext, typed: FormFields, levels: [[String: String]]?, concert: ConcertView?,
        error: HTTPError? = nil
    ) throws -> HTTPResponse {
        try context.page(
            "admin_concert_form", title: concert == nil ? "New concert" : "Edit concert",
            ConcertForm(
                isNew: concert == nil, action: concert.map { "/admin/concerts/\($0.id)/edit" } ?? "/admin/concerts/new",
                id: concert?.id, typed: typed, errors: formErrors(error),
                levels: levels.map { levelRows($0, error: error) }, zones: VenueTimeText.zoneChoices))
    }

    /// Errors of the concert's own fields go next to them; a level's above the form (and at its row).
    func formErrors(_ error: HTTPError?) -> FormFields {
        guard let error else { return FormFields() }
        if let field = error.field, !field.hasPrefix("ticketLevels") { return FormFields([field: error.message]) }
        return FormFields(["form": error.message])
    }

    /// The details as the form gives them: the start as the venue's wall-clock time in the
    /// form's time zone (`VenueClock`'s rule across daylight-saving changes), or an RFC 3339
    /// moment; a form without a zone is read in UTC, as before zones existed.
    func details(from input: [String: String]) throws -> ConcertDetails {
        let zone = (input["timeZone"] ?? "").trimmingCharacters(in: .whitespaces)
        let timeZone = zone.isEmpty ? VenueTimeZone.utc : zone
        let (artist, title, venue, city) = (
            input["artist"] ?? "", input["title"] ?? "", input["venue"] ?? "", input["city"] ?? ""
        )
        if let local = LocalDateTime(parsing: input["startsAt"] ?? "") {
            return try ConcertDetails(
                artist: artist, title: title, venue: venue, city: city, localStart: local, timeZone: timeZone)
        }
        return try ConcertDetails(
            artist: artist, title: title, venue: venue, city: city,
            startsAt: try ConcertInput.formDate(input["startsAt"] ?? ""), timeZone: timeZone)
    }

    // MARK: Ticket levels

    struct LevelsPage: Encodable {
        let id: String
        let artist: String
        let currency: String
        let cancelled: Bool
        let levels: [LevelRow]
        let errors: FormFields
    }

    func levels(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let id = request.routeParameters["id"] ?? ""
        try api.manage(id, context)
        let concert = try api.find(id, context)
        let rows = concert.ticketLevels.map {
            ["id": $0.id, "name": $0.name, "capacity": "\($0.capacity)", "price": MoneyText.majorUnits($0.price)]
        }
        return try levelsPage(context: context, concert: concert, levels: rows)
    }

    func replaceLevels(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let id = request.routeParameters["id"] ?? ""
        let organiser = try api.manage(id, context)
        let input = request.form
        return try HTTPError.answering {
            try api.replaceLevels(id, with: try levels(from: input), by: organiser, request: request, context: context)
            return .redirect(to: "/admin/concerts?done=levels#concert-\(id)")
        } withPage: { error in
            try levelsPage(
                context: context, concert: try api.find(id, context), levels: typedLevels(input), error: error)
        }
    }

    func levelsPage(context: RequestContext, concert: ConcertView, levels: [[String: String]], error: HTTPError? = nil)
        throws -> HTTPResponse
    {
        try context.page(
            "admin_concert_levels", title: "Ticket levels",
            LevelsPage(
                id: concert.id, artist: concert.artist, currency: concert.currency, cancelled: concert.isCancelled,
                levels: levelRows(levels, error: error), errors: FormFields(error.map { ["form": $0.message] } ?? [:])))
    }

    /// Level rows `levels[N].id|name|capacity|price`; rows with neither name nor capacity are
    /// blank and ignored.
    func levels(from input: [String: String]) throws -> [TicketLevel] {
        var levels: [TicketLevel] = []
        for (index, row) in typedLevels(input).enumerated() {
            let name = row["name"] ?? ""
            let capacityText = (row["capacity"] ?? "").trimmingCharacters(in: .whitespaces)
            guard capacityText.count <= 9, let capacity = Int(capacityText) else {
                throw ConcertError.invalid(
                    field: "ticketLevels[\(index)].capacity", message: "Enter how many tickets of this level exist.")
            }
            let id = (row["id"] ?? "").isEmpty ? ConcertInput.slug(name) : row["id"] ?? ""
            levels.append(
                try TicketLevel(
                    id: id, name: name, capacity: capacity,
                    price: try ConcertInput.formPrice(row["price"] ?? "", position: index), position: index))
        }
        try TicketLevel.validate(levels)
        return levels
    }

    /// The level rows as typed (at most `TicketLevel.maxLevels`), blank ones left out.
    func typedLevels(_ input: [String: String]) -> [[String: String]] {
        var rows: [[String: String]] = []
        for index in 0..<TicketLevel.maxLevels {
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

    /// The rows to show: the typed ones, then blank ones (at least two, four in all when few).
    func levelRows(_ levels: [[String: String]], error: HTTPError?) -> [LevelRow] {
        let padded = levels + Array(repeating: [:], count: max(2, 4 - levels.count))
        return padded.prefix(TicketLevel.maxLevels).enumerated().map { index, row in
            let mine = error?.field.map { $0.hasPrefix("ticketLevels[\(index)]") } ?? false
            return LevelRow(
                index: index, id: row["id"] ?? "", name: row["name"] ?? "", capacity: row["capacity"] ?? "",
                price: row["price"] ?? "", rowError: mine ? error?.message : nil)
        }
    }

    // MARK: Cancelling

    struct CancelPage: Encodable {
        let id: String
        let artist: String
        let city: String
        let startsAt: String
        let cancelled: Bool
    }

    func confirmCancel(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let id = request.routeParameters["id"] ?? ""
        try api.manage(id, context)
        let concert = try api.find(id, context)
        return try context.page(
            "admin_concert_cancel", title: "Cancel \(concert.artist)",
            CancelPage(
                id: concert.id, artist: concert.artist, city: concert.city,
                startsAt: VenueTimeText.display(concert.startsAt, zone: concert.timeZone),
                cancelled: concert.isCancelled))
    }

    func cancel(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let id = request.routeParameters["id"] ?? ""
        let organiser = try api.manage(id, context)
        try api.cancel(id, reason: request.form["reason"] ?? "", by: organiser, request: request, context: context)
        return .redirect(to: "/admin/concerts?done=cancelled#concert-\(id)")
    }

    // MARK: History

    struct HistoryPage: Encodable {
        struct Event: Encodable {
            let version: Int64
            let type: String
            let at: String
            let by: String
            let data: String
        }
        let id: String
        let artist: String
        let events: [Event]
    }

    func history(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let id = request.routeParameters["id"] ?? ""
        try api.manage(id, context)
        let concert = try api.find(id, context)
        let (history, names) = try context.database.with { connection in
            let history = try StreamHistory.load(Concert.streamId(id), on: connection)
            return (history, try userNames(Array(Set(history.entries.compactMap(\.metadata.userId))), connection))
        }
        return try context.page(
            "admin_concert_history", title: "History of \(concert.artist)",
            HistoryPage(
                id: concert.id, artist: concert.artist,
                events: history.entries.reversed().map { entry in
                    .init(
                        version: entry.version, type: entry.eventType, at: EventFormatter.timestamp(entry.recordedAt),
                        by: entry.metadata.userId.map { names[$0] ?? $0 } ?? "system", data: entry.data)
                }))
    }
}
