import Foundation

/// Leader/follower batching for work that threads of one process submit concurrently and that
/// is cheaper done together (see `GroupCommit`, and the checkout's confirmations).
///
/// A submitted item waits in a queue while another thread's batch is being done; when that
/// batch is done, one of the waiting threads leads the next: it takes every queued item (up
/// to `maxBatch`, one per key; the rest wait for a later batch) and does them with its own
/// resources (its connection), and each waiting thread gets its own outcome. Nothing waits on
/// purpose: a lone item is done at once, and batches only form when items arrive faster than
/// they are done. One batch is in flight at a time (measured for `GroupCommit`: more at once
/// made batches smaller and the whole slower).
public final class Batcher<Item, Outcome>: @unchecked Sendable {
    // @unchecked: `queue`, `leading` and every entry's `outcome` are only touched while
    // holding `condition`; items and outcomes pass between threads only through them.
    public let maxBatch: Int
    private let key: @Sendable (Item) -> String
    private let condition = NSCondition()
    private var queue: [Entry] = []
    private var leading = false

    private final class Entry {
        let item: Item
        var outcome: Outcome?
        init(_ item: Item) { self.item = item }
    }

    /// `key`: items with the same key never share a batch.
    public init(maxBatch: Int, key: @escaping @Sendable (Item) -> String) {
        precondition(maxBatch >= 1)
        self.maxBatch = maxBatch
        self.key = key
    }

    /// Queues `item` and waits for its outcome. Whenever no other thread is leading, the
    /// calling thread leads: `lead` gets a batch (in submission order) and must return one
    /// outcome per item, in order, without throwing.
    public func submit(_ item: Item, lead: ([Item]) -> [Outcome]) -> Outcome {
        let entry = Entry(item)
        condition.lock()
        defer { condition.unlock() }
        queue.append(entry)
        while entry.outcome == nil {
            guard !leading else {
                condition.wait()
                continue
            }
            leading = true
            let batch = takeBatch()
            condition.unlock()
            let outcomes = lead(batch.map(\.item))
            condition.lock()
            precondition(outcomes.count == batch.count, "a batch's outcomes must match its items")
            for (member, outcome) in zip(batch, outcomes) { member.outcome = outcome }
            leading = false
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
