import EventStore
import Foundation
import Testing

@testable import TicketDelivery

/// A ticket, given events / when a command / then events or an error: checked in once, never
/// when void.
@Suite struct TicketDeciderTests {
    typealias Spec = DeciderSpec<Ticket>
    static let now = Date(timeIntervalSince1970: 1_900_000_000)
    static let later = now.addingTimeInterval(3600)
    static let concert = TicketConcert(
        id: "beyonce", name: "Beyoncé — Cowboy Carter Tour, Warsaw", venue: "PGE Narodowy", city: "Warsaw",
        startsAt: now.addingTimeInterval(86_400), organiserId: "org")
    static let issue = IssueTicket(
        ticketId: "t-1", number: "EN-00001001-01", orderId: "o-1", userId: "ann", concert: concert,
        ticketLevelId: "golden", levelName: "Golden circle", holder: "Ann Nowak", delivery: "online", now: now)
    static let issued = Ticket.Event.issued(
        TicketIssued(
            ticketId: "t-1", number: "EN-00001001-01", orderId: "o-1", userId: "ann", concert: concert,
            ticketLevelId: "golden", levelName: "Golden circle", holder: "Ann Nowak", delivery: "online",
            issuedAt: now))
    static let checkIn = Ticket.Command.checkIn(CheckInTicket(by: "org", gate: "north", now: later))
    static let checkedIn = Ticket.Event.checkedIn(
        TicketCheckedIn(ticketId: "t-1", concertId: "beyonce", checkedInBy: "org", gate: "north", checkedInAt: later))
    static let voided = Ticket.Event.voided(
        TicketVoided(ticketId: "t-1", concertId: "beyonce", reason: "refunded", voidedAt: later))

    @Test func issuingIsOnceAndAgainChangesNothing() throws {
        try Spec.given([]).when(.issue(Self.issue)).then([Self.issued])
        try Spec.given([Self.issued]).when(.issue(Self.issue)).then([])
    }

    @Test func aValidTicketChecksInOnce() throws {
        try Spec.given([Self.issued]).when(Self.checkIn).then([Self.checkedIn])
        try Spec.given([Self.issued, Self.checkedIn]).when(
            .checkIn(CheckInTicket(by: "org", gate: nil, now: Self.later.addingTimeInterval(60)))
        ).thenThrows(TicketError.alreadyCheckedIn(at: Self.later))
    }

    @Test func aVoidTicketNeverChecksIn() throws {
        try Spec.given([Self.issued, Self.voided]).when(Self.checkIn).thenThrows(TicketError.void(reason: "refunded"))
    }

    @Test func noTicketNoCheckIn() throws {
        try Spec.given([]).when(Self.checkIn).thenThrows(TicketError.notFound)
    }

    @Test func voidingIsOnceAndAlsoAfterCheckIn() throws {
        let void = Ticket.Command.void(VoidTicket(reason: "refunded", now: Self.later))
        try Spec.given([Self.issued]).when(void).then([Self.voided])
        try Spec.given([Self.issued, Self.voided]).when(void).then([])
        try Spec.given([Self.issued, Self.checkedIn]).when(void).then([Self.voided])
        try Spec.given([]).when(void).thenThrows(TicketError.notFound)
    }
}

/// A delivery: prepared once, then e-mailed or posted by its own method only.
@Suite struct DeliveryDeciderTests {
    typealias Spec = DeciderSpec<TicketDelivery>
    static let now = TicketDeciderTests.now
    static let tickets = [DeliveredTicket(ticketId: "t-1", number: "EN-00001001-01", levelName: "Golden circle")]

    static func prepare(_ method: DeliveryMethod) -> PrepareTicketDelivery {
        PrepareTicketDelivery(
            orderId: "o-1", orderNumber: "EN-00001001", concert: TicketDeciderTests.concert, userId: "ann",
            recipient: "Ann Nowak", method: method, email: "ann@example.com",
            address: method == .printed ? ["Ann Nowak", "ul. Marszałkowska 1", "00-001", "Warszawa", "PL"] : nil,
            tickets: tickets, messageId: "tickets-o-1@encore.test", now: now)
    }

    static func prepared(_ method: DeliveryMethod) -> TicketDelivery.Event {
        .prepared(
            TicketDeliveryPrepared(
                orderId: "o-1", orderNumber: "EN-00001001", concert: TicketDeciderTests.concert, userId: "ann",
                recipient: "Ann Nowak", method: method, email: method == .online ? "ann@example.com" : nil,
                address: method == .printed ? ["Ann Nowak", "ul. Marszałkowska 1", "00-001", "Warszawa", "PL"] : nil,
                tickets: tickets, messageId: method == .online ? "tickets-o-1@encore.test" : nil, preparedAt: now))
    }

    @Test func preparingIsOnce() throws {
        try Spec.given([]).when(.prepare(Self.prepare(.online))).then([Self.prepared(.online)])
        try Spec.given([Self.prepared(.online)]).when(.prepare(Self.prepare(.online))).then([])
    }

    @Test func onlineDeliveryNeedsAnAddressToSendTo() throws {
        let noEmail = PrepareTicketDelivery(
            orderId: "o-1", orderNumber: "EN-1", concert: TicketDeciderTests.concert, userId: "ann", recipient: "Ann",
            method: .online, email: nil, address: nil, tickets: Self.tickets, messageId: "m", now: Self.now)
        try Spec.given([]).when(.prepare(noEmail)).thenThrows(
            DeliveryError.invalid(field: "email", message: "Online delivery needs an e-mail address."))
    }

    @Test func anAcceptedEmailDeliversOnce() throws {
        let sent = TicketDelivery.Event.deliveredOnline(
            OnlineTicketDelivered(orderId: "o-1", messageId: "tickets-o-1@encore.test", deliveredAt: Self.now))
        let command = TicketDelivery.Command.deliverOnline(
            DeliverOnlineTicket(messageId: "tickets-o-1@encore.test", now: Self.now))
        try Spec.given([Self.prepared(.online)]).when(command).then([sent])
        try Spec.given([Self.prepared(.online), sent]).when(command).then([])  // sent again after a crash
        try Spec.given([Self.prepared(.printed)]).when(command).thenThrows(DeliveryError.wrongMethod(.printed))
    }

    @Test func aRefusedEmailIsRecordedOnce() throws {
        let command = TicketDelivery.Command.recordFailure(
            RecordDeliveryFailure(reason: "rejected (550): no such mailbox", now: Self.now))
        let failed = TicketDelivery.Event.failed(
            TicketDeliveryFailed(orderId: "o-1", reason: "rejected (550): no such mailbox", failedAt: Self.now))
        try Spec.given([Self.prepared(.online)]).when(command).then([failed])
        try Spec.given([Self.prepared(.online), failed]).when(command).then([])
    }

    @Test func printedTicketsShipWithATrackingNumber() throws {
        let ship = TicketDelivery.Command.deliverPrinted(
            DeliverPrintedTicket(trackingNumber: " RR123456785PL ", carrier: "Poczta Polska", now: Self.now))
        let shipped = TicketDelivery.Event.deliveredPrinted(
            PrintedTicketDelivered(
                orderId: "o-1", trackingNumber: "RR123456785PL", carrier: "Poczta Polska", shippedAt: Self.now))
        try Spec.given([Self.prepared(.printed)]).when(ship).then([shipped])
        try Spec.given([Self.prepared(.printed), shipped]).when(ship).then([])
        try Spec.given([Self.prepared(.printed), shipped]).when(
            .deliverPrinted(DeliverPrintedTicket(trackingNumber: "OTHER-1", carrier: nil, now: Self.now))
        ).thenThrows(DeliveryError.alreadyShipped("RR123456785PL"))
        try Spec.given([Self.prepared(.online)]).when(ship).thenThrows(DeliveryError.wrongMethod(.online))
        try Spec.given([Self.prepared(.printed)]).when(
            .deliverPrinted(DeliverPrintedTicket(trackingNumber: "<script>", carrier: nil, now: Self.now))
        ).thenThrows(where: { if case DeliveryError.invalid(field: "trackingNumber", _) = $0 { true } else { false } })
    }
}

/// Codes: what a key signed verifies, anything else does not.
@Suite struct TicketCodeTests {
    let codes = TicketCodes(commaSeparatedKeys: String(repeating: "k", count: 32))
    let id = TicketDeliveryCommands.ticketId(orderId: "o-1", seat: 1)

    @Test func aCodeNamesItsTicket() throws {
        let code = try codes.code(for: id)
        #expect(code.count == 54 && code.hasPrefix("T1"))
        #expect(code.allSatisfy { $0.isUppercase || $0.isNumber })
        #expect(codes.ticketId(from: code) == id)
        #expect(codes.ticketId(from: code.lowercased()) == id)  // typed by hand
    }

    @Test func aChangedCodeIsRefused() throws {
        let code = Array(try codes.code(for: id))
        for index in [2, 20, 40, 53] {
            var forged = code
            forged[index] = forged[index] == "A" ? "B" : "A"
            #expect(codes.ticketId(from: String(forged)) == nil)
        }
        #expect(codes.ticketId(from: "") == nil)
        #expect(codes.ticketId(from: "T1" + String(repeating: "A", count: 52)) == nil)
        #expect(codes.ticketId(from: String(repeating: "x", count: 1000)) == nil)
    }

    @Test func anotherKeysCodeIsRefusedUntilItsKeyIsAdded() throws {
        let other = TicketCodes(commaSeparatedKeys: String(repeating: "o", count: 32))
        let code = try other.code(for: id)
        #expect(codes.ticketId(from: code) == nil)
        let rotated = TicketCodes(
            commaSeparatedKeys: String(repeating: "k", count: 32) + "," + String(repeating: "o", count: 32))
        #expect(rotated.ticketId(from: code) == id)
        #expect(try rotated.code(for: id) == (try codes.code(for: id)))  // the first key signs
    }

    @Test func ticketIdsAreStableUUIDs() {
        #expect(TicketDeliveryCommands.ticketId(orderId: "o-1", seat: 1) == id)
        #expect(TicketDeliveryCommands.ticketId(orderId: "o-1", seat: 2) != id)
        #expect(UUID(uuidString: id) != nil)
        #expect(Array(id)[14] == "8")  // version 8
    }

    @Test func noKeyNoCode() {
        #expect(throws: TicketCodes.Failure.noKey) { try TicketCodes(commaSeparatedKeys: "").code(for: self.id) }
    }

    @Test func base32RoundTrips() {
        for length in 0..<40 {
            let bytes = (0..<length).map { UInt8(($0 * 37 + length) & 0xff) }
            let decoded = Base32.decode(Base32.encode(bytes))
            #expect(decoded.map { Array($0.prefix(length)) } == bytes)
        }
    }
}
