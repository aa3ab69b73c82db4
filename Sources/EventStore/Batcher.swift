import Foundation

/// Leader/follower batching for work that threads of one process submit concurrently and that
/// is cheaper done together (the checkout's confirmations; `GroupCommit` has committer
/// threads of its own instead).
///
/// A submitted item waits in a queue while another thread's batch is being done; when that
/// batch is done, one of the waiting threads leads the next: it takes every queued item (up
/// to `maxBatch`, one per key; the rest wait for a later batch) and does them with its own
/// resources (its connection), and each waiting thread gets its own outcome. Nothing waits on
/// purpose: a lone item is done at once, and batches only form when items arrive faster than
/// they are done. At most `maxInFlight` batches are done at once.
public final class Batcher<Item, Outcome>: @unchecked Sendable {
    // @unchecked: `queue`, `inFlight` and every entry's `outcome` are only touched while
    // holding `condition`; items and outcomes pass between threads only through them.
    public let maxBatch: Int
    public let maxInFlight: Int
    private let key: @Sendable (Item) -> String
    private let condition = NSCondition()
    private var queue: [Entry] = []
    private var inFlight = 0

    private final class Entry {
        let item: Item
        var outcome: Outcome?
        init(_ item: Item) { self.item = item }
    }

    /// `key`: items with the same key never share a batch.
    public init(maxBatch: Int, maxInFlight: Int = 1, key: @escaping @Sendable (Item) -> String) {
        precondition(maxBatch >= 1 && maxInFlight >= 1)
        self.maxBatch = maxBatch
        self.maxInFlight = maxInFlight
        self.key = key
    }

    /// Queues `item` and waits for its outcome. Whenever fewer than `maxInFlight` batches are
    /// being done, the calling thread leads: `lead` gets a batch (in submission order) and must return one
    /// outcome per item, in order, without throwing.
    public func submit(_ item: Item, lead: ([Item]) -> [Outcome]) -> Outcome {
        let entry = Entry(item)
        condition.lock()
        defer { condition.unlock() }
        queue.append(entry)
        while entry.outcome == nil {
            // Queued items wait for a free lead; an item already in another's batch just waits.
            guard inFlight < maxInFlight, !queue.isEmpty else {
                condition.wait()
                continue
            }
            inFlight += 1
            let batch = takeBatch()
            condition.unlock()
            let outcomes = lead(batch.map(\.item))
            condition.lock()
            precondition(outcomes.count == batch.count, "a batch's outcomes must match its items")
            for (member, outcome) in zip(batch, outcomes) { member.outcome = outcome }
            inFlight -= 1
            condition.broadcast()
        }
        return entry.outcome!
    }

    /// The oldest queued items, at most `maxBatch`, one per key.
    private func takeBatch() -> [Entry] {
        var batch: [Entry] = []
        var keys = Set<String>()
        var rest: [Entry] = []
        for entry in queue {
            if batch.count < maxBatch && keys.insert(key(entry.item)).inserted {
                batch.append(entry)
            } else {
                rest.append(entry)
            }
        }
        queue = rest
        return batch
    }
}
