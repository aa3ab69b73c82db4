import Concerts
import Orders
import TicketDelivery
import Web

/// The dashboard page's view model (`admin_concert_dashboard.mustache`).
struct DashboardPage: Encodable {
    struct LevelRow: Encodable {
        let id: String
        let name: String
        let capacity: String
        let ticketsSold: Int
        let ticketsRefunded: Int
        let ticketsKept: Int
        let gross: String
        let refunded: String
        let net: String
    }

    struct DayRow: Encodable {
        let day: String
        let dayText: String
        let levelId: String
        let level: String
        let ticketsSold: Int
        let ticketsRefunded: Int
        let gross: String
        let refunded: String
        let net: String
    }

    let concertId: String
    let concertName: String
    let startsAt: String
    let cancelled: Bool
    /// Where the days begin, in words.
    let zoneNote: String
    let hasSales: Bool
    let ticketsChart: HTML?
    let takingsChart: HTML?
    let levels: [LevelRow]
    let total: LevelRow
    let days: [DayRow]
    let capacity: Int
    let admitting: Int
    let checkedIn: Int

    init(concert: ConcertView, zone: String, figures: DashboardFigures, door: DoorCount) {
        concertId = concert.id
        concertName = concert.label
        startsAt = DateText.display(concert.startsAt)
        cancelled = concert.isCancelled
        zoneNote = zone == "UTC" ? "Days are UTC days (midnight to midnight UTC)." : "Days are \(zone) days."
        hasSales = figures.hasSales
        ticketsChart = figures.hasSales ? HTML(trusted: figures.ticketsChart.svg) : nil
        takingsChart = figures.hasSales ? HTML(trusted: figures.takingsChart.svg) : nil
        let money = figures.money
        func row(id: String, name: String, capacity: Int?, _ totals: DashboardFigures.Totals) -> LevelRow {
            LevelRow(
                id: id, name: name, capacity: capacity.map(String.init) ?? "—", ticketsSold: totals.ticketsSold,
                ticketsRefunded: totals.ticketsRefunded, ticketsKept: totals.ticketsKept, gross: money(totals.gross),
                refunded: money(totals.refunded), net: money(totals.net))
        }
        levels = figures.levels.map { row(id: $0.id, name: $0.name, capacity: $0.capacity, $0.totals) }
        capacity = concert.ticketLevels.reduce(0) { $0 + $1.capacity }
        total = row(id: "total", name: "All levels", capacity: capacity, figures.total)
        let names = Dictionary(figures.levels.map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })
        days = figures.daily.map { sales in
            DayRow(
                day: sales.day, dayText: CivilDay(iso: sales.day)?.long ?? sales.day, levelId: sales.levelId,
                level: names[sales.levelId] ?? sales.levelName, ticketsSold: sales.ticketsSold,
                ticketsRefunded: sales.ticketsRefunded, gross: money(sales.gross), refunded: money(sales.refunded),
                net: money(sales.net))
        }
        admitting = door.issued - door.void
        checkedIn = door.checkedIn
    }
}
