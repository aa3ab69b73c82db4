/// A Stripe PaymentIntent, as far as a checkout needs it.
public struct PaymentIntent: Sendable, Equatable, Decodable, CustomStringConvertible {
    public enum Status: Sendable, Equatable {
        case requiresPaymentMethod, requiresConfirmation, requiresAction, processing, requiresCapture, canceled
        case succeeded
        /// A status this client does not know (a newer API version's).
        case other(String)

        public init(_ raw: String) {
            switch raw {
            case "requires_payment_method": self = .requiresPaymentMethod
            case "requires_confirmation": self = .requiresConfirmation
            case "requires_action": self = .requiresAction
            case "processing": self = .processing
            case "requires_capture": self = .requiresCapture
            case "canceled": self = .canceled
            case "succeeded": self = .succeeded
            default: self = .other(raw)
            }
        }

        public var rawValue: String {
            switch self {
            case .requiresPaymentMethod: "requires_payment_method"
            case .requiresConfirmation: "requires_confirmation"
            case .requiresAction: "requires_action"
            case .processing: "processing"
            case .requiresCapture: "requires_capture"
            case .canceled: "canceled"
            case .succeeded: "succeeded"
            case .other(let raw): raw
            }
        }
    }

    public let id: String
    /// In the currency's minor units.
    public let amount: Int
    /// Lower-case ISO 4217 code, as Stripe writes it (`pln`).
    public let currency: String
    public let status: Status
    /// What the browser's Stripe.js needs to finish a payment (`confirmCardPayment`). Whoever
    /// has it can complete the payment: hand it only to the paying customer, never log it.
    public let clientSecret: String?
    public let metadata: [String: String]
    /// The attached PaymentMethod's id (`pm_...`, or `card_...` for a card from a token).
    public let paymentMethod: String?
    /// Why the last attempt failed, when it did (status back to `requiresPaymentMethod`).
    public let lastPaymentError: PaymentError?
    /// The id of the latest charge: `latest_charge` (an id, or an object where it is expanded,
    /// as the emulator always does), else the first of the older API versions' `charges`.
    public let latestCharge: String?
    /// `next_action.type` when the status is `requiresAction` (`use_stripe_sdk`, `redirect_to_url`).
    public let nextActionType: String?
    public let cancellationReason: String?
    /// Unix time in seconds.
    public let created: Int?

    /// The error of the last failed attempt (`last_payment_error`).
    public struct PaymentError: Sendable, Equatable, Decodable {
        public let type: String?
        public let code: String?
        public let declineCode: String?
        public let message: String?

        enum CodingKeys: String, CodingKey {
            case type, code, message
            case declineCode = "decline_code"
        }
    }

    public var description: String {
        "PaymentIntent(\(id), \(amount) \(currency), \(status.rawValue))"
    }

    enum CodingKeys: String, CodingKey {
        case id, amount, currency, status, metadata, charges, created
        case clientSecret = "client_secret"
        case paymentMethod = "payment_method"
        case lastPaymentError = "last_payment_error"
        case latestCharge = "latest_charge"
        case nextAction = "next_action"
        case cancellationReason = "cancellation_reason"
    }

    private struct NextAction: Decodable { var type: String? }
    private struct ChargeList: Decodable { var data: [ExpandableID] }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        amount = try container.decode(Int.self, forKey: .amount)
        currency = try container.decode(String.self, forKey: .currency)
        status = Status(try container.decode(String.self, forKey: .status))
        clientSecret = try container.decodeIfPresent(String.self, forKey: .clientSecret)
        metadata = try container.decodeIfPresent([String: String].self, forKey: .metadata) ?? [:]
        paymentMethod = try container.decodeIfPresent(ExpandableID.self, forKey: .paymentMethod)?.id
        lastPaymentError = try container.decodeIfPresent(PaymentError.self, forKey: .lastPaymentError)
        let charges = try container.decodeIfPresent(ChargeList.self, forKey: .charges)
        latestCharge =
            try container.decodeIfPresent(ExpandableID.self, forKey: .latestCharge)?.id ?? charges?.data.first?.id
        nextActionType = try container.decodeIfPresent(NextAction.self, forKey: .nextAction)?.type
        cancellationReason = try container.decodeIfPresent(String.self, forKey: .cancellationReason)
        created = try container.decodeIfPresent(Int.self, forKey: .created)
    }
}

/// A field that holds an object's id, or the object itself where it is expanded.
struct ExpandableID: Decodable {
    let id: String

    private enum CodingKeys: String, CodingKey { case id }

    init(from decoder: any Decoder) throws {
        if let id = try? decoder.singleValueContainer().decode(String.self) {
            self.id = id
        } else {
            id = try decoder.container(keyedBy: CodingKeys.self).decode(String.self, forKey: .id)
        }
    }
}
