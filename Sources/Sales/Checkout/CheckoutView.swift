import Concerts
import Foundation
import Identity
import Orders
import Payments
import Postgres
import Reservations
import Web

/// A checkout as the API shows it (`POST /api/cart/confirm`, `GET /api/checkouts/{id}`): its
/// reservations, orders and payment, each as the read models have them now, and what the
/// browser needs to pay.
struct CheckoutView: Encodable {
    struct Payment: Encodable {
        let id: String
        /// `initiated`, `pending`, `confirmed`, `failed` or `refunded`.
        let status: String
        let amount: Int
        let currency: String
        let gatewayPaymentId: String?
        /// Only to the paying customer, and only while a card can still pay.
        let clientSecret: String?
        let lastDecline: String?
        let refunded: Int
    }

    let id: String
    /// `held` (waiting for the payment), `paid`, `cancelled` (the hold ended unpaid) or
    /// `refunded`.
    let status: String
    let reservations: [ReservationView]
    let orders: [OrderView]
    let payments: [Payment]
    let publishableKey: String
    let stripeJsUrl: String
    let expiresAt: Date

    /// The buyer's checkout; `OrderError.notFound`-like 404 for anyone else's.
    static func load(
        _ checkoutId: String, for buyer: Principal, browser: GatewayBrowserSettings, on connection: Connection
    ) throws -> CheckoutView {
        let reservations = try ReservationQueries.forCheckout(checkoutId, on: connection).filter {
            $0.userId == buyer.userId
        }
        guard let first = reservations.first else { throw Self.notFound }
        let orders = try OrderQueries.forCheckout(checkoutId, on: connection)
        let payments = try PaymentQueries.forCheckout(checkoutId, on: connection)
        let payable = payments.contains { $0.status == "pending" || $0.status == "initiated" }
        let status =
            if payments.contains(where: { $0.status == "refunded" }) {
                "refunded"
            } else if payments.contains(where: { $0.status == "confirmed" }) {
                "paid"
            } else if payments.contains(where: { $0.status == "failed" }) || first.status != "held" {
                "cancelled"
            } else {
                "held"
            }
        return CheckoutView(
            id: checkoutId, status: status, reservations: reservations, orders: orders,
            payments: payments.map {
                Payment(
                    id: $0.id, status: $0.status, amount: $0.amount, currency: $0.currency,
                    gatewayPaymentId: $0.gatewayPaymentId, clientSecret: payable ? $0.clientSecret : nil,
                    lastDecline: $0.lastDecline, refunded: $0.refunded)
            }, publishableKey: browser.publishableKey, stripeJsUrl: browser.stripeJSURL, expiresAt: first.expiresAt)
    }

    static let notFound = HTTPError(status: 404, code: "unknown_checkout", message: "You have no such checkout.")
}
