import EventStore
import Foundation
import Postgres

/// The ShoppingCarts context's command side.
public struct ShoppingCarts {
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

    func handler(joined: Bool = false) -> CommandHandler<ShoppingCart> {
        CommandHandler<ShoppingCart>(
            store: EventStore(
                connection: connection, inlineProjections: inlineProjections, joinsCallerTransaction: joined,
                groupCommit: groupCommit),
            streamType: ShoppingCart.streamType, eventTypes: ShoppingCart.eventTypes)
    }

    /// The user's open cart id, if any.
    public func openCartId(userId: String) throws -> String? {
        try connection.query("SELECT cart_id FROM open_carts WHERE user_id = \(userId)").first?.decode("cart_id")
    }

    /// The user's open cart and its version, or an empty state when there is none. One round
    /// trip: every cart request (and every confirmation in a rush) starts here.
    public func openCart(userId: String) throws -> (id: String?, state: ShoppingCart.State, version: Int64) {
        let prefix = ShoppingCart.streamId("")
        guard
            let (streamId, loaded) = try handler().load(
                idFrom: "SELECT \(prefix) || cart_id FROM open_carts WHERE user_id = \(userId)")
        else { return (nil, ShoppingCart.initial, 0) }
        return (String(streamId.dropFirst(prefix.count)), loaded.state, loaded.version)
    }

    /// Runs a command on the user's open cart, opening one first when there is none.
    public func handle(
        userId: String, _ command: ShoppingCart.Command, now: Date = Date(), metadata: EventMetadata = EventMetadata()
    ) throws -> ShoppingCart.State {
        let cartId = try openCartId(userId: userId) ?? open(userId: userId, now: now, metadata: metadata)
        return try handler().handle(
            command, on: ShoppingCart.streamId(cartId), metadata: metadata, retriesOnConflict: 3
        )
        .state
    }

    /// Opens a cart; of two concurrent first requests, one opens it and the other uses it.
    private func open(userId: String, now: Date, metadata: EventMetadata) throws -> String {
        let cartId = UUID.timeOrdered(now: now).uuidString.lowercased()
        do {
            try connection.transaction { _ in
                try connection.execute("INSERT INTO open_carts (user_id, cart_id) VALUES (\(userId), \(cartId))")
                _ = try handler(joined: true).handle(
                    .open(cartId: cartId, userId: userId, now: now), on: ShoppingCart.streamId(cartId),
                    metadata: metadata)
            }
            return cartId
        } catch let error as PostgresError where error.isUniqueViolation {
            guard let existing = try openCartId(userId: userId) else { throw error }
            return existing
        }
    }

    /// Confirms or cancels the cart inside the caller's transaction, from the state the caller
    /// read at `expectedVersion` (the append refuses it if the cart has changed since), and
    /// frees the user to open a new cart.
    public func close(
        userId: String, cartId: String, expectedVersion: Int64, state: ShoppingCart.State,
        _ command: ShoppingCart.Command, metadata: EventMetadata = EventMetadata()
    ) throws {
        try closeMany([
            Closing(
                userId: userId, cartId: cartId, expectedVersion: expectedVersion, state: state, command: command,
                metadata: metadata)
        ])
    }

    /// Empties (cancels) the user's open cart, if there is one; read again and retried when the
    /// cart changes meanwhile.
    public func cancelOpenCart(userId: String, now: Date = Date(), metadata: EventMetadata = EventMetadata()) throws {
        var attempt = 0
        while true {
            let open = try openCart(userId: userId)
            guard let id = open.id else { return }
            do {
                try connection.transaction { _ in
                    try close(
                        userId: userId, cartId: id, expectedVersion: open.version, state: open.state, .cancel(now: now),
                        metadata: metadata)
                }
                return
            } catch is WrongExpectedVersion where attempt < 3 {
                attempt += 1
            }
        }
    }

    /// A cart to close, as its owner last read it.
    public struct Closing: Sendable {
        public let userId: String
        public let cartId: String
        public let expectedVersion: Int64
        public let state: ShoppingCart.State
        public let command: ShoppingCart.Command
        public let metadata: EventMetadata

        public init(
            userId: String, cartId: String, expectedVersion: Int64, state: ShoppingCart.State,
            command: ShoppingCart.Command, metadata: EventMetadata
        ) {
            self.userId = userId
            self.cartId = cartId
            self.expectedVersion = expectedVersion
            self.state = state
            self.command = command
            self.metadata = metadata
        }
    }

    /// Closes several users' carts (one append of all their events: the checkout's batch of
    /// confirmations), inside the caller's transaction; throws `WrongExpectedVersion` for a
    /// cart that changed, and then closes none.
    public func closeMany(_ closings: [Closing]) throws {
        let store = EventStore(
            connection: connection, inlineProjections: inlineProjections, joinsCallerTransaction: true)
        try store.appendMany(try Self.appends(closing: closings))
        try freeUsers(closing: closings)
    }

    /// The appends that close these carts (each expecting the version it was read at), for a
    /// caller that appends them together with its own in one `appendMany`, in its transaction;
    /// it must then call `freeUsers(closing:)` in that transaction too.
    public static func appends(closing closings: [Closing]) throws -> [StreamAppend] {
        try closings.map { closing in
            StreamAppend(
                streamId: ShoppingCart.streamId(closing.cartId), streamType: ShoppingCart.streamType,
                expectedVersion: .version(closing.expectedVersion),
                events: try ShoppingCart.decide(closing.command, closing.state).map {
                    try ShoppingCart.eventTypes.encode($0)
                }, metadata: closing.metadata)
        }
    }

    /// Lets the users of these closed carts open new ones, inside the caller's transaction
    /// (sent with its next statement, one for all).
    public func freeUsers(closing closings: [Closing]) throws {
        guard !closings.isEmpty else { return }
        try connection.executeLater(
            """
            DELETE FROM open_carts AS o
            USING unnest(\(SQLArray(closings.map(\.userId)))::text[], \(SQLArray(closings.map(\.cartId)))::text[])
                  AS c(user_id, cart_id)
            WHERE o.user_id = c.user_id AND o.cart_id = c.cart_id
            """)
    }

    /// Drops a cancelled concert's items from every open cart that has them.
    public func dropConcert(_ concertId: String, reason: String, metadata: EventMetadata = EventMetadata()) throws {
        for cartId in try CartQueries.openCarts(withConcert: concertId, on: connection) {
            do {
                _ = try handler(joined: true).handle(
                    .dropConcert(concertId: concertId, reason: reason), on: ShoppingCart.streamId(cartId),
                    metadata: metadata, retriesOnConflict: 3)
            } catch CartError.closed {
                continue
            }
        }
    }
}
