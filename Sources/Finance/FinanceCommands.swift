import EventStore
import Foundation
import Postgres

/// The command side of users' financial details: one stream per user.
public struct FinancialInfoCommands {
    public let connection: Connection
    public let store: StoreSetup

    public init(connection: Connection, store: StoreSetup) {
        self.connection = connection
        self.store = store
    }

    private var handler: CommandHandler<UserFinancialInfo> {
        store.handler(
            UserFinancialInfo.self, streamType: UserFinancialInfo.streamType, eventTypes: UserFinancialInfo.eventTypes,
            on: connection)
    }

    public func load(_ userId: String) throws -> UserFinancialInfo.State {
        try handler.load(UserFinancialInfo.streamId(userId)).state
    }

    /// Creates the user's details, or updates them when they exist (the API's PUT).
    @discardableResult
    public func save(
        userId: String, details: FinancialDetails, now: Date = Date(), metadata: EventMetadata = EventMetadata()
    ) throws -> UserFinancialInfo.State {
        let command: UserFinancialInfo.Command =
            try load(userId).details == nil
            ? .create(CreateUserFinancialInfo(userId: userId, details: details, now: now))
            : .update(UpdateUserFinancialInfo(details: details, now: now))
        return try handler.handle(command, on: UserFinancialInfo.streamId(userId), metadata: metadata).state
    }
}

/// The command side of concerts' VAT rates: one stream per concert.
public struct VATRateCommands {
    public let connection: Connection
    public let store: StoreSetup

    public init(connection: Connection, store: StoreSetup) {
        self.connection = connection
        self.store = store
    }

    private var handler: CommandHandler<ConcertVATRate> {
        store.handler(
            ConcertVATRate.self, streamType: ConcertVATRate.streamType, eventTypes: ConcertVATRate.eventTypes,
            on: connection)
    }

    /// The rate a concert's tickets are invoiced at now (basis points), and whether it is the default.
    public func rate(of concertId: String) throws -> (rate: Int, isDefault: Bool) {
        let set = try handler.load(ConcertVATRate.streamId(concertId)).state.rate
        return (set ?? VAT.defaultRate, set == nil)
    }

    @discardableResult
    public func set(
        concertId: String, rate: Int, by userId: String, now: Date = Date(), metadata: EventMetadata = EventMetadata()
    ) throws -> Int {
        try handler.handle(
            .set(SetVATRate(concertId: concertId, rate: rate, setBy: userId, now: now)),
            on: ConcertVATRate.streamId(concertId), metadata: metadata, retriesOnConflict: 3
        ).state.rate ?? VAT.defaultRate
    }
}
