import EventStore
import FastCGI
import Foundation
import Logging
import Postgres
import Reservations

/// The pool's supervised background processes.
/// - `projections`: the async projections and reactors (process managers), in global order.
/// - `expiry`: returns the tickets of held reservations whose time is up, once each.
public enum EncoreBackgroundJobs {
    public static let names = ["projections", "expiry"]

    public static func job(named name: String, databaseURL: String, logger: Logger) -> BackgroundProcess.Job? {
        EncoreProjections.registerAll()
        switch name {
        case "projections":
            return { shouldStop in
                ProjectionDaemon.run(
                    connectionURL: databaseURL, projections: ProjectionRegistry.shared.all, logger: logger,
                    shouldStop: shouldStop)
            }
        case "expiry":
            return { shouldStop in
                var connection: Connection?
                while !shouldStop() {
                    do {
                        let open = try connection ?? Connection(url: databaseURL)
                        connection = open
                        let expired = try TicketReservations(
                            connection: open, inlineProjections: ProjectionRegistry.shared.inline
                        ).expireDue(now: Date())
                        if expired > 0 { logger.info("reservations expired", metadata: ["count": "\(expired)"]) }
                        if expired >= 100 { continue }
                    } catch {
                        logger.error("expiry run failed", metadata: ["error": "\(error)"])
                        connection = nil
                    }
                    for _ in 0..<10 where !shouldStop() { Thread.sleep(forTimeInterval: 0.1) }
                }
            }
        default:
            return nil
        }
    }
}
