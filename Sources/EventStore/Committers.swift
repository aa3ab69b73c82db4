import Foundation
import Postgres

/// Batches of work that threads of one process submit concurrently and that is cheaper done
/// together, written by committer threads with database connections of their own (group
/// commit's, and the checkout's confirmations).
///
/// An item submitted while nothing is being written is written at once, by its caller on its
/// caller's connection: a lone item waits for nobody. Otherwise it waits in a queue, its
/// thread asleep on a semaphore of its own, and a committer takes every queued item (up to
/// `maxBatch`, one per key; the rest wait for a later batch), writes them, and wakes each
/// item's thread with its own outcome. So each waiting thread is woken once, and the batch's
/// writer is already running when the batch can start: on two cores, waking a thread to lead
/// each batch, or waking every waiting thread when anything changed, cost more than the
/// batching saved (bench/RESULTS.md, "Event store" notes).
///
/// Committers are started when an item first has to wait (so in the process that submits,
/// never before a fork), each with a connection opened like the submitter's
/// (`Connection.sibling`), and end at `stop()` (their threads keep the `Committers` alive until
/// then; a process's own ones simply live as long as it). At most `threads` batches are written
/// at once, a submitter's own (written when nothing else is) among them. With
/// `oneStartingAtATime`, a batch may only start once the one before it has called its
/// `started` (group commit: its rows are back and only its commit is on its way), so that
/// batches stay large while their commits overlap. A committer that cannot open its connection
/// answers its batch with `failed` (which should send each item back to its caller, whose own
/// connection then gives the caller the error), and tries again with its next batch.
public final class Committers<Item, Outcome>: @unchecked Sendable {
    // @unchecked: `queue`, `starting`, `inFlight`, `idle`, `started` and `stopping` are only
    // touched while holding `condition`. A waiter's `outcome` is written by its committer
    // before it signals the waiter's semaphore and read by the waiter after its wait returns:
    // items and outcomes pass between threads only so.
    public let maxBatch: Int
    public let threads: Int
    private let oneStartingAtATime: Bool
    private let key: @Sendable (Item) -> String
    private let write: @Sendable ([Item], Connection, _ started: () -> Void) -> [Outcome]
    private let failed: @Sendable (Item) -> Outcome
    private let condition = NSCondition()
    private var queue: [Waiter] = []
    /// Whether a batch has started and not yet called `started` (with `oneStartingAtATime`).
    private var starting = false
    private var inFlight = 0
    private var idle = 0
    private var started = 0
    private var stopping = false

    private final class Waiter {
        let item: Item
        let wake = DispatchSemaphore(value: 0)
        var outcome: Outcome?
        init(_ item: Item) { self.item = item }
    }

    /// `key`: items with the same key never share a batch. `write` must return one outcome
    /// per item, in order, without throwing; it may call `started` once.
    public init(
        maxBatch: Int, threads: Int, oneStartingAtATime: Bool = false, key: @escaping @Sendable (Item) -> String,
        write: @escaping @Sendable ([Item], Connection, _ started: () -> Void) -> [Outcome],
        failed: @escaping @Sendable (Item) -> Outcome
    ) {
        precondition(maxBatch >= 1 && threads >= 1)
        self.maxBatch = maxBatch
        self.threads = threads
        self.oneStartingAtATime = oneStartingAtATime
        self.key = key
        self.write = write
        self.failed = failed
    }

    /// Writes `item` at once on `connection` (which must not be in a transaction) when
    /// nothing is being written; otherwise queues it and waits for its outcome.
    public func submit(_ item: Item, on connection: Connection) -> Outcome {
        condition.lock()
        if !starting && inFlight == 0 && queue.isEmpty {
            starting = oneStartingAtATime
            inFlight += 1
            condition.unlock()
            return written([item], on: connection)[0]
        }
        let waiter = Waiter(item)
        queue.append(waiter)
        if started < threads && idle == 0 {
            started += 1
            let sibling = connection.sibling
            Thread.detachNewThread { [self] in commit(opening: sibling) }
        } else if idle > 0 && !starting && inFlight < threads {
            condition.signal()
        }
        condition.unlock()
        waiter.wake.wait()
        guard let outcome = waiter.outcome else { preconditionFailure("woken without an outcome") }
        return outcome
    }

    /// A committer thread: writes queued batches until stopped.
    private func commit(opening sibling: Connection.Sibling) {
        var connection: Connection?
        while true {
            condition.lock()
            idle += 1
            while (queue.isEmpty || starting || inFlight >= threads) && !stopping { condition.wait() }
            idle -= 1
            if stopping && queue.isEmpty {
                started -= 1
                condition.unlock()
                return
            }
            starting = oneStartingAtATime
            inFlight += 1
            let batch = takeBatch()
            condition.unlock()
            // Not swallowed: a batch without a connection is answered with `failed`.
            if connection == nil { connection = try? sibling.open() }
            let items = batch.map(\.item)
            let outcomes =
                if let connection { written(items, on: connection) } else { finish(items.map(failed), started: false) }
            for (waiter, outcome) in zip(batch, outcomes) {
                waiter.outcome = outcome
                waiter.wake.signal()
            }
        }
    }

    /// Writes a batch already counted in flight (and starting), and uncounts it.
    private func written(_ items: [Item], on connection: Connection) -> [Outcome] {
        var hasStarted = false
        let outcomes = write(items, connection) {
            guard !hasStarted else { return }
            hasStarted = true
            condition.lock()
            startingEnded()
            condition.unlock()
        }
        precondition(outcomes.count == items.count, "a batch's outcomes must match its items")
        return finish(outcomes, started: hasStarted)
    }

    private func finish(_ outcomes: [Outcome], started hasStarted: Bool) -> [Outcome] {
        condition.lock()
        if !hasStarted { startingEnded() }
        inFlight -= 1
        if !queue.isEmpty && idle > 0 && !starting && inFlight < threads { condition.signal() }
        condition.unlock()
        return outcomes
    }

    private func startingEnded() {
        starting = false
        if !queue.isEmpty && idle > 0 && inFlight < threads { condition.signal() }
    }

    /// The oldest queued items, at most `maxBatch`, one per key.
    private func takeBatch() -> [Waiter] {
        var batch: [Waiter] = []
        var keys = Set<String>()
        var rest: [Waiter] = []
        for waiter in queue {
            if batch.count < maxBatch && keys.insert(key(waiter.item)).inserted {
                batch.append(waiter)
            } else {
                rest.append(waiter)
            }
        }
        queue = rest
        return batch
    }

    /// The committer threads end when done with their batch, and close their connections.
    /// Items submitted afterwards are still written: by their caller, or by a new committer.
    public func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }

    /// How many committer threads are running (for tests).
    var committerCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return started
    }

    /// How many items wait for a committer (for tests).
    var queuedCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return queue.count
    }
}
