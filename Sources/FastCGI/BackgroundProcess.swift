import Atomics
import Glibc
import Logging

/// A supervised background job (a projection runner, an expiry sweeper): a process of its
/// own, started, replaced and stopped by the supervisor like a worker.
///
/// The job runs on its own thread and polls `shouldStop` between units of work; SIGTERM sets
/// it. A job that returns by itself is restarted by the supervisor (exit 0 counts as a
/// recycle, anything else as a crash).
public enum BackgroundProcess {
    public typealias Job = @Sendable (_ shouldStop: @escaping @Sendable () -> Bool) throws -> Void

    public static func run(name: String, slot: Int, logger: Logger, job: @escaping Job) -> Int32 {
        Signals.blockForProcess()
        let scoreboard = try? Scoreboard(mapping: Worker.scoreboardFD)
        scoreboard?.worker(slot, .pid).store(Int(getpid()), ordering: .relaxed)
        scoreboard?.worker(slot, .state).store(Scoreboard.WorkerState.running.rawValue, ordering: .releasing)
        let supervisor = getppid()
        let stop = ManagedAtomic<Bool>(false)
        let done = ManagedAtomic<Int32>(-1)
        let thread = PosixThread {
            do {
                try job { stop.load(ordering: .relaxed) }
                done.store(0, ordering: .releasing)
            } catch {
                logger.error("background job failed", metadata: ["job": "\(name)", "error": "\(error)"])
                done.store(1, ordering: .releasing)
            }
        }
        while done.load(ordering: .acquiring) < 0 {
            if let signal = Signals.wait(milliseconds: 200), [SIGTERM, SIGINT, SIGQUIT].contains(signal) {
                stop.store(true, ordering: .relaxed)
                scoreboard?.worker(slot, .state).store(Scoreboard.WorkerState.draining.rawValue, ordering: .releasing)
            }
            if getppid() != supervisor { stop.store(true, ordering: .relaxed) }
        }
        thread.join()
        return done.load(ordering: .acquiring)
    }
}
