import Glibc

/// Signal handling for the pool's processes: signals are blocked in every thread and taken
/// synchronously by one thread with `sigtimedwait`, so no handler ever runs at an arbitrary
/// point of Swift code.
enum Signals {
    static let handled: [Int32] = [SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGCHLD, SIGUSR1, SIGUSR2]

    /// The signals `wait` takes. SIGUSR1 and SIGUSR2 stay blocked but are never waited for:
    /// Swift's crash handler pauses a crashing process's other threads with the first of
    /// SIGUSR1, SIGUSR2 and SIGPROF that the thread does not block, as /proc shows its mask,
    /// and a thread inside `sigtimedwait` shows the signals it waits for as unblocked. Taking
    /// SIGUSR1 here would swallow that signal, and the handler would retry for about 30 s
    /// before the process died (a crashed worker would hang that long instead of being
    /// replaced at once).
    static let waited: [Int32] = [SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGCHLD]

    static func makeSet(_ signals: [Int32]) -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in signals { sigaddset(&set, signal) }
        return set
    }

    /// Blocks the pool's signals in the calling thread (and threads it starts later) and
    /// ignores SIGPIPE, so a client that goes away is an error return, not a crash.
    static func blockForProcess() {
        var set = makeSet(handled)
        pthread_sigmask(SIG_BLOCK, &set, nil)
        signal(SIGPIPE, SIG_IGN)
    }

    /// Unblocks them again (in a child before exec, the mask is inherited).
    static func unblockAll() {
        var set = makeSet(handled)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    /// Waits up to `milliseconds` for one of the handled signals; nil on timeout.
    static func wait(milliseconds: Int) -> Int32? {
        var set = makeSet(waited)
        var timeout = timespec(tv_sec: milliseconds / 1000, tv_nsec: (milliseconds % 1000) * 1_000_000)
        let received = sigtimedwait(&set, nil, &timeout)
        return received > 0 ? received : nil
    }

    static func name(_ signal: Int32) -> String {
        switch signal {
        case SIGTERM: "SIGTERM"
        case SIGINT: "SIGINT"
        case SIGQUIT: "SIGQUIT"
        case SIGHUP: "SIGHUP"
        case SIGCHLD: "SIGCHLD"
        case SIGKILL: "SIGKILL"
        case SIGSEGV: "SIGSEGV"
        case SIGABRT: "SIGABRT"
        case SIGILL: "SIGILL"
        case SIGTRAP: "SIGTRAP"
        case SIGBUS: "SIGBUS"
        default: "signal \(signal)"
        }
    }
}

/// Starts a detached-or-joinable POSIX thread running `body`.
///
/// The entry point is a global `@convention(c)` function, never a closure literal inside
/// `@main`: such a closure would inherit `@MainActor` isolation and trap at run time.
final class PosixThread {
    private var thread = pthread_t()

    private final class Box {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    init(_ body: @escaping () -> Void) {
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        let result = pthread_create(&thread, nil, posixThreadEntry, box)
        precondition(result == 0, "pthread_create failed: \(result)")
    }

    fileprivate static func run(_ raw: UnsafeMutableRawPointer) {
        let box = Unmanaged<Box>.fromOpaque(raw).takeRetainedValue()
        box.body()
    }

    func join() {
        pthread_join(thread, nil)
    }
}

private func posixThreadEntry(_ argument: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    PosixThread.run(argument!)
    return nil
}
