import EventStore
import Foundation

/// The VAT rate a concert's tickets are invoiced at (stream `vat-rate-<concertId>`), set by
/// its organiser. A concert whose organiser set none is invoiced at `VAT.defaultRate`, Poland's
/// 8% for concert admission. An invoice takes the rate in force when it is issued; changing it
/// later changes no invoice.
public enum ConcertVATRate: Decider {
    public struct State: Sendable, Equatable {
        public var concertId: String?
        /// In basis points; nil while none was set.
        public var rate: Int?
    }

    public enum Command: Sendable, Equatable {
        case set(SetVATRate)
    }

    public enum Event: Sendable, Equatable {
        case set(VATRateSet)
    }

    public static let streamType = "concert_vat_rate"
    public static func streamId(_ concertId: String) -> String { "vat-rate-\(concertId)" }

    public static let initial = State()

    public static func evolve(_ state: State, _ event: Event) -> State {
        switch event {
        case .set(let e): State(concertId: e.concertId, rate: e.rate)
        }
    }

    public static func decide(_ command: Command, _ state: State) throws -> [Event] {
        switch command {
        case .set(let c):
            guard (0...VAT.maxRate).contains(c.rate) else {
                throw FinanceError.invalid(field: "vatRate", message: "A VAT rate is 0 to 100 percent.")
            }
            guard state.rate != c.rate else { return [] }
            return [
                .set(
                    VATRateSet(
                        concertId: c.concertId, rate: c.rate, previousRate: state.rate, setBy: c.setBy, setAt: c.now))
            ]
        }
    }

    public static let eventTypes = EventTypes<Event> { event in
        switch event {
        case .set(let e): e
        }
    }
    .register(VATRateSet.self) { .set($0) }
}

/// The organiser (or an admin) sets the rate of a concert's tickets.
public struct SetVATRate: Sendable, Equatable {
    public let concertId: String
    /// In basis points: 800 is 8%.
    public let rate: Int
    public let setBy: String
    public let now: Date

    public init(concertId: String, rate: Int, setBy: String, now: Date) {
        self.concertId = concertId
        self.rate = rate
        self.setBy = setBy
        self.now = now
    }

    /// A rate as people write it (`8`, `23`, `5.5`): 0 to 100 percent, at most two decimals.
    public static func basisPoints(fromPercent percent: Decimal) throws -> Int {
        var scaled = percent * 100
        var rounded = Decimal()
        NSDecimalRound(&rounded, &scaled, 0, .plain)
        guard rounded == scaled, percent >= 0, percent <= 100 else {
            throw FinanceError.invalid(
                field: "vatRate",
                message: "A VAT rate is a percentage from 0 to 100 with at most two decimals, like 8 or 5.5.")
        }
        return NSDecimalNumber(decimal: rounded).intValue
    }
}

public struct VATRateSet: EventPayload, Equatable {
    public static let eventType = "VATRateSet"
    public let concertId: String
    public let rate: Int
    public let previousRate: Int?
    public let setBy: String
    public let setAt: Date
}
