/// The projections of a whole application, by name: what the composition root assembles from
/// its contexts and hands to the daemon, the append path (the inline ones) and the
/// `encore projections` commands. Always holds the store's own `stream_overview`.
public struct ProjectionRegistry: Sendable {
    /// Every projection, in the order given, `stream_overview` first.
    public let all: [any Projection]

    /// `projections` must have distinct names (a name is a checkpoint's key).
    public init(_ projections: [any Projection]) {
        var all: [any Projection] = [StreamOverviewProjection()]
        for projection in projections where projection.name != StreamOverviewProjection.projectionName {
            precondition(!all.contains { $0.name == projection.name }, "projection \(projection.name) given twice")
            all.append(projection)
        }
        self.all = all
    }

    /// The ones to hand to `EventStore(inlineProjections:)`.
    public var inline: [any Projection] { all.filter { $0.kind == .inline } }

    /// The ones `ProjectionDaemon` runs.
    public var background: [any Projection] { all.filter { $0.kind != .inline } }

    public func named(_ name: String) -> (any Projection)? { all.first { $0.name == name } }
}
