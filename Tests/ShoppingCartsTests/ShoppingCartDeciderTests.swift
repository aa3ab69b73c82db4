import EventStore
import Foundation
import Testing

@testable import ShoppingCarts

/// Every rule of the `ShoppingCart` decider, as Given/When/Then.
@Suite struct ShoppingCartDeciderTests {
    typealias Spec = DeciderSpec<ShoppingCart>

    static let now = Date(timeIntervalSince1970: 1_780_000_000)
    static let later = now.addingTimeInterval(600)
    static let cartId = "0190a1b2-0000-7000-8000-0000000000c1"
    static let userId = "0190a1b2-0000-7000-8000-0000000000u1"
    static let beyonce = "beyonce-warsaw-2027"
    static let coldplay = "coldplay-krakow-2027"

    static func offer(available: Int = 100, maxPerOrder: Int = 10, price: Int = 45_000, currency: String = "PLN")
        -> ShoppingCart.LevelOffer
    {
        ShoppingCart.LevelOffer(unitPrice: price, currency: currency, available: available, maxPerOrder: maxPerOrder)
    }

    static var opened: ShoppingCart.Event {
        .opened(CartOpened(cartId: cartId, userId: userId, openedAt: now))
    }

    static func item(_ concert: String = beyonce, _ level: String = "regular", _ quantity: Int = 2) -> CartItem {
        CartItem(concertId: concert, ticketLevelId: level, quantity: quantity, unitPrice: 45_000, currency: "PLN")
    }

    static func added(_ concert: String = beyonce, _ level: String = "regular", _ quantity: Int = 2)
        -> ShoppingCart.Event
    {
        .itemAdded(CartItemAdded(cartId: cartId, item: item(concert, level, quantity)))
    }

    static var online: Delivery { .online(email: "ada@example.com") }

    static var deliveryChosen: ShoppingCart.Event {
        .deliveryChosen(CartDeliveryChosen(cartId: cartId, delivery: online))
    }

    static var confirmed: ShoppingCart.Event {
        .confirmed(CartConfirmed(cartId: cartId, checkoutId: "checkout-1", confirmedAt: later))
    }

    static var cancelled: ShoppingCart.Event { .cancelled(CartCancelled(cartId: cartId, cancelledAt: later)) }

    static func add(
        _ concert: String = beyonce, _ level: String = "regular", quantity: Int = 2,
        offer: ShoppingCart.LevelOffer = offer()
    ) -> ShoppingCart.Command {
        .addItem(concertId: concert, ticketLevelId: level, quantity: quantity, offer: offer)
    }

    static func change(
        _ concert: String = beyonce, _ level: String = "regular", quantity: Int,
        offer: ShoppingCart.LevelOffer = offer()
    ) -> ShoppingCart.Command {
        .changeQuantity(concertId: concert, ticketLevelId: level, quantity: quantity, offer: offer)
    }

    static func invalid(_ field: String) -> (Error) -> Bool {
        { error in
            if case .invalid(let f, let message)? = error as? CartError { return f == field && !message.isEmpty }
            return false
        }
    }

    // MARK: opening

    @Test func opensACart() throws {
        try Spec.given([]).when(.open(cartId: Self.cartId, userId: Self.userId, now: Self.now)).then([Self.opened])
        let state = try Spec.given([]).when(.open(cartId: Self.cartId, userId: Self.userId, now: Self.now))
            .thenState()
        #expect(state.id == Self.cartId)
        #expect(state.userId == Self.userId)
        #expect(state.status == .open)
        #expect(state.items.isEmpty && state.delivery == nil)
    }

    @Test func aCartOpensOnce() throws {
        try Spec.given([Self.opened]).when(.open(cartId: "other", userId: Self.userId, now: Self.now))
            .thenThrows(CartError.alreadyOpened)
    }

    @Test func everyCommandNeedsAnOpenedCart() throws {
        let commands: [ShoppingCart.Command] = [
            Self.add(), Self.change(quantity: 3), .removeItem(concertId: Self.beyonce, ticketLevelId: "regular"),
            .dropConcert(concertId: Self.beyonce, reason: "concert_cancelled"), .chooseDelivery(Self.online),
            .confirm(checkoutId: "c", now: Self.now), .cancel(now: Self.now),
        ]
        for command in commands {
            try Spec.given([]).when(command).thenThrows(CartError.notFound)
        }
    }

    // MARK: adding items

    @Test func addsAnItemAtTheOfferedPrice() throws {
        try Spec.given([Self.opened]).when(Self.add(quantity: 2, offer: Self.offer(price: 45_000)))
            .then([Self.added()])
    }

    @Test func itemsOfSeveralConcertsAndLevels() throws {
        let state = try Spec.given([Self.opened, Self.added(Self.beyonce, "regular")])
            .when(Self.add(Self.beyonce, "golden-circle", quantity: 1)).thenState()
        #expect(state.items.map(\.ticketLevelId) == ["regular", "golden-circle"])
        let both = try Spec.given([Self.opened, Self.added(Self.beyonce, "regular")])
            .when(Self.add(Self.coldplay, "regular", quantity: 4)).thenState()
        #expect(both.items.map(\.concertId) == [Self.beyonce, Self.coldplay])
        #expect(both.items.map(\.quantity) == [2, 4])
    }

    @Test func noDuplicateConcertAndLevel() throws {
        try Spec.given([Self.opened, Self.added()]).when(Self.add(quantity: 1))
            .thenThrows(CartError.itemAlreadyInCart)
        // also after a quantity change
        try Spec.given([
            Self.opened, Self.added(),
            .quantityChanged(
                CartItemQuantityChanged(
                    cartId: Self.cartId, concertId: Self.beyonce, ticketLevelId: "regular", quantity: 5)),
        ]).when(Self.add(quantity: 5)).thenThrows(CartError.itemAlreadyInCart)
    }

    @Test func anItemRemovedOrDroppedCanBeAddedAgain() throws {
        try Spec.given([
            Self.opened, Self.added(),
            .itemRemoved(CartItemRemoved(cartId: Self.cartId, concertId: Self.beyonce, ticketLevelId: "regular")),
        ]).when(Self.add()).then([Self.added()])
    }

    @Test func quantityAtLeastOne() throws {
        for quantity in [0, -1, Int.min] {
            try Spec.given([Self.opened]).when(Self.add(quantity: quantity))
                .thenThrows(where: Self.invalid("quantity"))
        }
    }

    @Test func quantityAtMostThePerOrderLimit() throws {
        try Spec.given([Self.opened]).when(Self.add(quantity: 10)).then([Self.added(Self.beyonce, "regular", 10)])
        try Spec.given([Self.opened]).when(Self.add(quantity: 11)).thenThrows(where: Self.invalid("quantity"))
        // an organiser's own limit
        try Spec.given([Self.opened]).when(Self.add(quantity: 4, offer: Self.offer(maxPerOrder: 4)))
            .then([Self.added(Self.beyonce, "regular", 4)])
        try Spec.given([Self.opened]).when(Self.add(quantity: 5, offer: Self.offer(maxPerOrder: 4)))
            .thenThrows(where: Self.invalid("quantity"))
    }

    @Test func theDefaultLimitIsTenPerLevel() {
        #expect(ShoppingCart.LevelOffer(unitPrice: 1, currency: "PLN", available: 100).maxPerOrder == 10)
    }

    @Test func quantityAtMostWhatIsAvailable() throws {
        try Spec.given([Self.opened]).when(Self.add(quantity: 4, offer: Self.offer(available: 3)))
            .thenThrows(CartError.notEnoughTickets(available: 3))
        try Spec.given([Self.opened]).when(Self.add(quantity: 1, offer: Self.offer(available: 0)))
            .thenThrows(CartError.notEnoughTickets(available: 0))
        try Spec.given([Self.opened]).when(Self.add(quantity: 3, offer: Self.offer(available: 3)))
            .then([Self.added(Self.beyonce, "regular", 3)])
    }

    // MARK: changing and removing

    @Test func changesTheQuantity() throws {
        try Spec.given([Self.opened, Self.added()]).when(Self.change(quantity: 7)).then([
            .quantityChanged(
                CartItemQuantityChanged(
                    cartId: Self.cartId, concertId: Self.beyonce, ticketLevelId: "regular", quantity: 7))
        ])
        let state = try Spec.given([Self.opened, Self.added()]).when(Self.change(quantity: 7)).thenState()
        #expect(state.items == [Self.item(Self.beyonce, "regular", 7)])
    }

    @Test func theSameQuantityChangesNothing() throws {
        try Spec.given([Self.opened, Self.added()]).when(Self.change(quantity: 2)).then([])
    }

    @Test func changeOfAnAbsentItem() throws {
        try Spec.given([Self.opened]).when(Self.change(quantity: 2)).thenThrows(CartError.itemNotInCart)
        try Spec.given([Self.opened, Self.added(Self.beyonce, "regular")]).when(
            Self.change(Self.beyonce, "vip", quantity: 2)
        )
        .thenThrows(CartError.itemNotInCart)
        try Spec.given([Self.opened, Self.added(Self.beyonce, "regular")]).when(
            Self.change(Self.coldplay, "regular", quantity: 2)
        )
        .thenThrows(CartError.itemNotInCart)
    }

    @Test func changedQuantityFollowsTheSameLimits() throws {
        let given = Spec.given([Self.opened, Self.added()])
        try given.when(Self.change(quantity: 0)).thenThrows(where: Self.invalid("quantity"))
        try given.when(Self.change(quantity: 11)).thenThrows(where: Self.invalid("quantity"))
        try given.when(Self.change(quantity: 5, offer: Self.offer(maxPerOrder: 4))).thenThrows(
            where: Self.invalid("quantity"))
        try given.when(Self.change(quantity: 6, offer: Self.offer(available: 5)))
            .thenThrows(CartError.notEnoughTickets(available: 5))
    }

    @Test func removesAnItem() throws {
        let remove = ShoppingCart.Command.removeItem(concertId: Self.beyonce, ticketLevelId: "regular")
        try Spec.given([Self.opened, Self.added()]).when(remove).then([
            .itemRemoved(CartItemRemoved(cartId: Self.cartId, concertId: Self.beyonce, ticketLevelId: "regular"))
        ])
        let state = try Spec.given([Self.opened, Self.added(), Self.added(Self.coldplay)]).when(remove).thenState()
        #expect(state.items == [Self.item(Self.coldplay)])
    }

    @Test func removalOfAnAbsentItem() throws {
        try Spec.given([Self.opened]).when(.removeItem(concertId: Self.beyonce, ticketLevelId: "regular"))
            .thenThrows(CartError.itemNotInCart)
        try Spec.given([
            Self.opened, Self.added(),
            .itemRemoved(CartItemRemoved(cartId: Self.cartId, concertId: Self.beyonce, ticketLevelId: "regular")),
        ]).when(.removeItem(concertId: Self.beyonce, ticketLevelId: "regular")).thenThrows(CartError.itemNotInCart)
    }

    // MARK: a cancelled concert

    @Test func dropConcertDropsOnlyThatConcertsItems() throws {
        let given = Spec.given([
            Self.opened, Self.added(Self.beyonce, "regular"), Self.added(Self.coldplay, "regular"),
            Self.added(Self.beyonce, "golden-circle", 1),
        ])
        let drop = ShoppingCart.Command.dropConcert(concertId: Self.beyonce, reason: "concert_cancelled")
        try given.when(drop).then([
            .itemDropped(
                CartItemDropped(
                    cartId: Self.cartId, concertId: Self.beyonce, ticketLevelId: "regular",
                    reason: "concert_cancelled")),
            .itemDropped(
                CartItemDropped(
                    cartId: Self.cartId, concertId: Self.beyonce, ticketLevelId: "golden-circle",
                    reason: "concert_cancelled")),
        ])
        let state = try given.when(drop).thenState()
        #expect(state.items == [Self.item(Self.coldplay, "regular")])
        #expect(state.status == .open)
    }

    @Test func dropConcertWithoutItsItemsChangesNothing() throws {
        try Spec.given([Self.opened, Self.added(Self.coldplay)])
            .when(.dropConcert(concertId: Self.beyonce, reason: "concert_cancelled")).then([])
    }

    // MARK: delivery

    @Test func choosesAndChangesDelivery() throws {
        try Spec.given([Self.opened]).when(.chooseDelivery(Self.online)).then([Self.deliveryChosen])
        let address = try PostalAddress(
            name: "Ada", line1: "ul. Marszałkowska 1", postalCode: "00-950", city: "Warszawa", country: "PL")
        try Spec.given([Self.opened, Self.deliveryChosen]).when(.chooseDelivery(.printed(address))).then([
            .deliveryChosen(CartDeliveryChosen(cartId: Self.cartId, delivery: .printed(address)))
        ])
        let state = try Spec.given([Self.opened, Self.deliveryChosen]).when(.chooseDelivery(.printed(address)))
            .thenState()
        #expect(state.delivery == .printed(address))
    }

    @Test func theSameDeliveryChangesNothing() throws {
        try Spec.given([Self.opened, Self.deliveryChosen]).when(.chooseDelivery(Self.online)).then([])
    }

    // MARK: confirm and cancel

    @Test func confirms() throws {
        try Spec.given([Self.opened, Self.added(), Self.deliveryChosen])
            .when(.confirm(checkoutId: "checkout-1", now: Self.later)).then([Self.confirmed])
    }

    @Test func confirmNeedsItems() throws {
        try Spec.given([Self.opened, Self.deliveryChosen]).when(.confirm(checkoutId: "c", now: Self.later))
            .thenThrows(CartError.empty)
        try Spec.given([Self.opened]).when(.confirm(checkoutId: "c", now: Self.later)).thenThrows(CartError.empty)
        // items that all went away
        try Spec.given([
            Self.opened, Self.added(), Self.deliveryChosen,
            .itemDropped(
                CartItemDropped(
                    cartId: Self.cartId, concertId: Self.beyonce, ticketLevelId: "regular", reason: "concert_cancelled")
            ),
        ]).when(.confirm(checkoutId: "c", now: Self.later)).thenThrows(CartError.empty)
    }

    @Test func confirmNeedsDelivery() throws {
        try Spec.given([Self.opened, Self.added()]).when(.confirm(checkoutId: "c", now: Self.later))
            .thenThrows(CartError.deliveryMissing)
    }

    @Test func cancels() throws {
        try Spec.given([Self.opened]).when(.cancel(now: Self.later)).then([Self.cancelled])
        try Spec.given([Self.opened, Self.added(), Self.deliveryChosen]).when(.cancel(now: Self.later))
            .then([Self.cancelled])
    }

    @Test func nothingAfterConfirmOrCancel() throws {
        let history = [Self.opened, Self.added(), Self.deliveryChosen]
        let commands: [ShoppingCart.Command] = [
            Self.add(Self.coldplay), Self.change(quantity: 3),
            .removeItem(concertId: Self.beyonce, ticketLevelId: "regular"),
            .dropConcert(concertId: Self.beyonce, reason: "concert_cancelled"),
            .chooseDelivery(.online(email: "other@example.com")), .confirm(checkoutId: "c2", now: Self.later),
            .cancel(now: Self.later),
        ]
        for end in [Self.confirmed, Self.cancelled] {
            for command in commands {
                try Spec.given(history + [end]).when(command).thenThrows(CartError.closed)
            }
            try Spec.given(history + [end]).when(.open(cartId: "again", userId: Self.userId, now: Self.later))
                .thenThrows(CartError.alreadyOpened)
        }
        #expect(ShoppingCart.fold(history + [Self.confirmed]).status == .confirmed)
        #expect(ShoppingCart.fold(history + [Self.cancelled]).status == .cancelled)
    }

    // MARK: the stream

    @Test func streamNaming() {
        #expect(ShoppingCart.streamType == "cart")
        #expect(ShoppingCart.streamId("abc") == "cart-abc")
    }

    @Test func everyEventSurvivesTheStoredJSON() throws {
        let address = try PostalAddress(
            name: "Ada", line1: "ul. Marszałkowska 1", line2: "m. 4", postalCode: "00-950", city: "Warszawa",
            country: "PL")
        let events: [ShoppingCart.Event] = [
            Self.opened, Self.added(),
            .quantityChanged(
                CartItemQuantityChanged(
                    cartId: Self.cartId, concertId: Self.beyonce, ticketLevelId: "regular", quantity: 3)),
            .itemRemoved(CartItemRemoved(cartId: Self.cartId, concertId: Self.beyonce, ticketLevelId: "regular")),
            .itemDropped(
                CartItemDropped(cartId: Self.cartId, concertId: Self.beyonce, ticketLevelId: "vip", reason: "x")),
            Self.deliveryChosen, .deliveryChosen(CartDeliveryChosen(cartId: Self.cartId, delivery: .printed(address))),
            Self.confirmed, Self.cancelled,
        ]
        let names = [
            "CartOpened", "CartItemAdded", "CartItemQuantityChanged", "CartItemRemoved", "CartItemDropped",
            "CartDeliveryChosen", "CartDeliveryChosen", "CartConfirmed", "CartCancelled",
        ]
        for (version, (event, name)) in zip(events, names).enumerated() {
            let new = try ShoppingCart.eventTypes.encode(event)
            #expect(new.type == name)
            let recorded = RecordedEvent(
                globalPosition: Int64(version + 1), transactionId: 1, eventId: new.id,
                streamId: ShoppingCart.streamId(Self.cartId), streamType: ShoppingCart.streamType,
                streamVersion: Int64(version + 1), eventType: new.type, schemaVersion: new.schemaVersion,
                data: new.data, metadata: EventMetadata(), recordedAt: Self.later)
            #expect(try ShoppingCart.eventTypes.decode(recorded) == event)
        }
    }
}
