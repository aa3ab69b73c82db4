import Foundation
import Testing
import Web

@testable import Concerts

/// The concert list's parameters and cursor (the queries themselves run in the e2e tests,
/// against PostgreSQL with `unaccent` and `pg_trgm`).
@Suite struct ConcertSearchTests {
    @Test func wordsAreSplitAtSpacesWithSentencePunctuationTrimmedAndAtMostSix() {
        #expect(ConcertSearch.words(of: "  Beyoncé,  Warsaw! ") == ["Beyoncé", "Warsaw"])
        #expect(ConcertSearch.words(of: "AC/DC") == ["AC/DC"])
        #expect(ConcertSearch.words(of: "! ? ,") == [])
        #expect(ConcertSearch.words(of: "100% _x_") == ["100%", "_x_"])
        #expect(ConcertSearch.words(of: "a b c d e f g h") == ["a", "b", "c", "d", "e", "f"])
    }

    @Test func likeWildcardsInAWordStandForThemselves() {
        #expect(ConcertSearch.likeEscaped("100%_a\\b") == "100\\%\\_a\\\\b")
    }

    @Test func aCursorSurvivesItsTokenExactlyToTheMicrosecond() throws {
        let cursor = ConcertCursor(cancelled: true, startsAtMicros: 1_812_345_678_123_456, id: "concert:with:colons")
        let token = cursor.token
        #expect(token.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
        #expect(ConcertCursor(token: token) == cursor)
        #expect(cursor.startsAtText == "2027-06-07T05:21:18.123456+00")
        #expect(ConcertCursor.start.startsAtText == "-infinity")
    }

    @Test(arguments: [
        "", "x", "not base64!", "MTox", String(repeating: "A", count: 401),
        Data("2:0:1:id".utf8).base64EncodedString(), Data("1:2:1:id".utf8).base64EncodedString(),
        Data("1:0:abc:id".utf8).base64EncodedString(), Data("1:0:1:".utf8).base64EncodedString(),
    ])
    func foreignCursorsAreRefused(token: String) {
        #expect(ConcertCursor(token: token) == nil)
    }

    @Test func theParametersAreReadAndEachBadOneIsNamed() throws {
        let search = try ConcertListInput.search([
            "q": " Beyon  warsaw ", "city": " Kraków ", "from": "2027-06-01", "to": "2027-06-30T22:00:00Z",
            "hasTickets": "true", "limit": "10",
        ])
        #expect(search.words == ["Beyon", "warsaw"])
        #expect(search.city == "Kraków")
        #expect(search.from == .day(LocalDate(parsing: "2027-06-01")!))
        #expect(search.to == .moment(Date(timeIntervalSince1970: 1_814_392_800)))
        #expect(search.hasTickets)
        #expect(search.limit == 10)
        #expect(try ConcertListInput.search([:]) == ConcertSearch())
        #expect(try ConcertListInput.search(["limit": "1000"], limitAllowed: false).limit == 24)

        let bad: [(String, String)] = [
            ("q", String(repeating: "q", count: 201)), ("q", "a\u{7}b"), ("city", String(repeating: "c", count: 101)),
            ("from", "tomorrow"), ("from", "2027-02-30"), ("to", "2027-13-01"), ("hasTickets", "maybe"),
            ("limit", "0"), ("limit", "101"), ("limit", "ten"), ("limit", "99999999999999999999"), ("cursor", "nope"),
        ]
        for (name, value) in bad {
            do {
                _ = try ConcertListInput.search([name: value])
                Issue.record("\(name)=\(value) was accepted")
            } catch let error as HTTPError {
                #expect(error.field == name)
            }
        }
    }

    @Test func theStatementsShapeDependsOnlyOnWhichFiltersArePresent() {
        var one = ConcertSearch()
        one.words = ["beyonce"]
        var two = one
        two.words = ["dua"]
        two.after = ConcertCursor(cancelled: true, startsAtMicros: 1, id: "x")
        let now = Date()
        #expect(one.sql(now: now, hasTicketsSQL: nil).sql == two.sql(now: now, hasTicketsSQL: nil).sql)
        two.city = "Kraków"
        #expect(one.sql(now: now, hasTicketsSQL: nil).sql != two.sql(now: now, hasTicketsSQL: nil).sql)
    }
}
