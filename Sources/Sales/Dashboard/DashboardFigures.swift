import Charts
import Orders
import Web

/// The organiser's dashboard's figures, from the Orders context's per-day sales: totals per
/// level and in all, the days from the first sale to the last, and the two charts. A pure
/// value (no database), so that what the page shows is tested apart from where it comes from.
struct DashboardFigures: Sendable {
    /// A level's tickets and money, or the concert's in all.
    struct Totals: Sendable, Equatable {
        var ticketsSold = 0
        var ticketsRefunded = 0
        var gross = 0
        var refunded = 0

        /// Tickets sold and not refunded.
        var ticketsKept: Int { ticketsSold - ticketsRefunded }
        var net: Int { gross - refunded }

        mutating func add(_ sales: DailySales) {
            ticketsSold += sales.ticketsSold
            ticketsRefunded += sales.ticketsRefunded
            gross += sales.gross
            refunded += sales.refunded
        }
    }

    struct Level: Sendable, Equatable {
        let id: String
        let name: String
        /// Nil for a level the concert no longer has.
        let capacity: Int?
        var totals = Totals()
    }

    /// One level of the concert as it is now: its id, name and capacity.
    struct ConcertLevel: Sendable, Equatable {
        let id: String
        let name: String
        let capacity: Int
    }

    let currency: String
    /// The concert's levels in its order, then any level sold that it no longer has.
    let levels: [Level]
    let total: Totals
    /// Every day from the first with a sale or refund to the last, those without included.
    let days: [CivilDay]
    /// The read model's rows, by day then level.
    let daily: [DailySales]

    init(levels concertLevels: [ConcertLevel], currency: String, daily: [DailySales]) {
        var levels = concertLevels.map { Level(id: $0.id, name: $0.name, capacity: $0.capacity) }
        var total = Totals()
        for sales in daily {
            if !levels.contains(where: { $0.id == sales.levelId }) {
                levels.append(Level(id: sales.levelId, name: sales.levelName, capacity: nil))
            }
            let index = levels.firstIndex { $0.id == sales.levelId }!
            levels[index].totals.add(sales)
            total.add(sales)
        }
        self.levels = levels
        self.total = total
        self.currency = daily.first?.currency ?? currency
        self.daily = daily
        let known = daily.compactMap { CivilDay(iso: $0.day) }
        if let first = known.min(), let last = known.max() {
            days = (first.number...last.number).map(CivilDay.init(number:))
        } else {
            days = []
        }
    }

    var hasSales: Bool { !daily.isEmpty }

    /// The levels that sold something, for the charts (a level with nothing would only crowd
    /// the legend).
    var chartedLevels: [Level] { levels.filter { $0.totals.ticketsSold > 0 || $0.totals.ticketsRefunded > 0 } }

    /// Per charted level, per day, one figure of the read model's rows.
    func series(_ figure: (DailySales) -> Int) -> [[Int]] {
        let first = days.first?.number ?? 0
        return chartedLevels.map { level in
            var values = Array(repeating: 0, count: days.count)
            for sales in daily where sales.levelId == level.id {
                guard let day = CivilDay(iso: sales.day) else { continue }
                values[day.number - first] += figure(sales)
            }
            return values
        }
    }

    var range: String {
        guard let first = days.first, let last = days.last else { return "" }
        return first == last ? "on \(first.long)" : "from \(first.long) to \(last.long)"
    }

    func money(_ amount: Int) -> String { MoneyText.display(amount, currency) }

    var ticketsChart: BarChart {
        let sold = series(\.ticketsSold)
        let refunded = series(\.ticketsRefunded)
        let perLevel = chartedLevels.map { "\($0.name) \($0.totals.ticketsSold)" }.joined(separator: ", ")
        return BarChart(
            id: "tickets-chart", title: "Tickets sold per day, by level",
            summary: "Tickets sold per day \(range), by level: \(perLevel); \(total.ticketsSold) sold in all, "
                + "\(total.ticketsRefunded) refunded (shown below the zero line). "
                + "The table of days below gives every figure.",
            categories: days.map(\.short), categoryNames: days.map(\.long),
            series: zip(chartedLevels, zip(sold, refunded)).map {
                BarChart.Series(name: $0.name, up: $1.0, down: $1.1)
            }, valueTitle: "Tickets", upWord: "sold", downWord: "refunded")
    }

    var takingsChart: BarChart {
        let gross = series(\.gross)
        let refunded = series(\.refunded)
        let perLevel = chartedLevels.map { "\($0.name) \(money($0.totals.net))" }.joined(separator: ", ")
        return BarChart(
            id: "takings-chart", title: "Takings per day, by level (\(currency))",
            summary: "Takings per day \(range), by level, net of refunds: \(perLevel); \(money(total.gross)) taken, "
                + "\(money(total.refunded)) refunded (shown below the zero line), \(money(total.net)) net. "
                + "The table of days below gives every figure.",
            categories: days.map(\.short), categoryNames: days.map(\.long),
            series: zip(chartedLevels, zip(gross, refunded)).map {
                BarChart.Series(name: $0.name, up: $1.0, down: $1.1)
            }, valueTitle: currency, upWord: "taken", downWord: "refunded",
            format: { MoneyText.majorUnits($0) })
    }
}
