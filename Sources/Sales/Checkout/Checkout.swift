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
///
/// One per process (the composition root makes it when it wires Sales): it owns the batching
/// of the process's confirmations.
final class Checkout: Sendable {
    let store: StoreSetup
    /// How long tickets stay held before the expiry job returns them to sale.
    let holdTime: TimeInterval
    /// Names for refusals' messages.
    let names: RefusalNames

    init(store: StoreSetup, holdTime: TimeInterval, catalog: ConcertCatalog) {
        self.store = store
        self.holdTime = holdTime
        names = RefusalNames(catalog: catalog)
        // Its committer thread starts when a confirmation first has to wait.
        confirmations = Committers(
            maxBatch: 32, threads: 1, key: { $0.checkout.userId },
            write: { batch, connection, _ in Checkout.confirm(batch, store: store, on: connection) },
            failed: { _ in .alone })
    }

    /// Confirms the user's open cart: holds its tickets and closes it, or throws why not.
    func confirm(userId: String, requestId: String, on connection: Connection) throws -> [ReservationHeld] {
        let cart = try ShoppingCarts(connection: connection, inlineProjections: []).openCart(userId: userId)
        guard let cartId = cart.id, !cart.state.items.isEmpty else { throw CartError.empty }
        guard cart.state.delivery != nil else { throw CartError.deliveryMissing }
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
                checkoutId: checkoutId, userId: userId, lines: lines, holdFor: holdTime, now: now, metadata: metadata),
            closing: ShoppingCarts.Closing(
                userId: userId, cartId: cartId, expectedVersion: cart.version, state: cart.state,
                command: .confirm(checkoutId: checkoutId, now: now), metadata: metadata))
        do {
            return try hold(confirmation, on: connection)
        } catch let error as ReservationError {
            throw try names.refusal(error, on: connection)
        } catch is WrongExpectedVersion {
            throw HTTPError(
                status: 409, code: "cart_changed", message: "The cart changed while confirming; look and confirm again."
            )
        }
    }

    /// A confirmation on its way: what to reserve and which cart to close.
    struct Confirmation: Sendable {
        let checkout: TicketReservations.Checkout
        let closing: ShoppingCarts.Closing
    }

    /// Holds a confirmation's tickets: in a batch, in up to `batchRetries` later ones while
    /// its shards are busy, and then, or when its batch failed, alone.
    private func hold(_ confirmation: Confirmation, on connection: Connection) throws -> [ReservationHeld] {
        for _ in 0...Self.batchRetries {
            switch confirmations.submit(confirmation, on: connection) {
            case .held(let held): return held
            case .refused(let error): throw error
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
    /// leave out more: near a level's sell-out such waits piled up and the sales dipped while
    /// they lasted (bench/flash-sale/FINDINGS.md, session 10). The next batch starts once this
    /// one has committed, so it finds the shards free unless a lone confirmation, the expiry
    /// job or another worker process holds them.
    static let batchRetries = 3

    /// The process's confirmations, batched (`Committers`): in a rush, the confirmations that
    /// arrive while a batch is being written are reserved and closed together in the next one,
    /// in one transaction (`TicketReservations.reserveBatch`, `ShoppingCarts.appends`), so
    /// the shards' locks, appends and commit are shared. One per user in a batch. One batch at
    /// a time (one committer thread): two batches in flight took shards from each other near a
    /// sell-out and each was smaller (bench/flash-sale/FINDINGS.md, session 10).
    private let confirmations: Committers<Confirmation, Outcome>

    /// A batch of confirmations in one transaction. Those whose level falls short are
    /// refused in it; those the shards it could lock without waiting cannot cover are
    /// `shardsBusy` (tried in a later batch, `batchRetries`); if the batch fails (a cart
    /// changed meanwhile, a deadlock), nothing of it is committed and every one is confirmed
    /// alone, where each gets its own answer. Running one again cannot hold tickets twice: its
    /// cart's close expects the version it was read at.
    private static func confirm(_ batch: [Confirmation], store: StoreSetup, on connection: Connection) -> [Outcome] {
        let inline = store.inlineProjections
        do {
            return try connection.transaction { tx in
                // The held carts' closes go into the reservations' append: one INSERT for all
                // (its A/B: bench/flash-sale/FINDINGS.md, session 11).
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

    /// One confirmation in its own transaction.
    private func confirmAlone(_ confirmation: Confirmation, on connection: Connection) throws -> [ReservationHeld] {
        let inline = store.inlineProjections
        let checkout = confirmation.checkout
        // The reservation first: in a sell-out about half the confirms are refused, and they
        // should fail before writing anything. (Closing the cart first keeps the shard locks
        // shorter, but a bench run measured it costlier: every refused confirm then wrote and
        // rolled back the cart's close.) The cart is closed from the state read before; the
        // append's expected version refuses a cart changed since. Deadlocks (none expected:
        // step 3 of `TicketReservations`) and waits that would be out of order are tried again.
        return try TicketReservations.retrying { inOrder in
            try connection.transaction { tx in
                let held = try TicketReservations(connection: tx, inlineProjections: inline).reserve(
                    checkoutId: checkout.checkoutId, userId: checkout.userId, lines: checkout.lines,
                    holdFor: checkout.holdFor, now: checkout.now, metadata: checkout.metadata, inOrder: inOrder)
                try ShoppingCarts(connection: tx, inlineProjections: inline).closeMany([confirmation.closing])
                return held
            }
        }
    }
}

/// The names a refusal's message gives, kept a few seconds per concert: in a sell-out about
/// half the confirmations are refused, each naming its level, and reading the concert for
/// each was a query per refusal. A rename shows in these messages within `lifetime`.
final class RefusalNames: @unchecked Sendable {
    // @unchecked: `entries` is only touched while holding `lock`.
    static let lifetime: TimeInterval = 5
    /// More concerts than this refused within `lifetime` empty the cache first.
    static let capacity = 1_000

    let catalog: ConcertCatalog
    private let lock = NSLock()
    private var entries: [String: (names: ConcertNames, until: Date)] = [:]

    init(catalog: ConcertCatalog) {
        self.catalog = catalog
    }

    /// The concert's artist and its levels' names by id; nil when there is no such concert.
    func names(of concertId: String, on connection: Connection, now: Date = Date()) throws -> ConcertNames? {
        if let entry = lock.withLock({ entries[concertId] }), entry.until > now { return entry.names }
        guard let names = try catalog.names(of: [concertId], on: connection)[concertId] else { return nil }
        lock.withLock {
            if entries.count >= Self.capacity { entries.removeAll(keepingCapacity: true) }
            entries[concertId] = (names, now.addingTimeInterval(Self.lifetime))
        }
        return names
    }

    /// A refusal as the customer reads it: the level and the concert by name.
    func refusal(_ error: ReservationError, on connection: Connection) throws -> HTTPError {
        guard case .notEnoughTickets(let concertId, let levelId, let available) = error else { return error.http }
        let names = try names(of: concertId, on: connection)
        let what = "\(names?.levels[levelId] ?? levelId) for \(names?.artist ?? concertId)"
        let face = error.http
        var http = HTTPError(
            status: face.status, code: face.code,
            message: available == 0
                ? "\(what) is sold out. Nothing was reserved."
                : "Only \(available) tickets of \(what) are left. Nothing was reserved.",
            field: face.field)
        http.details = face.details
        return http
    }
}
