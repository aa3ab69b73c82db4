import EventStore
import Foundation
import Postgres

/// The Concerts context's command side: each method is one command on one concert stream.
public struct ConcertCommands {
    public let connection: Connection
    public let inlineProjections: [any Projection]
    /// Shared with the process's other threads, so that concurrent commands' appends share
    /// transactions (`GroupCommit`); nil: each append is its own.
    public let groupCommit: GroupCommit?

    public init(connection: Connection, inlineProjections: [any Projection], groupCommit: GroupCommit? = nil) {
        self.connection = connection
        self.inlineProjections = inlineProjections
        self.groupCommit = groupCommit
    }

    /// Commands on `connection`, appending as the application's `store` says.
    public init(connection: Connection, store: StoreSetup) {
        self.init(connection: connection, inlineProjections: store.inlineProjections, groupCommit: store.groupCommit)
    }

    private var handler: CommandHandler<Concert> {
        CommandHandler<Concert>(
            store: EventStore(connection: connection, inlineProjections: inlineProjections, groupCommit: groupCommit),
            streamType: Concert.streamType, eventTypes: Concert.eventTypes)
    }

    /// Creates a concert; returns its id.
    public func create(
        organiserId: String, details: ConcertDetails, currency: String, ticketLevels: [TicketLevel],
        concertId: String = UUID.timeOrdered().uuidString.lowercased(), now: Date = Date(),
        metadata: EventMetadata = EventMetadata(), idempotencyKey: String? = nil
    ) throws -> String {
        let result = try handler.handle(
            .create(
                CreateConcert(
                    concertId: concertId, organiserId: organiserId, details: details, currency: currency,
                    ticketLevels: ticketLevels, now: now)),
            on: Concert.streamId(concertId), metadata: metadata, idempotencyKey: idempotencyKey)
        // On a repeated idempotency key, the first request's concert.
        if case .created(let created)? = result.events.first { return created.concertId }
        return concertId
    }

    public func update(
        _ concertId: String, details: ConcertDetails, now: Date = Date(), metadata: EventMetadata = EventMetadata()
    ) throws {
        _ = try handler.handle(
            .update(UpdateConcert(details: details, now: now)), on: Concert.streamId(concertId), metadata: metadata,
            retriesOnConflict: 3)
    }

    /// Replaces the levels; `taken`: tickets held or sold per level id (see `UpdateTicketLevels`).
    public func updateTicketLevels(
        _ concertId: String, levels: [TicketLevel], taken: [String: Int] = [:], now: Date = Date(),
        metadata: EventMetadata = EventMetadata()
    ) throws {
        _ = try handler.handle(
            .updateTicketLevels(UpdateTicketLevels(ticketLevels: levels, taken: taken, now: now)),
            on: Concert.streamId(concertId), metadata: metadata, retriesOnConflict: 3)
    }

    public func cancel(
        _ concertId: String, by userId: String, reason: String = "", now: Date = Date(),
        metadata: EventMetadata = EventMetadata()
    ) throws {
        _ = try handler.handle(
            .cancel(CancelConcert(cancelledBy: userId, reason: reason, now: now)), on: Concert.streamId(concertId),
            metadata: metadata, retriesOnConflict: 3)
    }

    /// The concert's current state from its stream (for checks the read model cannot make).
    public func load(_ concertId: String) throws -> Concert.State {
        try handler.load(Concert.streamId(concertId)).state
    }
}
