import EventStore
import Foundation
import Orders
import Payments
import Postgres
import Reservations
import TestSupport
import Testing
import TicketDelivery
import Web

@testable import Concerts
@testable import Sales
@testable import WaitingLists

/// A sold-out level's waiting list against a real database: tickets that come back are offered
/// exactly as the rule says, never twice, and every offer is taken or passed on once.
@Suite(.timeLimit(.minutes(3))) struct WaitingListOffersTests {
    typealias World = CheckoutTests.World
    let flow = PaymentFlowTests()

    /// The catalog with the real counts (the checkout tests' one shows every level full).
    static func counted() -> ConcertCatalog {
        let reservations = ReservationsContext()
        return ConcertCatalog(
            ticketCounts: TicketCounts(
                available: reservations.available, taken: reservations.taken,
                availableSQL: reservations.availableSQL))
    }

    static let lists = WaitingListsContext(
        levels: WaitingListCatalog { _, _, _ in nil },
        links: LeaveLinks(commaSeparatedKeys: String(repeating: "w", count: 32)), offerDuration: 600)

    func reactor(_ world: World) -> WaitingListOffers {
        WaitingListOffers(
            store: world.store, waitingLists: Self.lists, catalog: Self.counted(), mail: world.tickets.mail)
    }

    func lists(_ world: World) -> WaitingListCommands { Self.lists.commands(on: world.connection, store: world.store) }

    /// A concert whose one level of `capacity` is held whole by one buyer; its reservation.
    func soldOut(_ world: World, capacity: Int) throws -> String {
        try world.concert("wl", artist: "Waiting Band", levels: [("floor", capacity, 10_000)])
        try world.cart("whale", [("wl", "floor", capacity)])
        return try #require(try world.confirm("whale").first?.reservationId)
    }

    func join(_ world: World, _ user: String, _ quantity: Int) throws {
        try lists(world).handle(
            .join(
                JoinWaitingList(
                    entryId: "entry-\(user)", concertId: "wl", levelId: "floor", userId: user,
                    email: "\(user)@example.com", name: user, quantity: quantity, ticketsLeft: 0, now: Date())),
            concertId: "wl", levelId: "floor")
    }

    func entries(_ world: World) throws -> [String: (status: String, quantity: Int, checkoutId: String?)] {
        var found: [String: (String, Int, String?)] = [:]
        for row in try world.connection.query(
            "SELECT entry_id, status, quantity, checkout_id FROM waiting_list_entries")
        {
            found[try row.decode("entry_id")] = (
                try row.decode("status"), try row.decode("quantity"), try row.decodeIfPresent("checkout_id")
            )
        }
        return found
    }

    func held(_ world: World) throws -> Int { try world.held("wl", "floor") }

    @Test func tenTicketsBackGoToAHundredWaitingAsTheRuleSays() throws {
        let world = try World()
        let whale = try soldOut(world, capacity: 10)
        var generator = SeededGenerator(seed: 7)
        var quantities: [(String, Int)] = []
        for index in 0..<100 {
            let user = String(format: "w%03d", index)
            let quantity = Int.random(in: 1...4, using: &generator)
            quantities.append((user, quantity))
            try join(world, user, quantity)
        }
        // The whale lets go: ten tickets back at once.
        try TicketReservations(connection: world.connection, inlineProjections: world.store.inlineProjections).end(
            whale, .cancel, now: Date())
        try flow.run(reactor(world), on: Reservation.streamId(whale), world)

        // The rule, from its words: in join order, whoever the free tickets cover whole.
        var free = 10
        var expected: [String] = []
        for (user, quantity) in quantities where quantity <= free {
            expected.append("entry-\(user)")
            free -= quantity
            if free == 0 { break }
        }
        let found = try entries(world)
        let offered = found.filter { $0.value.status == "offered" }
        #expect(offered.keys.sorted() == expected.sorted())
        let offeredTickets = offered.values.reduce(0) { $0 + $1.quantity }
        #expect(try held(world) == offeredTickets)  // each offered ticket held once, for its entry
        #expect(offeredTickets <= 10)
        #expect(
            try TestDatabases.count(
                "SELECT count(*)::int AS n FROM mail_outbox WHERE purpose = 'waiting_list'", on: world.connection)
                == expected.count)

        // The reactor again over the same events (a replay): nothing more is offered.
        try flow.run(reactor(world), on: Reservation.streamId(whale), world)
        #expect(try entries(world).filter { $0.value.status == "offered" }.count == expected.count)
        #expect(try held(world) == offeredTickets)
    }

    @Test func anOfferIsTakenOrPassedOnOnceAndTheNextInLineGetsIt() throws {
        let world = try World()
        let whale = try soldOut(world, capacity: 4)
        for (user, quantity) in [("ann", 2), ("ben", 2), ("cat", 2), ("dan", 4)] { try join(world, user, quantity) }
        try TicketReservations(connection: world.connection, inlineProjections: world.store.inlineProjections).end(
            whale, .cancel, now: Date())
        try flow.run(reactor(world), on: Reservation.streamId(whale), world)
        var found = try entries(world)
        #expect(found["entry-ann"]?.status == "offered" && found["entry-ben"]?.status == "offered")
        #expect(found["entry-cat"]?.status == "waiting" && found["entry-dan"]?.status == "waiting")

        // Ann pays.
        let annCheckout = try #require(found["entry-ann"]?.checkoutId)
        #expect(try flow.payments(world).pay(annCheckout, paymentMethod: try flow.card("4242424242424242")) == .paid)
        try flow.run(
            PaymentSettlement(store: world.store, gateway: world.payments.gateway), on: Payment.streamId(annCheckout),
            world)
        try flow.run(reactor(world), on: TicketOrder.streamId("\(annCheckout)-1"), world)

        // Ben lets his offer lapse: the hold ends, the payment is given up, the order cancelled.
        let benCheckout = try #require(found["entry-ben"]?.checkoutId)
        let benReservation = "\(benCheckout)-1"
        try TicketReservations(connection: world.connection, inlineProjections: world.store.inlineProjections).end(
            benReservation, .expire, now: Date().addingTimeInterval(700))
        try flow.run(
            HoldEnding(store: world.store, gateway: world.payments.gateway), on: Reservation.streamId(benReservation),
            world)
        try flow.run(
            PaymentCompensation(store: world.store, gateway: world.payments.gateway),
            on: Payment.streamId(benCheckout), world)
        try flow.run(reactor(world), on: TicketOrder.streamId(benReservation), world)
        // His two tickets, back, go to Cat (Dan wants four).
        try flow.run(reactor(world), on: Reservation.streamId(benReservation), world)

        found = try entries(world)
        #expect(found["entry-ann"]?.status == "accepted")
        #expect(found["entry-ben"]?.status == "lapsed")
        #expect(found["entry-cat"]?.status == "offered")
        #expect(found["entry-dan"]?.status == "waiting")
        let stream = WaitingList.streamId(concertId: "wl", levelId: "floor")
        for (type, count) in [
            ("WaitingListOfferAccepted", 1), ("WaitingListOfferLapsed", 1), ("WaitingListTicketsOffered", 3),
            ("WaitingListEntryOvertaken", 0),
        ] {
            #expect(
                try TestDatabases.count(
                    "SELECT count(*)::int AS n FROM es_events WHERE stream_id = '\(stream)' AND event_type = '\(type)'",
                    on: world.connection) == count, "\(type)")
        }
    }

    @Test func twoReactorsAtOnceOfferEachTicketOnce() throws {
        let world = try World()
        let whale = try soldOut(world, capacity: 6)
        for (user, quantity) in [("ann", 1), ("ben", 2), ("cat", 3), ("dan", 1)] { try join(world, user, quantity) }
        try TicketReservations(connection: world.connection, inlineProjections: world.store.inlineProjections).end(
            whale, .cancel, now: Date())
        let events = try EventStore(connection: world.connection).readStream(Reservation.streamId(whale))
        let (url, reactor) = (world.url, reactor(world))
        let outcomes = Locked<[String]>([])
        onThreads(2) { _ in
            do {
                let connection = try Connection(url: url)
                try connection.transaction { tx in
                    try reactor.apply(events, to: ProjectionTarget(connection: tx, schema: "public", isRebuild: false))
                }
                outcomes.withLock { $0.append("ok") }
            } catch {
                outcomes.withLock { $0.append("refused") }
            }
        }
        #expect(outcomes.value.contains("ok"))
        let offered = try entries(world).filter { $0.value.status == "offered" }
        #expect(offered.keys.sorted() == ["entry-ann", "entry-ben", "entry-cat"])
        #expect(try held(world) == 6)
    }
}

/// A small deterministic generator (SplitMix64), so a test's random line is the same every run.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
