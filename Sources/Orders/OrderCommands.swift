import EventStore
import Foundation
import Postgres

/// The Orders context's command side: each method is one command on one order stream.
public struct OrderCommands {
    public let connection: Connection
    public let store: StoreSetup

    public init(connection: Connection, store: StoreSetup) {
        self.connection = connection
        self.store = store
    }

    /// In a caller's transaction (a process manager's), appends join it and never retry.
    private var handler: CommandHandler<TicketOrder> {
        store.handler(
            TicketOrder.self, streamType: TicketOrder.streamType, eventTypes: TicketOrder.eventTypes, on: connection)
    }

    @discardableResult
    public func handle(_ command: TicketOrder.Command, orderId: String, metadata: EventMetadata = EventMetadata())
        throws
        -> TicketOrder.State
    {
        try handler.handle(command, on: TicketOrder.streamId(orderId), metadata: metadata, retriesOnConflict: 3).state
    }

    public func load(_ orderId: String) throws -> TicketOrder.State {
        try handler.load(TicketOrder.streamId(orderId)).state
    }

    /// New order numbers, in one round trip: "EN-" and eight digits, from a PostgreSQL
    /// sequence (unique; a number taken by an order never created is skipped, which order
    /// numbers may be: invoices have gapless numbers of their own).
    public func nextNumbers(_ count: Int) throws -> [String] {
        try connection.query(
            "SELECT nextval('order_numbers')::bigint AS n FROM generate_series(1, \(count))"
        ).map { row in
            let digits = String(try row.decode("n", as: Int.self))
            return "EN-" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
        }
    }
}

/// The Orders context's tables outside its read models (versions 600-699).
public enum OrdersSchema {
    public static let migrations: [Migration] = [
        Migration(version: 600, name: "orders: order numbers", sql: "CREATE SEQUENCE order_numbers START 1001;")
    ]
}
