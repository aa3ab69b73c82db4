import EventStore
import Foundation
import Testing

@testable import Reservations

/// Every rule of the `Reservation` decider, as Given/When/Then.
@Suite struct ReservationDeciderTests {
    typealias Spec = DeciderSpec<Reservation>

    static let now = Date(timeIntervalSince1970: 1_780_000_000)
    static let expiresAt = now.addingTimeInterval(15 * 60)
    static let id = "checkout-1-1"

    static var heldPayload: ReservationHeld {
        ReservationHeld(
            reservationId: id, checkoutId: "checkout-1", userId: "user-1", concertId: "beyonce-warsaw-2027",
            items: [
                ReservedItem(
                    ticketLevelId: "golden-circle", quantity: 3, unitPrice: 89_900, currency: "PLN",
                    shards: [ShardAllocation(shard: 2, quantity: 1), ShardAllocation(shard: 3, quantity: 2)]),
                ReservedItem(
                    ticketLevelId: "regular", quantity: 1, unitPrice: 45_000, currency: "PLN",
                    shards: [ShardAllocation(shard: 0, quantity: 1)]),
            ],
            heldAt: now, expiresAt: expiresAt)
    }

    static var held: Reservation.Event { .held(heldPayload) }
    static func cancelled(_ at: Date = now) -> Reservation.Event {
        .cancelled(ReservationCancelled(reservationId: id, cancelledAt: at))
    }
    static func expired(_ at: Date = expiresAt) -> Reservation.Event {
        .expired(ReservationExpired(reservationId: id, expiredAt: at))
    }
    static func confirmed(_ at: Date = now) -> Reservation.Event {
        .confirmed(ReservationConfirmed(reservationId: id, confirmedAt: at))
    }

    // MARK: holding

    @Test func holds() throws {
        try Spec.given([]).when(.hold(Self.heldPayload)).then([Self.held])
        let state = try Spec.given([]).when(.hold(Self.heldPayload)).thenState()
        #expect(state.id == Self.id)
        #expect(state.status == .held)
        #expect(state.concertId == "beyonce-warsaw-2027")
        #expect(state.userId == "user-1")
        #expect(state.items == Self.heldPayload.items)
        #expect(state.expiresAt == Self.expiresAt)
    }

    @Test func holdsOnce() throws {
        try Spec.given([Self.held]).when(.hold(Self.heldPayload)).thenThrows(ReservationError.alreadyExists)
        try Spec.given([Self.held, Self.cancelled()]).when(.hold(Self.heldPayload))
            .thenThrows(ReservationError.alreadyExists)
    }

    // MARK: cancelling

    @Test func cancelsAHeldReservation() throws {
        try Spec.given([Self.held]).when(.cancel(now: Self.now)).then([Self.cancelled()])
        // also after its time is up, as long as the expiry job has not run
        try Spec.given([Self.held]).when(.cancel(now: Self.expiresAt.addingTimeInterval(5)))
            .then([Self.cancelled(Self.expiresAt.addingTimeInterval(5))])
        #expect(try Spec.given([Self.held]).when(.cancel(now: Self.now)).thenState().status == .cancelled)
    }

    @Test func cancelOnlyWhenHeld() throws {
        try Spec.given([]).when(.cancel(now: Self.now)).thenThrows(ReservationError.notFound)
        try Spec.given([Self.held, Self.cancelled()]).when(.cancel(now: Self.now))
            .thenThrows(ReservationError.alreadyCancelled)
        try Spec.given([Self.held, Self.expired()]).when(.cancel(now: Self.now))
            .thenThrows(ReservationError.alreadyExpired)
        try Spec.given([Self.held, Self.confirmed()]).when(.cancel(now: Self.now))
            .thenThrows(ReservationError.alreadyPaid)
    }

    // MARK: expiring

    @Test func expiresWhenItsTimeIsUp() throws {
        try Spec.given([Self.held]).when(.expire(now: Self.expiresAt)).then([Self.expired()])
        let late = Self.expiresAt.addingTimeInterval(3_600)
        try Spec.given([Self.held]).when(.expire(now: late)).then([Self.expired(late)])
        #expect(try Spec.given([Self.held]).when(.expire(now: late)).thenState().status == .expired)
    }

    @Test func expireBeforeExpiresAt() throws {
        try Spec.given([Self.held]).when(.expire(now: Self.expiresAt.addingTimeInterval(-0.001)))
            .thenThrows(ReservationError.notExpiredYet)
        try Spec.given([Self.held]).when(.expire(now: Self.now)).thenThrows(ReservationError.notExpiredYet)
    }

    @Test func expireOnlyWhenHeld() throws {
        let late = Self.expiresAt.addingTimeInterval(60)
        try Spec.given([]).when(.expire(now: late)).thenThrows(ReservationError.notFound)
        try Spec.given([Self.held, Self.expired()]).when(.expire(now: late)).thenThrows(ReservationError.alreadyExpired)
        try Spec.given([Self.held, Self.cancelled()]).when(.expire(now: late))
            .thenThrows(ReservationError.alreadyCancelled)
        try Spec.given([Self.held, Self.confirmed()]).when(.expire(now: late)).thenThrows(ReservationError.alreadyPaid)
        // a reservation no longer held says so even before its time would be up
        try Spec.given([Self.held, Self.cancelled()]).when(.expire(now: Self.now))
            .thenThrows(ReservationError.alreadyCancelled)
    }

    // MARK: returning a paid reservation's tickets (a refund)

    @Test func onlyAPaidReservationsTicketsAreReturnedAndOnce() throws {
        let returned = Reservation.Event.returned(
            ReservationReturned(reservationId: Self.id, reason: "refunded", returnedAt: Self.now))
        try Spec.given([Self.held, Self.confirmed()]).when(.returnTickets(reason: "refunded", now: Self.now))
            .then([returned])
        try Spec.given([Self.held, Self.confirmed(), returned]).when(.returnTickets(reason: "refunded", now: Self.now))
            .then([])
        try Spec.given([Self.held]).when(.returnTickets(reason: "refunded", now: Self.now))
            .thenThrows(ReservationError.notPaid)
        try Spec.given([Self.held, Self.expired()]).when(.returnTickets(reason: "refunded", now: Self.now))
            .thenThrows(ReservationError.alreadyExpired)
    }

    // MARK: confirming (paid)

    @Test func confirmsAHeldReservation() throws {
        try Spec.given([Self.held]).when(.confirm(now: Self.now)).then([Self.confirmed()])
        #expect(try Spec.given([Self.held]).when(.confirm(now: Self.now)).thenState().status == .confirmed)
    }

    @Test func confirmOnlyWhenHeldAndOnce() throws {
        try Spec.given([]).when(.confirm(now: Self.now)).thenThrows(ReservationError.notFound)
        // Confirmed again (the checkout's settlement, then the process manager's): nothing new.
        try Spec.given([Self.held, Self.confirmed()]).when(.confirm(now: Self.now)).then([])
        try Spec.given([Self.held, Self.cancelled()]).when(.confirm(now: Self.now))
            .thenThrows(ReservationError.alreadyCancelled)
        try Spec.given([Self.held, Self.expired()]).when(.confirm(now: Self.now))
            .thenThrows(ReservationError.alreadyExpired)
    }

    // MARK: the stream

    @Test func naming() {
        #expect(Reservation.streamType == "reservation")
        #expect(Reservation.streamId("abc") == "reservation-abc")
        #expect(TicketReservations.reservationId(checkoutId: "c", index: 0) == "c-1")
        #expect(TicketReservations.reservationId(checkoutId: "c", index: 1) == "c-2")
    }

    @Test func everyEventSurvivesTheStoredJSON() throws {
        let events: [Reservation.Event] = [Self.held, Self.cancelled(), Self.expired(), Self.confirmed()]
        let names = ["ReservationHeld", "ReservationCancelled", "ReservationExpired", "ReservationConfirmed"]
        for (version, (event, name)) in zip(events, names).enumerated() {
            let new = try Reservation.eventTypes.encode(event)
            #expect(new.type == name)
            let recorded = RecordedEvent(
                globalPosition: Int64(version + 1), transactionId: 1, eventId: new.id,
                streamId: Reservation.streamId(Self.id), streamType: Reservation.streamType,
                streamVersion: Int64(version + 1), eventType: new.type, schemaVersion: new.schemaVersion,
                data: new.data, metadata: EventMetadata(), recordedAt: Self.now)
            #expect(try Reservation.eventTypes.decode(recorded) == event)
        }
    }
}
