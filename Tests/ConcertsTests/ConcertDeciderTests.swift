import EventStore
import Foundation
import Testing

@testable import Concerts

/// Every rule of the `Concert` decider, as Given/When/Then.
@Suite struct ConcertDeciderTests {
    static let now = Date(timeIntervalSince1970: 1_780_000_000)
    static let later = now.addingTimeInterval(3_600)
    static let startsAt = now.addingTimeInterval(90 * 86_400)
    static let id = "beyonce-warsaw-2027"
    static let organiser = "0190a1b2-0000-7000-8000-00000000000a"

    static func details(
        artist: String = "Beyoncé", title: String = "Cowboy Carter Tour", venue: String = "PGE Narodowy",
        city: String = "Warsaw", startsAt: Date = startsAt
    ) throws -> ConcertDetails {
        try ConcertDetails(artist: artist, title: title, venue: venue, city: city, startsAt: startsAt)
    }

    static func level(_ id: String, capacity: Int = 2_000, price: Int = 89_900, position: Int = 0) throws
        -> TicketLevel
    {
        try TicketLevel(id: id, name: id.capitalized, capacity: capacity, price: price, position: position)
    }

    static func levels() throws -> [TicketLevel] {
        [
            try level("golden-circle", capacity: 2_000, price: 89_900),
            try level("regular", capacity: 8_000, price: 45_000, position: 1),
        ]
    }

    static func create(
        details: ConcertDetails? = nil, currency: String = "PLN", levels: [TicketLevel]? = nil, at: Date = now
    ) throws -> Concert.Command {
        .create(
            CreateConcert(
                concertId: id, organiserId: organiser, details: try details ?? Self.details(), currency: currency,
                ticketLevels: try levels ?? Self.levels(), now: at))
    }

    static func created() throws -> Concert.Event {
        .created(
            ConcertCreated(
                concertId: id, organiserId: organiser, details: try details(), currency: "PLN",
                ticketLevels: try levels(), createdAt: now))
    }

    static var cancelled: Concert.Event {
        .cancelled(ConcertCancelled(concertId: id, cancelledBy: organiser, reason: "", cancelledAt: later))
    }

    static func invalid(_ field: String) -> (Error) -> Bool {
        { error in
            if case .invalid(let f, let message)? = error as? ConcertError { return f == field && !message.isEmpty }
            return false
        }
    }

    // MARK: creating

    @Test func createsAValidConcert() throws {
        try DeciderSpec<Concert>.given([]).when(try Self.create()).then([try Self.created()])
    }

    @Test func creatingUpperCasesAndTrimsTheCurrency() throws {
        try DeciderSpec<Concert>.given([]).when(try Self.create(currency: " pln ")).then([try Self.created()])
    }

    @Test func stateAfterCreation() throws {
        let state = try DeciderSpec<Concert>.given([]).when(try Self.create(currency: "eur")).thenState()
        #expect(state.exists)
        #expect(state.id == Self.id)
        #expect(state.organiserId == Self.organiser)
        #expect(state.details == (try Self.details()))
        #expect(state.currency == "EUR")
        #expect(state.ticketLevels == (try Self.levels()))
        #expect(!state.isCancelled)
    }

    @Test(arguments: [-1.0, 0.0])
    func creatingAConcertThatStartsInThePastOrNowIsRefused(offset: TimeInterval) throws {
        try DeciderSpec<Concert>.given([])
            .when(try Self.create(details: try Self.details(startsAt: Self.now.addingTimeInterval(offset))))
            .thenThrows(where: Self.invalid("startsAt"))
    }

    @Test func aConcertOneSecondAheadMayBeCreated() throws {
        let soon = try Self.details(startsAt: Self.now.addingTimeInterval(1))
        let events = try Concert.decide(try Self.create(details: soon), Concert.initial)
        #expect(events.count == 1)
    }

    @Test func creatingWithoutTicketLevelsIsRefused() throws {
        try DeciderSpec<Concert>.given([]).when(try Self.create(levels: []))
            .thenThrows(where: Self.invalid("ticketLevels"))
    }

    @Test func creatingWithDuplicateLevelIdsIsRefusedNamingTheSecond() throws {
        let levels = [
            try Self.level("standing"), try Self.level("seated", position: 1),
            try Self.level("standing", position: 2),
        ]
        try DeciderSpec<Concert>.given([]).when(try Self.create(levels: levels))
            .thenThrows(where: Self.invalid("ticketLevels[2].id"))
    }

    @Test(arguments: ["", "PL", "PLNX", "P1N", "zł", "€", "PL N"])
    func creatingWithABadCurrencyIsRefused(currency: String) throws {
        try DeciderSpec<Concert>.given([]).when(try Self.create(currency: currency))
            .thenThrows(where: Self.invalid("currency"))
    }

    @Test func creatingTwiceIsRefused() throws {
        try DeciderSpec<Concert>.given([try Self.created()]).when(try Self.create())
            .thenThrows(ConcertError.alreadyExists)
    }

    @Test func creatingOverACancelledConcertIsRefused() throws {
        try DeciderSpec<Concert>.given([try Self.created(), Self.cancelled]).when(try Self.create())
            .thenThrows(ConcertError.alreadyExists)
    }

    @Test func aFreeLevelAndTheCapacityBoundsAreAccepted() throws {
        let levels = [
            try Self.level("free", capacity: 1, price: 0),
            try Self.level("stadium", capacity: 100_000, price: 100, position: 1),
        ]
        let state = try DeciderSpec<Concert>.given([]).when(try Self.create(levels: levels)).thenState()
        #expect(state.ticketLevels.map(\.capacity) == [1, 100_000])
        #expect(state.ticketLevels.map(\.price) == [0, 100])
    }

    // MARK: updating

    @Test func updatesTheDetails() throws {
        let moved = try Self.details(venue: "Stadion Śląski", city: "Chorzów")
        try DeciderSpec<Concert>.given([try Self.created()])
            .when(.update(UpdateConcert(details: moved, now: Self.later)))
            .then([.updated(ConcertUpdated(concertId: Self.id, details: moved, updatedAt: Self.later))])
    }

    @Test func stateAfterUpdate() throws {
        let moved = try Self.details(artist: "Beyoncé Knowles", startsAt: Self.startsAt.addingTimeInterval(86_400))
        let state = try DeciderSpec<Concert>.given([try Self.created()])
            .when(.update(UpdateConcert(details: moved, now: Self.later))).thenState()
        #expect(state.details == moved)
        #expect(state.ticketLevels == (try Self.levels()))
    }

    @Test func anUnchangedUpdateDecidesNothing() throws {
        try DeciderSpec<Concert>.given([try Self.created()])
            .when(.update(UpdateConcert(details: try Self.details(), now: Self.later))).then([])
    }

    @Test func anUpdateThatDiffersOnlyInWhitespaceDecidesNothing() throws {
        let padded = try Self.details(artist: "  Beyoncé ", title: "Cowboy Carter Tour\n", city: " Warsaw")
        try DeciderSpec<Concert>.given([try Self.created()])
            .when(.update(UpdateConcert(details: padded, now: Self.later))).then([])
    }

    @Test func movingTheConcertIntoThePastIsRefused() throws {
        let past = try Self.details(startsAt: Self.later.addingTimeInterval(-1))
        try DeciderSpec<Concert>.given([try Self.created()])
            .when(.update(UpdateConcert(details: past, now: Self.later)))
            .thenThrows(where: Self.invalid("startsAt"))
    }

    @Test func aConcertThatHasStartedMayStillFixItsTextWithoutMovingTheDate() throws {
        // The start time is unchanged, so it is not re-validated against `now`.
        let afterStart = Self.startsAt.addingTimeInterval(3_600)
        let renamed = try Self.details(title: "Cowboy Carter Tour — Warsaw")
        try DeciderSpec<Concert>.given([try Self.created()])
            .when(.update(UpdateConcert(details: renamed, now: afterStart)))
            .then([.updated(ConcertUpdated(concertId: Self.id, details: renamed, updatedAt: afterStart))])
    }

    @Test func updatingAMissingConcertIsRefused() throws {
        try DeciderSpec<Concert>.given([])
            .when(.update(UpdateConcert(details: try Self.details(), now: Self.later)))
            .thenThrows(ConcertError.notFound)
    }

    @Test func updatingACancelledConcertIsRefused() throws {
        try DeciderSpec<Concert>.given([try Self.created(), Self.cancelled])
            .when(.update(UpdateConcert(details: try Self.details(city: "Gdańsk"), now: Self.later)))
            .thenThrows(ConcertError.cancelled)
    }

    @Test func anUnchangedUpdateOfACancelledConcertIsStillRefused() throws {
        try DeciderSpec<Concert>.given([try Self.created(), Self.cancelled])
            .when(.update(UpdateConcert(details: try Self.details(), now: Self.later)))
            .thenThrows(ConcertError.cancelled)
    }

    // MARK: ticket levels

    @Test func replacesTheTicketLevels() throws {
        let levels = [
            try Self.level("golden-circle", capacity: 2_500, price: 99_900),
            try Self.level("regular", capacity: 8_000, price: 45_000, position: 1),
            try Self.level("vip", capacity: 100, price: 250_000, position: 2),
        ]
        try DeciderSpec<Concert>.given([try Self.created()])
            .when(.updateTicketLevels(UpdateTicketLevels(ticketLevels: levels, now: Self.later)))
            .then([
                .ticketLevelsUpdated(
                    TicketLevelsUpdated(concertId: Self.id, ticketLevels: levels, updatedAt: Self.later))
            ])
    }

    @Test func stateAfterNewLevels() throws {
        let levels = [try Self.level("standing", capacity: 10_000, price: 30_000)]
        let state = try DeciderSpec<Concert>.given([try Self.created()])
            .when(.updateTicketLevels(UpdateTicketLevels(ticketLevels: levels, now: Self.later))).thenState()
        #expect(state.ticketLevels == levels)
        #expect(state.currency == "PLN")
    }

    @Test func unchangedLevelsDecideNothing() throws {
        try DeciderSpec<Concert>.given([try Self.created()])
            .when(.updateTicketLevels(UpdateTicketLevels(ticketLevels: try Self.levels(), now: Self.later)))
            .then([])
    }

    @Test func removingEveryLevelIsRefused() throws {
        try DeciderSpec<Concert>.given([try Self.created()])
            .when(.updateTicketLevels(UpdateTicketLevels(ticketLevels: [], now: Self.later)))
            .thenThrows(where: Self.invalid("ticketLevels"))
    }

    @Test func newLevelsWithDuplicateIdsAreRefused() throws {
        let levels = [try Self.level("regular"), try Self.level("regular", price: 1, position: 1)]
        try DeciderSpec<Concert>.given([try Self.created()])
            .when(.updateTicketLevels(UpdateTicketLevels(ticketLevels: levels, now: Self.later)))
            .thenThrows(where: Self.invalid("ticketLevels[1].id"))
    }

    @Test func levelsOfAMissingConcertAreRefused() throws {
        try DeciderSpec<Concert>.given([])
            .when(.updateTicketLevels(UpdateTicketLevels(ticketLevels: try Self.levels(), now: Self.later)))
            .thenThrows(ConcertError.notFound)
    }

    @Test func levelsOfACancelledConcertAreRefused() throws {
        let levels = [try Self.level("regular", price: 1)]
        try DeciderSpec<Concert>.given([try Self.created(), Self.cancelled])
            .when(.updateTicketLevels(UpdateTicketLevels(ticketLevels: levels, now: Self.later)))
            .thenThrows(ConcertError.cancelled)
    }

    // MARK: cancelling

    @Test func cancelsAConcert() throws {
        try DeciderSpec<Concert>.given([try Self.created()])
            .when(.cancel(CancelConcert(cancelledBy: Self.organiser, reason: "Illness", now: Self.later)))
            .then([
                .cancelled(
                    ConcertCancelled(
                        concertId: Self.id, cancelledBy: Self.organiser, reason: "Illness", cancelledAt: Self.later))
            ])
    }

    @Test func stateAfterCancellation() throws {
        let state = try DeciderSpec<Concert>.given([try Self.created()])
            .when(.cancel(CancelConcert(cancelledBy: Self.organiser, now: Self.later))).thenState()
        #expect(state.isCancelled)
        #expect(state.exists)
        #expect(state.details == (try Self.details()))
    }

    @Test func cancellingTwiceIsRefused() throws {
        try DeciderSpec<Concert>.given([try Self.created(), Self.cancelled])
            .when(.cancel(CancelConcert(cancelledBy: Self.organiser, now: Self.later)))
            .thenThrows(ConcertError.alreadyCancelled)
    }

    @Test func aCancellationReasonIsBounded() throws {
        try DeciderSpec<Concert>.given([try Self.created()])
            .when(
                .cancel(
                    CancelConcert(
                        cancelledBy: Self.organiser, reason: String(repeating: "x", count: 301), now: Self.later))
            )
            .thenThrows(ConcertError.invalid(field: "reason", message: "The reason may have at most 300 characters."))
    }

    @Test func cancellingAMissingConcertIsRefused() throws {
        try DeciderSpec<Concert>.given([])
            .when(.cancel(CancelConcert(cancelledBy: Self.organiser, now: Self.later)))
            .thenThrows(ConcertError.notFound)
    }

    @Test func aConcertMayBeCancelledAfterChanges() throws {
        let levels = [try Self.level("regular", price: 1)]
        let history: [Concert.Event] = [
            try Self.created(),
            .updated(
                ConcertUpdated(concertId: Self.id, details: try Self.details(city: "Gdańsk"), updatedAt: Self.now)),
            .ticketLevelsUpdated(TicketLevelsUpdated(concertId: Self.id, ticketLevels: levels, updatedAt: Self.now)),
        ]
        let state = try DeciderSpec<Concert>.given(history)
            .when(.cancel(CancelConcert(cancelledBy: "admin-1", now: Self.later))).thenState()
        #expect(state.isCancelled)
        #expect(state.details?.city == "Gdańsk")
        #expect(state.ticketLevels == levels)
    }

    // MARK: the stream

    @Test func streamNaming() {
        #expect(Concert.streamType == "concert")
        #expect(Concert.streamId("abc") == "concert-abc")
    }

    @Test func everyEventSurvivesTheStoredJSON() throws {
        let events: [Concert.Event] = [
            try Self.created(),
            .updated(ConcertUpdated(concertId: Self.id, details: try Self.details(title: ""), updatedAt: Self.later)),
            .ticketLevelsUpdated(
                TicketLevelsUpdated(concertId: Self.id, ticketLevels: try Self.levels(), updatedAt: Self.later)),
            Self.cancelled,
        ]
        let names = ["ConcertCreated", "ConcertUpdated", "TicketLevelsUpdated", "ConcertCancelled"]
        for (version, (event, name)) in zip(events, names).enumerated() {
            let new = try Concert.eventTypes.encode(event)
            #expect(new.type == name)
            let recorded = RecordedEvent(
                globalPosition: Int64(version + 1), transactionId: 1, eventId: new.id,
                streamId: Concert.streamId(Self.id), streamType: Concert.streamType, streamVersion: Int64(version + 1),
                eventType: new.type, schemaVersion: new.schemaVersion, data: new.data, metadata: EventMetadata(),
                recordedAt: Self.later)
            #expect(try Concert.eventTypes.decode(recorded) == event)
        }
    }
}
