/// A Stripe Refund.
public struct Refund: Sendable, Equatable, Decodable, CustomStringConvertible {
    public let id: String
    /// In the currency's minor units.
    public let amount: Int
    public let currency: String
    /// `pending`, `requires_action`, `succeeded`, `failed` or `canceled`.
    public let status: String?
    public let paymentIntent: String?
    public let charge: String?
    public let metadata: [String: String]
    public let created: Int?

    public var description: String { "Refund(\(id), \(amount) \(currency), \(status ?? "?"))" }

    enum CodingKeys: String, CodingKey {
        case id, amount, currency, status, charge, metadata, created
        case paymentIntent = "payment_intent"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        amount = try container.decode(Int.self, forKey: .amount)
        currency = try container.decode(String.self, forKey: .currency)
        status = try container.decodeIfPresent(String.self, forKey: .status)
        paymentIntent = try container.decodeIfPresent(ExpandableID.self, forKey: .paymentIntent)?.id
        charge = try container.decodeIfPresent(ExpandableID.self, forKey: .charge)?.id
        metadata = try container.decodeIfPresent([String: String].self, forKey: .metadata) ?? [:]
        created = try container.decodeIfPresent(Int.self, forKey: .created)
    }
}

/// A Stripe Charge (what `charge.*` events carry, `charge.refunded` among them).
public struct Charge: Sendable, Equatable, Decodable, CustomStringConvertible {
    public let id: String
    public let amount: Int
    /// How much of `amount` has been refunded, in minor units.
    public let amountRefunded: Int
    public let currency: String
    /// `succeeded`, `pending` or `failed`.
    public let status: String?
    /// Whether the whole amount has been refunded.
    public let refunded: Bool
    public let paymentIntent: String?
    /// The charge's refunds, where the object lists them: API versions from 2022-11-15 on list
    /// them only when asked to (`expand[]=refunds`), and webhook events never expand.
    public let refunds: [Refund]?
    public let failureCode: String?
    public let failureMessage: String?
    public let created: Int?

    public var description: String {
        "Charge(\(id), \(amount) \(currency), refunded \(amountRefunded), \(status ?? "?"))"
    }

    enum CodingKeys: String, CodingKey {
        case id, amount, currency, status, refunded, refunds, created
        case amountRefunded = "amount_refunded"
        case paymentIntent = "payment_intent"
        case failureCode = "failure_code"
        case failureMessage = "failure_message"
    }

    private struct RefundList: Decodable { var data: [Refund] }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        amount = try container.decode(Int.self, forKey: .amount)
        amountRefunded = try container.decodeIfPresent(Int.self, forKey: .amountRefunded) ?? 0
        currency = try container.decode(String.self, forKey: .currency)
        status = try container.decodeIfPresent(String.self, forKey: .status)
        refunded = try container.decodeIfPresent(Bool.self, forKey: .refunded) ?? false
        paymentIntent = try container.decodeIfPresent(ExpandableID.self, forKey: .paymentIntent)?.id
        refunds = try container.decodeIfPresent(RefundList.self, forKey: .refunds)?.data
        failureCode = try container.decodeIfPresent(String.self, forKey: .failureCode)
        failureMessage = try container.decodeIfPresent(String.self, forKey: .failureMessage)
        created = try container.decodeIfPresent(Int.self, forKey: .created)
    }
}

/// A Stripe PaymentMethod (only what the tests and the emulator's flow need).
public struct PaymentMethod: Sendable, Equatable, Decodable, CustomStringConvertible {
    public let id: String
    public let type: String
    public let card: Card?

    public struct Card: Sendable, Equatable, Decodable {
        public let brand: String?
        public let last4: String?
    }

    public var description: String { "PaymentMethod(\(id), \(type) \(card?.last4 ?? ""))" }
}

/// Raw card details, for `StripeClient.createPaymentMethod`: only Stripe's test mode and the
/// localstripe emulator take them from a server. Real card numbers go from the browser to
/// Stripe.js and never pass through Encore. The description shows the last four digits only.
public struct CardDetails: Sendable, CustomStringConvertible, CustomReflectable {
    let number: String
    let expMonth: Int
    let expYear: Int
    let cvc: String

    public init(number: String, expMonth: Int, expYear: Int, cvc: String) {
        self.number = number.filter(\.isNumber)
        self.expMonth = expMonth
        self.expYear = expYear
        self.cvc = cvc
    }

    public var description: String { "card ending in \(number.suffix(4))" }
    public var customMirror: Mirror { Mirror(self, children: ["last4": String(number.suffix(4))]) }
}
