import Concerts
import EventStore
import FastCGI
import Finance
import Foundation
import Mail
import Orders
import Payments
import Postgres
import Reservations
import Sales
import ShoppingCarts
import Stripe
import TicketDelivery
import Users
import WaitingLists
import Web

/// The composition root: Encore's bounded contexts, wired.
///
/// Each context is made here with what it needs from the others (its seams, declared in its
/// own module), and the list below is all the application is: its migrations, projections,
/// routes, templates, OpenAPI document and background jobs are gathered from it. To add a
/// context: write its module (a `BoundedContext`), add one line to `contexts`, and one entry
/// to Package.swift.
public struct Encore: Sendable {
    public let settings: Settings
    public let users: UsersContext
    public let contexts: [any BoundedContext]
    /// What every append carries: every context's inline projections, and the process's group commit.
    public let store: StoreSetup
    /// Every projection of every context (and the event store's own).
    public let projections: ProjectionRegistry

    public init(settings: Settings) {
        self.settings = settings
        let users = UsersContext()
        let reservations = ReservationsContext()
        let concerts = ConcertsContext(
            ticketCounts: TicketCounts(
                available: reservations.available, taken: reservations.taken,
                availableSQL: reservations.availableSQL),
            userNames: users.displayNames)
        let carts = ShoppingCartsContext(catalog: CartCatalog(concerts.catalog))
        let orders = OrdersContext(
            concerts: ConcertDirectory(concerts.catalog),
            deliveries: DeliveryProgress { orderId, connection in
                try TicketQueries.delivery(orderId: orderId, on: connection).map {
                    .init(text: $0.progress, hasTickets: !$0.tickets.isEmpty)
                }
            })
        let payments = PaymentsContext(
            gateway: StripeGateway(settings),
            webhooks: StripeWebhook(commaSeparatedSecrets: settings.stripeWebhookSecrets),
            reconcileAfter: settings.reconcileAfter)
        let tickets = TicketDeliveryContext(
            concerts: TicketConcerts(concerts.catalog), mail: TicketMailSettings(settings),
            mailer: MailerSettings(smtp: settings.smtp, retryMax: settings.mailRetryMax))
        let waitingLists = WaitingListsContext(
            levels: WaitingListCatalog(concerts.catalog),
            links: LeaveLinks(commaSeparatedKeys: settings.ticketSigningKeys), offerDuration: settings.waitingListOffer)
        let sales = SalesContext(
            catalog: concerts.catalog, carts: carts, orders: orders, payments: payments, tickets: tickets,
            waitingLists: waitingLists, holdTime: settings.holdTime)
        let finance = FinanceContext(concerts: FinanceConcerts(concerts.catalog), userNames: users.displayNames)
        self.users = users
        contexts = [
            users, concerts, reservations, carts, orders, payments, tickets, waitingLists, sales, finance,
            SalesInvoicing(finance: finance),
        ]

        let store = StoreSetup(inlineProjections: contexts.flatMap(\.inlineProjections), groupCommit: .shared)
        self.store = store
        projections = ProjectionRegistry(
            store.inlineProjections + contexts.flatMap { $0.backgroundProjections(store: store) })
    }

    /// Every schema migration: the root's, the event store's, then each context's.
    public var migrations: [Migration] {
        EncoreMigrations.core + IdempotentRequests.migrations + EventStoreSchema.migrations
            + contexts.flatMap(\.migrations)
    }

    /// Applies every pending migration, creates the tables of projections never run before,
    /// and rebuilds those whose code is of another version than their read model (a new
    /// column, a new index): the live read model serves until the new one is swapped in.
    public func migrate(_ connection: Connection) throws -> [Int] {
        let applied = try Migrator(migrations).migrate(connection)
        try ProjectionSetup.prepare(projections.all, on: connection)
        func outdated() throws -> [any Projection] {
            try ProjectionStatus.load(projections.all, on: connection, cap: 1)
                .filter { $0.needsRebuild && $0.kind != .reactor }.compactMap { projections.named($0.name) }
        }
        guard try !outdated().isEmpty else { return applied }
        // One process rebuilds; another starting at the same time waits, then finds nothing to do.
        try connection.execute("SELECT pg_advisory_lock(\(Self.rebuildLock))")
        defer { _ = try? connection.execute("SELECT pg_advisory_unlock(\(Self.rebuildLock))") }
        for projection in try outdated() {
            try ProjectionRebuilder(connection: connection).rebuild(projection)
        }
        return applied
    }

    static let rebuildLock: Int64 = 7_242_017_002

    /// The supervised background jobs: the projection daemon, then each context's.
    public var backgroundJobs: [BackgroundJob] {
        let daemon = BackgroundJob(name: "projections") { [projections] environment in
            { shouldStop in
                ProjectionDaemon.run(
                    connectionURL: environment.databaseURL, projections: projections.all, logger: environment.logger,
                    shouldStop: shouldStop)
            }
        }
        return [daemon] + contexts.flatMap { $0.backgroundJobs(store: store.withoutGroupCommit) }
    }
}

extension ConcertDirectory {
    /// Who organises which concert, from the concerts' read model.
    init(_ concerts: ConcertCatalog) {
        self.init(
            organiser: { concertId, connection in
                try concerts.find(id: concertId, withAvailability: false, on: connection)?.organiserId
            },
            managedBy: { organiserId, connection in
                try concerts.managed(by: organiserId, on: connection).map(\.id)
            })
    }
}

extension FinanceConcerts {
    /// A concert's organiser (its tickets' seller) and name, from the concerts' read model.
    init(_ concerts: ConcertCatalog) {
        self.init(
            organiser: { concertId, connection in
                try concerts.find(id: concertId, withAvailability: false, on: connection)?.organiserId
            },
            name: { concertId, connection in
                try concerts.find(id: concertId, withAvailability: false, on: connection).map {
                    $0.title.isEmpty ? "\($0.artist), \($0.city)" : "\($0.artist) — \($0.title), \($0.city)"
                }
            })
    }
}

extension StripeGateway {
    /// The gateway the settings name: Stripe, or the emulator that speaks its API.
    convenience init(_ settings: Settings) {
        self.init(
            configuration: StripeClient.Configuration(
                baseURL: settings.stripeAPIBase, secretKey: StripeSecret(settings.stripeSecretKey),
                connectTimeout: .seconds(5), timeout: .seconds(15)),
            browser: GatewayBrowserSettings(
                publishableKey: settings.stripePublishableKey, stripeJSURL: settings.resolvedStripeJSURL))
    }
}

extension TicketConcerts {
    /// A concert as its tickets name it, from the concerts' read model.
    init(_ concerts: ConcertCatalog) {
        self.init { concertId, connection in
            try concerts.find(id: concertId, withAvailability: false, on: connection).map {
                TicketConcert(
                    id: $0.id, name: $0.label, venue: $0.venue, city: $0.city, startsAt: $0.startsAt,
                    organiserId: $0.organiserId)
            }
        }
    }
}

extension WaitingListCatalog {
    /// A level as the waiting list needs it, from the concerts' read model (with what is left).
    init(_ concerts: ConcertCatalog) {
        self.init { concertId, levelId, connection in
            guard let concert = try concerts.find(id: concertId, on: connection),
                let level = concert.ticketLevels.first(where: { $0.id == levelId })
            else { return nil }
            return Level(
                concertName: concert.label, levelName: level.name, ticketsLeft: level.available,
                onSale: !concert.isCancelled)
        }
    }
}

extension TicketMailSettings {
    init(_ settings: Settings) {
        self.init(
            from: Mailbox(parsing: settings.mailFrom) ?? Mailbox("tickets@encore.test", name: "Encore"),
            publicURL: settings.publicURL, codes: TicketCodes(commaSeparatedKeys: settings.ticketSigningKeys))
    }
}

extension Settings {
    /// The mail server the settings name.
    var smtp: SMTPClient.Configuration {
        SMTPClient.Configuration(
            host: smtpHost, port: smtpPort,
            security: SMTPClient.Configuration.Security(rawValue: smtpSecurity) ?? .none,
            username: smtpUsername, password: smtpPassword)
    }
}

extension CartCatalog {
    /// A cart's view of the concerts' read model.
    init(_ concerts: ConcertCatalog) {
        self.init(
            offer: { concertId, levelId, connection in
                let level = try concerts.levelOnSale(concertId: concertId, levelId: levelId, on: connection)
                return ShoppingCart.LevelOffer(
                    unitPrice: level.price, currency: level.currency, available: level.available)
            },
            labels: { concertIds, connection in
                try concerts.names(of: concertIds, on: connection).mapValues {
                    ConcertLabel(artist: $0.artist, levels: $0.levels)
                }
            })
    }
}
