import Foundation

/// A Stripe event, as a webhook delivers it: `{"id", "type", "created", "data": {"object"}}`.
///
/// `object` is decoded by the kind the object says it is (its `"object"` field), whatever the
/// event type: a `payment_intent` for `payment_intent.succeeded`, `.payment_failed`,
/// `.canceled`, ...; a `charge` for `charge.refunded`, `charge.succeeded`, ...; a `refund` for
/// `charge.refund.updated` and `refund.*`. Any other kind is `.other`, not decoded, so a
/// caller can acknowledge and ignore the event types it does not handle.
public struct StripeEvent: Sendable, Equatable, CustomStringConvertible {
    public enum Object: Sendable, Equatable {
        case paymentIntent(PaymentIntent)
        case charge(Charge)
        case refund(Refund)
        /// An object of a kind this client does not decode (`kind` is its `object` field).
        case other(kind: String?)
    }

    public let id: String
    public let type: String
    /// Unix time in seconds.
    public let created: Int
    /// The API version the event was rendered with (the endpoint's, not the client's).
    public let apiVersion: String?
    public let livemode: Bool
    public let object: Object

    public var description: String { "StripeEvent(\(id), \(type))" }

    /// Parses an event's JSON. Throws `.invalidPayload` when it is not an event, or when an
    /// object of a kind listed above does not decode as one.
    public static func parse(_ payload: [UInt8]) throws(StripeWebhookError) -> StripeEvent {
        do {
            let envelope = try JSONDecoder().decode(Envelope.self, from: Data(payload))
            return StripeEvent(
                id: envelope.id, type: envelope.type, created: envelope.created, apiVersion: envelope.apiVersion,
                livemode: envelope.livemode ?? false, object: envelope.data.object)
        } catch let error as DecodingError {
            throw .invalidPayload(describe(error))
        } catch {
            throw .invalidPayload("\(error)")
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, let context):
            "missing \((context.codingPath + [key]).map(\.stringValue).joined(separator: "."))"
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            "wrong type at \(context.codingPath.map(\.stringValue).joined(separator: "."))"
        case .dataCorrupted(let context):
            context.codingPath.isEmpty
                ? "not JSON" : "bad value at \(context.codingPath.map(\.stringValue).joined(separator: "."))"
        @unknown default: "undecodable"
        }
    }

    private struct Envelope: Decodable {
        var id: String
        var type: String
        var created: Int
        var apiVersion: String?
        var livemode: Bool?
        var data: EventData

        enum CodingKeys: String, CodingKey {
            case id, type, created, livemode, data
            case apiVersion = "api_version"
        }
    }

    private struct EventData: Decodable {
        var object: Object

        private enum CodingKeys: String, CodingKey { case object }
        private struct Kind: Decodable { var object: String? }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            let kind = try container.decode(Kind.self, forKey: .object).object
            switch kind {
            case "payment_intent": object = .paymentIntent(try container.decode(PaymentIntent.self, forKey: .object))
            case "charge": object = .charge(try container.decode(Charge.self, forKey: .object))
            case "refund": object = .refund(try container.decode(Refund.self, forKey: .object))
            default: object = .other(kind: kind)
            }
        }
    }
}
