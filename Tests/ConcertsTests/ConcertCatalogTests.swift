import EventStore
import Foundation
import Postgres
import TestSupport
import Testing

@testable import Concerts

/// The `concerts` read model and its list against real PostgreSQL (with `unaccent` and
/// `pg_trgm`, which the projection's tables bring): what the default list leaves out, the
/// keyset order across scheduled and cancelled concerts to the microsecond, accents in SQL,
/// and events stored before time zones.
@Suite struct ConcertCatalogTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)  // 2027-01-15T08:00:00Z
    static let organiser = "org-1"

    struct World {
        let connection: Connection
        let commands: ConcertCommands
        let catalog = ConcertCatalog(ticketCounts: .none)

        init(_ name: String = #function) throws {
            let url = try TestDatabases.fresh(prefix: "encore_concerts_t", name, projections: [ConcertsProjection()])
            connection = try Connection(url: url)
            commands = ConcertCommands(connection: connection, inlineProjections: [ConcertsProjection()])
        }

        @discardableResult
        func create(
            _ id: String, artist: String = "Artist", city: String = "Warsaw", at start: Date, zone: String = "UTC",
            createdAt: Date = ConcertCatalogTests.now
        ) throws -> String {
            try commands.create(
                organiserId: ConcertCatalogTests.organiser,
                details: try ConcertDetails(
                    artist: artist, title: "", venue: "Hall", city: city, startsAt: start, timeZone: zone),
                currency: "PLN", ticketLevels: [try TicketLevel(id: "floor", name: "Floor", capacity: 10, price: 100)],
                concertId: id, now: createdAt)
        }

        func ids(_ search: ConcertSearch = ConcertSearch(), now: Date = ConcertCatalogTests.now) throws -> [String] {
            try catalog.discover(search, now: now, on: connection).concerts.map(\.id)
        }

        /// Every page of `search`, `limit` at a time.
        func allPages(_ search: ConcertSearch, now: Date = ConcertCatalogTests.now) throws -> [[String]] {
            var search = search
            var pages: [[String]] = []
            while true {
                let page = try catalog.discover(search, now: now, on: connection)
                pages.append(page.concerts.map(\.id))
                guard let next = page.next else { return pages }
                search.after = next
            }
        }
    }

    static func hours(_ count: Double) -> TimeInterval { count * 3600 }

    @Test func theDefaultListLeavesOutConcertsThatStartedMoreThanSixHoursAgo() throws {
        let world = try World()
        let created = Self.now.addingTimeInterval(-Self.hours(48))
        try world.create("long-ago", at: Self.now.addingTimeInterval(-Self.hours(7)), createdAt: created)
        try world.create("tonight", at: Self.now.addingTimeInterval(-Self.hours(5)), createdAt: created)
        try world.create("tomorrow", at: Self.now.addingTimeInterval(Self.hours(24)), createdAt: created)
        #expect(try world.ids() == ["tonight", "tomorrow"])
        var since = ConcertSearch()
        since.from = .moment(Self.now.addingTimeInterval(-Self.hours(100)))
        #expect(try world.ids(since) == ["long-ago", "tonight", "tomorrow"])
        // A day later, all three are past.
        #expect(try world.ids(now: Self.now.addingTimeInterval(Self.hours(31))) == [])
    }

    @Test func pagesFollowTheKeysetScheduledThenCancelledToTheMicrosecond() throws {
        let world = try World()
        let base = Self.now.addingTimeInterval(Self.hours(24))
        // Starts 1 ms apart, and two at the same moment (the id decides).
        for (index, id) in ["a", "b", "c", "d", "e"].enumerated() {
            try world.create(id, at: base.addingTimeInterval(Double(index) * 0.001))
        }
        try world.create("c2", at: base.addingTimeInterval(0.002))
        try world.create("x-cancelled", at: base.addingTimeInterval(-1))
        try world.create("y-cancelled", at: base.addingTimeInterval(5))
        try world.commands.cancel("x-cancelled", by: Self.organiser, now: Self.now)
        try world.commands.cancel("y-cancelled", by: Self.organiser, now: Self.now)
        var search = ConcertSearch()
        search.limit = 2
        let pages = try world.allPages(search)
        #expect(pages == [["a", "b"], ["c", "c2"], ["d", "e"], ["x-cancelled", "y-cancelled"]])

        // A concert added behind the cursor never shows; one ahead of it does, once.
        let first = try world.catalog.discover(search, now: Self.now, on: world.connection)
        try world.create("before-a", at: base.addingTimeInterval(-0.5))
        try world.create("after-e", at: base.addingTimeInterval(1))
        search.after = first.next
        #expect(
            try world.allPages(search).flatMap { $0 } == ["c", "c2", "d", "e", "after-e", "x-cancelled", "y-cancelled"])
    }

    @Test func searchFoldsAccentsAndCaseInTheDatabase() throws {
        let world = try World()
        let start = Self.now.addingTimeInterval(Self.hours(24))
        try world.create("lona", artist: "Łona i Webber", city: "Łódź", at: start)
        try world.create("beyonce", artist: "Beyoncé", city: "Warszawa", at: start.addingTimeInterval(60))
        try world.create("arzte", artist: "Die Ärzte", city: "Düsseldorf", at: start.addingTimeInterval(120))
        func search(_ text: String, city: String = "") throws -> [String] {
            var search = ConcertSearch()
            search.words = ConcertSearch.words(of: text)
            search.city = city
            return try world.ids(search)
        }
        // More than five times each: past the runs after which PostgreSQL may keep a generic plan.
        for _ in 0..<7 {
            #expect(try search("LODZ") == ["lona"])
            #expect(try search("beyon") == ["beyonce"])
        }
        #expect(try search("ÄRZTE dusseldorf") == ["arzte"])
        #expect(try search("", city: "lodz") == ["lona"])
        #expect(try search("zz") == [])
    }

    @Test func aLocalDayFilterReadsTheVenuesCalendar() throws {
        let world = try World()
        // 00:30 on 6 June in Warsaw (22:30 UTC on the 5th), and 20:00 on 5 June in New York (00:00 UTC on the 6th).
        try world.create("warsaw", at: Date(timeIntervalSince1970: 1_812_234_600), zone: "Europe/Warsaw")
        try world.create("new-york", at: Date(timeIntervalSince1970: 1_812_240_000), zone: "America/New_York")
        var sixth = ConcertSearch()
        sixth.from = .day(LocalDate(parsing: "2027-06-06")!)
        sixth.to = .day(LocalDate(parsing: "2027-06-06")!)
        #expect(try world.ids(sixth) == ["warsaw"])
        var fifth = ConcertSearch()
        fifth.to = .day(LocalDate(parsing: "2027-06-05")!)
        #expect(try world.ids(fifth) == ["new-york"])
    }

    @Test func aConcertStoredBeforeTimeZonesIsReadInUTC() throws {
        let world = try World()
        let store = EventStore(connection: world.connection, inlineProjections: [ConcertsProjection()])
        try store.append(
            to: Concert.streamId("old"), type: Concert.streamType, expectedVersion: .noStream,
            events: [
                NewEvent(
                    type: "ConcertCreated", schemaVersion: 1,
                    data: """
                        {"concertId":"old","organiserId":"org-1","details":{"artist":"Old Times","title":"","venue":"Hall",\
                        "city":"Warsaw","startsAt":"2027-04-05T06:00:00.000Z"},"currency":"PLN",\
                        "ticketLevels":[{"id":"floor","name":"Floor","capacity":10,"price":100}],\
                        "createdAt":"2027-01-01T00:00:00.000Z"}
                        """)
            ])
        let concert = try #require(try world.catalog.find(id: "old", on: world.connection))
        #expect(concert.timeZone == "UTC")
        #expect(concert.startsAt == Date(timeIntervalSince1970: 1_806_904_800))
        #expect(try world.ids() == ["old"])
        // Setting its zone through the commands keeps the moment.
        let state = try world.commands.load("old")
        try world.commands.update(
            "old",
            details: try ConcertDetails(
                artist: "Old Times", title: "", venue: "Hall", city: "Warsaw", startsAt: state.details!.startsAt,
                timeZone: "Europe/Warsaw"), now: Self.now)
        let updated = try #require(try world.catalog.find(id: "old", on: world.connection))
        #expect((updated.timeZone, updated.startsAt) == ("Europe/Warsaw", concert.startsAt))
    }
}
