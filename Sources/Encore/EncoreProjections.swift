import Concerts
import EventStore
import Foundation
import Reservations
import ShoppingCarts
import Users

/// Registers every context's projections in the shared registry, once per process.
public enum EncoreProjections {
    private static let once: Void = {
        ProjectionRegistry.shared.register(UsersProjection())
        ProjectionRegistry.shared.register(ConcertsProjection())
        ProjectionRegistry.shared.register(AvailabilityProjection())
        ProjectionRegistry.shared.register(ReservationsProjection())
        ProjectionRegistry.shared.register(CartsProjection())
        ProjectionRegistry.shared.register(ConcertSalesManager())
        // The concert pages show what is left per level, from the availability shards.
        ConcertQueries.availability = { connection, concertIds in
            try AvailabilityQueries.available(concertIds: concertIds, on: connection)
        }
        ConcertQueries.taken = { connection, concertId in
            try AvailabilityQueries.levels(concertId: concertId, on: connection).mapValues { $0.held + $0.sold }
        }
    }()

    public static func registerAll() {
        _ = once
    }
}
