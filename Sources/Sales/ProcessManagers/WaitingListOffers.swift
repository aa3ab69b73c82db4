import Concerts
import EventStore
import Foundation
import Mail
import Orders
import Postgres
import Reservations
import TicketDelivery
import WaitingLists
import Web

/// Tickets came back (a hold expired or was cancelled, a paid order refunded) -> offered to the
/// level's waiting list by its rule (`Offering`): each offered entry gets the tickets held for it
/// for `offerDuration`, under a checkout of its own with its order and payment (as a confirmed
/// cart has), and an e-mail with a link to pay and a link to leave. An offer's order completed
/// -> the entry is done (`OfferAccepted`); its order cancelled (the hold ended unpaid) -> the
/// entry is done too (`OfferLapsed`), and its tickets, back on sale, are offered to whoever is
/// next by the same rule.
///
/// A reactor in the global order, its effects in its checkpoint's transaction. The holds are
/// the tickets' assignment: a ticket cannot be held twice, and the waiting list's append
/// expects the version it decided on, so no ticket is offered twice, also if this ran twice at
/// once. Tickets come back on sale for a moment before this offers them; a buyer who checks
/// out in that moment gets them first (README, "Waiting lists").
struct WaitingListOffers: Projection {
    let name = "waiting_list_offers"
    var kind: ProjectionKind { .reactor }
    let store: StoreSetup
    let waitingLists: WaitingListsContext
    let catalog: ConcertCatalog
    let mail: TicketMailSettings

    func apply(_ events: [RecordedEvent], to target: ProjectionTarget) throws {
        let tx = target.connection
        for recorded in events {
            let metadata = EventMetadata.caused(by: recorded)
            switch recorded.streamType {
            case Reservation.streamType:
                let reservationId: String
                let now: Date
                switch try Reservation.eventTypes.decode(recorded) {
                case .expired(let e): (reservationId, now) = (e.reservationId, e.expiredAt)
                case .cancelled(let e): (reservationId, now) = (e.reservationId, e.cancelledAt)
                case .returned(let e): (reservationId, now) = (e.reservationId, e.returnedAt)
                default: continue
                }
                let reservation = try TicketReservations(connection: tx, inlineProjections: store.inlineProjections)
                    .load(reservationId)
                for levelId in Set(reservation.items.map(\.ticketLevelId)).sorted() {
                    try offer(concertId: reservation.concertId, levelId: levelId, on: tx, metadata: metadata, now: now)
                }
            case TicketOrder.streamType:
                switch try TicketOrder.eventTypes.decode(recorded) {
                case .completed(let e):
                    let checkoutId = try OrderCommands(connection: tx, store: store).load(e.orderId).checkoutId
                    try settle(checkoutId, .accepted(checkoutId: checkoutId, now: e.completedAt), on: tx, metadata)
                case .cancelled(let e):
                    try settle(e.checkoutId, .lapsed(checkoutId: e.checkoutId, now: e.cancelledAt), on: tx, metadata)
                default:
                    continue
                }
            default:
                continue
            }
        }
    }

    /// Records an offer's outcome on its list, when the checkout is an offer.
    func settle(_ checkoutId: String, _ command: WaitingList.Command, on tx: Connection, _ metadata: EventMetadata)
        throws
    {
        guard let entry = try WaitingListQueries.offer(checkoutId: checkoutId, on: tx) else { return }
        try waitingLists.commands(on: tx, store: store).handle(
            command, concertId: entry.concertId, levelId: entry.levelId, metadata: metadata)
    }

    /// Offers what is on sale of a level to its waiting list.
    func offer(concertId: String, levelId: String, on tx: Connection, metadata: EventMetadata, now: Date) throws {
        let lists = waitingLists.commands(on: tx, store: store)
        let list = try lists.load(concertId: concertId, levelId: levelId)
        guard list.entries.contains(where: { $0.status == .waiting }),
            let concert = try catalog.find(id: concertId, on: tx), !concert.isCancelled,
            let level = concert.ticketLevels.first(where: { $0.id == levelId })
        else { return }
        let plan = Offering.plan(ticketsLeft: level.available, entries: list.entries)
        // Hold each offer's tickets, in the rule's order, until one cannot be held (a buyer took
        // them meanwhile): the offers made are then a prefix of the plan, which is what the rule
        // gives for the tickets they hold.
        var held: [(entry: WaitingList.Entry, checkoutId: String, reservations: [ReservationHeld])] = []
        let reservations = TicketReservations(connection: tx, inlineProjections: store.inlineProjections)
        for offer in plan.offers {
            guard let entry = list.entry(offer.entryId) else { continue }
            let checkoutId = UUID.timeOrdered().uuidString.lowercased()
            do {
                let reserved = try reservations.reserve(
                    checkoutId: checkoutId, userId: entry.userId,
                    lines: [
                        TicketReservations.Line(
                            concertId: concertId, ticketLevelId: levelId, quantity: entry.quantity,
                            unitPrice: level.price, currency: concert.currency)
                    ], holdFor: waitingLists.offerDuration, now: now, metadata: metadata, inOrder: true)
                held.append((entry, checkoutId, reserved))
            } catch is ReservationError {
                break
            }
        }
        guard !held.isEmpty else { return }
        let names = try catalog.names(of: [concertId], on: tx)
        let numbers = try OrderCommands(connection: tx, store: store).nextNumbers(held.count)
        for (index, offer) in held.enumerated() {
            let recordPlan = CheckoutRecord.Plan(
                userId: offer.entry.userId, buyerEmail: offer.entry.email, buyerName: offer.entry.name,
                delivery: OrderDelivery(method: "online", email: offer.entry.email, address: nil), concerts: names,
                numbers: [numbers[index]], currency: concert.currency)
            try EventStore(connection: tx, inlineProjections: store.inlineProjections, joinsCallerTransaction: true)
                .appendMany(try CheckoutRecord.appends(recordPlan, held: offer.reservations, metadata: metadata))
        }
        let result = try lists.handle(
            .offer(
                OfferReturnedTickets(
                    ticketsLeft: held.reduce(0) { $0 + $1.entry.quantity },
                    checkoutIds: Dictionary(uniqueKeysWithValues: held.map { ($0.entry.entryId, $0.checkoutId) }),
                    offerDuration: waitingLists.offerDuration, now: now)),
            concertId: concertId, levelId: levelId, metadata: metadata)
        for case .offered(let offered) in result.events {
            guard let entry = list.entry(offered.entryId) else { continue }
            try MailOutbox.enqueue(
                offerMail(offered, entry: entry, concert: concert, levelName: level.name, price: level.price),
                purpose: .waitingList, reference: entry.entryId, on: tx)
        }
    }

    /// The offer's e-mail: what is held, until when, a link to pay, a link to leave.
    func offerMail(
        _ offered: TicketsOffered, entry: WaitingList.Entry, concert: ConcertView, levelName: String, price: Int
    ) -> MailMessage {
        let pay = "\(mail.publicURL)/checkout/\(offered.checkoutId)"
        let leave = mail.publicURL + waitingLists.links.path(for: entry.entryId)
        let what = "\(offered.quantity) × \(levelName), \(concert.label)"
        let until = DateText.display(offered.expiresAt)
        let total = MoneyText.display(price * offered.quantity, concert.currency)
        let text = """
            Hello \(entry.name),

            tickets you were waiting for came back, and they are held for you:
            \(what), \(total) in all.

            Pay by \(until) to have them: \(pay)
            After that they go to the next person in line.

            Not interested any more? Leave the waiting list: \(leave)
            """
        let html = """
            <p>Hello \(HTML.escape(entry.name)),</p>
            <p>tickets you were waiting for came back, and they are held for you:<br>
            <strong>\(HTML.escape(what))</strong>, \(HTML.escape(total)) in all.</p>
            <p><a href="\(HTML.escape(pay))">Pay by \(HTML.escape(until))</a> to have them.
            After that they go to the next person in line.</p>
            <p style="font-size:13px;color:#55556a">Not interested any more?
            <a href="\(HTML.escape(leave))">Leave the waiting list</a>.</p>
            """
        return MailMessage(
            from: mail.from, to: [Mailbox(entry.email, name: entry.name)],
            subject: "Tickets held for you: \(concert.artist)",
            messageId: "offer-\(offered.checkoutId)@\(URL(string: mail.publicURL)?.host ?? "encore.invalid")",
            date: offered.offeredAt, text: text, html: html)
    }
}
