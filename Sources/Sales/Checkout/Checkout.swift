import Concerts
import EventStore
import Foundation
import Identity
import Logging
import Orders
import Payments
import Postgres
import Reservations
import ShoppingCarts
import Web

/// Confirming a cart: the one place where several contexts meet in one transaction.
///
/// "Reserve everything or nothing" is the customer's promise, so the availability shards of
/// every item, the reservations (one per concert), the cart's `CartConfirmed`, and the
/// checkout's record (one order per concert and the payment for them: `CheckoutRecord`) are
/// appended in one short transaction: if any level falls short, nothing is held and the cart
/// stays open; if it commits, the customer has orders to pay. This is the deliberate exception
/// to "one command changes one aggregate", made because a half-reserved cart, or held tickets
/// with nothing to pay them by, would be worse answers than a retry. The payment's intent at
/// the gateway comes after the commit (`prepareIntent`).
///
/// One per process (the composition root makes it when it wires Sales): it owns the batching
/// of the process's confirmations.
final class Checkout: Sendable {
    let store: StoreSetup
    /// How long tickets stay held before the expiry job returns them to sale.
    let holdTime: TimeInterval
    /// Concerts' names for orders and refusals.
    let names: ConcertNamesCache
    let payments: PaymentsContext

    init(store: StoreSetup, holdTime: TimeInterval, catalog: ConcertCatalog, payments: PaymentsContext) {
        self.store = store
        self.holdTime = holdTime
        self.payments = payments
        names = ConcertNamesCache(catalog: catalog)
        // Its committer thread starts when a confirmation first has to wait.
        confirmations = Committers(
            maxBatch: 32, threads: 1, key: { $0.checkout.userId },
            write: { batch, connection, _ in Checkout.confirm(batch, store: store, on: connection) },
            failed: { _ in .alone })
    }

    /// Confirms the buyer's open cart: holds its tickets, closes it and records its orders and
    /// payment, or throws why not.
    func confirm(buyer: Principal, requestId: String, on connection: Connection) throws -> [ReservationHeld] {
        let userId = buyer.userId
        let cart = try ShoppingCarts(connection: connection, inlineProjections: []).openCart(userId: userId)
        guard let cartId = cart.id, !cart.state.items.isEmpty else { throw CartError.empty }
        guard cart.state.delivery != nil else { throw CartError.deliveryMissing }
        let currencies = Set(cart.state.items.map(\.currency))
        guard currencies.count == 1, let currency = currencies.first else {
            throw CartError.currencyMismatch(cart: cart.state.items[0].currency)
        }
        let concertIds = Array(Set(cart.state.items.map(\.concertId))).sorted()
        let plan = CheckoutRecord.Plan(
            userId: userId, buyerEmail: buyer.email, buyerName: buyer.name,
            delivery: CheckoutRecord.delivery(cart.state.delivery),
            concerts: try names.names(of: concertIds, on: connection),
            numbers: try OrderCommands(connection: connection, store: store).nextNumbers(concertIds.count),
            currency: currency)
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
                command: .confirm(checkoutId: checkoutId, now: now), metadata: metadata),
            plan: plan)
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

    /// What follows a committed checkout in its request, and returns its id: the payment's
    /// intent made at the gateway, or, when every ticket is free (the payment was confirmed as
    /// it was made), its orders settled at once, as `PaymentSettlement` would do behind it.
    func afterConfirm(_ held: [ReservationHeld], requestId: String, on connection: Connection, logger: Logger)
        -> String
    {
        let checkoutId = held.first?.checkoutId ?? ""
        let total = held.flatMap(\.items).reduce(0) { $0 + $1.unitPrice * $1.quantity }
        if !held.isEmpty, total == 0 {
            settle(checkoutId, on: connection, metadata: EventMetadata(correlationId: requestId), logger: logger)
        } else {
            prepareIntent(checkoutId, requestId: requestId, on: connection, logger: logger)
        }
        return checkoutId
    }

    /// Makes the payment's intent at the gateway, after the checkout committed. When the
    /// gateway fails, the payment stays `initiated`: the checkout is confirmed all the same,
    /// and the intent is made when the customer pays (`PaymentCommands.pay`).
    func prepareIntent(_ checkoutId: String, requestId: String, on connection: Connection, logger: Logger) {
        let commands = payments.commands(on: connection, store: store)
        do {
            _ = try commands.prepareIntent(checkoutId, metadata: EventMetadata(correlationId: requestId))
        } catch {
            logger.warning(
                "the payment's intent is not made yet; it will be when the customer pays",
                metadata: ["checkout": "\(checkoutId)", "error": "\(error)"])
        }
    }

    /// Settles a paid checkout's orders at once, in its own transaction: what the process
    /// manager (`PaymentSettlement`) does behind it. A conflict with the process manager is
    /// left to it.
    func settle(_ checkoutId: String, on connection: Connection, metadata: EventMetadata, logger: Logger) {
        do {
            try connection.transaction { tx in
                let payment = try payments.commands(on: tx, store: store).load(checkoutId)
                guard payment.status == .confirmed else { return }
                try PaymentSettlement.settle(
                    paymentId: checkoutId, orders: payment.orders, store: store, gateway: payments.gateway, on: tx,
                    metadata: metadata)
            }
        } catch {
            logger.notice(
                "paid checkout left to the process manager",
                metadata: ["checkout": "\(checkoutId)", "error": "\(error)"])
        }
    }

    /// Marks a refund's orders refunded at once (`RefundSettlement` does it behind; a
    /// conflict with it is left to it).
    func settleRefund(_ refunded: PaymentRefunded, on connection: Connection, metadata: EventMetadata, logger: Logger) {
        do {
            try connection.transaction { tx in
                try RefundSettlement.settle(refunded, store: store, on: tx, metadata: metadata)
            }
        } catch {
            logger.notice(
                "refund left to the process manager",
                metadata: ["payment": "\(refunded.paymentId)", "error": "\(error)"])
        }
    }

    /// A confirmation on its way: what to reserve, which cart to close, what to record.
    struct Confirmation: Sendable {
        let checkout: TicketReservations.Checkout
        let closing: ShoppingCarts.Closing
        let plan: CheckoutRecord.Plan
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
                    var records: [StreamAppend] = []
                    closings = []
                    for (confirmation, outcome) in zip(batch, outcomes) {
                        guard case .held(let held) = outcome else { continue }
                        closings.append(confirmation.closing)
                        records += try CheckoutRecord.appends(
                            confirmation.plan, held: held, metadata: confirmation.checkout.metadata)
                    }
                    return try ShoppingCarts.appends(closing: closings) + records
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
                try EventStore(connection: tx, inlineProjections: inline, joinsCallerTransaction: true).appendMany(
                    try CheckoutRecord.appends(confirmation.plan, held: held, metadata: checkout.metadata))
                return held
            }
        }
    }
}

/// Concerts' names for a checkout (its orders' and its refusals' words), kept a few seconds per
/// concert: in a sell-out every confirmation names its concerts, and reading them for each was
/// a query per confirmation. A rename shows in new orders and messages within `lifetime`.
final class ConcertNamesCache: @unchecked Sendable {
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
        try names(of: [concertId], on: connection, now: now)[concertId]
    }

    /// Several concerts' names, those not cached read in one query.
    func names(of concertIds: [String], on connection: Connection, now: Date = Date()) throws -> [String: ConcertNames]
    {
        var found: [String: ConcertNames] = [:]
        var missing: [String] = []
        lock.withLock {
            for id in concertIds {
                if let entry = entries[id], entry.until > now { found[id] = entry.names } else { missing.append(id) }
            }
        }
        guard !missing.isEmpty else { return found }
        let read = try catalog.names(of: missing, on: connection)
        lock.withLock {
            if entries.count + read.count > Self.capacity { entries.removeAll(keepingCapacity: true) }
            for (id, names) in read { entries[id] = (names, now.addingTimeInterval(Self.lifetime)) }
        }
        return found.merging(read) { first, _ in first }
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
