import EventStore
import Finance
import Foundation
import Orders
import Postgres
import TestSupport
import Testing

@testable import Sales

/// Invoices issued by the process manager against a real database: numbers per seller, series
/// and year with no gap and no duplicate, even with 200 payments completing at once on many
/// connections (each order driven by two of them); the same numbers after the read model is
/// rebuilt; a number given back by a transaction that rolls back; the buyer's details as they
/// were; refunds credited once; the register net of them.
@Suite struct InvoiceNumberingTests {
    struct World {
        static let inline: [any Projection] = [OrdersProjection(), FinanceDocumentsProjection()]
        let url: String
        let connection: Connection
        let store: StoreSetup
        let finance: FinanceContext

        init(_ name: String = #function) throws {
            url = try TestDatabases.fresh(
                prefix: "encore_finance_t", name,
                migrations: EventStoreSchema.migrations + OrdersSchema.migrations + FinanceSchema.migrations,
                projections: Self.inline)
            connection = try Connection(url: url)
            store = StoreSetup(inlineProjections: Self.inline)
            // Concerts whose id starts with "other" are another organiser's.
            finance = FinanceContext(
                concerts: FinanceConcerts(
                    organiser: { id, _ in id.hasPrefix("other") ? "seller-2" : "seller-1" },
                    name: { id, _ in "Concert \(id)" }),
                userNames: { ids, _ in Dictionary(uniqueKeysWithValues: ids.map { ($0, "Organiser \($0)") }) })
        }

        var reactor: InvoiceIssuing { InvoiceIssuing(store: store, finance: finance) }

        /// An order of `quantity` tickets at `price`, created and completed (paid) at `at`.
        @discardableResult
        func paidOrder(
            _ id: String, buyer: String = "ann", concert: String = "beyonce", quantity: Int = 2, price: Int = 45_000,
            at: Date = Date(timeIntervalSince1970: 1_900_000_000)
        ) throws -> String {
            let orders = OrderCommands(connection: connection, store: store)
            try orders.handle(
                .create(
                    CreateOrder(
                        orderId: id, number: "EN-\(id)", checkoutId: "c-\(id)", paymentId: "c-\(id)",
                        reservationId: id, concertId: concert, concertName: "Beyoncé, Warsaw", userId: buyer,
                        buyerEmail: "\(buyer)@example.com", buyerName: buyer.capitalized,
                        delivery: OrderDelivery(method: "online", email: "\(buyer)@example.com", address: nil),
                        items: [
                            OrderItem(
                                ticketLevelId: "golden", levelName: "Golden circle", quantity: quantity,
                                unitPrice: price)
                        ],
                        currency: "PLN", now: at)), orderId: id)
            try orders.handle(
                .complete(
                    CompleteOrder(payment: .init(paymentId: "c-\(id)", confirmed: true), reservationId: id, now: at)),
                orderId: id)
            return id
        }

        /// Runs the process manager over an order's events in a transaction of its own, as the
        /// projection daemon does.
        func runReactor(on orderId: String, connection: Connection? = nil) throws {
            let connection = connection ?? self.connection
            let events = try EventStore(connection: connection).readStream(TicketOrder.streamId(orderId))
            try connection.transaction { tx in
                try reactor.apply(events, to: ProjectionTarget(connection: tx, schema: "public", isRebuild: false))
            }
        }

        func numbers(seller: String = "seller-1", series: String = "EN") throws -> [Int] {
            try connection.query(
                "SELECT sequence FROM finance_documents WHERE seller_id = \(seller) AND series = \(series) ORDER BY sequence"
            ).map { try $0.decode("sequence") }
        }

        func document(of orderId: String, kind: String = "invoice") throws -> FinanceDocument? {
            try connection.query(
                "SELECT id FROM finance_documents WHERE order_id = \(orderId) AND kind = \(kind) ORDER BY sequence LIMIT 1"
            ).first.map { try FinanceQueries.find(id: try $0.decode("id"), on: connection) } ?? nil
        }
    }

    @Test func twoHundredOrdersPaidAtOnceAreNumberedOneToTwoHundredAlsoAfterARebuild() throws {
        let world = try World()
        let orders = try (1...200).map { try world.paidOrder("o\($0)", buyer: "buyer\($0)") }
        let failures = Locked<[String]>([])
        let threads = 16
        onThreads(threads) { thread in
            do {
                let connection = try Connection(url: world.url)
                // Every order is driven by two threads at once: one issues it, the other finds
                // it issued (or loses the append race and rolls back, its number with it).
                for (index, orderId) in orders.enumerated()
                where index % threads == thread || index % threads == (thread + 1) % threads {
                    var attempts = 0
                    while true {
                        do {
                            try world.runReactor(on: orderId, connection: connection)
                            break
                        } catch is WrongExpectedVersion where attempts < 5 {
                            attempts += 1
                        }
                    }
                }
            } catch {
                failures.withLock { $0.append("\(error)") }
            }
        }
        #expect(failures.value == [])
        #expect(try world.numbers() == Array(1...200))
        #expect(
            try TestDatabases.count(
                "SELECT count(*)::int AS n FROM es_events WHERE event_type = 'InvoiceIssued'", on: world.connection)
                == 200)
        #expect(
            try TestDatabases.count(
                "SELECT last_number::int AS n FROM finance_document_counters WHERE seller_id = 'seller-1' AND series = 'EN'",
                on: world.connection) == 200)
        #expect(
            try TestDatabases.count(
                "SELECT count(DISTINCT order_id)::int AS n FROM finance_documents", on: world.connection) == 200)

        let before = try world.connection.query("SELECT id, number FROM finance_documents ORDER BY id").map {
            "\(try $0.decode("id", as: String.self)) \(try $0.decode("number", as: String.self))"
        }
        try ProjectionRebuilder(connection: world.connection).rebuild(FinanceDocumentsProjection())
        let after = try world.connection.query("SELECT id, number FROM finance_documents ORDER BY id").map {
            "\(try $0.decode("id", as: String.self)) \(try $0.decode("number", as: String.self))"
        }
        #expect(after == before && after.count == 200)
        #expect(try world.numbers() == Array(1...200))
    }

    struct Boom: Error {}

    @Test func aTransactionThatRollsBackGivesItsNumberBack() throws {
        let world = try World()
        try world.paidOrder("first")
        try world.paidOrder("second")
        let events = try EventStore(connection: world.connection).readStream(TicketOrder.streamId("first"))
        #expect(throws: Boom.self) {
            try world.connection.transaction { tx in
                try world.reactor.apply(
                    events, to: ProjectionTarget(connection: tx, schema: "public", isRebuild: false))
                throw Boom()  // anything later in the batch failed
            }
        }
        #expect(try world.numbers() == [])
        try world.runReactor(on: "second")
        try world.runReactor(on: "first")
        try world.runReactor(on: "first")  // replayed: nothing more
        #expect(try world.document(of: "second")?.number == "EN/2030/000001")
        #expect(try world.document(of: "first")?.number == "EN/2030/000002")
        #expect(try world.numbers() == [1, 2])
    }

    @Test func eachSellerAndYearHasItsOwnSeriesInTheSellersCalendar() throws {
        let world = try World()
        // 23:30 UTC on New Year's Eve is already the new year in Warsaw.
        let newYear = try #require(ISO8601DateFormatter().date(from: "2030-12-31T23:30:00Z"))
        try world.runReactor(on: try world.paidOrder("a", at: newYear.addingTimeInterval(-3_600)))
        try world.runReactor(on: try world.paidOrder("b", at: newYear))
        try world.runReactor(on: try world.paidOrder("c", concert: "other-1", at: newYear))
        #expect(try world.document(of: "a")?.number == "EN/2030/000001")
        #expect(try world.document(of: "a")?.issueDate == "2030-12-31")
        #expect(try world.document(of: "b")?.number == "EN/2031/000001")
        #expect(try world.document(of: "b")?.issueDate == "2031-01-01")
        let other = try #require(try world.document(of: "c"))
        #expect(other.number == "EN/2031/000001" && other.sellerId == "seller-2")
        #expect(
            other.seller.legalName == "Organiser seller-2", "a seller without details is named by the Users context")
    }

    @Test func theBuyersDetailsAreCopiedWhenIssuedAndLaterChangesTouchOnlyLaterInvoices() throws {
        let world = try World()
        let details = FinancialInfoCommands(connection: world.connection, store: world.store)
        try world.runReactor(on: try world.paidOrder("before", buyer: "ann"))
        #expect(try world.document(of: "before")?.buyer.legalName == "Ann", "no details: the order's name")
        #expect(try world.document(of: "before")?.buyer.email == "ann@example.com")

        try details.save(
            userId: "ann",
            details: try FinancialDetails(
                legalName: "Anna Kowalska", line1: "ul. Długa 1", line2: nil, postalCode: "00-950", city: "Warszawa",
                country: "PL", taxId: "1234563218"))
        try details.save(
            userId: "seller-1",
            details: try FinancialDetails(
                legalName: "Live Concerts sp. z o.o.", line1: "ul. Mokotowska 5", line2: nil, postalCode: "00-640",
                city: "Warszawa", country: "PL", taxId: "PL1234563218"))
        try world.runReactor(on: try world.paidOrder("first", buyer: "ann"))
        let first = try #require(try world.document(of: "first"))
        #expect(first.buyer.legalName == "Anna Kowalska" && first.buyer.taxId == "1234563218")
        #expect(first.seller.legalName == "Live Concerts sp. z o.o." && first.seller.taxId == "PL1234563218")

        try details.save(
            userId: "ann",
            details: try FinancialDetails(
                legalName: "Kowalska Events", line1: "ul. Krótka 2", line2: "lok. 3", postalCode: "30-001",
                city: "Kraków", country: "PL", taxId: nil))
        try world.runReactor(on: try world.paidOrder("second", buyer: "ann"))
        let second = try #require(try world.document(of: "second"))
        #expect(second.buyer.legalName == "Kowalska Events" && second.buyer.address?.city == "Kraków")
        #expect(try world.document(of: "first") == first, "the issued invoice is as it was")
        try ProjectionRebuilder(connection: world.connection).rebuild(FinanceDocumentsProjection())
        #expect(try world.document(of: "first") == first, "and so is it rebuilt from its events")
    }

    @Test func aRefundIsCreditedOnceAgainstItsInvoiceAndTheRegisterIsNetOfIt() throws {
        let world = try World()
        let at = Date(timeIntervalSince1970: 1_900_000_000)
        try world.runReactor(on: try world.paidOrder("kept", quantity: 1, price: 10_800, at: at))
        try world.runReactor(on: try world.paidOrder("returned", quantity: 2, price: 45_000, at: at))
        try OrderCommands(connection: world.connection, store: world.store).handle(
            .refund(RefundOrder(gatewayRefundId: "re_1", reason: "requested_by_organiser", now: at)),
            orderId: "returned")
        try world.runReactor(on: "returned")
        try world.runReactor(on: "returned")  // replayed: credited once
        let invoice = try #require(try world.document(of: "returned"))
        let note = try #require(try world.document(of: "returned", kind: "creditNote"))
        #expect(
            note.number == "CN/2030/000001" && note.correctsNumber == invoice.number && note.invoiceId == invoice.id)
        #expect(note.totals == DocumentTotals(net: -invoice.totals.net, tax: -invoice.totals.tax, gross: -90_000))
        #expect(try world.numbers(series: "CN") == [1])

        let register = try Register.load(
            month: CalendarMonth.of(at, in: world.finance.timeZone), sellerId: "seller-1", on: world.connection)
        #expect(register.documents.count == 3)
        #expect(register.totals.count == 1)
        #expect(register.totals.first?.gross == 10_800 && register.totals.first?.tax == 800)
        #expect(register.totals.first?.net == 10_000)
        #expect(register.csv.split(separator: "\r\n").count == 4)
    }

    @Test func theConcertsVATRateInForceIsTheInvoices() throws {
        let world = try World()
        let rates = VATRateCommands(connection: world.connection, store: world.store)
        try world.runReactor(on: try world.paidOrder("default", price: 10_800))
        try rates.set(concertId: "beyonce", rate: 2_300, by: "seller-1")
        try world.runReactor(on: try world.paidOrder("standard", price: 12_300))
        #expect(try world.document(of: "default")?.lines.first?.vatRate == 800)
        #expect(try world.document(of: "default")?.totals.tax == 1_600)
        #expect(try world.document(of: "standard")?.lines.first?.vatRate == 2_300)
        #expect(try world.document(of: "standard")?.totals.tax == 4_600)
    }
}
