import EventStore
import Foundation
import Postgres
import TestSupport
import Testing
import TicketDelivery
import Web

@testable import Orders
@testable import Sales

/// The organiser's dashboard and CSV files against the events: orders completed, refunded and
/// cancelled over several days, tickets issued, voided and checked in; then the read models'
/// figures and the files are compared with what the streams say, computed here from the
/// events' JSON without the projections' code.
@Suite(.timeLimit(.minutes(2))) struct DashboardFiguresTests {
    typealias World = CheckoutTests.World

    /// 2026-03-02T00:00:00Z, a Monday; Warsaw is UTC+1 until 29 March.
    static let day1 = Date(timeIntervalSince1970: 1_772_409_600)
    static func at(day: Int, _ hour: Int, _ minute: Int, _ second: Int = 0) -> Date {
        day1.addingTimeInterval(Double((day - 1) * 86_400 + hour * 3600 + minute * 60 + second))
    }

    struct Sale {
        let order: String
        let buyer: String
        let items: [(String, Int)]
        let completed: Date?
        var refunded: Date? = nil
    }

    /// Five orders of the concert `gig` (one only cancelled), and one of another concert.
    static let sales = [
        Sale(order: "a", buyer: "Ann", items: [("floor", 2), ("balcony", 1)], completed: at(day: 1, 10, 5)),
        // A second before midnight UTC: the next day in Warsaw.
        Sale(
            order: "b", buyer: "=HYPERLINK(\"http://evil.test\",\"Bob\")", items: [("balcony", 2)],
            completed: at(day: 1, 23, 59, 59)),
        Sale(order: "c", buyer: "Cy", items: [("floor", 1)], completed: at(day: 2, 12, 0), refunded: at(day: 4, 9, 0)),
        Sale(order: "d", buyer: "Dee", items: [("floor", 3)], completed: nil),
        // 18:40 UTC is 00:10 the next day in Kolkata (UTC+5:30): quarter-hours, not hours.
        Sale(order: "f", buyer: "Fay", items: [("floor", 1)], completed: at(day: 2, 18, 40)),
        Sale(order: "e", buyer: "@eve", items: [("balcony", 1)], completed: at(day: 4, 8, 0)),
    ]

    static let prices = ["floor": 30_000, "balcony": 15_000]

    /// The concerts, the orders and their tickets, one checked in; the async read models caught up.
    static func world(_ name: String = #function) throws -> World {
        let world = try World(name)
        try world.concert("gig", artist: "Gig", levels: [("floor", 40, 30_000), ("balcony", 20, 15_000)])
        try world.concert("other", artist: "Other", levels: [("floor", 40, 30_000)])
        let orders = OrderCommands(connection: world.connection, store: world.store)
        for (index, sale)
            in (sales + [Sale(order: "x", buyer: "Xi", items: [("floor", 4)], completed: at(day: 1, 9, 0))])
            .enumerated()
        {
            let concertId = sale.order == "x" ? "other" : "gig"
            let created = (sale.completed ?? at(day: 3, 12, 0)).addingTimeInterval(-300)
            try orders.handle(
                .create(
                    CreateOrder(
                        orderId: sale.order, number: "EN-0000100\(index)", checkoutId: "k-\(sale.order)",
                        paymentId: "k-\(sale.order)", reservationId: sale.order, concertId: concertId,
                        concertName: concertId, userId: "u-\(sale.order)",
                        buyerEmail: "\(sale.order)@example.com", buyerName: sale.buyer,
                        delivery: OrderDelivery(method: "online", email: "\(sale.order)@example.com", address: nil),
                        items: sale.items.map {
                            OrderItem(
                                ticketLevelId: $0.0, levelName: $0.0.capitalized, quantity: $0.1,
                                unitPrice: prices[$0.0]!)
                        }, currency: "PLN", now: created)), orderId: sale.order)
            guard let completed = sale.completed else {
                try orders.handle(.cancel(CancelOrder(reason: "customer", now: created)), orderId: sale.order)
                continue
            }
            try orders.handle(
                .complete(
                    CompleteOrder(
                        payment: .init(paymentId: "k-\(sale.order)", confirmed: true), reservationId: sale.order,
                        now: completed)), orderId: sale.order)
            if let refunded = sale.refunded {
                try orders.handle(
                    .refund(RefundOrder(gatewayRefundId: "re_\(sale.order)", reason: "requested", now: refunded)),
                    orderId: sale.order)
            }
            try PaymentFlowTests().run(
                TicketFulfilment(store: world.store, tickets: world.tickets, catalog: world.catalog),
                on: TicketOrder.streamId(sale.order), world)
        }
        let ann = try TicketQueries.ofOrder("a", on: world.connection)
        _ = try world.tickets.commands(on: world.connection, store: world.store).checkIn(
            ann[0].id, CheckInTicket(by: "organiser", gate: "north", now: at(day: 5, 19, 30)), metadata: EventMetadata()
        )

        let projections: [any Projection] = [TakingsProjection(), SalesTimelineProjection()]
        try ProjectionSetup.prepare(projections, on: world.connection)
        let expected = try FromTheStreams(world.connection)
        #expect(
            try eventually {
                for projection in projections {
                    try ProjectionRunner(projection: projection).catchUp(on: world.connection)
                }
                return try OrderQueries.dailySales(concertId: "gig", on: world.connection).count
                    == expected.days().count
            })
        return world
    }

    @Test func theDailyFiguresAndTheTakingsAreWhatTheOrderEventsSay() throws {
        let world = try Self.world()
        let streams = try FromTheStreams(world.connection)
        let daily = try OrderQueries.dailySales(concertId: "gig", on: world.connection)
        #expect(
            Dictionary(
                uniqueKeysWithValues: daily.map {
                    (FromTheStreams.Key(day: $0.day, level: $0.levelId), FromTheStreams.Figures($0))
                }) == streams.days())
        #expect(Set(daily.map(\.day)) == ["2026-03-02", "2026-03-03", "2026-03-05"])

        // The per-level totals: the dashboard's, and the takings read model's, both the events'.
        let byLevel = streams.levels()
        let takings = try OrderQueries.takings(concertId: "gig", on: world.connection)
        #expect(
            Dictionary(
                uniqueKeysWithValues: takings.map {
                    (
                        $0.levelId,
                        FromTheStreams.Figures(
                            sold: $0.ticketsSold, gross: $0.gross, ticketsBack: $0.ticketsRefunded,
                            moneyBack: $0.refunded)
                    )
                }) == byLevel)
        let figures = DashboardFigures(
            levels: [
                .init(id: "floor", name: "Floor", capacity: 40), .init(id: "balcony", name: "Balcony", capacity: 20),
            ],
            currency: "PLN", daily: daily)
        for level in figures.levels {
            let events = byLevel[level.id]!
            #expect(level.totals.ticketsSold == events.sold && level.totals.ticketsRefunded == events.ticketsBack)
            #expect(level.totals.gross == events.gross && level.totals.refunded == events.moneyBack)
        }
        #expect(figures.total.ticketsSold == 8 && figures.total.ticketsRefunded == 1)
        #expect(figures.total.net == 2 * 30_000 + 3 * 15_000 + 30_000 + 15_000 + 30_000 - 30_000)
        #expect(
            figures.days.map(\.iso) == ["2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05"], "day 3 too, empty")
        #expect(figures.series(\.ticketsSold) == [[2, 2, 0, 0], [3, 0, 0, 1]])
        #expect(figures.series(\.ticketsRefunded) == [[0, 0, 0, 1], [0, 0, 0, 0]])
        #expect(try OrderQueries.dailySales(concertId: "other", on: world.connection).map(\.ticketsSold) == [4])
    }

    @Test func daysBeginAtMidnightInTheZoneAsked() throws {
        let world = try Self.world()
        let streams = try FromTheStreams(world.connection)
        for zone in ["UTC", "Europe/Warsaw", "Asia/Kolkata", "America/St_Johns"] {
            let daily = try OrderQueries.dailySales(concertId: "gig", timeZone: zone, on: world.connection)
            #expect(
                Dictionary(
                    uniqueKeysWithValues: daily.map {
                        (FromTheStreams.Key(day: $0.day, level: $0.levelId), FromTheStreams.Figures($0))
                    })
                    == streams.days(in: TimeZone(identifier: zone)!), "\(zone)")
        }
        let warsaw = try OrderQueries.dailySales(concertId: "gig", timeZone: "Europe/Warsaw", on: world.connection)
        #expect(
            warsaw.filter { $0.levelId == "balcony" }.map { "\($0.day) \($0.ticketsSold)" } == [
                "2026-03-02 1", "2026-03-03 2", "2026-03-05 1",
            ])
        let kolkata = try OrderQueries.dailySales(concertId: "gig", timeZone: "Asia/Kolkata", on: world.connection)
        #expect(
            kolkata.filter { $0.levelId == "floor" }.map { "\($0.day) \($0.ticketsSold)" } == [
                "2026-03-02 2", "2026-03-03 1", "2026-03-04 1", "2026-03-05 0",
            ])
    }

    @Test func theCSVFilesAreWhatTheEventsSayAndNeutraliseFormulas() throws {
        let world = try Self.world()
        let streams = try FromTheStreams(world.connection)
        let orders = try OrderQueries.ofConcert("gig", on: world.connection)
        let orderRows = CSVReader.rows(OrdersExport.csv(orders).bytes)
        #expect(orderRows.first == OrdersExport.header)
        #expect(
            orderRows.dropFirst().map { [$0[0], $0[2], $0[3], $0[4], $0[6], $0[8], $0[9]] }
                == streams.orders(of: "gig").map {
                    [
                        $0.number, $0.status, CSV.neutralised($0.buyer), $0.email, String($0.tickets), $0.total,
                        $0.refunded,
                    ]
                })
        let bob = try #require(orderRows.first { $0[4] == "b@example.com" })
        #expect(bob[3] == "'=HYPERLINK(\"http://evil.test\",\"Bob\")")
        #expect(orderRows.contains { $0[3] == "'@eve" })

        let tickets = try TicketQueries.attendees(concertId: "gig", on: world.connection)
        let attendeeRows = CSVReader.rows(AttendeesExport.csv(tickets: tickets, orders: orders).bytes)
        #expect(attendeeRows.first == AttendeesExport.header)
        #expect(
            attendeeRows.dropFirst().map { $0 }
                == streams.attendees(of: "gig").map {
                    [
                        $0.number, $0.level, CSV.neutralised($0.holder), $0.email, $0.order,
                        $0.checkedInAt == nil ? "no" : "yes", $0.checkedInAt ?? "",
                    ]
                })
        #expect(attendeeRows.count == 1 + 7, "8 sold, 1 refunded")
        #expect(attendeeRows.filter { $0[5] == "yes" }.map { $0[6] } == ["2026-03-06T19:30:00Z"])
    }
}
