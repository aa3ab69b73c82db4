import EventStore
import Finance
import Foundation
import Orders
import Postgres
import Web

/// Order completed -> its invoice issued; order refunded -> a credit note for it.
///
/// The trigger is the order's completion, not the payment's confirmation: a payment that
/// arrives after its hold ended may be refunded instead of completing the order (the tickets
/// were gone), and such an order must never be invoiced. One invoice per order: an order is
/// one concert's tickets, sold by that concert's organiser. The buyer's and the seller's
/// financial details are copied into the invoice as they are when it is issued; a buyer who
/// keeps none is named as the order names them (name and e-mail).
///
/// A reactor: it runs in the projection daemon in the global order, and each invoice (its
/// number taken from its seller's counter) is appended in the same transaction as the
/// checkpoint, so an order is invoiced once and a number is never lost: a batch that fails
/// rolls back its numbers with its documents. Replayed, it finds the invoice (or the credit
/// note's refund) there and does nothing.
struct InvoiceIssuing: Projection {
    let name = "invoice_issuing"
    var kind: ProjectionKind { .reactor }
    let store: StoreSetup
    let finance: FinanceContext

    func apply(_ events: [RecordedEvent], to target: ProjectionTarget) throws {
        for recorded in events where recorded.streamType == TicketOrder.streamType {
            switch try TicketOrder.eventTypes.decode(recorded) {
            case .completed(let completed):
                try Self.invoice(
                    completed, store: store, finance: finance, on: target.connection, metadata: .caused(by: recorded))
            case .refunded(let refunded):
                try finance.invoices(on: target.connection, store: store).credit(
                    orderId: refunded.orderId, refundId: refunded.gatewayRefundId, amount: refunded.amount,
                    reason: refunded.reason, now: refunded.refundedAt, metadata: .caused(by: recorded))
            case .created, .cancelled:
                continue
            }
        }
    }

    /// Issues a completed order's invoice, in the caller's transaction; nil when it has one.
    @discardableResult
    static func invoice(
        _ completed: OrderCompleted, store: StoreSetup, finance: FinanceContext, on tx: Connection,
        metadata: EventMetadata
    ) throws -> InvoiceIssued? {
        // The buyer and the concert's name are in the order's first event, `OrderCreated`.
        let first = try EventStore(connection: tx).readStream(TicketOrder.streamId(completed.orderId), maxCount: 1)
        guard let event = first.first, case .created(let created) = try TicketOrder.eventTypes.decode(event) else {
            throw OrderError.notFound
        }
        let request = InvoiceRequest(
            orderId: completed.orderId, orderNumber: created.number, concertId: completed.concertId,
            buyerUserId: created.userId, buyerName: created.buyerName, buyerEmail: created.buyerEmail,
            items: completed.items.map {
                InvoiceRequest.Item(
                    description: "\(created.concertName): \($0.levelName)", quantity: $0.quantity,
                    unitGross: $0.unitPrice)
            }, currency: completed.currency, soldAt: completed.completedAt)
        return try finance.invoices(on: tx, store: store).issue(request, metadata: metadata)
    }
}

/// The invoicing process manager as the composition root adds it: the one flow from Orders
/// into Finance, wired on its own next to `SalesContext` (it needs the Finance context, which
/// the checkout does not), so Sales' own list of process managers stays as it is.
public struct SalesInvoicing: BoundedContext {
    public let finance: FinanceContext

    public init(finance: FinanceContext) {
        self.finance = finance
    }

    public var name: String { "sales_invoicing" }

    public func backgroundProjections(store: StoreSetup) -> [any Projection] {
        [InvoiceIssuing(store: store, finance: finance)]
    }
}
