import Foundation
import Postgres

/// Appends events to streams and reads them back, on one connection.
///
/// Cheap to make: build one per request or thread around that thread's `Connection`. An
/// append is one INSERT (`AppendStatement`): one round trip, in its own implicit transaction,
/// unless inline projections or `appendMany` need an explicit one.
///
/// The statement is prepared once per connection, so an append costs PostgreSQL about what a
/// plain INSERT of the events does, plus the stream-version index.
public struct EventStore {
    public let connection: Connection
    /// Projections run in every append's transaction (see `ProjectionKind.inline`).
    public let inlineProjections: [any Projection]
    /// Whether `connection` is already in a transaction that the caller commits; the store
    /// then never begins, commits or rolls back.
    public let joinsCallerTransaction: Bool
    /// The schema of the live read models that inline projections write.
    public let readModelSchema: String
    /// Shared by the stores of a process's threads, so that concurrent appends share
    /// transactions (see `GroupCommit`); nil: every append is its own transaction.
    public let groupCommit: GroupCommit?

    public init(
        connection: Connection, inlineProjections: [any Projection] = [], joinsCallerTransaction: Bool = false,
        readModelSchema: String = "public", groupCommit: GroupCommit? = nil
    ) {
        self.connection = connection
        self.inlineProjections = inlineProjections
        self.joinsCallerTransaction = joinsCallerTransaction
        self.readModelSchema = readModelSchema
        self.groupCommit = groupCommit
    }

    // MARK: Appending

    /// Appends `events` to one stream, all or none.
    ///
    /// Throws `WrongExpectedVersion` when the stream is not at `expectedVersion`. With an
    /// `idempotencyKey` already used, returns the first append's result (`isRepeat`) and
    /// appends nothing.
    @discardableResult
    public func append(
        to streamId: String, type streamType: String, expectedVersion: ExpectedVersion, events: [NewEvent],
        metadata: EventMetadata = EventMetadata(), idempotencyKey: String? = nil
    ) throws -> AppendResult {
        let request = StreamAppend(
            streamId: streamId, streamType: streamType, expectedVersion: expectedVersion, events: events)
        if let groupCommit, !joinsCallerTransaction, !connection.isInTransaction,
            GroupCommit.accepts(request, idempotencyKey: idempotencyKey)
        {
            let pending = GroupCommit.Pending(
                request: request, metadata: metadata, projections: inlineProjections,
                readModelSchema: readModelSchema)
            switch groupCommit.append(pending, on: connection) {
            case .appended(let result):
                return result
            case .refused:
                throw WrongExpectedVersion(
                    streamId: streamId, expected: expectedVersion,
                    actual: try Self.currentVersion(of: streamId, on: connection))
            case .runAlone:
                break
            }
        }
        return try appending(idempotencyKey: idempotencyKey) {
            try inTransactionIfNeeded(inlineProjections.isEmpty) { connection in
                let recorded = try Self.append(
                    request, metadata: metadata, idempotencyKey: idempotencyKey, on: connection)
                try applyInlineProjections(recorded.events, on: connection)
                return [recorded.result]
            }
        }[0]
    }

    /// Appends to several streams in one transaction: all of them or none.
    ///
    /// Use sparingly: one stream is one consistency boundary, and a command that must change
    /// two at once usually means the boundaries are drawn wrong. Say why at every use. The
    /// results come back in the order of `appends`; an append's own `metadata`, when it has
    /// one, is used instead of `metadata`. Several appends to one stream follow each other:
    /// each expects the version the one before it reaches.
    ///
    /// With exact (or "no stream") expected versions it is one INSERT of every event
    /// (`ManyStreamsStatement`), its rows in stream id order, so two such appends take the
    /// stream versions' index entries in the same order and cannot deadlock; otherwise one
    /// INSERT per append, in stream id order.
    @discardableResult
    public func appendMany(
        _ appends: [StreamAppend], metadata: EventMetadata = EventMetadata(), idempotencyKey: String? = nil
    ) throws -> [AppendResult] {
        try appending(idempotencyKey: idempotencyKey) {
            try inTransactionIfNeeded(false) { connection in
                let order = appends.indices.sorted { (appends[$0].streamId, $0) < (appends[$1].streamId, $1) }
                var results = [AppendResult?](repeating: nil, count: appends.count)
                if appends.allSatisfy({ $0.expectedVersion != .any && !$0.events.isEmpty }) {
                    let recorded = try Self.appendInOneStatement(
                        order.map { (appends[$0], appends[$0].metadata ?? metadata) }, on: connection)
                    try applyInlineProjections(
                        recorded.flatMap(\.events).sorted { $0.globalPosition < $1.globalPosition }, on: connection)
                    for (index, one) in zip(order, recorded) { results[index] = one.result }
                } else {
                    for index in order {
                        let recorded = try Self.append(
                            appends[index], metadata: appends[index].metadata ?? metadata, idempotencyKey: nil,
                            on: connection)
                        try applyInlineProjections(recorded.events, on: connection)
                        results[index] = recorded.result
                    }
                }
                let all = results.compactMap { $0 }
                if let idempotencyKey {
                    let json = String(decoding: try JSONEncoder().encode(all), as: UTF8.self)
                    try connection.execute(
                        "INSERT INTO es_idempotency_keys (key, result) VALUES (\(idempotencyKey), \(json)::jsonb)")
                }
                return all
            }
        }
    }

    /// The appends (none "any version", none empty; those to one stream in version order) in
    /// one statement, inside the caller's transaction; results in the order given.
    private static func appendInOneStatement(
        _ appends: [(request: StreamAppend, metadata: EventMetadata)], on connection: Connection
    ) throws -> [(result: AppendResult, events: [RecordedEvent])] {
        // Appends to one stream form a chain: the rows after the first append's expected version.
        var rows: [ManyStreamsStatement.Row] = []
        var chains: [String: (base: Int64, next: Int)] = [:]
        for (request, metadata) in appends {
            let expected = max(0, request.expectedVersion.sqlValue)
            let chain = chains[request.streamId] ?? (expected, 1)
            guard expected == chain.base + Int64(chain.next) - 1 else {
                throw WrongExpectedVersion(
                    streamId: request.streamId, expected: request.expectedVersion,
                    actual: chain.base + Int64(chain.next) - 1)
            }
            let metadataJSON = metadata.json
            for (index, event) in request.events.enumerated() {
                rows.append(
                    ManyStreamsStatement.Row(
                        request: request, base: chain.base, ord: chain.next + index, event: event,
                        metadataJSON: metadataJSON))
            }
            chains[request.streamId] = (chain.base, chain.next + request.events.count)
        }
        let result: Rows
        do {
            result = try connection.query(ManyStreamsStatement.query(rows, skippingTaken: false))
        } catch let error as PostgresError
            where error.isUniqueViolation && error.constraint == AppendStatement.versionConstraint
        {
            // "Key (stream_id, stream_version)=(<stream>, <version>) already exists."
            let taken = error.detail.flatMap(Self.streamOfTakenVersion)
            let request = appends.first { $0.request.streamId == taken }?.request ?? appends[0].request
            throw WrongExpectedVersion(
                streamId: request.streamId, expected: request.expectedVersion,
                actual: max(request.expectedVersion.sqlValue, 0) + 1)
        }
        let written = try ManyStreamsStatement.Written(result)
        return try appends.map { request, metadata in
            guard let inserted = written.rows(of: request) else {
                // The chain's first expected version does not exist: none of it was inserted.
                throw WrongExpectedVersion(
                    streamId: request.streamId, expected: request.expectedVersion,
                    actual: try currentVersion(of: request.streamId, on: connection))
            }
            return recorded(
                request, metadata: metadata, inserted: inserted, transactionId: written.transactionId,
                recordedAt: written.recordedAt)
        }
    }

    /// The stream id in a unique violation's detail on (stream id, stream version).
    static func streamOfTakenVersion(_ detail: String) -> String? {
        let prefix = "Key (stream_id, stream_version)=("
        let suffix = ") already exists."
        guard detail.hasPrefix(prefix), detail.hasSuffix(suffix) else { return nil }
        let pair = detail.dropFirst(prefix.count).dropLast(suffix.count)
        guard let comma = pair.range(of: ", ", options: .backwards) else { return nil }
        return String(pair[..<comma.lowerBound])
    }

    /// Runs an append; on a repeated idempotency key, returns the stored results instead.
    private func appending(idempotencyKey: String?, _ body: () throws -> [AppendResult]) throws -> [AppendResult] {
        guard let idempotencyKey else { return try body() }
        if let stored = try IdempotencyKeys.results(for: idempotencyKey, on: connection) { return stored }
        do {
            return try body()
        } catch let error where !joinsCallerTransaction && Self.mayBeRepeat(error) {
            // A concurrent repeat won the race: report its outcome, as if it had come first.
            guard let stored = try IdempotencyKeys.results(for: idempotencyKey, on: connection) else { throw error }
            return stored
        }
    }

    private static func mayBeRepeat(_ error: Error) -> Bool {
        if error is WrongExpectedVersion { return true }
        if let error = error as? PostgresError {
            return error.isUniqueViolation && error.constraint == "es_idempotency_keys_pkey"
        }
        return false
    }

    private func inTransactionIfNeeded<T>(_ singleStatement: Bool, _ body: (Connection) throws -> T) throws -> T {
        if joinsCallerTransaction || singleStatement { return try body(connection) }
        return try connection.transaction { try body($0) }
    }

    private func applyInlineProjections(_ events: [RecordedEvent], on connection: Connection) throws {
        guard !events.isEmpty else { return }
        let target = ProjectionTarget(connection: connection, schema: readModelSchema, isRebuild: false)
        for projection in inlineProjections {
            try projection.apply(events, to: target)
        }
    }

    /// Runs the append statement on `connection` (in whatever transaction it is in).
    ///
    /// A refused append throws `WrongExpectedVersion`. When another writer took the version,
    /// PostgreSQL has aborted the transaction the statement ran in; outside a caller's
    /// transaction the stream's version is read afterwards for the error, inside one (it can
    /// no longer be read there) the error names the lowest version that the stream is known to
    /// have reached, one past the expected.
    static func append(
        _ request: StreamAppend, metadata: EventMetadata, idempotencyKey: String?, on connection: Connection
    ) throws -> (result: AppendResult, events: [RecordedEvent]) {
        let events = request.events
        guard !events.isEmpty else { return (try checkVersion(request, on: connection), []) }
        let query = AppendStatement.query(request, metadataJSON: metadata.json, idempotencyKey: idempotencyKey)
        let rows: Rows
        do {
            rows = try connection.query(query)
        } catch let error as PostgresError
            where error.isUniqueViolation && error.constraint == AppendStatement.versionConstraint
        {
            let expected = request.expectedVersion
            if expected == .any && !connection.isInTransaction {
                // "Any version" cannot conflict: a writer took the next version between this
                // statement's read of the stream and its insert, so go again after it.
                return try append(request, metadata: metadata, idempotencyKey: idempotencyKey, on: connection)
            }
            throw WrongExpectedVersion(
                streamId: request.streamId, expected: expected,
                actual: connection.isInTransaction
                    ? max(expected.sqlValue, 0) + 1 : try currentVersion(of: request.streamId, on: connection))
        }
        guard rows.count == events.count else {
            guard rows.count == 0 else {
                throw PostgresError(kind: .protocolViolation, message: "append returned \(rows.count) rows")
            }
            throw WrongExpectedVersion(
                streamId: request.streamId, expected: request.expectedVersion,
                actual: try currentVersion(of: request.streamId, on: connection))
        }
        var inserted: [(version: Int64, position: Int64)] = []
        inserted.reserveCapacity(rows.count)
        var transactionId: UInt64 = 0
        var recordedAt = Date()
        for (index, row) in rows.enumerated() {
            inserted.append((try row.decode("stream_version"), try row.decode("global_position")))
            if index == 0 {
                transactionId = try row.decode("transaction_id")
                recordedAt = try row.decode("recorded_at")
            }
        }
        return recorded(
            request, metadata: metadata, inserted: inserted, transactionId: transactionId, recordedAt: recordedAt)
    }

    /// An append's result and recorded events, from the versions and positions its INSERT
    /// returned (one per event, in any order).
    static func recorded(
        _ request: StreamAppend, metadata: EventMetadata, inserted: [(version: Int64, position: Int64)],
        transactionId: UInt64, recordedAt: Date
    ) -> (result: AppendResult, events: [RecordedEvent]) {
        let inserted = inserted.sorted { $0.version < $1.version }
        let positions = inserted.map(\.position)
        let result = AppendResult(
            streamId: request.streamId, version: inserted[inserted.count - 1].version, positions: positions,
            transactionId: transactionId)
        let recorded = request.events.enumerated().map { index, event in
            RecordedEvent(
                globalPosition: positions[index], transactionId: transactionId, eventId: event.id,
                streamId: request.streamId, streamType: request.streamType,
                streamVersion: inserted[index].version, eventType: event.type, schemaVersion: event.schemaVersion,
                data: event.data, metadata: metadata, recordedAt: recordedAt)
        }
        return (result, recorded)
    }

    /// An append of no events: only checks the expected version.
    private static func checkVersion(_ request: StreamAppend, on connection: Connection) throws -> AppendResult {
        let actual = try currentVersion(of: request.streamId, on: connection)
        switch request.expectedVersion {
        case .any: break
        case .noStream where actual == 0: break
        case .exact(let expected) where expected == actual: break
        default:
            throw WrongExpectedVersion(streamId: request.streamId, expected: request.expectedVersion, actual: actual)
        }
        return AppendResult(streamId: request.streamId, version: actual, positions: [], transactionId: 0)
    }

    static func currentVersion(of streamId: String, on connection: Connection) throws -> Int64 {
        try connection.query(
            "SELECT coalesce(max(stream_version), 0) AS version FROM es_events WHERE stream_id = \(streamId)"
        )
        .first.map { try $0.decode("version", as: Int64.self) } ?? 0
    }

    /// Forgets idempotency keys older than `date`; returns how many.
    @discardableResult
    public func purgeIdempotencyKeys(olderThan date: Date) throws -> Int {
        try connection.execute("DELETE FROM es_idempotency_keys WHERE created_at < \(date)")
    }
}

/// One stream's part of an append.
public struct StreamAppend: Sendable, Equatable {
    public var streamId: String
    /// The kind of stream (`Reservation`); recorded when the stream is created.
    public var streamType: String
    public var expectedVersion: ExpectedVersion
    public var events: [NewEvent]
    /// This append's metadata, where one `appendMany` carries appends of several commands.
    public var metadata: EventMetadata?

    public init(
        streamId: String, streamType: String, expectedVersion: ExpectedVersion, events: [NewEvent],
        metadata: EventMetadata? = nil
    ) {
        self.streamId = streamId
        self.streamType = streamType
        self.expectedVersion = expectedVersion
        self.events = events
        self.metadata = metadata
    }
}

/// What an append did.
public struct AppendResult: Sendable, Equatable, Codable {
    public let streamId: String
    /// The stream's version after the append: pass it as the next expected version.
    public let version: Int64
    /// The appended events' global positions, in stream order.
    public let positions: [Int64]
    public let transactionId: UInt64
    /// True when this is the stored outcome of an earlier append with the same idempotency
    /// key, and nothing was appended now.
    public var isRepeat = false

    public init(streamId: String, version: Int64, positions: [Int64], transactionId: UInt64, isRepeat: Bool = false) {
        self.streamId = streamId
        self.version = version
        self.positions = positions
        self.transactionId = transactionId
        self.isRepeat = isRepeat
    }

    enum CodingKeys: String, CodingKey {
        case streamId, version, positions, transactionId
    }
}

/// Idempotency keys: a command's key and what its append returned, kept with the events.
enum IdempotencyKeys {
    static func results(for key: String, on connection: Connection) throws -> [AppendResult]? {
        guard let row = try connection.query("SELECT result FROM es_idempotency_keys WHERE key = \(key)").first,
            let json = row["result"]
        else { return nil }
        var results = try JSONDecoder().decode([AppendResult].self, from: Data(json.utf8))
        for index in results.indices { results[index].isRepeat = true }
        return results
    }
}
