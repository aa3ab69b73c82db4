import Concerts
import EventStore
import Foundation
import Postgres
import Reservations
import ShoppingCarts
import Web

/// Confirming a cart: the one place where three contexts meet in one transaction.
///
/// "Reserve everything or nothing" is the customer's promise, so the availability shards of
/// every item, the reservations (one per concert) and the cart's `CartConfirmed` are
/// appended in one short transaction: if any level falls short, nothing is held and the cart
/// stays open. This is the deliberate exception to "one command changes one aggregate",
/// made because a half-reserved cart would be a worse answer than a retry.
enum Checkout {
    /// How long tickets stay held before the expiry job returns them to sale. Read once:
    /// the environment is copied into a dictionary at every read (2% of a flash sale's CPU).
    static let holdTime: TimeInterval =
        Double(ProcessInfo.processInfo.environment["ENCORE_HOLD_SECONDS"] ?? "") ?? 15 * 60

    struct Result: Encodable {
        let checkout: Body
        struct Body: Encodable {
            let id: String
            let reservations: [ReservationView]
            let orders: [String]
            let payment: String?
            let expiresAt: Date
        }
    }

    /// Confirms the user's open cart; throws HTTP errors for the customer.
    static func confirm(userId: String, requestId: String, context: RequestContext) throws -> Result {
        try context.database.with { connection in
            let carts = ShoppingCarts(connection: connection, inlineProjections: ProjectionRegistry.shared.inline)
            let cart = try carts.openCart(userId: userId)
            guard let cartId = cart.id, !cart.state.items.isEmpty else { throw CartErrors.http(.empty) }
            guard cart.state.delivery != nil else { throw CartErrors.http(.deliveryMissing) }
            let checkoutId = UUID.timeOrdered().uuidString.lowercased()
            let now = Date()
            let metadata = EventMetadata(correlationId: requestId, userId: userId)
            let lines = cart.state.items.map {
                TicketReservations.Line(
                    concertId: $0.concertId, ticketLevelId: $0.ticketLevelId, quantity: $0.quantity,
                    unitPrice: $0.unitPrice, currency: $0.currency)
            }
            let confirmation = Confirmation(
                checkout: TicketReservations.Checkout(
                    checkoutId: checkoutId, userId: userId, lines: lines, holdFor: holdTime, now: now,
                    metadata: metadata),
                closing: ShoppingCarts.Closing(
                    userId: userId, cartId: cartId, expectedVersion: cart.version, state: cart.state,
                    command: .confirm(checkoutId: checkoutId, now: now), metadata: metadata))
            // The answer is built from the events just committed: the read model, written in
            // the same transaction, holds the same values.
            let reservations = try hold(confirmation, on: connection).map(ReservationView.init(held:))
            return Result(
                checkout: Result.Body(
                    id: checkoutId, reservations: reservations, orders: [], payment: nil,
                    expiresAt: reservations.first?.expiresAt ?? now.addingTimeInterval(holdTime)))
        }
    }

    /// A confirmation on its way: what to reserve and which cart to close.
    struct Confirmation: Sendable {
        let checkout: TicketReservations.Checkout
        let closing: ShoppingCarts.Closing
    }

    /// Holds a confirmation's tickets: in a batch, in up to `batchRetries` later ones while
    /// its shards are busy, and then, or when its batch failed, alone.
    private static func hold(_ confirmation: Confirmation, on connection: Connection) throws -> [ReservationHeld] {
        for _ in 0...batchRetries {
            switch confirmations.submit(confirmation, on: connection) {
            case .held(let held): return held
            case .refused(let error): throw try ReservationErrors.http(error, connection: connection)
            case .shardsBusy: continue
            case .alone: return try confirmAlone(confirmation, on: connection)
            }
        }
        return try confirmAlone(confirmation, on: connection)
    }

    /// What a batch did with one confirmation.
    enum Outcome: Sendable {
        /// Its tickets are held and its cart closed.
        case held([ReservationHeld])
        /// A level of it falls short; nothing held.
        case refused(ReservationError)
        /// Its tickets are left only in shards that other transactions hold (a lone
        /// confirmation's, the expiry job's, another worker's): a later batch will likely
        /// find them free.
        case shardsBusy
        /// The batch failed (a cart changed meanwhile, a deadlock) or had no connection:
        /// nothing of it is committed, and `confirmAlone` gives each its own answer.
        case alone
    }

    /// How many more batches a confirmation whose shards were busy joins before it is
    /// confirmed alone. Alone, a confirmation waits for the locked shards (`FOR UPDATE`),
    /// holding what it has locked meanwhile, so that the batches find fewer free shards and
    /// leave out more: near a level's sell-out such waits piled up (52-155 ms each, 50-110 per
    /// 1,000 sales in bench runs) and the sales dipped while they lasted. The next batch starts
    /// once this one has committed, so it finds the shards free unless a lone confirmation,
    /// the expiry job or another worker process holds them.
    static let batchRetries = 3

    /// The process's confirmations, batched (`Committers`): in a rush, the confirmations that
    /// arrive while a batch is being written are reserved and closed together in the next one,
    /// in one transaction (`TicketReservations.reserveBatch`, `ShoppingCarts.appends`), so
    /// the shards' locks, appends and commit are shared. One per user in a batch. One batch at
    /// a time (one committer thread): two batches in flight took shards from each other near a
    /// sell-out, leaving confirmations out to wait alone, and each was smaller. In 2,000-customer
    /// bench rounds (2026-12-02, alternating) one committer sold 1,402/1,032/1,375 a second at
    /// 0.80-1.14 ms of CPU per sale, two 1,212/1,232/944 at 0.94-1.17 ms (both with
    /// `batchRetries`), two without the retries 864/1,091/1,027 at 1.08-1.48 ms.
    static let confirmations = Committers<Confirmation, Outcome>(
        maxBatch: 32, threads: 1, key: { $0.checkout.userId },
        write: { batch, connection, _ in confirm(batch, on: connection) }, failed: { _ in .alone })

    /// A batch of confirmations in one transaction. Those whose level falls short are
    /// refused in it; those the shards it could lock without waiting cannot cover are
    /// `shardsBusy` (tried in a later batch, `batchRetries`); if the batch fails (a cart
    /// changed meanwhile, a deadlock), nothing of it is committed and every one is confirmed
    /// alone, where each gets its own answer. Running one again cannot hold tickets twice: its
    /// cart's close expects the version it was read at.
    private static func confirm(_ batch: [Confirmation], on connection: Connection) -> [Outcome] {
        let inline = ProjectionRegistry.shared.inline
        do {
            return try connection.transaction { tx in
                // The held carts' closes go into the reservations' append: one INSERT for all
                // (4,000-customer A/B: 1,434/1,876/1,553 against 1,372/1,464/1,349 sales/s).
                var closings: [ShoppingCarts.Closing] = []
                let outcomes = try TicketReservations(connection: tx, inlineProjections: inline).reserveBatch(
                    batch.map(\.checkout)
                ) { outcomes in
                    closings = zip(batch, outcomes).compactMap { confirmation, outcome in
                        if case .held = outcome { confirmation.closing } else { nil }
                    }
                    return try ShoppingCarts.appends(closing: closings)
                }
                try ShoppingCarts(connection: tx, inlineProjections: inline).freeUsers(closing: closings)
                return outcomes.map { outcome in
                    switch outcome {
                    case .held(let held): .held(held)
                    case .refused(let error): .refused(error)
                    case .leftOut: .shardsBusy
                    }
                }
            }
        } catch {
            return Array(repeating: .alone, count: batch.count)
        }
    }

    /// One confirmation in its own transaction; throws HTTP errors for the customer.
    private static func confirmAlone(_ confirmation: Confirmation, on connection: Connection) throws
        -> [ReservationHeld]
    {
        let inline = ProjectionRegistry.shared.inline
        let checkout = confirmation.checkout
        do {
            // The reservation first: in a sell-out about half the confirms are refused, and
            // they should fail before writing anything. (Closing the cart first keeps the shard
            // locks shorter, but a bench run measured it costlier: every refused confirm then
            // wrote and rolled back the cart's close.) The cart is closed from the state read
            // before; the append's expected version refuses a cart changed since. Deadlocks
            // (none expected: step 3 of `TicketReservations`) and waits that would be out of
            // order are tried again.
            return try TicketReservations.retrying { inOrder in
                try connection.transaction { tx in
                    let held = try TicketReservations(connection: tx, inlineProjections: inline).reserve(
                        checkoutId: checkout.checkoutId, userId: checkout.userId, lines: checkout.lines,
                        holdFor: checkout.holdFor, now: checkout.now, metadata: checkout.metadata, inOrder: inOrder)
                    try ShoppingCarts(connection: tx, inlineProjections: inline).closeMany([confirmation.closing])
                    return held
                }
            }
        } catch let error as ReservationError {
            throw try ReservationErrors.http(error, connection: connection)
        } catch is WrongExpectedVersion {
            throw HTTPError(
                status: 409, code: "cart_changed", message: "The cart changed while confirming; look and confirm again."
            )
        } catch let error as CartError {
            throw CartErrors.http(error)
        } catch is TicketReservations.WaitOutOfOrder {
            var http = HTTPError(
                status: 503, code: "busy",
                message: "Too many customers are confirming these tickets at once. Nothing was reserved; try again.")
            http.headers["Retry-After"] = "1"
            throw http
        }
    }
}

/// HTTP faces of the cart's and the reservations' errors.
enum CartErrors {
    static func http(_ error: CartError) -> HTTPError {
        switch error {
        case .notFound: HTTPError(status: 404, code: "no_cart", message: "You have no open cart.")
        case .alreadyOpened: HTTPError(status: 409, code: "cart_exists", message: "You have an open cart already.")
        case .closed: HTTPError(status: 409, code: "cart_closed", message: "This cart is confirmed or cancelled.")
        case .itemAlreadyInCart:
            HTTPError(
                status: 409, code: "item_already_in_cart",
                message: "These tickets are in your cart already; change the quantity instead.")
        case .itemNotInCart: HTTPError(status: 404, code: "item_not_in_cart", message: "Your cart has no such item.")
        case .notEnoughTickets(let available):
            HTTPError(
                status: 409, code: "not_enough_tickets",
                message: available == 0 ? "These tickets are sold out." : "Only \(available) of these tickets are left."
            )
        case .empty: HTTPError(status: 409, code: "cart_empty", message: "Your cart is empty.")
        case .deliveryMissing:
            HTTPError(status: 409, code: "delivery_missing", message: "Choose how the tickets are delivered first.")
        case .invalid(let field, let message):
            HTTPError(status: 422, code: "invalid_field", message: message, field: field)
        }
    }
}

enum ReservationErrors {
    static func http(_ error: ReservationError, connection: Connection) throws -> HTTPError {
        switch error {
        case .notEnoughTickets(let concertId, let levelId, let available):
            let names = try ConcertNames.shared.names(of: concertId, on: connection)
            let what = "\(names?.levels[levelId] ?? levelId) for \(names?.artist ?? concertId)"
            var http = HTTPError(
                status: 409, code: "not_enough_tickets",
                message: available == 0
                    ? "\(what) is sold out. Nothing was reserved."
                    : "Only \(available) tickets of \(what) are left. Nothing was reserved.",
                field: "items")
            http.details = ["concertId": concertId, "ticketLevelId": levelId, "available": "\(available)"]
            return http
        case .salesClosed(let concertId):
            var http = HTTPError(
                status: 409, code: "concert_cancelled",
                message: "A concert in your cart is cancelled. Nothing was reserved.")
            http.details = ["concertId": concertId]
            return http
        case .notOnSaleYet(let concertId, let levelId):
            var http = HTTPError(
                status: 409, code: "not_on_sale_yet",
                message: "These tickets go on sale in a moment; try again. Nothing was reserved.", field: "items")
            http.details = ["concertId": concertId, "ticketLevelId": levelId]
            http.headers["Retry-After"] = "1"
            return http
        case .notFound:
            return HTTPError(status: 404, code: "unknown_reservation", message: "You have no such reservation.")
        case .alreadyCancelled:
            return HTTPError(status: 409, code: "already_cancelled", message: "The reservation is cancelled already.")
        case .alreadyExpired:
            return HTTPError(status: 409, code: "already_expired", message: "The reservation has expired.")
        case .alreadyPaid: return HTTPError(status: 409, code: "already_paid", message: "The reservation is paid.")
        case .alreadyExists, .notExpiredYet:
            return HTTPError(status: 409, code: "reservation_conflict", message: "The reservation changed; try again.")
        }
    }
}

/// The names a refusal's message gives, kept a few seconds per concert: in a sell-out about
/// half the confirmations are refused, each naming its level, and reading the concert for
/// each was a query per refusal. A rename shows in these messages within `lifetime`.
final class ConcertNames: @unchecked Sendable {
    // @unchecked: `entries` is only touched while holding `lock`.
    static let shared = ConcertNames()
    static let lifetime: TimeInterval = 5
    /// More concerts than this refused within `lifetime` empty the cache first.
    static let capacity = 1_000

    typealias Names = (artist: String, levels: [String: String])
    private let lock = NSLock()
    private var entries: [String: (names: Names, until: Date)] = [:]

    /// The concert's artist and its levels' names by id; nil when there is no such concert.
    func names(of concertId: String, on connection: Connection, now: Date = Date()) throws -> Names? {
        if let entry = lock.withLock({ entries[concertId] }), entry.until > now { return entry.names }
        guard let concert = try ConcertQueries.find(id: concertId, withAvailability: false, on: connection) else {
            return nil
        }
        let names: Names = (
            concert.artist, Dictionary(concert.ticketLevels.map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
        )
        lock.withLock {
            if entries.count >= Self.capacity { entries.removeAll(keepingCapacity: true) }
            entries[concertId] = (names, now.addingTimeInterval(Self.lifetime))
        }
        return names
    }
}
