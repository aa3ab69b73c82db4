import Foundation
import Postgres

/// Runs commands against a decider's streams: load, decide, append with the version read.
public struct CommandHandler<D: Decider> {
    public let store: EventStore
    public let streamType: String
    public let eventTypes: EventTypes<D.Event>
    public let snapshots: Snapshotting<D.State>?

    public init(
        store: EventStore, streamType: String, eventTypes: EventTypes<D.Event>,
        snapshots: Snapshotting<D.State>? = nil
    ) {
        self.store = store
        self.streamType = streamType
        self.eventTypes = eventTypes
        self.snapshots = snapshots
    }

    /// A stream's state and version, folded from its latest snapshot (if any) and the events
    /// after it.
    public func load(_ streamId: String) throws -> Loaded<D.State> {
        var state = D.initial
        var version: Int64 = 0
        var snapshotVersion: Int64 = 0
        if let snapshots,
            let snapshot = try Snapshots.load(streamId, schemaVersion: snapshots.schemaVersion, on: store.connection)
        {
            state = try snapshots.decode(snapshot.state)
            version = snapshot.version
            snapshotVersion = snapshot.version
        }
        return try fold(store.readStream(streamId, from: version + 1), onto: state, at: version, snapshotVersion)
    }

    /// Loads the stream whose id `lookup` gives (see `EventStore.readStream(idFrom:)`) in
    /// one round trip; nil when it gives none, or names a stream without events.
    public func load(idFrom lookup: SQLQuery) throws -> (streamId: String, loaded: Loaded<D.State>)? {
        if snapshots != nil {  // the snapshot is found by the id: two round trips
            guard let streamId = try store.connection.query(lookup).first?[position: 0] else { return nil }
            return (streamId, try load(streamId))
        }
        let events = try store.readStream(idFrom: lookup)
        guard let streamId = events.first?.streamId else { return nil }
        return (streamId, try fold(events, onto: D.initial, at: 0, 0))
    }

    /// `state` at `version`, evolved by the events that follow it.
    private func fold(_ events: [RecordedEvent], onto state: D.State, at version: Int64, _ snapshotVersion: Int64)
        throws -> Loaded<D.State>
    {
        let decoder = EventJSON.decoder()
        var state = state
        for event in events { state = D.evolve(state, try eventTypes.decode(event, decoder: decoder)) }
        return Loaded(state: state, version: events.last?.streamVersion ?? version, snapshotVersion: snapshotVersion)
    }

    /// Handles `command` on a stream.
    ///
    /// - `retriesOnConflict`: how many times to load and decide again when another writer
    ///   appended in between; 0 lets `WrongExpectedVersion` through at once (the caller
    ///   answers 409). Only for commands whose decision may be re-taken on newer state. In a
    ///   caller's transaction there is no retry: the failed append has aborted that transaction,
    ///   which can only roll back, so the conflict goes to the caller at once.
    /// - `idempotencyKey`: a repeat of a key returns the first outcome (`isRepeat`), without
    ///   deciding again, and appends nothing. A decision that throws stores nothing.
    @discardableResult
    public func handle(
        _ command: D.Command, on streamId: String, metadata: EventMetadata = EventMetadata(),
        idempotencyKey: String? = nil, retriesOnConflict: Int = 0
    ) throws -> CommandResult<D.Event, D.State> {
        if let idempotencyKey,
            let stored = try IdempotencyKeys.results(for: idempotencyKey, on: store.connection)
        {
            return try repeatedOutcome(stored[0])
        }
        var attempt = 0
        while true {
            let loaded = try load(streamId)
            let events = try D.decide(command, loaded.state)
            if events.isEmpty {
                return CommandResult(
                    events: [], state: loaded.state, version: loaded.version, positions: [], isRepeat: false)
            }
            let encoder = EventJSON.encoder()
            let result: AppendResult
            do {
                result = try store.append(
                    to: streamId, type: streamType, expectedVersion: .version(loaded.version),
                    events: try events.map { try eventTypes.encode($0, encoder: encoder) }, metadata: metadata,
                    idempotencyKey: idempotencyKey)
            } catch is WrongExpectedVersion where attempt < retriesOnConflict && !store.joinsCallerTransaction {
                attempt += 1
                continue
            }
            if result.isRepeat { return try repeatedOutcome(result) }
            let state = D.fold(events, from: loaded.state)
            if let snapshots, result.version - loaded.snapshotVersion >= snapshots.every {
                // Best effort: the command has succeeded; a missing snapshot only costs reads.
                if let encoded = try? snapshots.encode(state) {
                    try? Snapshots.save(
                        streamId, version: result.version, schemaVersion: snapshots.schemaVersion, state: encoded,
                        on: store.connection)
                }
            }
            return CommandResult(
                events: events, state: state, version: result.version, positions: result.positions, isRepeat: false)
        }
    }

    /// The first outcome of a repeated command: its events, read back, and the current state.
    private func repeatedOutcome(_ result: AppendResult) throws -> CommandResult<D.Event, D.State> {
        let count = result.positions.count
        let decoder = EventJSON.decoder()
        let events = try store.readStream(result.streamId, from: result.version - Int64(count) + 1, maxCount: count)
            .map { try eventTypes.decode($0, decoder: decoder) }
        let current = try load(result.streamId)
        return CommandResult(
            events: events, state: current.state, version: result.version, positions: result.positions, isRepeat: true)
    }
}

/// A stream's state as loaded.
public struct Loaded<State> {
    public let state: State
    /// The stream's version (0: no stream); append with `.version(version)`.
    public let version: Int64
    /// The version of the snapshot it started from (0: none).
    public let snapshotVersion: Int64
}

/// What handling a command did.
public struct CommandResult<Event, State> {
    /// The events the command appended (on a repeat: those the first run appended).
    public let events: [Event]
    /// The state after them (on a repeat: the stream's current state).
    public let state: State
    /// The stream's version after the append.
    public let version: Int64
    public let positions: [Int64]
    /// True when an idempotency key was repeated and nothing was appended.
    public let isRepeat: Bool
}
