import Concerts
import EventStore
import Foundation
import Users

/// Registers every context's projections in the shared registry, once per process.
public enum EncoreProjections {
    private static let once: Void = {
        ProjectionRegistry.shared.register(UsersProjection())
        ProjectionRegistry.shared.register(ConcertsProjection())
    }()

    public static func registerAll() {
        _ = once
    }
}
