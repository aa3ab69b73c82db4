import EventStore
import Foundation

/// A customer's shopping cart (stream `cart-<id>`): tickets of several concerts and levels,
/// a delivery choice, then confirm or cancel. After either, the customer starts a new cart.
public enum ShoppingCart: Decider {
    public enum Status: String, Sendable, Codable, Equatable {
        case none, open, confirmed, cancelled
    }

    public struct State: Sendable, Equatable, Codable {
        public var id: String?
        public var userId = ""
        public var status: Status = .none
        public var items: [CartItem] = []
        public var delivery: Delivery?

        /// What the cart costs, per currency (in alphabetical order of currency). Quantities,
        /// prices and the number of items are bounded, so the sums cannot overflow.
        public var totals: [(amount: Int, currency: String)] {
            var sums: [String: Int] = [:]
            for item in items { sums[item.currency, default: 0] += item.quantity * item.unitPrice }
            return sums.keys.sorted().map { (sums[$0] ?? 0, $0) }
        }
    }

    /// What the cart needs to know about a level when an item is added or changed; the
    /// handler reads it from the Concerts and Reservations read models.
    public struct LevelOffer: Sendable, Equatable {
        public let unitPrice: Int
        public let currency: String
        public let available: Int
        public let maxPerOrder: Int

        public init(unitPrice: Int, currency: String, available: Int, maxPerOrder: Int = 10) {
            self.unitPrice = unitPrice
            self.currency = currency
            self.available = available
            self.maxPerOrder = maxPerOrder
        }
    }

    public enum Command: Sendable, Equatable {
        case open(cartId: String, userId: String, now: Date)
        case addItem(concertId: String, ticketLevelId: String, quantity: Int, offer: LevelOffer)
        /// Adds the tickets, or, when the level is in the cart already, that many more.
        case addMore(concertId: String, ticketLevelId: String, quantity: Int, offer: LevelOffer)
        case changeQuantity(concertId: String, ticketLevelId: String, quantity: Int, offer: LevelOffer)
        case removeItem(concertId: String, ticketLevelId: String)
        case dropConcert(concertId: String, reason: String)
        case chooseDelivery(Delivery)
        case confirm(checkoutId: String, now: Date)
        case cancel(now: Date)
    }

    public enum Event: Sendable, Equatable {
        case opened(CartOpened)
        case itemAdded(CartItemAdded)
        case quantityChanged(CartItemQuantityChanged)
        case itemRemoved(CartItemRemoved)
        case itemDropped(CartItemDropped)
        case deliveryChosen(CartDeliveryChosen)
        case confirmed(CartConfirmed)
        case cancelled(CartCancelled)
    }

    public static let streamType = "cart"
    public static func streamId(_ cartId: String) -> String { "cart-\(cartId)" }

    public static let initial = State()

    public static func evolve(_ state: State, _ event: Event) -> State {
        var next = state
        switch event {
        case .opened(let e):
            next.id = e.cartId
            next.userId = e.userId
            next.status = .open
        case .itemAdded(let e): next.items.append(e.item)
        case .quantityChanged(let e):
            if let index = next.items.firstIndex(where: {
                $0.concertId == e.concertId && $0.ticketLevelId == e.ticketLevelId
            }) {
                next.items[index].quantity = e.quantity
            }
        case .itemRemoved(let e):
            next.items.removeAll { $0.concertId == e.concertId && $0.ticketLevelId == e.ticketLevelId }
        case .itemDropped(let e):
            next.items.removeAll { $0.concertId == e.concertId && $0.ticketLevelId == e.ticketLevelId }
        case .deliveryChosen(let e): next.delivery = e.delivery
        case .confirmed: next.status = .confirmed
        case .cancelled: next.status = .cancelled
        }
        return next
    }

    public static func decide(_ command: Command, _ state: State) throws -> [Event] {
        if case .open(let cartId, let userId, let now) = command {
            guard state.status == .none else { throw CartError.alreadyOpened }
            return [.opened(CartOpened(cartId: cartId, userId: userId, openedAt: now))]
        }
        guard state.status == .open else { throw state.status == .none ? CartError.notFound : CartError.closed }
        let id = state.id!
        switch command {
        case .open: return []
        case .addItem(let concertId, let levelId, let quantity, let offer):
            guard !state.items.contains(where: { $0.concertId == concertId && $0.ticketLevelId == levelId }) else {
                throw CartError.itemAlreadyInCart
            }
            if let currency = state.items.first?.currency, currency != offer.currency {
                throw CartError.currencyMismatch(cart: currency)
            }
            guard state.items.count < maxItems else {
                throw CartError.invalid(
                    field: "ticketLevelId", message: "A cart holds at most \(maxItems) kinds of tickets.")
            }
            try check(quantity, offer)
            return [
                .itemAdded(
                    CartItemAdded(
                        cartId: id,
                        item: CartItem(
                            concertId: concertId, ticketLevelId: levelId, quantity: quantity,
                            unitPrice: offer.unitPrice,
                            currency: offer.currency)))
            ]
        case .addMore(let concertId, let levelId, let quantity, let offer):
            guard let item = state.items.first(where: { $0.concertId == concertId && $0.ticketLevelId == levelId })
            else {
                return try decide(
                    .addItem(concertId: concertId, ticketLevelId: levelId, quantity: quantity, offer: offer), state)
            }
            // Checked alone first, so the sum is of two small numbers.
            try check(quantity, offer)
            return try decide(
                .changeQuantity(
                    concertId: concertId, ticketLevelId: levelId, quantity: item.quantity + quantity, offer: offer),
                state)
        case .changeQuantity(let concertId, let levelId, let quantity, let offer):
            guard let item = state.items.first(where: { $0.concertId == concertId && $0.ticketLevelId == levelId })
            else {
                throw CartError.itemNotInCart
            }
            try check(quantity, offer)
            guard quantity != item.quantity else { return [] }
            return [
                .quantityChanged(
                    CartItemQuantityChanged(
                        cartId: id, concertId: concertId, ticketLevelId: levelId, quantity: quantity))
            ]
        case .removeItem(let concertId, let levelId):
            guard state.items.contains(where: { $0.concertId == concertId && $0.ticketLevelId == levelId }) else {
                throw CartError.itemNotInCart
            }
            return [.itemRemoved(CartItemRemoved(cartId: id, concertId: concertId, ticketLevelId: levelId))]
        case .dropConcert(let concertId, let reason):
            return state.items.filter { $0.concertId == concertId }.map {
                .itemDropped(
                    CartItemDropped(cartId: id, concertId: concertId, ticketLevelId: $0.ticketLevelId, reason: reason))
            }
        case .chooseDelivery(let delivery):
            guard delivery != state.delivery else { return [] }
            return [.deliveryChosen(CartDeliveryChosen(cartId: id, delivery: delivery))]
        case .confirm(let checkoutId, let now):
            guard !state.items.isEmpty else { throw CartError.empty }
            guard state.delivery != nil else { throw CartError.deliveryMissing }
            return [.confirmed(CartConfirmed(cartId: id, checkoutId: checkoutId, confirmedAt: now))]
        case .cancel(let now):
            return [.cancelled(CartCancelled(cartId: id, cancelledAt: now))]
        }
    }

    /// The most lines (concert and level) a cart holds.
    public static let maxItems = 20

    static func check(_ quantity: Int, _ offer: LevelOffer) throws {
        guard quantity >= 1 else { throw CartError.invalid(field: "quantity", message: "The quantity is at least 1.") }
        guard quantity <= offer.maxPerOrder else {
            throw CartError.invalid(
                field: "quantity", message: "At most \(offer.maxPerOrder) tickets of one level per order.")
        }
        guard quantity <= offer.available else { throw CartError.notEnoughTickets(available: offer.available) }
    }

    public static let eventTypes = EventTypes<Event> { event in
        switch event {
        case .opened(let e): e
        case .itemAdded(let e): e
        case .quantityChanged(let e): e
        case .itemRemoved(let e): e
        case .itemDropped(let e): e
        case .deliveryChosen(let e): e
        case .confirmed(let e): e
        case .cancelled(let e): e
        }
    }
    .register(CartOpened.self) { .opened($0) }
    .register(CartItemAdded.self) { .itemAdded($0) }
    .register(CartItemQuantityChanged.self) { .quantityChanged($0) }
    .register(CartItemRemoved.self) { .itemRemoved($0) }
    .register(CartItemDropped.self) { .itemDropped($0) }
    .register(CartDeliveryChosen.self) { .deliveryChosen($0) }
    .register(CartConfirmed.self) { .confirmed($0) }
    .register(CartCancelled.self) { .cancelled($0) }
}

public enum CartError: Error, Equatable, Sendable {
    case notFound
    case alreadyOpened
    case closed
    case itemAlreadyInCart
    case itemNotInCart
    case notEnoughTickets(available: Int)
    case empty
    case deliveryMissing
    /// One payment, one currency: a cart holds tickets priced in one currency only.
    case currencyMismatch(cart: String)
    case invalid(field: String, message: String)
}

public struct CartOpened: EventPayload, Equatable {
    public static let eventType = "CartOpened"
    public let cartId: String
    public let userId: String
    public let openedAt: Date
}

public struct CartItemAdded: EventPayload, Equatable {
    public static let eventType = "CartItemAdded"
    public let cartId: String
    public let item: CartItem
}

public struct CartItemQuantityChanged: EventPayload, Equatable {
    public static let eventType = "CartItemQuantityChanged"
    public let cartId: String
    public let concertId: String
    public let ticketLevelId: String
    public let quantity: Int
}

public struct CartItemRemoved: EventPayload, Equatable {
    public static let eventType = "CartItemRemoved"
    public let cartId: String
    public let concertId: String
    public let ticketLevelId: String
}

/// An item the cart lost without the customer asking, e.g. because the concert was cancelled.
public struct CartItemDropped: EventPayload, Equatable {
    public static let eventType = "CartItemDropped"
    public let cartId: String
    public let concertId: String
    public let ticketLevelId: String
    public let reason: String
}

public struct CartDeliveryChosen: EventPayload, Equatable {
    public static let eventType = "CartDeliveryChosen"
    public let cartId: String
    public let delivery: Delivery
}

public struct CartConfirmed: EventPayload, Equatable {
    public static let eventType = "CartConfirmed"
    public let cartId: String
    public let checkoutId: String
    public let confirmedAt: Date
}

public struct CartCancelled: EventPayload, Equatable {
    public static let eventType = "CartCancelled"
    public let cartId: String
    public let cancelledAt: Date
}
