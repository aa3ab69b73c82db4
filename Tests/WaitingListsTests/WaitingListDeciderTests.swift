import EventStore
import Foundation
import Testing

@testable import WaitingLists

/// A level's waiting list, given events / when a command / then events or an error; above all
/// its rule of who is offered returned tickets (`Offering`).
@Suite struct WaitingListDeciderTests {
    typealias Spec = DeciderSpec<WaitingList>
    static let now = Date(timeIntervalSince1970: 1_900_000_000)

    static func joined(_ id: String, _ quantity: Int, user: String? = nil) -> WaitingList.Event {
        .joined(
            WaitingListJoined(
                entryId: id, concertId: "c", levelId: "l", userId: user ?? "u-\(id)", email: "\(id)@example.com",
                name: id, quantity: quantity, joinedAt: now))
    }

    static func join(_ id: String, _ quantity: Int, left: Int = 0, user: String? = nil) -> WaitingList.Command {
        .join(
            JoinWaitingList(
                entryId: id, concertId: "c", levelId: "l", userId: user ?? "u-\(id)", email: "\(id)@example.com",
                name: id, quantity: quantity, ticketsLeft: left, now: now))
    }

    static func offer(_ tickets: Int, _ ids: [String]) -> WaitingList.Command {
        .offer(
            OfferReturnedTickets(
                ticketsLeft: tickets, checkoutIds: Dictionary(uniqueKeysWithValues: ids.map { ($0, "co-\($0)") }),
                offerDuration: 600, now: now))
    }

    static func offered(_ id: String, _ quantity: Int) -> WaitingList.Event {
        .offered(
            TicketsOffered(
                entryId: id, concertId: "c", levelId: "l", quantity: quantity, checkoutId: "co-\(id)", offeredAt: now,
                expiresAt: now.addingTimeInterval(600)))
    }

    static func overtaken(_ id: String) -> WaitingList.Event {
        .overtaken(WaitingListEntryOvertaken(entryId: id, concertId: "c", levelId: "l", at: now))
    }

    @Test func joiningIsOncePerCustomerAndOnlyWhenTooFewAreLeft() throws {
        try Spec.given([]).when(Self.join("a", 4, left: 2)).then([Self.joined("a", 4)])
        try Spec.given([Self.joined("a", 4)]).when(Self.join("a", 4)).then([])  // a retried request
        try Spec.given([Self.joined("a", 4)]).when(Self.join("b", 2, user: "u-a")).thenThrows(
            WaitingListError.alreadyWaiting)
        try Spec.given([]).when(Self.join("a", 2, left: 2)).thenThrows(WaitingListError.ticketsLeft(2))
        for quantity in [0, 11, Int.max] {
            try Spec.given([]).when(Self.join("a", quantity)).thenThrows(where: { $0 is WaitingListError })
        }
    }

    @Test func onlyTheOwnerLeavesAndLeavingTwiceChangesNothing() throws {
        let leave = WaitingList.Command.leave(
            LeaveWaitingList(entryId: "a", userId: "u-a", reason: "customer", now: Self.now))
        let left = WaitingList.Event.left(
            WaitingListLeft(entryId: "a", concertId: "c", levelId: "l", reason: "customer", leftAt: Self.now))
        try Spec.given([Self.joined("a", 2)]).when(leave).then([left])
        try Spec.given([Self.joined("a", 2), left]).when(leave).then([])
        try Spec.given([Self.joined("a", 2)]).when(
            .leave(LeaveWaitingList(entryId: "a", userId: "someone-else", reason: "customer", now: Self.now))
        ).thenThrows(WaitingListError.notFound)
    }

    @Test func returnedTicketsGoInOrderToEntriesTheyCoverWhole() throws {
        // a wants 4, b 1, c 2: three tickets back. a cannot be covered; b and c can, and go first.
        let given = [Self.joined("a", 4), Self.joined("b", 1), Self.joined("c", 2)]
        try Spec.given(given).when(Self.offer(3, ["a", "b", "c"])).then([
            Self.overtaken("a"), Self.offered("b", 1), Self.offered("c", 2),
        ])
        // Four back: a first, whole.
        try Spec.given(given).when(Self.offer(4, ["a", "b", "c"])).then([Self.offered("a", 4)])
    }

    @Test func anEntryOvertakenThreeTimesIsNotOvertakenAgain() throws {
        let given = [
            Self.joined("a", 4), Self.joined("b", 1), Self.overtaken("a"), Self.overtaken("a"), Self.overtaken("a"),
        ]
        // One ticket back: b fits, but a has waited through three rounds: nobody goes before it.
        try Spec.given(given).when(Self.offer(1, ["a", "b"])).then([])
        try Spec.given(given).when(Self.offer(4, ["a", "b"])).then([Self.offered("a", 4)])
    }

    @Test func anOfferEndsTheEntryPaidOrNot() throws {
        let given = [Self.joined("a", 2), Self.offered("a", 2)]
        try Spec.given(given).when(.accepted(checkoutId: "co-a", now: Self.now)).then([
            .accepted(
                OfferAccepted(entryId: "a", concertId: "c", levelId: "l", checkoutId: "co-a", acceptedAt: Self.now))
        ])
        try Spec.given(given).when(.lapsed(checkoutId: "co-a", now: Self.now)).then([
            .lapsed(OfferLapsed(entryId: "a", concertId: "c", levelId: "l", checkoutId: "co-a", lapsedAt: Self.now))
        ])
        try Spec.given(given).when(.lapsed(checkoutId: "another", now: Self.now)).then([])
        // An entry with an offer open is not offered again.
        try Spec.given(given + [Self.joined("b", 2)]).when(Self.offer(2, ["a", "b"])).then([Self.offered("b", 2)])
    }

    /// The rule against a reference written from its words, over many random lines.
    @Test func theRuleHoldsForRandomLines() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let entries = (0..<Int.random(in: 0...12, using: &generator)).map { index in
                WaitingList.Entry(
                    entryId: "e\(index)", userId: "u\(index)", email: "", name: "",
                    quantity: Int.random(in: 1...4, using: &generator),
                    status: Bool.random(using: &generator) && index % 3 == 0 ? .offered : .waiting,
                    overtaken: Int.random(in: 0...3, using: &generator), checkoutId: nil)
            }
            let tickets = Int.random(in: 0...10, using: &generator)
            let (offers, overtaken) = Offering.plan(ticketsLeft: tickets, entries: entries)
            #expect(offers.reduce(0) { $0 + $1.quantity } <= tickets)
            #expect(Set(offers.map(\.entryId)).count == offers.count)
            // Reference: walk in order; serve whoever fits; stop at a blocked entry that does not.
            var free = tickets
            var expected: [String] = []
            for entry in entries where entry.status == .waiting {
                if free == 0 { break }
                if entry.quantity <= free {
                    expected.append(entry.entryId)
                    free -= entry.quantity
                } else if entry.overtaken >= Offering.maxOvertaken {
                    break
                }
            }
            #expect(offers.map(\.entryId) == expected)
            // Overtaken: exactly the waiting entries not offered that come before the last offer.
            let lastOffered = entries.lastIndex { $0.entryId == expected.last }
            let before = lastOffered.map { entries[..<$0] } ?? []
            #expect(
                overtaken == before.filter { $0.status == .waiting && !expected.contains($0.entryId) }.map(\.entryId))
        }
    }
}
