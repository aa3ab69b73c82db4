import Concerts
import Encore
import EventStore
import Foundation
import Identity
import Postgres
import Users

/// Demo accounts and concerts for a local run (`encore seed`). Safe to load twice.
struct DemoData {
    static let password = "encore-demo-2026"
    let encore: Encore

    static let accounts: [(Role, String, String)] = [
        (.admin, "admin@encore.test", "Ada Admin"),
        (.organiser, "organiser@encore.test", "Olek Organiser"),
        (.customer, "customer@encore.test", "Celina Customer"),
    ]

    /// Loads what is missing; returns the demo logins by role.
    func load(_ connection: Connection) throws -> [(String, String)] {
        let users = UserAccounts(connection: connection, store: encore.store.withoutGroupCommit)
        let password = Self.password
        for (role, email, name) in Self.accounts {
            do {
                _ = try users.register(email: email, password: password, name: name, role: role)
            } catch UserError.emailTaken {
                continue
            }
        }
        if let organiser = try UsersQueries.find(email: "organiser@encore.test", on: connection) {
            try loadConcerts(organiserId: organiser.id, connection)
        }
        return Self.accounts.map { ($0.0.rawValue, $0.1) }
    }

    /// Demo concerts, with fixed ids so that loading twice adds nothing; each at 20:00 on its
    /// venue's clock.
    func loadConcerts(organiserId: String, _ connection: Connection) throws {
        let commands = ConcertCommands(connection: connection, store: encore.store.withoutGroupCommit)
        let now = Date()
        let day: TimeInterval = 86_400
        let concerts:
            [(String, String, String, String, String, String, TimeInterval, String, [(String, String, Int, Int)])] = [
                (
                    "beyonce-warsaw-2027", "Beyoncé", "Cowboy Carter Tour", "PGE Narodowy", "Warsaw", "Europe/Warsaw",
                    120, "PLN",
                    [("golden-circle", "Golden circle", 2_000, 89_900), ("regular", "Regular", 8_000, 45_000)]
                ),
                (
                    "dua-lipa-krakow-2027", "Dua Lipa", "Radical Optimism", "Tauron Arena", "Kraków", "Europe/Warsaw",
                    75, "PLN",
                    [("standing", "Standing", 6_000, 39_900), ("seated", "Seated", 4_000, 29_900)]
                ),
                (
                    "arctic-monkeys-berlin-2027", "Arctic Monkeys", "", "Waldbühne", "Berlin", "Europe/Berlin", 160,
                    "EUR", [("standing", "Standing", 12_000, 8_900)]
                ),
            ]
        for (id, artist, title, venue, city, zone, days, currency, levels) in concerts {
            guard try connection.query("SELECT 1 FROM concerts WHERE id = \(id)").first == nil else { continue }
            let date = LocalDateTime(now.addingTimeInterval(days * day), in: VenueTimeZone.timeZone(zone)!)
            _ = try commands.create(
                organiserId: organiserId,
                details: try ConcertDetails(
                    artist: artist, title: title, venue: venue, city: city,
                    localStart: try LocalDateTime(
                        year: date.year, month: date.month, day: date.day, hour: 20, minute: 0),
                    timeZone: zone),
                currency: currency,
                ticketLevels: try levels.map { try TicketLevel(id: $0.0, name: $0.1, capacity: $0.2, price: $0.3) },
                concertId: id, now: now)
        }
    }
}
