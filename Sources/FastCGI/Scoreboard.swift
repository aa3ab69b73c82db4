import Atomics
import Glibc

/// The pool's shared figures, in a memory region shared by the supervisor and every worker.
///
/// Like PHP-FPM's scoreboard: the supervisor creates it (an unlinked file in `/dev/shm`) before it starts
/// workers, and each worker maps the same pages, so any worker can answer `GET /status` for
/// the whole pool without asking the supervisor. Every field is a word-sized atomic at a fixed
/// offset; writers are the owning worker (its slot) and the supervisor (the header and slot
/// assignment). Readers may see figures a moment apart, never torn values.
public final class Scoreboard: @unchecked Sendable {
    // Sendable: the mapping is fixed for the object's life and all access goes through atomics.
    public static let maxWorkers = 64
    public static let maxThreads = 64

    enum Header: Int, CaseIterable {
        case supervisorPID, startedAt, restarts, retiredRequests, retiredSlowRequests,
            retiredTimeouts, retiredRejectedBodies, crashLoopBackoffMs, generation
    }

    enum WorkerField: Int, CaseIterable {
        /// 0 free, otherwise a `WorkerState` raw value.
        case state
        case pid, generation, startedAt, requestsServed, slowRequests, timeouts, rejectedBodies,
            threads, kind
    }

    enum ThreadField: Int, CaseIterable {
        /// 0 idle, 1 active.
        case active
        /// Milliseconds since the epoch at which the current request began.
        case requestStartedAt
    }

    public enum WorkerState: Int, Sendable {
        case free = 0
        case starting, running, draining
        var name: String {
            switch self {
            case .free: "free"
            case .starting: "starting"
            case .running: "running"
            case .draining: "draining"
            }
        }
    }

    static let headerWords = 16
    static let workerWords = 16 + maxThreads * 2
    public static var byteCount: Int { (metricsBase + metricsWords) * MemoryLayout<Int>.stride }

    private let base: UnsafeMutablePointer<Int>
    public let fileDescriptor: Int32

    /// Creates a new, zeroed scoreboard (supervisor side).
    public static func create() throws -> Scoreboard {
        // An unlinked file in /dev/shm: memory-backed, gone when the last process closes it.
        var template = Array("/dev/shm/encore-scoreboard-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw SystemError.last("mkstemp /dev/shm") }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        guard ftruncate(fd, off_t(byteCount)) == 0 else { throw SystemError.last("ftruncate") }
        return try Scoreboard(mapping: Spawn.park(fd))
    }

    /// Maps an existing scoreboard passed down as a file descriptor (worker side).
    public init(mapping fd: Int32) throws {
        guard let pointer = mmap(nil, Scoreboard.byteCount, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0),
            pointer != MAP_FAILED
        else { throw SystemError.last("mmap scoreboard") }
        base = pointer.bindMemory(to: Int.self, capacity: Scoreboard.byteCount / MemoryLayout<Int>.stride)
        fileDescriptor = fd
    }

    func word(_ index: Int) -> UnsafeAtomic<Int> { atomic(index) }

    private func atomic(_ word: Int) -> UnsafeAtomic<Int> {
        UnsafeAtomic(at: UnsafeMutableRawPointer(base + word).assumingMemoryBound(to: Int.AtomicRepresentation.self))
    }

    func header(_ field: Header) -> UnsafeAtomic<Int> { atomic(field.rawValue) }

    func worker(_ slot: Int, _ field: WorkerField) -> UnsafeAtomic<Int> {
        precondition(slot >= 0 && slot < Scoreboard.maxWorkers)
        return atomic(Scoreboard.headerWords + slot * Scoreboard.workerWords + field.rawValue)
    }

    func thread(_ slot: Int, _ thread: Int, _ field: ThreadField) -> UnsafeAtomic<Int> {
        precondition(thread >= 0 && thread < Scoreboard.maxThreads)
        return atomic(
            Scoreboard.headerWords + slot * Scoreboard.workerWords + 16 + thread * 2 + field.rawValue)
    }

    // MARK: Supervisor side

    /// Claims a free slot for a new worker; nil when every slot is taken.
    func claimSlot(generation: Int, threads: Int, kind: Int) -> Int? {
        for slot in 0..<Scoreboard.maxWorkers {
            if worker(slot, .state).compareExchange(
                expected: WorkerState.free.rawValue, desired: WorkerState.starting.rawValue,
                ordering: .acquiringAndReleasing
            ).exchanged {
                for field in WorkerField.allCases where field != .state {
                    worker(slot, field).store(0, ordering: .relaxed)
                }
                for t in 0..<Scoreboard.maxThreads {
                    thread(slot, t, .active).store(0, ordering: .relaxed)
                    thread(slot, t, .requestStartedAt).store(0, ordering: .relaxed)
                }
                worker(slot, .generation).store(generation, ordering: .relaxed)
                worker(slot, .threads).store(threads, ordering: .relaxed)
                worker(slot, .kind).store(kind, ordering: .relaxed)
                worker(slot, .startedAt).store(Clock.nowMilliseconds(), ordering: .relaxed)
                return slot
            }
        }
        return nil
    }

    /// Folds a finished worker's counters into the pool totals and frees its slot.
    func retire(slot: Int) {
        header(.retiredRequests).wrappingIncrement(
            by: worker(slot, .requestsServed).load(ordering: .relaxed), ordering: .relaxed)
        header(.retiredSlowRequests).wrappingIncrement(
            by: worker(slot, .slowRequests).load(ordering: .relaxed), ordering: .relaxed)
        header(.retiredTimeouts).wrappingIncrement(
            by: worker(slot, .timeouts).load(ordering: .relaxed), ordering: .relaxed)
        header(.retiredRejectedBodies).wrappingIncrement(
            by: worker(slot, .rejectedBodies).load(ordering: .relaxed), ordering: .relaxed)
        worker(slot, .requestsServed).store(0, ordering: .relaxed)
        worker(slot, .pid).store(0, ordering: .relaxed)
        worker(slot, .state).store(WorkerState.free.rawValue, ordering: .releasing)
    }

    // MARK: Reading

    /// A consistent-enough copy of the figures, for `/status` and `/metrics`.
    public func snapshot() -> PoolStatus {
        var workers: [PoolStatus.Worker] = []
        var accepted = header(.retiredRequests).load(ordering: .relaxed)
        var slow = header(.retiredSlowRequests).load(ordering: .relaxed)
        var timeouts = header(.retiredTimeouts).load(ordering: .relaxed)
        var rejected = header(.retiredRejectedBodies).load(ordering: .relaxed)
        var active = 0
        var idle = 0
        for slot in 0..<Scoreboard.maxWorkers {
            let state = WorkerState(rawValue: worker(slot, .state).load(ordering: .acquiring)) ?? .free
            if state == .free { continue }
            let served = worker(slot, .requestsServed).load(ordering: .relaxed)
            let threads = worker(slot, .threads).load(ordering: .relaxed)
            let isBackground = worker(slot, .kind).load(ordering: .relaxed) != 0
            var busy = 0
            if !isBackground {
                for t in 0..<min(threads, Scoreboard.maxThreads)
                where thread(slot, t, .active).load(ordering: .relaxed) != 0 {
                    busy += 1
                }
                accepted += served
                active += busy
                if state == .running { idle += threads - busy }
            }
            slow += worker(slot, .slowRequests).load(ordering: .relaxed)
            timeouts += worker(slot, .timeouts).load(ordering: .relaxed)
            rejected += worker(slot, .rejectedBodies).load(ordering: .relaxed)
            workers.append(
                PoolStatus.Worker(
                    slot: slot, pid: worker(slot, .pid).load(ordering: .relaxed),
                    kind: isBackground ? "background" : "http",
                    state: state.name,
                    generation: worker(slot, .generation).load(ordering: .relaxed),
                    startedAt: worker(slot, .startedAt).load(ordering: .relaxed),
                    requestsServed: served, activeThreads: busy, threads: threads))
        }
        return PoolStatus(
            supervisorPID: header(.supervisorPID).load(ordering: .relaxed),
            startedAt: header(.startedAt).load(ordering: .relaxed),
            generation: header(.generation).load(ordering: .relaxed),
            acceptedRequests: accepted, activeThreads: active, idleThreads: idle,
            restarts: header(.restarts).load(ordering: .relaxed),
            restartsByCause: Dictionary(uniqueKeysWithValues: restartsByCause().map { ($0.cause.name, $0.count) }),
            slowRequests: slow, timedOutRequests: timeouts, rejectedBodies: rejected,
            crashLoopBackoffMs: header(.crashLoopBackoffMs).load(ordering: .relaxed),
            workers: workers)
    }
}

/// Monotonic and wall clocks in milliseconds.
enum Clock {
    static func nowMilliseconds() -> Int {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return spec.tv_sec * 1000 + spec.tv_nsec / 1_000_000
    }

    static func monotonicMicroseconds() -> Int {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return spec.tv_sec * 1_000_000 + spec.tv_nsec / 1000
    }

    static func monotonicMilliseconds() -> Int {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return spec.tv_sec * 1000 + spec.tv_nsec / 1_000_000
    }
}

/// An errno-carrying failure of a system call.
public struct SystemError: Error, CustomStringConvertible, Sendable {
    public let call: String
    public let errno: Int32
    public var description: String { "\(call) failed: \(String(cString: strerror(errno))) (errno \(errno))" }

    static func last(_ call: String) -> SystemError { SystemError(call: call, errno: Glibc.errno) }
}
