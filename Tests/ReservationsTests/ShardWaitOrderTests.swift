import EventStore
import Foundation
import Postgres
import Testing

@testable import Reservations

/// Step 3 of `TicketReservations`: a checkout waits only for a shard ranked above every shard
/// it holds, so waits cannot form a cycle. Before, a checkout holding one shard waited for
/// "the first locked one from its random start", which could be below it: near a sell-out
/// two checkouts each held the shard the other waited for, and PostgreSQL broke the cycle
/// only after its deadlock_timeout (a flash sale's last confirmations waited up to 13 s).
@Suite(.serialized) struct ShardWaitOrderTests {
    static let concert = "order"

    static func line(_ quantity: Int) -> TicketReservations.Line {
        .init(concertId: concert, ticketLevelId: "a", quantity: quantity, unitPrice: 1, currency: "PLN")
    }

    static func reserve(_ id: String, _ quantity: Int, inOrder: Bool = false, on connection: Connection) throws
        -> [ReservationHeld]
    {
        try connection.transaction { tx in
            try TicketReservations(connection: tx, inlineProjections: ReservationsTestDatabase.inline).reserve(
                checkoutId: id, userId: "u", lines: [line(quantity)], holdFor: 900, now: Date(), inOrder: inOrder)
        }
    }

    static func left(on connection: Connection) throws -> [Int] {
        try connection.query(
            "SELECT capacity - held - sold AS left FROM availability_shards WHERE concert_id = \(concert) ORDER BY shard"
        ).map { try $0.decode("left") }
    }

    @Test func aCheckoutHoldingAShardNeverWaitsForALowerOne() throws {
        let url = try ReservationsTestDatabase.fresh("wait_order")
        let setup = try Connection(url: url)
        try ReservationsTestDatabase.setLevels(Self.concert, [("a", 300)], on: setup)  // three shards of 100
        // In order, 199 take shard 0 and 99 of shard 1; then, while another transaction holds
        // shard 1, 99 more can only come from shard 2: one ticket is left in shards 1 and 2.
        _ = try Self.reserve("fill-0", 199, inOrder: true, on: setup)
        let holder = try Connection(url: url)
        try holder.execute("BEGIN")
        try holder.execute("SET LOCAL lock_timeout = '10s'")
        _ = try holder.query(
            "SELECT 1 FROM availability_shards WHERE concert_id = \(Self.concert) AND shard = 1 FOR UPDATE")
        _ = try Self.reserve("fill-1", 99, on: setup)
        #expect(try Self.left(on: setup) == [0, 1, 1])

        // A checkout of two: it takes shard 2's ticket, and the other is in shard 1, which the
        // holder has. Waiting for it from shard 2 would be a wait downwards: it starts again
        // in order instead, holding nothing, and waits for shard 1 first.
        let checkout = try Connection(url: url)
        let pid: Int = try checkout.query("SELECT pg_backend_pid() AS pid").first!.decode("pid")
        let retries = Shared(0)
        let outcome = Shared<Result<[ReservationHeld], any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        Thread {
            let result = Result {
                try TicketReservations.retrying(retried: { retries.withLock { $0 += 1 } }) { inOrder in
                    try Self.reserve("two", 2, inOrder: inOrder, on: checkout)
                }
            }
            outcome.withLock { $0 = result }
            done.signal()
        }.start()
        let waiting = try ReservationsTestDatabase.waitsForLock(pid: pid, on: setup)
        #expect(waiting, "the checkout waits for shard 1")
        #expect(retries.value == 1, "it started again, in order, once")

        // The holder now takes shard 2 too. Had the checkout kept shard 2 while waiting for
        // shard 1, this would be a deadlock; it holds nothing, so the lock is granted at once.
        _ = try holder.query(
            "SELECT 1 FROM availability_shards WHERE concert_id = \(Self.concert) AND shard = 2 FOR UPDATE")
        try holder.execute("ROLLBACK")

        #expect(done.wait(timeout: .now() + 30) == .success)
        let held = try #require(try outcome.value?.get())
        #expect(held.flatMap { $0.items.flatMap(\.shards) }.map(\.shard).sorted() == [1, 2])
        #expect(try Self.left(on: setup) == [0, 0, 0])
    }

    @Test func retryingGoesInOrderAfterAnOutOfOrderWaitAndGivesUpAfterItsRetries() throws {
        var calls: [Bool] = []
        #expect(throws: TicketReservations.WaitOutOfOrder.self) {
            try TicketReservations.retrying(retries: 4) { inOrder in
                calls.append(inOrder)
                throw TicketReservations.WaitOutOfOrder()
            }
        }
        #expect(calls == [false, true, true, true, true])

        var attempts = 0
        let value = try TicketReservations.retrying { inOrder in
            attempts += 1
            if !inOrder { throw TicketReservations.WaitOutOfOrder() }
            return "held"
        }
        #expect(value == "held" && attempts == 2)
    }
}
