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
        store.handler(
            WaitingList.self, streamType: WaitingList.streamType, eventTypes: WaitingList.eventTypes, on: connection)
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
