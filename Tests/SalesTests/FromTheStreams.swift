import EventStore
import Foundation
import Orders
import Postgres

/// What the event streams say of a concert's sales and attendees, computed from the events'
/// JSON as stored (JSONSerialization, string times), without the projections' or the
/// deciders' code: the figures a read model or a file must equal.
struct FromTheStreams {
    struct Key: Hashable, CustomStringConvertible {
        let day: String
        let level: String
        var description: String { "\(day) \(level)" }
    }

    struct Figures: Equatable, CustomStringConvertible {
        var sold = 0
        var gross = 0
        var ticketsBack = 0
        var moneyBack = 0

        init(sold: Int = 0, gross: Int = 0, ticketsBack: Int = 0, moneyBack: Int = 0) {
            self.sold = sold
            self.gross = gross
            self.ticketsBack = ticketsBack
            self.moneyBack = moneyBack
        }

        init(_ sales: DailySales) {
            self.init(
                sold: sales.ticketsSold, gross: sales.gross, ticketsBack: sales.ticketsRefunded,
                moneyBack: sales.refunded)
        }

        var description: String { "sold \(sold) for \(gross), back \(ticketsBack) for \(moneyBack)" }
    }

    struct Event {
        let stream: String
        let type: String
        let data: [String: Any]
    }

    let orderEvents: [Event]
    let ticketEvents: [Event]

    init(_ connection: Connection) throws {
        func events(_ type: String) throws -> [Event] {
            let streams = try connection.query(
                "SELECT stream_id FROM es_streams WHERE stream_type = \(type) ORDER BY stream_id"
            ).map { try $0.decode("stream_id", as: String.self) }
            return try streams.flatMap { stream in
                try EventStore(connection: connection).readStream(stream).map {
                    Event(
                        stream: stream, type: $0.eventType,
                        data: try JSONSerialization.jsonObject(with: Data($0.data.utf8)) as! [String: Any])
                }
            }
        }
        orderEvents = try events("order")
        ticketEvents = try events("ticket")
    }

    /// Per day (in `zone`) and level, the tickets of orders completed and refunded then.
    func days(in zone: TimeZone = TimeZone(identifier: "UTC")!) -> [Key: Figures] {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        var out: [Key: Figures] = [:]
        for event in orderEvents where event.data["concertId"] as? String == "gig" {
            let (time, refund): (String, Bool)
            switch event.type {
            case "OrderCompleted": (time, refund) = (event.data["completedAt"] as! String, false)
            case "OrderRefunded": (time, refund) = (event.data["refundedAt"] as! String, true)
            default: continue
            }
            let date = try! Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(time)
            let parts = calendar.dateComponents([.year, .month, .day], from: date)
            let day = String(format: "%04d-%02d-%02d", parts.year!, parts.month!, parts.day!)
            for item in event.data["items"] as! [[String: Any]] {
                let quantity = item["quantity"] as! Int
                let money = quantity * (item["unitPrice"] as! Int)
                let key = Key(day: day, level: item["ticketLevelId"] as! String)
                var figures = out[key] ?? Figures()
                if refund {
                    figures.ticketsBack += quantity
                    figures.moneyBack += money
                } else {
                    figures.sold += quantity
                    figures.gross += money
                }
                out[key] = figures
            }
        }
        return out
    }

    /// Per level, every day together.
    func levels() -> [String: Figures] {
        var out: [String: Figures] = [:]
        for (key, figures) in days() {
            var total = out[key.level] ?? Figures()
            total.sold += figures.sold
            total.gross += figures.gross
            total.ticketsBack += figures.ticketsBack
            total.moneyBack += figures.moneyBack
            out[key.level] = total
        }
        return out
    }

    struct Order {
        let id: String
        let number: String
        let createdAt: String
        let buyer: String
        let email: String
        var status = "pending"
        let tickets: Int
        let total: String
        var refunded = "0.00"
    }

    static func major(_ minor: Int) -> String { String(format: "%d.%02d", minor / 100, minor % 100) }

    /// The orders of a concert as their events tell them, oldest first.
    func orders(of concertId: String) -> [Order] {
        var orders: [String: Order] = [:]
        for event in orderEvents {
            let id = event.data["orderId"] as! String
            switch event.type {
            case "OrderCreated" where event.data["concertId"] as? String == concertId:
                let items = event.data["items"] as! [[String: Any]]
                orders[id] = Order(
                    id: id, number: event.data["number"] as! String, createdAt: event.data["createdAt"] as! String,
                    buyer: event.data["buyerName"] as! String, email: event.data["buyerEmail"] as! String,
                    tickets: items.reduce(0) { $0 + ($1["quantity"] as! Int) },
                    total: Self.major(items.reduce(0) { $0 + ($1["quantity"] as! Int) * ($1["unitPrice"] as! Int) }))
            case "OrderCompleted": orders[id]?.status = "completed"
            case "OrderCancelled": orders[id]?.status = "cancelled"
            case "OrderRefunded":
                orders[id]?.status = "refunded"
                orders[id]?.refunded = Self.major(event.data["amount"] as! Int)
            default: continue
            }
        }
        return orders.values.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
    }

    struct Attendee {
        let number: String
        let level: String
        let holder: String
        let email: String
        let order: String
        var checkedInAt: String?
    }

    /// The tickets of a concert that were issued and not voided, by number.
    func attendees(of concertId: String) -> [Attendee] {
        let orders = Dictionary(uniqueKeysWithValues: self.orders(of: concertId).map { ($0.id, $0) })
        var tickets: [String: Attendee] = [:]
        for event in ticketEvents {
            let id = event.data["ticketId"] as! String
            switch event.type {
            case "TicketIssued" where (event.data["concert"] as! [String: Any])["id"] as? String == concertId:
                let order = orders[event.data["orderId"] as! String]!
                tickets[id] = Attendee(
                    number: event.data["number"] as! String, level: event.data["levelName"] as! String,
                    holder: event.data["holder"] as! String, email: order.email, order: order.number)
            case "TicketCheckedIn":
                tickets[id]?.checkedInAt = (event.data["checkedInAt"] as! String).replacingOccurrences(
                    of: #"\.\d+Z$"#, with: "Z", options: .regularExpression)
            case "TicketVoided": tickets[id] = nil
            default: continue
            }
        }
        return tickets.values.sorted { $0.number < $1.number }
    }
}

/// RFC 4180 records, as a spreadsheet reads the file (after its byte order mark).
enum CSVReader {
    static func rows(_ bytes: [UInt8]) -> [[String]] {
        precondition(Array(bytes.prefix(3)) == [0xEF, 0xBB, 0xBF], "the byte order mark")
        let text = Array(String(decoding: bytes.dropFirst(3), as: UTF8.self))
        var rows: [[String]] = []
        var row: [String] = []
        var field = ""
        var quoted = false
        var index = 0
        while index < text.count {
            let character = text[index]
            if quoted {
                if character == "\"" {
                    if index + 1 < text.count && text[index + 1] == "\"" {
                        field.append("\"")
                        index += 1
                    } else {
                        quoted = false
                    }
                } else {
                    field.append(character)
                }
            } else if character == "\"" {
                quoted = true
            } else if character == "," {
                row.append(field)
                field = ""
            } else if character == "\r\n" || character == "\n" {
                row.append(field)
                rows.append(row)
                row = []
                field = ""
            } else {
                field.append(character)
            }
            index += 1
        }
        return rows
    }
}
