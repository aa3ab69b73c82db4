import EventStore
import Foundation
import Logging
import Mail
import Orders
import Payments
import Postgres
import TestSupport
import Testing
import Web

@testable import Sales
@testable import TicketDelivery

/// Paid orders become tickets and an e-mail in the outbox; the mailer sends it through a real
/// SMTP server (bin/mail-sink); refunds void the tickets; a ticket checks in once, even when
/// two gates scan it at the same moment.
@Suite(.timeLimit(.minutes(2))) struct TicketFulfilmentTests {
    typealias World = CheckoutTests.World
    let flow = PaymentFlowTests()

    /// A paid checkout of `quantity` tickets, settled: its order completed.
    func paidOrder(_ world: World, _ user: String, quantity: Int = 2) throws -> (checkoutId: String, orderId: String) {
        let checkoutId = try flow.checkout(world, user, quantity: quantity, capacity: 10)
        #expect(try flow.payments(world).pay(checkoutId, paymentMethod: try flow.card("4242424242424242")) == .paid)
        try flow.run(
            PaymentSettlement(store: world.store, gateway: world.payments.gateway), on: Payment.streamId(checkoutId),
            world)
        return (checkoutId, "\(checkoutId)-1")
    }

    func fulfil(_ world: World, _ orderId: String) throws {
        try flow.run(
            TicketFulfilment(store: world.store, tickets: world.tickets, catalog: world.catalog),
            on: TicketOrder.streamId(orderId), world)
    }

    func outbox(_ world: World) throws -> Int {
        try TestDatabases.count("SELECT count(*)::int AS n FROM mail_outbox", on: world.connection)
    }

    @Test func aPaidOrderGetsOneTicketPerSeatAndOneEmailQueued() throws {
        let world = try World()
        let (_, orderId) = try paidOrder(world, "ann", quantity: 3)
        try fulfil(world, orderId)
        let tickets = try TicketQueries.ofOrder(orderId, on: world.connection)
        #expect(tickets.count == 3)
        #expect(tickets.allSatisfy { $0.status == "valid" && $0.holder == "Ann" && $0.levelName == "Standing" })
        #expect(tickets.map(\.number).allSatisfy { $0.hasSuffix("-01") || $0.hasSuffix("-02") || $0.hasSuffix("-03") })
        let delivery = try #require(try TicketQueries.delivery(orderId: orderId, on: world.connection))
        #expect(delivery.method == "online" && delivery.status == "prepared" && delivery.email == "ann@example.com")
        #expect(try outbox(world) == 1)
        let message = try #require(
            try world.connection.query("SELECT message FROM mail_outbox").first?.decode("message", as: String.self))
        #expect(message.contains("To: \"Ann\" <ann@example.com>"))
        #expect(message.contains("Content-Type: image/png"))
        #expect(message.components(separatedBy: "Content-Type: image/png").count == 1 + 3)

        // The reactor again (a replay): nothing new.
        try fulfil(world, orderId)
        #expect(try TicketQueries.ofOrder(orderId, on: world.connection).count == 3)
        #expect(try outbox(world) == 1)
    }

    @Test func aRefundVoidsTheOrdersTickets() throws {
        let world = try World()
        let (checkoutId, orderId) = try paidOrder(world, "ben")
        try fulfil(world, orderId)
        _ = try flow.payments(world).refund(checkoutId, orderIds: [orderId], reason: "requested_by_organiser")
        try flow.run(RefundSettlement(store: world.store), on: Payment.streamId(checkoutId), world)
        try fulfil(world, orderId)
        let tickets = try TicketQueries.ofOrder(orderId, on: world.connection)
        #expect(tickets.count == 2 && tickets.allSatisfy { $0.status == "void" && $0.voidReason == "refunded" })
        let commands = world.tickets.commands(on: world.connection, store: world.store)
        #expect(throws: TicketError.void(reason: "refunded")) {
            try commands.checkIn(
                tickets[0].id, CheckInTicket(by: "organiser", gate: nil, now: Date()), metadata: EventMetadata())
        }
    }

    @Test func gatesAtTheDoorByCodeAndByNumberLetOnePersonInAndOnlyForTheirConcert() throws {
        let world = try World()
        let (_, orderId) = try paidOrder(world, "dan", quantity: 1)
        try fulfil(world, orderId)
        let ticket = try #require(try TicketQueries.ofOrder(orderId, on: world.connection).first)
        let commands = world.tickets.commands(on: world.connection, store: world.store)
        let now = Date()
        // A gate that may not check this concert's tickets in finds no such ticket, and nothing changes.
        #expect(throws: TicketError.notFound) {
            try commands.checkIn(
                at: .id(ticket.id), CheckInTicket(by: "stranger", gate: nil, now: now), metadata: EventMetadata()
            ) { _ in false }
        }
        #expect(throws: TicketError.notFound) {
            try commands.checkIn(
                at: .number("EN-00000000-01"), CheckInTicket(by: "organiser", gate: nil, now: now),
                metadata: EventMetadata()
            ) { _ in true }
        }
        let outcomes = Locked<[String]>([])
        let (url, store, tickets) = (world.url, world.store, world.tickets)
        for _ in 0..<5 {
            onThreads(8) { gate in
                do {
                    let connection = try Connection(url: url)
                    let state = try tickets.commands(on: connection, store: store).checkIn(
                        at: gate.isMultiple(of: 2) ? .id(ticket.id) : .number(ticket.number),
                        CheckInTicket(by: "organiser", gate: "gate \(gate)", now: Date()), metadata: EventMetadata()
                    ) { $0.concert.id == ticket.concertId }
                    outcomes.withLock {
                        $0.append(state.status == .checkedIn && state.issued?.number == ticket.number ? "in" : "?")
                    }
                } catch TicketError.alreadyCheckedIn {
                    outcomes.withLock { $0.append("already") }
                } catch {
                    outcomes.withLock { $0.append("\(error)") }
                }
            }
        }
        #expect(outcomes.value.filter { $0 == "in" }.count == 1)
        #expect(outcomes.value.filter { $0 == "already" }.count == 39)
        #expect(
            try TestDatabases.count(
                "SELECT count(*)::int AS n FROM es_events WHERE stream_id = 'ticket-\(ticket.id)' AND event_type = 'TicketCheckedIn'",
                on: world.connection) == 1)
        #expect(try TicketQueries.find(id: ticket.id, on: world.connection)?.status == "checkedIn")
    }

    @Test func twoGatesScanningOneTicketAtOnceLetOnePersonIn() throws {
        let world = try World()
        let (_, orderId) = try paidOrder(world, "cat", quantity: 1)
        try fulfil(world, orderId)
        let ticketId = try #require(try TicketQueries.ofOrder(orderId, on: world.connection).first?.id)
        let outcomes = Locked<[String]>([])
        let (url, store, tickets) = (world.url, world.store, world.tickets)
        for _ in 0..<5 {
            onThreads(8) { gate in
                do {
                    let connection = try Connection(url: url)
                    try tickets.commands(on: connection, store: store).checkIn(
                        ticketId, CheckInTicket(by: "organiser", gate: "gate \(gate)", now: Date()),
                        metadata: EventMetadata())
                    outcomes.withLock { $0.append("in") }
                } catch TicketError.alreadyCheckedIn {
                    outcomes.withLock { $0.append("already") }
                } catch {
                    outcomes.withLock { $0.append("\(error)") }
                }
            }
        }
        #expect(outcomes.value.filter { $0 == "in" }.count == 1)
        #expect(outcomes.value.filter { $0 == "already" }.count == 39)
        #expect(
            try TestDatabases.count(
                "SELECT count(*)::int AS n FROM es_events WHERE stream_id = 'ticket-\(ticketId)' AND event_type = 'TicketCheckedIn'",
                on: world.connection) == 1)
    }

    @Test(.enabled(if: MailSink.isAvailable, "python3 with aiosmtpd is needed (requirements-test.txt)"))
    func theMailerSendsOnceAndWaitsWhileTheServerIsAway() throws {
        let world = try World()
        let (_, orderId) = try paidOrder(world, "dan")
        try fulfil(world, orderId)
        let port = Int.random(in: 40_000..<50_000)
        let mailer = Mailer(
            store: world.store, mail: world.tickets.mail,
            settings: MailerSettings(
                smtp: .init(host: "127.0.0.1", port: port, connectTimeout: .seconds(1)), retryMax: 2),
            environment: .init(databaseURL: world.url, logger: Logger(label: "test")))
        let client = try SMTPClient(configuration: mailer.settings.smtp)
        let logger = Logger(label: "test")

        // No server: the message waits, charged one attempt.
        #expect(try mailer.sendNext(on: world.connection, with: client, logger: logger) == .serverAway)
        #expect(try mailer.sendNext(on: world.connection, with: client, logger: logger) == .nothingDue)
        #expect(try TicketQueries.delivery(orderId: orderId, on: world.connection)?.status == "prepared")

        let sink = try MailSink(port: port)
        defer { sink.stop() }
        try world.connection.execute("UPDATE mail_outbox SET next_attempt_at = now()")
        #expect(try mailer.sendNext(on: world.connection, with: client, logger: logger) == .sent)
        #expect(try mailer.sendNext(on: world.connection, with: client, logger: logger) == .nothingDue)
        let received = try sink.received()
        #expect(received.count == 1)
        #expect(received.first?["messageId"] as? String == "tickets-\(orderId)@tickets.encore.test")
        #expect(try TicketQueries.delivery(orderId: orderId, on: world.connection)?.status == "sent")
        let row = try #require(try world.connection.query("SELECT status, attempts FROM mail_outbox").first)
        #expect(try row.decode("status", as: String.self) == "sent" && row.decode("attempts", as: Int.self) == 2)
    }

    @Test(.enabled(if: MailSink.isAvailable, "python3 with aiosmtpd is needed (requirements-test.txt)"))
    func aRefusedAddressIsRecordedForTheOrganiser() throws {
        let world = try World()
        let (_, orderId) = try paidOrder(world, "eve")
        try world.connection.execute("UPDATE mail_outbox SET recipients = ARRAY['bounce@example.com']")
        try fulfil(world, orderId)
        try world.connection.execute("UPDATE mail_outbox SET recipients = ARRAY['bounce@example.com']")
        let sink = try MailSink()
        defer { sink.stop() }
        let mailer = Mailer(
            store: world.store, mail: world.tickets.mail,
            settings: MailerSettings(smtp: .init(host: "127.0.0.1", port: sink.port), retryMax: 2),
            environment: .init(databaseURL: world.url, logger: Logger(label: "test")))
        let client = try SMTPClient(configuration: mailer.settings.smtp)
        #expect(try mailer.sendNext(on: world.connection, with: client, logger: Logger(label: "test")) == .failed)
        let delivery = try #require(try TicketQueries.delivery(orderId: orderId, on: world.connection))
        #expect(delivery.status == "failed" && delivery.failure?.contains("550") == true)
        #expect(try sink.received().isEmpty)
    }
}
