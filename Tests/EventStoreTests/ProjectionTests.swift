import EventStore
import Foundation
import Postgres
import Testing

@Suite struct ProjectionTests {
    /// Appends `count` events over `streams` streams, `perAppend` at a time.
    func appendEvents(_ url: String, count: Int, streams: Int = 20, perAppend: Int = 5, prefix: String = "s") throws {
        let store = EventStore(connection: try Connection(url: url))
        for index in stride(from: 0, to: count, by: perAppend) {
            try store.append(
                to: "\(prefix)-\(index / perAppend % streams)", type: "T", expectedVersion: .any,
                events: (0..<min(perAppend, count - index)).map { testEvent("E", index + $0) })
        }
    }

    @Test func aRunnerAppliesEachEventOnceAndStoresItsCheckpoint() throws {
        let url = try TestDatabase.fresh()
        let connection = try Connection(url: url)
        try appendEvents(url, count: 250)
        let projection = EventCounts()
        try ProjectionSetup.prepare([projection], on: connection)
        let runner = ProjectionRunner(projection: projection, batchSize: 100)
        #expect(
            try eventually {
                try runner.catchUp(on: connection) >= 0 && EventCounts.read(on: connection).values.reduce(0, +) == 250
            })
        #expect(try runner.catchUp(on: connection) == 0)
        #expect(try EventCounts.read(on: connection).count == 20)

        try appendEvents(url, count: 10, prefix: "more")
        // Another test's transaction still running may hold back some of the ten for a moment
        // (the global order waits for it): they come in a later catch-up, never twice.
        #expect(
            try eventually {
                try runner.catchUp(on: connection) >= 0 && EventCounts.read(on: connection).values.reduce(0, +) == 260
            })
        let status = try ProjectionStatus.load([projection], on: connection)[0]
        #expect(status.eventsBehind == 0 && status.builtVersion == 1 && !status.needsRebuild)
    }

    @Test func projectionsAtDifferentPlacesShareARoundsReadAndEachGetsItsEventsOnceInOrder() throws {
        let url = try TestDatabase.fresh()
        let connection = try Connection(url: url)
        let early = Locked([RecordedEvent]())
        let alsoEarly = Locked([RecordedEvent]())
        let late = Locked([RecordedEvent]())
        let first = Recorder(name: "early", seen: early)
        let second = Recorder(name: "also-early", seen: alsoEarly)
        try ProjectionSetup.prepare([first, second], on: connection)
        try appendEvents(url, count: 30, prefix: "a")
        _ = try eventually { try EventStore(connection: connection).headCheckpoint().position >= 30 }
        let third = Recorder(name: "late", seen: late)
        try ProjectionSetup.prepare([third], on: connection)
        try appendEvents(url, count: 40, prefix: "b")
        // The first reads for the round; the second is where it was, the third inside its read.
        let runners = [first, second, third].map { ProjectionRunner(projection: $0, batchSize: 100) }
        #expect(
            try eventually {
                let round = SharedRead()
                for runner in runners { try runner.runBatch(on: connection, sharing: round) }
                return early.value.count == 70 && late.value.count == 40
            })
        for _ in 0..<3 {
            let round = SharedRead()
            for runner in runners { #expect(try runner.runBatch(on: connection, sharing: round) == 0) }
        }
        for seen in [early.value, alsoEarly.value, late.value] {
            #expect(Set(seen.map(\.eventId)).count == seen.count)
            #expect(zip(seen, seen.dropFirst()).allSatisfy { $0.checkpoint < $1.checkpoint })
        }
        #expect(alsoEarly.value.map(\.eventId) == early.value.map(\.eventId))
        #expect(late.value.map(\.eventId) == early.value.suffix(40).map(\.eventId))
        #expect(late.value.allSatisfy { $0.streamId.hasPrefix("b") })
    }

    @Test func theDaemonIsWokenByAppendsAndStopsWhenAsked() throws {
        let url = try TestDatabase.fresh()
        let daemon = Background { shouldStop in
            ProjectionDaemon.run(
                connectionURL: url, projections: [StreamOverviewProjection()],
                options: .init(pollInterval: 30, subscriberName: "test"), shouldStop: shouldStop)
        }
        defer { daemon.stop() }
        let connection = try Connection(url: url)
        // Wait until it is idle and registered as waiting, so only a NOTIFY can wake it soon.
        #expect(
            try eventually {
                try connection.query("SELECT 1 FROM es_subscribers WHERE waiting_since IS NOT NULL").count == 1
            })
        try appendEvents(url, count: 3, streams: 1, perAppend: 3)
        // Well before the 30 s poll, but not too soon: the global order is cluster-wide, so a
        // writing transaction of a test running in another database holds the events back
        // until it ends (seen under load: the daemon applied them only after 10 s).
        #expect(
            try eventually(timeout: 25) {
                try StreamOverviewProjection.recent(on: connection).first?.version == 3
            })
        let summary = try StreamOverviewProjection.recent(on: connection).first
        #expect(summary?.streamId == "s-0" && summary?.eventCount == 3 && summary?.lastEventType == "E")
    }

    @Test func aReactorStartsAtTheHeadAndCannotBeRebuilt() throws {
        let url = try TestDatabase.fresh()
        let connection = try Connection(url: url)
        try appendEvents(url, count: 10)
        let seen = Locked([RecordedEvent]())
        let reactor = Recorder(name: "mailer", seen: seen)
        // The reactor starts at the head subscribers can see; wait until that covers all ten
        // (other tests' transactions may hold it back between the two appends).
        _ = try eventually { try EventStore(connection: connection).headCheckpoint().position >= 10 }
        try ProjectionSetup.prepare([reactor], on: connection)
        try appendEvents(url, count: 5, prefix: "new")
        let runner = ProjectionRunner(projection: reactor)
        #expect(try eventually { try runner.catchUp(on: connection) >= 0 && seen.value.count == 5 })
        #expect(seen.value.allSatisfy { $0.streamId.hasPrefix("new") })
        #expect(throws: ProjectionError.reactorCannotBeRebuilt("mailer")) {
            try ProjectionRebuilder(connection: connection).rebuild(reactor)
        }
        #expect(seen.value.count == 5)
    }

    /// Rebuilds while writers keep appending, and the live runner keeps running: once all is
    /// caught up the read model equals a rebuild from the quiet store.
    @Test(arguments: [ProjectionKind.async, .inline])
    func aRebuildDuringAppendsEqualsARebuildOfTheQuietStore(kind: ProjectionKind) throws {
        let url = try TestDatabase.fresh("rebuildDuringAppends\(kind)")
        let connection = try Connection(url: url)
        let projection = EventCounts(kind: kind)
        try ProjectionSetup.prepare([projection], on: connection)
        let inline = kind == .inline ? [projection] : []
        try EventStore(connection: connection, inlineProjections: inline)
            .append(to: "first", type: "T", expectedVersion: .noStream, events: [testEvent()])

        let live =
            kind == .async
            ? Background { shouldStop in
                let runner = ProjectionRunner(projection: projection, batchSize: 50)
                let connection = try! Connection(url: url)
                while !shouldStop() { if try! runner.runBatch(on: connection) == 0 { usleep(5000) } }
            } : nil
        let appended = Locked(1)
        let writers = Background { shouldStop in
            let store = EventStore(connection: try! Connection(url: url), inlineProjections: inline)
            var round = 0
            while !shouldStop() {
                try! store.append(
                    to: "w-\(round % 30)", type: "T", expectedVersion: .any, events: [testEvent(), testEvent()])
                appended.withLock { $0 += 2 }
                round += 1
            }
        }
        // Let history build up (and become visible: other tests' transactions hold it back
        // for a moment), rebuild while the writer goes on, then stop it.
        _ = try eventually { try EventStore(connection: connection).headCheckpoint().position > 400 }
        let progress = Locked([RebuildProgress]())
        try ProjectionRebuilder(connection: connection, batchSize: 100).rebuild(projection) { step in
            progress.withLock { $0.append(step) }
        }
        // The writer goes on after the swap, so the live projection carries on from the rebuild.
        let appendedAtSwap = appended.value
        _ = eventually { appended.value >= appendedAtSwap + 40 }
        writers.stop()
        let total = Int64(appended.value)
        if let live {
            #expect(
                try eventually(timeout: 60) {
                    try EventCounts.read(on: connection).values.reduce(0, +) == total
                })
            live.stop()
        }
        let afterLiveRebuild = try tableContents("event_counts", on: connection)
        #expect(try EventCounts.read(on: connection).values.reduce(0, +) == total)
        #expect(progress.value.count > 1)
        #expect(progress.value.last.map { $0.processed > 0 && $0.estimatedTotal >= $0.processed } == true)

        _ = try eventually { try EventStore(connection: connection).headCheckpoint().position >= total }
        try ProjectionRebuilder(connection: connection).rebuild(projection)
        #expect(try tableContents("event_counts", on: connection) == afterLiveRebuild)
        #expect(try connection.query("SELECT 1 FROM pg_namespace WHERE nspname LIKE 'es_rebuild_%'").count == 0)
    }

    /// A replay slower than the writers still ends: each round stops at the head it saw when
    /// it started, and the live runner takes over from the rebuilt checkpoint.
    @Test func aRebuildFinishesWhileWritersOutpaceTheReplay() throws {
        let url = try TestDatabase.fresh()
        let connection = try Connection(url: url)
        let projection = EventCounts(rebuildDelayPerBatch: 20_000)
        try ProjectionSetup.prepare([projection], on: connection)
        try appendEvents(url, count: 200)
        // Other tests' transactions may hold the visible head back for a moment.
        _ = try eventually { try EventStore(connection: connection).headCheckpoint().position >= 200 }
        let appended = Locked(200)
        let writers = Background { shouldStop in
            let store = EventStore(connection: try! Connection(url: url))
            var round = 0
            while !shouldStop() {
                try! store.append(to: "w-\(round % 30)", type: "T", expectedVersion: .any, events: [testEvent()])
                appended.withLock { $0 += 1 }
                round += 1
            }
        }
        // 10 events per 20 ms batch: at most 500 events/s, while one writer appends faster.
        let result = try ProjectionRebuilder(connection: connection, batchSize: 10).rebuild(projection)
        writers.stop()
        #expect(result.isFinished)
        #expect(result.processed >= 200)
        let runner = ProjectionRunner(projection: projection)
        #expect(
            try eventually(timeout: 60) {
                _ = try runner.catchUp(on: connection)
                return try EventCounts.read(on: connection).values.reduce(0, +) == Int64(appended.value)
            })
    }

    @Test func aRebuildKeepsServingTheOldReadModelUntilTheSwap() throws {
        let url = try TestDatabase.fresh()
        let connection = try Connection(url: url)
        try appendEvents(url, count: 500)
        let projection = EventCounts()
        try ProjectionSetup.prepare([projection], on: connection)
        #expect(
            try eventually {
                try ProjectionRunner(projection: projection).catchUp(on: connection) >= 0
                    && EventCounts.read(on: connection).values.reduce(0, +) == 500
            })
        let reader = try Connection(url: url)
        var readsDuringRebuild = 0
        try ProjectionRebuilder(connection: connection, batchSize: 50).rebuild(projection) { step in
            guard !step.isFinished else { return }
            #expect((try? EventCounts.read(on: reader).values.reduce(0, +)) == 500)
            readsDuringRebuild += 1
        }
        #expect(readsDuringRebuild >= 10)
        #expect(try EventCounts.read(on: reader).values.reduce(0, +) == 500)
    }

    @Test func theProgressBarShowsCountsRateAndETA() {
        let progress = RebuildProgress(
            projection: "p", processed: 500, estimatedTotal: 1000, elapsed: 2, checkpoint: .start, isFinished: false)
        #expect(ProgressBar.render(progress, width: 10) == "p [#####.....] 50% 500/1000 events, 250/s, ETA 0:02")
    }
}
