import Glibc
import Logging

/// The pool's master process, like PHP-FPM's: owns the listening socket, starts the worker
/// processes and the supervised background jobs, replaces those that die, recycles, reloads
/// (SIGHUP) and stops (SIGTERM) gracefully.
///
/// It is single-threaded: every signal is blocked and taken with `sigtimedwait` in one loop,
/// which also reaps children and starts replacements.
public final class Supervisor {
    /// How to start the processes: the executable and its arguments for an HTTP worker or a
    /// background job in a given scoreboard slot.
    public struct Launcher: Sendable {
        public let executable: String
        public let workerArguments: @Sendable (_ slot: Int) -> [String]
        public let backgroundArguments: @Sendable (_ name: String, _ slot: Int) -> [String]

        public init(
            executable: String, workerArguments: @escaping @Sendable (Int) -> [String],
            backgroundArguments: @escaping @Sendable (String, Int) -> [String]
        ) {
            self.executable = executable
            self.workerArguments = workerArguments
            self.backgroundArguments = backgroundArguments
        }
    }

    struct Child {
        enum Role: Equatable {
            case http
            case background(String)
        }
        let pid: pid_t
        let slot: Int
        let role: Role
        let generation: Int
        let startedAt: Int
        /// The supervisor asked it to stop (reload or shutdown): do not replace it.
        var retiring = false
        var killAt: Int? = nil
    }

    private var configuration: PoolConfiguration
    private let reloadConfiguration: () throws -> PoolConfiguration
    private let launcher: Launcher
    private let backgroundJobs: [String]
    private let logger: Logger
    private var listener: Int32 = -1
    private let scoreboard: Scoreboard
    private var children: [pid_t: Child] = [:]
    private var generation = 1
    private var stopping = false
    private var pendingReload: (generation: Int, deadline: Int)? = nil
    private var crashPolicy = CrashPolicy()
    private var pendingStarts: [(role: Child.Role, at: Int)] = []

    public init(
        configuration: PoolConfiguration, reloadConfiguration: @escaping () throws -> PoolConfiguration,
        launcher: Launcher, backgroundJobs: [String], logger: Logger
    ) throws {
        self.configuration = configuration
        self.reloadConfiguration = reloadConfiguration
        self.launcher = launcher
        self.backgroundJobs = backgroundJobs
        self.logger = logger
        self.scoreboard = try Scoreboard.create()
    }

    /// Runs the pool until SIGTERM, SIGINT or SIGQUIT; returns the exit status.
    public func run() throws -> Int32 {
        Signals.blockForProcess()
        listener = Spawn.park(
            try ListeningSocket.open(path: configuration.socketPath, backlog: configuration.listenBacklog))
        if let pidFile = configuration.pidFile { try writePIDFile(pidFile) }
        scoreboard.header(.supervisorPID).store(Int(getpid()), ordering: .relaxed)
        scoreboard.header(.startedAt).store(Clock.nowMilliseconds(), ordering: .relaxed)
        scoreboard.header(.generation).store(generation, ordering: .relaxed)
        logger.info(
            "pool starting",
            metadata: [
                "socket": "\(configuration.socketPath)", "workers": "\(configuration.workers)",
                "threads": "\(configuration.threads)", "background": "\(backgroundJobs.joined(separator: ","))",
            ])
        for _ in 0..<configuration.workers { start(.http) }
        for job in backgroundJobs { start(.background(job)) }

        while true {
            if let signal = Signals.wait(milliseconds: 100) {
                switch signal {
                case SIGTERM, SIGINT, SIGQUIT:
                    if !stopping { beginStop(reason: Signals.name(signal)) }
                case SIGHUP:
                    if !stopping { beginReload() }
                default: break
                }
            }
            reap()
            if stopping {
                if children.isEmpty { break }
            } else {
                startPending()
                finishReloadIfReady()
            }
            enforceKillDeadlines()
        }
        close(listener)
        if let pidFile = configuration.pidFile { unlink(pidFile) }
        logger.info("pool stopped")
        return 0
    }

    // MARK: Starting

    private func start(_ role: Child.Role, generation: Int? = nil) {
        let generation = generation ?? self.generation
        guard
            let slot = scoreboard.claimSlot(
                generation: generation, threads: role == .http ? configuration.threads : 1,
                kind: role == .http ? 0 : 1)
        else {
            logger.critical("no free scoreboard slot; cannot start a process")
            return
        }
        let arguments: [String]
        switch role {
        case .http: arguments = launcher.workerArguments(slot)
        case .background(let name): arguments = launcher.backgroundArguments(name, slot)
        }
        do {
            let pid = try Spawn.process(
                executable: launcher.executable, arguments: arguments,
                environment: configuration.workerEnvironment,
                descriptors: [(listener, Worker.listeningSocketFD), (scoreboard.fileDescriptor, Worker.scoreboardFD)])
            scoreboard.worker(slot, .pid).store(Int(pid), ordering: .relaxed)
            children[pid] = Child(
                pid: pid, slot: slot, role: role, generation: generation, startedAt: Clock.monotonicMilliseconds())
            logger.info("process started", metadata: ["pid": "\(pid)", "slot": "\(slot)", "role": "\(role)"])
        } catch {
            scoreboard.retire(slot: slot)
            logger.error("could not start a process", metadata: ["error": "\(error)"])
            pendingStarts.append((role, Clock.monotonicMilliseconds() + 1000))
        }
    }

    private func startPending() {
        let now = Clock.monotonicMilliseconds()
        let due = pendingStarts.filter { $0.at <= now }
        pendingStarts.removeAll { $0.at <= now }
        for entry in due { start(entry.role) }
    }

    // MARK: Reaping

    private func reap() {
        while true {
            var status: Int32 = 0
            let pid = waitpid(-1, &status, WNOHANG)
            if pid <= 0 { return }
            guard let child = children.removeValue(forKey: pid) else { continue }
            scoreboard.retire(slot: child.slot)
            let exit = ExitStatus(status)
            let lived = Clock.monotonicMilliseconds() - child.startedAt
            if child.retiring || stopping {
                logger.info("process exited", metadata: ["pid": "\(pid)", "status": "\(exit)"])
                continue
            }
            if exit.isClean {
                // A worker leaves by itself when recycled after max_requests: replace it at once.
                logger.info("process recycled", metadata: ["pid": "\(pid)", "role": "\(child.role)"])
                start(child.role)
                continue
            }
            scoreboard.header(.restarts).wrappingIncrement(ordering: .relaxed)
            scoreboard.restartCause(.of(signal: exit.signal)).wrappingIncrement(ordering: .relaxed)
            let delay = crashPolicy.recordCrash(lifetimeMs: lived, now: Clock.monotonicMilliseconds())
            scoreboard.header(.crashLoopBackoffMs).store(delay, ordering: .relaxed)
            if delay == 0 {
                logger.error(
                    "process died; replacing it",
                    metadata: ["pid": "\(pid)", "status": "\(exit)", "role": "\(child.role)"])
                start(child.role)
            } else {
                logger.critical(
                    "processes keep crashing; backing off before the next start",
                    metadata: ["pid": "\(pid)", "status": "\(exit)", "backoff_ms": "\(delay)", "role": "\(child.role)"])
                pendingStarts.append((child.role, Clock.monotonicMilliseconds() + delay))
            }
        }
    }

    // MARK: Reload and stop

    /// Starts a new generation; the old one is told to stop once the new one is running, so
    /// no request finds the pool without workers.
    private func beginReload() {
        do {
            var next = try reloadConfiguration()
            if next.socketPath != configuration.socketPath {
                logger.warning("the socket path cannot change on reload; keeping \(configuration.socketPath)")
            }
            next.socketPath = configuration.socketPath
            configuration = next
        } catch {
            logger.error(
                "could not re-read the configuration; reloading with the current one", metadata: ["error": "\(error)"])
        }
        generation += 1
        scoreboard.header(.generation).store(generation, ordering: .relaxed)
        logger.info("reload: starting generation \(generation)")
        pendingStarts.removeAll()
        for _ in 0..<configuration.workers { start(.http, generation: generation) }
        for job in backgroundJobs { start(.background(job), generation: generation) }
        pendingReload = (generation, Clock.monotonicMilliseconds() + 30_000)
    }

    private func finishReloadIfReady() {
        guard let reload = pendingReload else { return }
        let fresh = children.values.filter { $0.generation == reload.generation && $0.role == .http }
        let running = fresh.filter {
            scoreboard.worker($0.slot, .state).load(ordering: .acquiring) == Scoreboard.WorkerState.running.rawValue
        }
        if !fresh.isEmpty && running.count == fresh.count {
            pendingReload = nil
            retire { $0.generation < reload.generation }
            logger.info("reload: generation \(reload.generation) is serving; older workers finish and leave")
        } else if Clock.monotonicMilliseconds() > reload.deadline {
            pendingReload = nil
            logger.error("reload: the new workers did not start in time; keeping the old ones")
            retire { $0.generation == reload.generation }
        }
    }

    private func beginStop(reason: String) {
        stopping = true
        logger.info("pool stopping", metadata: ["reason": "\(reason)"])
        unlink(configuration.socketPath)
        retire { _ in true }
    }

    private func retire(_ which: (Child) -> Bool) {
        let deadline = Clock.monotonicMilliseconds() + Int(configuration.stopTimeout * 1000) + 1000
        for (pid, child) in children where which(child) && !child.retiring {
            children[pid]?.retiring = true
            children[pid]?.killAt = deadline
            kill(pid, SIGTERM)
        }
    }

    private func enforceKillDeadlines() {
        let now = Clock.monotonicMilliseconds()
        for child in children.values {
            if let killAt = child.killAt, now > killAt {
                logger.error("process did not stop in time; killing it", metadata: ["pid": "\(child.pid)"])
                kill(child.pid, SIGKILL)
                children[child.pid]?.killAt = nil
            }
        }
    }

    private func writePIDFile(_ path: String) throws {
        let text = "\(getpid())\n"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SystemError.last("open \(path)") }
        defer { close(fd) }
        _ = text.withCString { write(fd, $0, strlen($0)) }
    }
}

/// How a child process ended.
struct ExitStatus: CustomStringConvertible {
    let raw: Int32
    init(_ raw: Int32) { self.raw = raw }

    var signal: Int32? { (raw & 0x7f) != 0 && (raw & 0x7f) != 0x7f ? raw & 0x7f : nil }
    var code: Int32? { signal == nil ? (raw >> 8) & 0xff : nil }
    var isClean: Bool { code == 0 }
    var description: String {
        if let signal { return "killed by \(Signals.name(signal))" }
        return "exit \(code ?? -1)"
    }
}
