import EventStore
import Foundation

/// How an order's tickets reach its buyer (stream `delivery-<orderId>`), the seed's
/// `TicketDelivery`: prepared when the order completes; then delivered online (the e-mail
/// accepted by the mail server) or printed and posted (shipped with a tracking number). An
/// e-mail that the server refuses for good is recorded as failed, for the organiser to see.
public enum TicketDelivery: Decider {
    public enum Status: String, Sendable, Codable, Equatable {
        case none, prepared, sent, shipped, failed
    }

    public struct State: Sendable, Equatable {
        public var orderId: String?
        public var method: DeliveryMethod = .online
        public var status: Status = .none
        public var messageId: String?
        public var trackingNumber: String?
    }

    public enum Command: Sendable, Equatable {
        case prepare(PrepareTicketDelivery)
        case deliverOnline(DeliverOnlineTicket)
        case deliverPrinted(DeliverPrintedTicket)
        case recordFailure(RecordDeliveryFailure)
    }

    public enum Event: Sendable, Equatable {
        case prepared(TicketDeliveryPrepared)
        case deliveredOnline(OnlineTicketDelivered)
        case deliveredPrinted(PrintedTicketDelivered)
        case failed(TicketDeliveryFailed)
    }

    public static let streamType = "delivery"
    public static func streamId(_ orderId: String) -> String { "delivery-\(orderId)" }

    public static let initial = State()

    public static func evolve(_ state: State, _ event: Event) -> State {
        var next = state
        switch event {
        case .prepared(let e):
            next.orderId = e.orderId
            next.method = e.method
            next.status = .prepared
            next.messageId = e.messageId
        case .deliveredOnline(let e):
            next.status = .sent
            next.messageId = e.messageId
        case .deliveredPrinted(let e):
            next.status = .shipped
            next.trackingNumber = e.trackingNumber
        case .failed:
            next.status = .failed
        }
        return next
    }

    public static func decide(_ command: Command, _ state: State) throws -> [Event] {
        switch command {
        case .prepare(let c):
            guard state.status == .none else { return [] }  // a replay
            return [.prepared(try Delivering.prepare(c))]
        case .deliverOnline(let c):
            guard state.status != .none else { throw DeliveryError.notFound }
            guard state.method == .online else { throw DeliveryError.wrongMethod(state.method) }
            // The sender may send again after a crash; the first acceptance counts.
            guard state.status != .sent else { return [] }
            return [
                .deliveredOnline(
                    OnlineTicketDelivered(orderId: state.orderId!, messageId: c.messageId, deliveredAt: c.now))
            ]
        case .deliverPrinted(let c):
            guard state.status != .none else { throw DeliveryError.notFound }
            guard state.method == .printed else { throw DeliveryError.wrongMethod(state.method) }
            let tracking = c.trackingNumber.trimmingCharacters(in: .whitespaces)
            if state.status == .shipped {
                guard state.trackingNumber == tracking else {
                    throw DeliveryError.alreadyShipped(state.trackingNumber!)
                }
                return []
            }
            guard (3...64).contains(tracking.count),
                tracking.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == " ") })
            else {
                throw DeliveryError.invalid(
                    field: "trackingNumber", message: "A tracking number is 3 to 64 letters, digits, spaces or dashes.")
            }
            return [
                .deliveredPrinted(
                    PrintedTicketDelivered(
                        orderId: state.orderId!, trackingNumber: tracking,
                        carrier: c.carrier?.trimmingCharacters(in: .whitespaces), shippedAt: c.now))
            ]
        case .recordFailure(let c):
            guard state.status != .none else { throw DeliveryError.notFound }
            guard state.status == .prepared, state.method == .online else { return [] }
            return [.failed(TicketDeliveryFailed(orderId: state.orderId!, reason: c.reason, failedAt: c.now))]
        }
    }

    public static let eventTypes = EventTypes<Event> { event in
        switch event {
        case .prepared(let e): e
        case .deliveredOnline(let e): e
        case .deliveredPrinted(let e): e
        case .failed(let e): e
        }
    }
    .register(TicketDeliveryPrepared.self) { .prepared($0) }
    .register(OnlineTicketDelivered.self) { .deliveredOnline($0) }
    .register(PrintedTicketDelivered.self) { .deliveredPrinted($0) }
    .register(TicketDeliveryFailed.self) { .failed($0) }
}

/// The decisions of `TicketDelivery`, apart from the switch.
enum Delivering {
    static func prepare(_ c: PrepareTicketDelivery) throws -> TicketDeliveryPrepared {
        guard !c.tickets.isEmpty else {
            throw DeliveryError.invalid(field: "tickets", message: "A delivery needs tickets.")
        }
        switch c.method {
        case .online:
            guard let email = c.email, email.contains("@") else {
                throw DeliveryError.invalid(field: "email", message: "Online delivery needs an e-mail address.")
            }
        case .printed:
            guard let address = c.address, !address.filter({ !$0.isEmpty }).isEmpty else {
                throw DeliveryError.invalid(field: "address", message: "Printed delivery needs a postal address.")
            }
        }
        return TicketDeliveryPrepared(
            orderId: c.orderId, orderNumber: c.orderNumber, concert: c.concert, userId: c.userId,
            recipient: c.recipient, method: c.method, email: c.method == .online ? c.email : nil,
            address: c.method == .printed ? c.address : nil, tickets: c.tickets,
            messageId: c.method == .online ? c.messageId : nil, preparedAt: c.now)
    }
}

/// A business rule of deliveries that a command broke.
public enum DeliveryError: Error, Equatable, Sendable {
    case notFound
    case wrongMethod(DeliveryMethod)
    case alreadyShipped(String)
    case invalid(field: String, message: String)
}
