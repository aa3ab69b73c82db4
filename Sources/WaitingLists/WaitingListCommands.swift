import EventStore
import Foundation
import Postgres

/// The WaitingLists context's command side: each method is one command on one level's list.
public struct WaitingListCommands {
    public let connection: Connection
    public let store: StoreSetup

    public init(connection: Connection, store: StoreSetup) {
        self.connection = connection
        self.store = store
    }

    /// In a caller's transaction (a process manager's), appends join it and never retry.
    private var handler: CommandHandler<WaitingList> {
        CommandHandler<WaitingList>(
            store: EventStore(
                connection: connection, inlineProjections: store.inlineProjections,
                joinsCallerTransaction: connection.isInTransaction,
                groupCommit: connection.isInTransaction ? nil : store.groupCommit),
            streamType: WaitingList.streamType, eventTypes: WaitingList.eventTypes)
    }

    @discardableResult
    public func handle(
        _ command: WaitingList.Command, concertId: String, levelId: String, metadata: EventMetadata = EventMetadata()
    ) throws -> CommandResult<WaitingList.Event, WaitingList.State> {
        try handler.handle(
            command, on: WaitingList.streamId(concertId: concertId, levelId: levelId), metadata: metadata,
            retriesOnConflict: 3)
    }

    public func load(concertId: String, levelId: String) throws -> WaitingList.State {
        try handler.load(WaitingList.streamId(concertId: concertId, levelId: levelId)).state
    }
}
