import EventStore
import Foundation
import Postgres
import Stripe
import Web

/// The Payments context as the composition root wires it: a checkout's payment, its intents at
/// the gateway, the gateway's webhooks, reconciliation and refunds.
public struct PaymentsContext: BoundedContext {
    public let gateway: any PaymentGateway
    public let webhooks: StripeWebhook
    /// A payment still unsettled this long after its last change is looked up at the gateway.
    public let reconcileAfter: TimeInterval

    public init(gateway: any PaymentGateway, webhooks: StripeWebhook, reconcileAfter: TimeInterval) {
        self.gateway = gateway
        self.webhooks = webhooks
        self.reconcileAfter = reconcileAfter
    }

    public var name: String { "payments" }
    public var migrations: [Migration] { PaymentsSchema.migrations }
    public var inlineProjections: [any Projection] { [PaymentsProjection()] }
    public var resources: URL? { Bundle.module.resourceURL }

    public func routes(_ router: inout Router<RequestContext>, store: StoreSetup) {
        StripeWebhooks(store: store, gateway: gateway, verifier: webhooks).add(to: &router)
    }

    /// The commands, on a connection: for the checkout and the process managers.
    public func commands(on connection: Connection, store: StoreSetup) -> PaymentCommands {
        PaymentCommands(connection: connection, store: store, gateway: gateway)
    }

    /// `reconciliation`: asks the gateway about payments that stayed unsettled longer than
    /// `reconcileAfter` (a webhook lost or not sent) and records what it says, as the webhook
    /// would have.
    public func backgroundJobs(store: StoreSetup) -> [BackgroundJob] {
        [
            BackgroundJob(name: "reconciliation") { environment in
                { shouldStop in
                    Reconciliation(store: store, gateway: gateway, after: reconcileAfter, environment: environment)
                        .run(shouldStop: shouldStop)
                }
            }
        ]
    }

    public func metrics(on connection: Connection) throws -> [Metric] {
        let webhooks = try connection.query(
            "SELECT type, count(*)::int AS n FROM stripe_webhook_events GROUP BY type ORDER BY type")
        let unsettled =
            try connection.query(
                """
                SELECT count(*)::int AS n FROM payments
                WHERE status IN ('initiated', 'pending') AND updated_at < now() - make_interval(secs => \(reconcileAfter))
                """
            ).first?.decode("n", as: Int.self) ?? 0
        return [
            Metric(
                "encore_payment_webhooks_total", .counter,
                help: "Gateway webhook events taken in (replays not counted).",
                try webhooks.map {
                    .init(Double(try $0.decode("n", as: Int.self)), labels: [("type", try $0.decode("type"))])
                }),
            Metric(
                "encore_payments_unsettled", .gauge,
                help: "Payments without an outcome for longer than the reconciliation delay.", value: Double(unsettled)),
        ]
    }
}

/// The reconciliation job's loop.
struct Reconciliation {
    let store: StoreSetup
    let gateway: any PaymentGateway
    let after: TimeInterval
    let environment: BackgroundJob.Environment

    func run(shouldStop: () -> Bool) {
        let logger = environment.logger
        var connection: Connection?
        // When each payment still open at the gateway is to be looked at again.
        var nextLook: [String: Date] = [:]
        while !shouldStop() {
            do {
                let open = try connection ?? Connection(url: environment.databaseURL)
                connection = open
                let now = Date()
                let unsettled = try PaymentQueries.unsettled(
                    before: now.addingTimeInterval(-after), limit: 1000, on: open)
                nextLook = nextLook.filter { unsettled.contains($0.key) }
                let due = unsettled.filter { (nextLook[$0] ?? .distantPast) <= now }.prefix(50)
                let commands = PaymentCommands(connection: open, store: store, gateway: gateway)
                for paymentId in due where !shouldStop() {
                    nextLook[paymentId] = now.addingTimeInterval(after)
                    do {
                        let before = try commands.load(paymentId).status
                        let state = try commands.sync(
                            paymentId, source: .reconciliation, metadata: EventMetadata(causationId: "reconciliation"))
                        if state.status != before {
                            logger.info(
                                "payment reconciled",
                                metadata: ["payment": "\(paymentId)", "status": "\(state.status.rawValue)"])
                        }
                    } catch let error as GatewayFailure {
                        logger.warning(
                            "reconciliation: gateway", metadata: ["payment": "\(paymentId)", "error": "\(error)"])
                    }
                }
            } catch {
                logger.error("reconciliation run failed", metadata: ["error": "\(error)"])
                connection = nil
            }
            for _ in 0..<10 where !shouldStop() { Thread.sleep(forTimeInterval: 0.1) }
        }
    }
}
