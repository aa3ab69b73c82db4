import EventStore
import Foundation

/// A ticket level's waiting list (stream `waitinglist-<concertId>/<levelId>`): customers who
/// want tickets of a sold-out level, each for a quantity, in the order they joined; and the
/// offers made to them when tickets come back.
///
/// One stream per level, so that one decision sees the whole line and its appends are
/// serialised by the stream's version: two deciders can never offer the same returned ticket.
///
/// The rule (`Offering`) is written down there, with why.
public enum WaitingList: Decider {
    public struct Entry: Sendable, Equatable, Codable {
        public enum Status: String, Sendable, Codable, Equatable {
            case waiting, offered
        }
        public let entryId: String
        public let userId: String
        public let email: String
        public let name: String
        public let quantity: Int
        public var status: Status
        /// How many times a later entry was offered tickets while this one waited.
        public var overtaken: Int
        public var checkoutId: String?
    }

    public struct State: Sendable, Equatable {
        public var concertId = ""
        public var levelId = ""
        /// Waiting and offered entries, in the order they joined. Entries that left, took
        /// their offer or let it lapse are gone.
        public var entries: [Entry] = []

        public func entry(_ entryId: String) -> Entry? { entries.first { $0.entryId == entryId } }
        public func entry(checkoutId: String) -> Entry? { entries.first { $0.checkoutId == checkoutId } }
    }

    public enum Command: Sendable, Equatable {
        case join(JoinWaitingList)
        case leave(LeaveWaitingList)
        case offer(OfferReturnedTickets)
        case accepted(checkoutId: String, now: Date)
        case lapsed(checkoutId: String, now: Date)
    }

    public enum Event: Sendable, Equatable {
        case joined(WaitingListJoined)
        case left(WaitingListLeft)
        case offered(TicketsOffered)
        case overtaken(WaitingListEntryOvertaken)
        case accepted(OfferAccepted)
        case lapsed(OfferLapsed)
    }

    public static let streamType = "waitinglist"
    public static func streamId(concertId: String, levelId: String) -> String {
        "waitinglist-\(concertId)/\(levelId)"
    }

    public static let initial = State()

    /// Most tickets one entry may wait for, as in a cart's line.
    public static let maxQuantity = 10

    public static func evolve(_ state: State, _ event: Event) -> State {
        var next = state
        switch event {
        case .joined(let e):
            next.concertId = e.concertId
            next.levelId = e.levelId
            next.entries.append(
                Entry(
                    entryId: e.entryId, userId: e.userId, email: e.email, name: e.name, quantity: e.quantity,
                    status: .waiting, overtaken: 0, checkoutId: nil))
        case .left(let e):
            next.entries.removeAll { $0.entryId == e.entryId }
        case .offered(let e):
            if let index = next.entries.firstIndex(where: { $0.entryId == e.entryId }) {
                next.entries[index].status = .offered
                next.entries[index].checkoutId = e.checkoutId
            }
        case .overtaken(let e):
            if let index = next.entries.firstIndex(where: { $0.entryId == e.entryId }) {
                next.entries[index].overtaken += 1
            }
        case .accepted(let e):
            next.entries.removeAll { $0.entryId == e.entryId }
        case .lapsed(let e):
            next.entries.removeAll { $0.entryId == e.entryId }
        }
        return next
    }

    public static func decide(_ command: Command, _ state: State) throws -> [Event] {
        switch command {
        case .join(let c):
            guard (1...maxQuantity).contains(c.quantity) else {
                throw WaitingListError.invalid(
                    field: "quantity", message: "Wait for 1 to \(maxQuantity) tickets.")
            }
            if state.entries.contains(where: { $0.userId == c.userId }) {
                // The same entry again (a retried request) changes nothing; another is refused.
                if state.entry(c.entryId) != nil { return [] }
                throw WaitingListError.alreadyWaiting
            }
            guard c.ticketsLeft < c.quantity else { throw WaitingListError.ticketsLeft(c.ticketsLeft) }
            return [
                .joined(
                    WaitingListJoined(
                        entryId: c.entryId, concertId: c.concertId, levelId: c.levelId, userId: c.userId,
                        email: c.email, name: c.name, quantity: c.quantity, joinedAt: c.now))
            ]
        case .leave(let c):
            guard let entry = state.entry(c.entryId) else { return [] }  // gone already
            if let userId = c.userId, entry.userId != userId { throw WaitingListError.notFound }
            return [
                .left(
                    WaitingListLeft(
                        entryId: c.entryId, concertId: state.concertId, levelId: state.levelId, reason: c.reason,
                        leftAt: c.now))
            ]
        case .offer(let c):
            return Offering.decide(c, state)
        case .accepted(let checkoutId, let now):
            guard let entry = state.entry(checkoutId: checkoutId) else { return [] }
            return [
                .accepted(
                    OfferAccepted(
                        entryId: entry.entryId, concertId: state.concertId, levelId: state.levelId,
                        checkoutId: checkoutId, acceptedAt: now))
            ]
        case .lapsed(let checkoutId, let now):
            guard let entry = state.entry(checkoutId: checkoutId) else { return [] }
            return [
                .lapsed(
                    OfferLapsed(
                        entryId: entry.entryId, concertId: state.concertId, levelId: state.levelId,
                        checkoutId: checkoutId, lapsedAt: now))
            ]
        }
    }

    public static let eventTypes = EventTypes<Event> { event in
        switch event {
        case .joined(let e): e
        case .left(let e): e
        case .offered(let e): e
        case .overtaken(let e): e
        case .accepted(let e): e
        case .lapsed(let e): e
        }
    }
    .register(WaitingListJoined.self) { .joined($0) }
    .register(WaitingListLeft.self) { .left($0) }
    .register(TicketsOffered.self) { .offered($0) }
    .register(WaitingListEntryOvertaken.self) { .overtaken($0) }
    .register(OfferAccepted.self) { .accepted($0) }
    .register(OfferLapsed.self) { .lapsed($0) }
}

/// Who is offered returned tickets, in what order. The rule:
///
/// 1. Entries are served in the order they joined. When tickets come back, they are offered
///    to the first waiting entry whose whole quantity they cover (a family of four is offered
///    four or nothing), then to the next such entry with what is left, and so on.
/// 2. So a smaller request behind a larger one goes first only with tickets the larger one
///    cannot use at that moment: otherwise those tickets would go back on general sale while
///    people wait for them. Each time that happens the larger entry is `overtaken`.
/// 3. An entry overtaken `maxOvertaken` times is not overtaken again: from then on nobody
///    behind it is offered anything until it is, and tickets that come back in too small a
///    number for it stay on general sale. Without this a family could wait forever behind a
///    stream of single returns; with it, the longest wait is bounded by three rounds of
///    single tickets going to later entries.
/// 4. An offer holds the tickets for the entry for a while (`offerDuration`); paid, the entry
///    is done; unpaid, the hold ends, the entry is done (it had its turn) and the tickets come
///    back, to be offered by the same rule to whoever is next.
///
/// Entries with an offer open are skipped (they have tickets held already).
public enum Offering {
    public static let maxOvertaken = 3

    /// One offer: which entry, how many tickets, under which checkout.
    public struct Offer: Sendable, Equatable {
        public let entryId: String
        public let quantity: Int
    }

    /// The offers `ticketsLeft` tickets make, in order, and the entries they overtake.
    public static func plan(ticketsLeft: Int, entries: [WaitingList.Entry]) -> (
        offers: [Offer], overtaken: [String]
    ) {
        var free = ticketsLeft
        var offers: [Offer] = []
        var skipped: [String] = []
        var overtaken: [String] = []
        for entry in entries where entry.status == .waiting {
            guard free > 0 else { break }
            if entry.quantity <= free {
                offers.append(Offer(entryId: entry.entryId, quantity: entry.quantity))
                free -= entry.quantity
                overtaken += skipped
                skipped = []
            } else if entry.overtaken >= maxOvertaken {
                break  // rule 3: nobody goes before it any more
            } else {
                skipped.append(entry.entryId)
            }
        }
        // An entry counts as overtaken once per decision, however many went before it.
        var seen = Set<String>()
        return (offers, overtaken.filter { seen.insert($0).inserted })
    }

    static func decide(_ c: OfferReturnedTickets, _ state: WaitingList.State) -> [WaitingList.Event] {
        let (offers, overtaken) = plan(ticketsLeft: c.ticketsLeft, entries: state.entries)
        var events: [WaitingList.Event] = overtaken.map {
            .overtaken(
                WaitingListEntryOvertaken(
                    entryId: $0, concertId: state.concertId, levelId: state.levelId, at: c.now))
        }
        for offer in offers {
            guard let checkoutId = c.checkoutIds[offer.entryId] else { continue }
            events.append(
                .offered(
                    TicketsOffered(
                        entryId: offer.entryId, concertId: state.concertId, levelId: state.levelId,
                        quantity: offer.quantity, checkoutId: checkoutId, offeredAt: c.now,
                        expiresAt: c.now.addingTimeInterval(c.offerDuration))))
        }
        return events
    }
}

/// A business rule of waiting lists that a command broke.
public enum WaitingListError: Error, Equatable, Sendable {
    case notFound
    case alreadyWaiting
    /// Enough tickets are on sale: buy them instead.
    case ticketsLeft(Int)
    case unknownLevel
    case invalid(field: String, message: String)
}
