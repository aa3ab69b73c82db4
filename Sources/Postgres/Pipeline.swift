import CLibPQ

/// Statements whose answer the caller does not need, sent together with the next statement
/// that needs one: one round trip instead of several (libpq's pipeline mode).
///
/// Inside a transaction most writes need no answer: an inline projection's UPDATE, the
/// transaction's BEGIN. On a busy two-core machine every round trip is two trips through the
/// run queue (the server's process and ours), and a confirm holding a hot row lock pays them
/// while others wait for it. So `executeLater` keeps such a statement, and the next `query`
/// sends the kept ones and itself in one pipeline and reads all their results.
///
/// The order of statements is the order of calls, so a later query sees what the kept
/// statements did. An error of a kept statement is thrown by the call that sent it (the next
/// query, or the transaction's COMMIT); the server skips what follows it and the transaction
/// can only roll back, as with any failed statement in a transaction. Outside a transaction
/// nothing is kept: each statement would otherwise run in a transaction with its neighbours.
extension Connection {
    /// Runs a statement whose answer is not needed: inside a transaction it is sent with the
    /// next statement that needs an answer; outside one, at once.
    public func executeLater(_ statement: SQLQuery) throws {
        guard transactionDepth > 0 else {
            try execute(statement)
            return
        }
        pending.append(statement)
    }

    /// Sends the kept statements, then `query` (when given), in one pipeline; returns the
    /// result of `query`. Throws the first error; the kept statements are gone either way.
    func sendPipeline(
        _ handle: OpaquePointer, then query: SQLQuery?, whenExecuted executed: (() -> Void)? = nil
    ) throws -> OpaquePointer? {
        var batch = pending
        pending.removeAll(keepingCapacity: true)
        beginIsKept = false
        for statement in batch { try statement.checkParameters() }
        try query?.checkParameters()
        var answer: Int?
        if let query {
            if query.usesGenericPlan { batch.append(Self.genericPlans) }
            if query.usesCustomPlan { batch.append(Self.forcedCustomPlans) }
            answer = batch.count
            batch.append(query)
            if query.usesGenericPlan || query.usesCustomPlan { batch.append(Self.customPlans) }
        }
        guard PQenterPipelineMode(handle) == 1 else {
            throw PostgresError.connection(handle, "could not enter pipeline mode")
        }
        var sent: [(statement: SQLQuery, name: String?, prepares: Bool)] = []
        var sendFailed = false
        for statement in batch {
            let entry = sendOne(handle, statement)
            guard let entry else {
                sendFailed = true
                break
            }
            sent.append(entry)
            if executed != nil && sent.count - 1 == answer && PQsendFlushRequest(handle) != 1 {
                sendFailed = true
                break
            }
        }
        let synced = !sendFailed && PQpipelineSync(handle) == 1
        var firstError: PostgresError?
        var answerResult: OpaquePointer?
        if synced {
            for (index, entry) in sent.enumerated() {
                if entry.prepares && readResult(handle, into: &firstError) != PGRES_COMMAND_OK {
                    statements.forget(entry.statement.sql)
                }
                let isAnswer = index == answer
                let result = PQgetResult(handle)
                if let result {
                    let status = PQresultStatus(result)
                    if status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK {
                        if isAnswer {
                            answerResult = result
                            executed?()
                        } else {
                            PQclear(result)
                        }
                    } else {
                        if firstError == nil && status != PGRES_PIPELINE_ABORTED {
                            firstError = PostgresError.from(result: result, connection: handle)
                        }
                        PQclear(result)
                    }
                    while let extra = PQgetResult(handle) { PQclear(extra) }
                } else if firstError == nil {
                    firstError = PostgresError.connection(handle, "no result from PostgreSQL")
                }
            }
            // The sync's own result, then pipeline mode can end.
            if let sync = PQgetResult(handle) { PQclear(sync) }
        }
        let exited = PQexitPipelineMode(handle) == 1
        if !synced || !exited {
            if let answerResult { PQclear(answerResult) }
            for entry in sent where entry.prepares { statements.forget(entry.statement.sql) }
            throw PostgresError.connection(handle, "the pipeline to PostgreSQL failed")
        }
        if let firstError {
            if let answerResult { PQclear(answerResult) }
            throw firstError
        }
        return answerResult
    }

    /// Around a statement that runs with its generic plan (`SQLQuery.withGenericPlan`), or
    /// with a plan for its values (`withCustomPlan`).
    private static let genericPlans = SQLQuery(unsafeSQL: "SET plan_cache_mode = force_generic_plan")
    private static let forcedCustomPlans = SQLQuery(unsafeSQL: "SET plan_cache_mode = force_custom_plan")
    private static let customPlans = SQLQuery(unsafeSQL: "RESET plan_cache_mode")

    /// Queues one statement (prepared, as `StatementCache` would have it) in the pipeline.
    private func sendOne(_ handle: OpaquePointer, _ query: SQLQuery) -> (
        statement: SQLQuery, name: String?, prepares: Bool
    )? {
        let count = Int32(query.parameters.count)
        if query.parameters.isEmpty {
            let ok = PQsendQueryParams(handle, query.sql, 0, nil, nil, nil, nil, 0) == 1
            return ok ? (query, nil, false) : nil
        }
        var name = statements.name(for: query.sql, backend: PQbackendPID(handle))
        var prepares = false
        if name == nil, let new = statements.newName() {
            guard PQsendPrepare(handle, new, query.sql, count, nil) == 1 else { return nil }
            // Taken now, so that a second new statement in this pipeline gets another name
            // and the same one again is not prepared twice; forgotten if the server refuses it.
            statements.remember(query.sql, as: new)
            name = new
            prepares = true
        }
        let ok = withCStrings(query.parameters) { values in
            if let name {
                PQsendQueryPrepared(handle, name, count, values, nil, nil, 0) == 1
            } else {
                PQsendQueryParams(handle, query.sql, count, nil, values, nil, nil, 0) == 1
            }
        }
        if !ok && prepares { statements.forget(query.sql) }
        return ok ? (query, name, prepares) : nil
    }

    /// Reads one result and its terminating NULL; keeps the first error.
    private func readResult(_ handle: OpaquePointer, into firstError: inout PostgresError?) -> ExecStatusType {
        guard let result = PQgetResult(handle) else { return PGRES_FATAL_ERROR }
        let status = PQresultStatus(result)
        if status != PGRES_COMMAND_OK && status != PGRES_PIPELINE_ABORTED && firstError == nil {
            firstError = PostgresError.from(result: result, connection: handle)
        }
        PQclear(result)
        while let extra = PQgetResult(handle) { PQclear(extra) }
        return status
    }
}
