import EventStore
import Foundation
import Testing

@testable import Concerts

/// A concert's time zone: the decider's rules with zones (Given/When/Then), the events stored
/// before zones existed, and the venue's clock across daylight-saving changes (`VenueClock`).
@Suite struct ConcertTimeZoneTests {
    static let id = "dst-concert"
    static let organiser = "0190a1b2-0000-7000-8000-00000000000a"
    /// 2027-03-01T00:00:00Z: before both of 2027's European changes (28 March, 31 October).
    static let now = utc(2027, 3, 1, 0, 0)
    static let levels = [try! TicketLevel(id: "floor", name: "Floor", capacity: 100, price: 10_000)]

    static func utc(_ year: Int, _ month: Int, _ day: Int, _ hour: Int, _ minute: Int) -> Date {
        Date(
            timeIntervalSince1970: TimeInterval(
                CivilDays.days(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60))
    }

    static func local(_ text: String) -> LocalDateTime { LocalDateTime(parsing: text)! }

    static func details(at local: String, in zone: String = "Europe/Warsaw") throws -> ConcertDetails {
        try ConcertDetails(
            artist: "Beyoncé", title: "", venue: "PGE Narodowy", city: "Warsaw", localStart: Self.local(local),
            timeZone: zone)
    }

    static func create(_ details: ConcertDetails, at now: Date = now) -> Concert.Command {
        .create(
            CreateConcert(
                concertId: id, organiserId: organiser, details: details, currency: "PLN", ticketLevels: levels, now: now
            ))
    }

    static func created(_ details: ConcertDetails, at moment: Date = now) -> Concert.Event {
        .created(
            ConcertCreated(
                concertId: id, organiserId: organiser, details: details, currency: "PLN", ticketLevels: levels,
                createdAt: moment))
    }

    static func startsAt(_ events: [Concert.Event]) -> Date? {
        if case .created(let e)? = events.first { return e.details.startsAt }
        if case .updated(let e)? = events.first { return e.details.startsAt }
        return nil
    }

    // MARK: the decider

    @Test func aConcertIsCreatedWithItsVenuesZoneAndTheMomentOfItsLocalTime() throws {
        let details = try Self.details(at: "2027-06-05T19:00")
        #expect(details.startsAt == Self.utc(2027, 6, 5, 17, 0))  // CEST, UTC+2
        #expect(details.timeZone == "Europe/Warsaw")
        try DeciderSpec<Concert>.given([]).when(Self.create(details)).then([Self.created(details)])
    }

    @Test func theFutureIsJudgedOnTheMomentNotOnTheClockFace() throws {
        // At 17:30 UTC it is 19:30 in Warsaw: a concert at 19:00 Warsaw time has started,
        // though 19:00 is later than 17:30.
        let evening = Self.utc(2027, 6, 5, 17, 30)
        try DeciderSpec<Concert>.given([]).when(Self.create(try Self.details(at: "2027-06-05T19:00"), at: evening))
            .thenThrows {
                ($0 as? ConcertError).map { if case .invalid("startsAt", _) = $0 { true } else { false } } ?? false
            }
        let later = try Self.details(at: "2027-06-05T19:45")
        try DeciderSpec<Concert>.given([]).when(Self.create(later, at: evening)).then([Self.created(later, at: evening)]
        )
    }

    @Test func settingTheZoneOfAConcertKeepsItsMomentAndIsAllowedAfterItStarted() throws {
        let inUTC = try ConcertDetails(
            artist: "Beyoncé", title: "", venue: "PGE Narodowy", city: "Warsaw", startsAt: Self.utc(2027, 6, 5, 17, 0))
        #expect(inUTC.timeZone == "UTC")
        let inWarsaw = try ConcertDetails(
            artist: "Beyoncé", title: "", venue: "PGE Narodowy", city: "Warsaw", startsAt: Self.utc(2027, 6, 5, 17, 0),
            timeZone: "Europe/Warsaw")
        let afterStart = Self.utc(2027, 6, 5, 18, 0)
        try DeciderSpec<Concert>.given([Self.created(inUTC)])
            .when(.update(UpdateConcert(details: inWarsaw, now: afterStart)))
            .then([.updated(ConcertUpdated(concertId: Self.id, details: inWarsaw, updatedAt: afterStart))])
        #expect(inWarsaw.localStart == Self.local("2027-06-05T19:00"))
    }

    @Test func theSameLocalTimeInAnotherZoneIsAnotherMoment() throws {
        let warsaw = try Self.details(at: "2027-06-05T19:00")
        let london = try Self.details(at: "2027-06-05T19:00", in: "Europe/London")
        let events = try Concert.decide(
            .update(UpdateConcert(details: london, now: Self.now)), Concert.fold([Self.created(warsaw)]))
        #expect(Self.startsAt(events) == Self.utc(2027, 6, 5, 18, 0))  // BST, UTC+1
    }

    @Test func anOverlappingTimeIsTheFirstOfTheTwo() throws {
        // 31 Oct 2027, Warsaw: at 03:00 CEST the clocks go back to 02:00 CET; 02:30 happens twice.
        let details = try Self.details(at: "2027-10-31T02:30")
        #expect(
            VenueClock.moments(of: Self.local("2027-10-31T02:30"), in: TimeZone(identifier: "Europe/Warsaw")!) == [
                Self.utc(2027, 10, 31, 0, 30), Self.utc(2027, 10, 31, 1, 30),
            ])
        try DeciderSpec<Concert>.given([]).when(Self.create(details)).then([Self.created(details)])
        #expect(details.startsAt == Self.utc(2027, 10, 31, 0, 30))
        #expect(
            VenueTimeText.display(details.startsAt, zone: details.timeZone)
                == "Sun 31 Oct 2027, 02:30 CEST, Warsaw time")
    }

    @Test func aTimeTheClocksSkipIsRefusedNamingTheJump() throws {
        // 28 Mar 2027, Warsaw: at 02:00 CET the clocks go forward to 03:00 CEST.
        #expect(
            VenueClock.moments(of: Self.local("2027-03-28T02:30"), in: TimeZone(identifier: "Europe/Warsaw")!).isEmpty)
        do {
            _ = try Self.details(at: "2027-03-28T02:30")
            Issue.record("a time in the gap was accepted")
        } catch ConcertError.invalid(let field, let message) {
            #expect(field == "startsAt")
            #expect(message.contains("There is no 02:30 on 28 Mar 2027 in Europe/Warsaw"))
            #expect(message.contains("from 02:00 to 03:00"))
        }
        // Either side of the gap is fine.
        #expect(try Self.details(at: "2027-03-28T01:59").startsAt == Self.utc(2027, 3, 28, 0, 59))
        #expect(try Self.details(at: "2027-03-28T03:00").startsAt == Self.utc(2027, 3, 28, 1, 0))
    }

    @Test(arguments: [
        // New York: 14 Mar 2027 02:00 EST -> 03:00 EDT; 7 Nov 2027 02:00 EDT -> 01:00 EST.
        ("America/New_York", "2027-03-14T02:30", [Date]()),
        ("America/New_York", "2027-11-07T01:30", [utc(2027, 11, 7, 5, 30), utc(2027, 11, 7, 6, 30)]),
        // Sydney, in the southern hemisphere: 3 Oct 2027 02:00 -> 03:00; 4 Apr 2027 03:00 -> 02:00.
        ("Australia/Sydney", "2027-10-03T02:30", []),
        ("Australia/Sydney", "2027-04-04T02:30", [utc(2027, 4, 3, 15, 30), utc(2027, 4, 3, 16, 30)]),
        // Lord Howe moves by half an hour.
        ("Australia/Lord_Howe", "2027-10-03T02:15", []),
        ("Australia/Lord_Howe", "2027-10-03T02:30", [utc(2027, 10, 2, 15, 30)]),
        // No change that day.
        ("Asia/Kolkata", "2027-03-28T02:30", [utc(2027, 3, 27, 21, 0)]),
    ])
    func momentsAcrossTheWorldsChanges(zone: String, local: String, expected: [Date]) {
        #expect(VenueClock.moments(of: Self.local(local), in: TimeZone(identifier: zone)!) == expected)
    }

    // MARK: events stored before zones

    static func recorded(_ type: String, schema: Int, data: String, version: Int64 = 1) -> RecordedEvent {
        RecordedEvent(
            globalPosition: version, transactionId: 1, eventId: UUID(), streamId: Concert.streamId(id),
            streamType: Concert.streamType, streamVersion: version, eventType: type, schemaVersion: schema, data: data,
            metadata: EventMetadata(), recordedAt: now)
    }

    static let detailsV1 = """
        {"artist":"Beyoncé","title":"","venue":"PGE Narodowy","city":"Warsaw","startsAt":"2027-04-05T06:00:00.000Z"}
        """

    @Test func eventsOfSchemaOneAreReadInUTCTheirTimesMeant() throws {
        let created = Self.recorded(
            "ConcertCreated", schema: 1,
            data: """
                {"concertId":"\(Self.id)","organiserId":"\(Self.organiser)","details":\(Self.detailsV1),"currency":"PLN",\
                "ticketLevels":[{"id":"floor","name":"Floor","capacity":100,"price":10000}],"createdAt":"2027-03-01T00:00:00.000Z"}
                """)
        let updated = Self.recorded(
            "ConcertUpdated", schema: 1,
            data: """
                {"concertId":"\(Self.id)","details":\(Self.detailsV1.replacingOccurrences(of: "Warsaw\"", with: "Warszawa\"")),\
                "updatedAt":"2027-03-02T00:00:00.000Z"}
                """, version: 2)
        let events = try [created, updated].map { try Concert.eventTypes.decode($0) }
        let state = Concert.fold(events)
        #expect(state.details?.timeZone == "UTC")
        #expect(state.details?.city == "Warszawa")
        #expect(state.details?.startsAt == Self.utc(2027, 4, 5, 6, 0))
        #expect(VenueTimeText.display(state.details!.startsAt, zone: "UTC") == "Mon 5 Apr 2027, 06:00 UTC")
        // New events are stored with schema 2 and their zone.
        let new = try Concert.eventTypes.encode(Self.created(try Self.details(at: "2027-06-05T19:00")))
        #expect(new.schemaVersion == 2)
        #expect(new.data.contains("\"timeZone\":\"Europe/Warsaw\""))
    }

    // MARK: zones

    @Test(arguments: ["Europe/Warsaw", "UTC", "America/New_York", "Asia/Kolkata", "America/Argentina/Buenos_Aires"])
    func knownZonesAreAccepted(zone: String) throws {
        #expect(try VenueTimeZone.validate(" \(zone) ") == zone)
    }

    @Test(arguments: [
        "", "europe/warsaw", "GMT+2", "Europe/Nowhere", "../../etc/passwd", "Europe/Warsaw\u{0}", "Warsaw",
    ])
    func unknownZonesAreRefusedNamingTheField(zone: String) {
        #expect(throws: ConcertError.self) { try VenueTimeZone.validate(zone) }
        do {
            _ = try ConcertDetails(
                artist: "A", title: "", venue: "V", city: "C", startsAt: Self.now, timeZone: zone)
        } catch ConcertError.invalid(let field, _) {
            #expect(field == "timeZone")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func theFirstInvalidFieldIsNamedBeforeTheZoneAndTheZoneBeforeTheTime() {
        #expect(throws: ConcertError.invalid(field: "artist", message: "The artist is required.")) {
            try ConcertDetails(
                artist: "", title: "", venue: "V", city: "C", localStart: Self.local("2027-03-28T02:30"),
                timeZone: "Nowhere")
        }
        #expect(throws: ConcertError.self) {
            try ConcertDetails(
                artist: "A", title: "", venue: "V", city: "C", localStart: Self.local("2027-03-28T02:30"),
                timeZone: "Nowhere")
        }
    }

    // MARK: the venue's clock on the pages

    @Test(arguments: [
        (
            utc(2027, 6, 5, 17, 0), "Europe/Warsaw", "Sat 5 Jun 2027, 19:00 CEST, Warsaw time",
            "2027-06-05T19:00:00+02:00"
        ),
        (
            utc(2027, 1, 15, 18, 0), "Europe/Warsaw", "Fri 15 Jan 2027, 19:00 CET, Warsaw time",
            "2027-01-15T19:00:00+01:00"
        ),
        (
            utc(2027, 3, 27, 18, 0), "Europe/Warsaw", "Sat 27 Mar 2027, 19:00 CET, Warsaw time",
            "2027-03-27T19:00:00+01:00"
        ),
        (
            utc(2027, 3, 28, 17, 0), "Europe/Warsaw", "Sun 28 Mar 2027, 19:00 CEST, Warsaw time",
            "2027-03-28T19:00:00+02:00"
        ),
        (
            utc(2027, 7, 4, 0, 30), "America/New_York", "Sat 3 Jul 2027, 20:30 EDT, New York time",
            "2027-07-03T20:30:00-04:00"
        ),
        (
            utc(2027, 12, 4, 1, 30), "America/New_York", "Fri 3 Dec 2027, 20:30 EST, New York time",
            "2027-12-03T20:30:00-05:00"
        ),
        (
            utc(2027, 6, 5, 14, 0), "Asia/Kolkata", "Sat 5 Jun 2027, 19:30 IST, Kolkata time",
            "2027-06-05T19:30:00+05:30"
        ),
        (
            utc(2027, 6, 5, 16, 0), "Europe/Istanbul", "Sat 5 Jun 2027, 19:00 UTC+3, Istanbul time",
            "2027-06-05T19:00:00+03:00"
        ),
        (utc(2027, 6, 5, 19, 0), "UTC", "Sat 5 Jun 2027, 19:00 UTC", "2027-06-05T19:00:00+00:00"),
    ])
    func pagesShowTheVenuesClockWithItsZone(moment: Date, zone: String, display: String, iso: String) {
        #expect(VenueTimeText.display(moment, zone: zone) == display)
        #expect(VenueTimeText.iso(moment, zone: zone) == iso)
    }

    @Test func posixRulesGiveTheNamesAfterTheLastTransition() {
        let rule = ZoneAbbreviations.rule("CET-1CEST,M3.5.0,M10.5.0/3")
        #expect(rule.map(\.name) == ["CET", "CEST"])
        #expect(rule.map(\.offset) == [3600, 7200])
        #expect(ZoneAbbreviations.rule("<+03>-3").map(\.name) == ["+03"])
        #expect(ZoneAbbreviations.rule("EST5EDT,M3.2.0,M11.1.0").map(\.offset) == [-18000, -14400])
        #expect(ZoneAbbreviations.numeric(19_800) == "UTC+5:30")
        #expect(ZoneAbbreviations.numeric(-10_800) == "UTC-3")
    }
}
