import Postgres

/// What every append of an application carries: the inline projections that run in the
/// append's transaction, and the group commit that the threads of a process share.
///
/// The composition root builds one from every context's inline projections and hands it to
/// each context when it wires them; a context builds its command handlers' `EventStore`s from
/// it and from the connection of the request or job at hand.
public struct StoreSetup: Sendable {
    /// Projections run in every append's transaction (`ProjectionKind.inline`).
    public let inlineProjections: [any Projection]
    /// Shared by the process's threads (nil: every append is its own transaction).
    public let groupCommit: GroupCommit?

    public init(inlineProjections: [any Projection], groupCommit: GroupCommit? = nil) {
        precondition(inlineProjections.allSatisfy { $0.kind == .inline }, "only inline projections run in appends")
        self.inlineProjections = inlineProjections
        self.groupCommit = groupCommit
    }

    /// The same projections without group commit: for tools and jobs that append alone.
    public var withoutGroupCommit: StoreSetup { StoreSetup(inlineProjections: inlineProjections) }
}

extension StoreSetup {
    /// A command handler of `D`'s streams on `connection`. Inside a transaction (a process
    /// manager's, or one the caller opened and whose BEGIN the server has not seen yet:
    /// `joining: true`), its appends join that transaction and never retry; outside one they go
    /// through the process's group commit.
    public func handler<D: Decider>(
        _: D.Type, streamType: String, eventTypes: EventTypes<D.Event>, on connection: Connection,
        joining: Bool? = nil
    ) -> CommandHandler<D> {
        let joins = joining ?? connection.isInTransaction
        return CommandHandler<D>(
            store: EventStore(
                connection: connection, inlineProjections: inlineProjections, joinsCallerTransaction: joins,
                groupCommit: joins ? nil : groupCommit),
            streamType: streamType, eventTypes: eventTypes)
    }
}
