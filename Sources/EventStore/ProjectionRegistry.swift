import Foundation

/// The projections of the whole application, by name.
///
/// The composition root registers every context's projections into `shared` at start-up,
/// before serving or running commands; the daemon, the append path (inline ones) and the
/// `encore projections` commands read it. It starts with the store's own `stream_overview`.
public final class ProjectionRegistry: @unchecked Sendable {
    // @unchecked: every access to `entries` holds `lock`.
    private let lock = NSLock()
    private var entries: [any Projection]

    /// The application's registry.
    public static let shared = ProjectionRegistry([StreamOverviewProjection()])

    public init(_ projections: [any Projection] = []) {
        entries = []
        for projection in projections { register(projection) }
    }

    /// Adds a projection; its name must be new.
    public func register(_ projection: any Projection) {
        lock.withLock {
            precondition(
                !entries.contains { $0.name == projection.name }, "projection \(projection.name) registered twice")
            entries.append(projection)
        }
    }

    /// Every projection, in registration order.
    public var all: [any Projection] { lock.withLock { entries } }

    /// The ones to hand to `EventStore(inlineProjections:)`.
    public var inline: [any Projection] { all.filter { $0.kind == .inline } }

    /// The ones `ProjectionDaemon` runs.
    public var background: [any Projection] { all.filter { $0.kind != .inline } }

    public func named(_ name: String) -> (any Projection)? { all.first { $0.name == name } }
}
