import Atomics
import CLinux
import Glibc
import Logging
import Synchronization

/// A worker process: T threads, each serving FastCGI requests one at a time.
///
/// The supervisor hands down the listening socket as fd 3 and the scoreboard as fd 4. The
/// threads wait together in one `epoll` set (each event wakes one thread) holding the listening
/// socket (`EPOLLEXCLUSIVE` across the pool's workers), the stop event, and the connections the
/// web server keeps open between requests (`fastcgi_keep_conn`): a kept connection waits in the
/// set, armed once (`EPOLLONESHOT`), and whichever thread is free serves its next request, so
/// an idle connection never pins a thread.
///
/// Stopping (SIGTERM from the supervisor, or recycling after `maxRequests`) takes the listening
/// socket out of the set and sets the stop event. Busy threads finish what they serve; kept
/// connections go on being served until the web server closes them (nginx's upstream
/// `keepalive_timeout` and `keepalive_requests`), because a connection closed from this side
/// could meet a request nginx is already writing to it. Those still open half-way through the
/// stop timeout are closed, and the process exits 0.
public final class Worker: @unchecked Sendable {
    // Sendable: the fields are set before any thread starts and read-only afterwards, except
    // the atomics and the mutex-guarded thread records.
    public static let listeningSocketFD: Int32 = 3
    public static let scoreboardFD: Int32 = 4

    let configuration: PoolConfiguration
    let slot: Int
    let scoreboard: Scoreboard
    let logger: Logger
    let accessLogger: Logger
    let makeHandler: RequestHandlerFactory
    private let stopEvent: Int32
    /// The epoll set all threads wait in.
    private let dispatch: Int32
    /// Kept connections waiting in the epoll set for their next request. A connection being
    /// served is in no set: its thread owns it until it parks or closes it, so closing never
    /// races with another thread's use of the same descriptor number.
    private let idle = Mutex(Set<Int32>())
    private let liveThreads = ManagedAtomic<Int>(0)
    /// When kept connections are closed from this side during a stop (monotonic ms).
    private let drainDeadline = ManagedAtomic<Int>(Int.max)
    private let stopping = ManagedAtomic<Bool>(false)
    private let stopReason = Mutex<String?>(nil)
    let records: [ThreadRecordCell]

    final class ThreadRecordCell: Sendable {
        let mutex = Mutex(ThreadRecord())
        func withLock<T>(_ body: (inout ThreadRecord) -> T) -> T { mutex.withLock { body(&$0) } }
    }

    /// What the watchdog knows of a thread's current request.
    struct ThreadRecord {
        var socket: Int32 = -1
        var method = ""
        var path = ""
        var startedAt = 0
        var reportedSlow = false
        var timedOut = false
    }

    public init(
        configuration: PoolConfiguration, slot: Int, logger: Logger, makeHandler: @escaping RequestHandlerFactory
    ) throws {
        self.configuration = configuration
        self.slot = slot
        self.scoreboard = try Scoreboard(mapping: Worker.scoreboardFD)
        var logger = logger
        logger[metadataKey: "pid"] = "\(getpid())"
        self.logger = logger
        var access = Logger(label: "encore.access")
        access[metadataKey: "pid"] = "\(getpid())"
        self.accessLogger = access
        self.makeHandler = makeHandler
        stopEvent = eventfd(0, Int32(EFD_CLOEXEC))
        guard stopEvent >= 0 else { throw SystemError.last("eventfd") }
        dispatch = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard dispatch >= 0 else { throw SystemError.last("epoll_create1") }
        var listenEvent = epoll_event(
            events: EPOLLIN.rawValue | EPOLLEXCLUSIVE.rawValue, data: epoll_data_t(fd: Worker.listeningSocketFD))
        var stopEventSpec = epoll_event(events: EPOLLIN.rawValue, data: epoll_data_t(fd: stopEvent))
        guard epoll_ctl(dispatch, EPOLL_CTL_ADD, Worker.listeningSocketFD, &listenEvent) == 0,
            epoll_ctl(dispatch, EPOLL_CTL_ADD, stopEvent, &stopEventSpec) == 0
        else { throw SystemError.last("epoll_ctl") }
        records = (0..<configuration.threads).map { _ in ThreadRecordCell() }
    }

    /// Runs until told to stop; returns the process exit status.
    public func run() -> Int32 {
        Signals.blockForProcess()
        FastCGIConnection.initializeLibrary()
        let supervisor = getppid()
        scoreboard.worker(slot, .pid).store(Int(getpid()), ordering: .relaxed)

        let threads = (0..<configuration.threads).map { index in
            PosixThread { [self] in self.serve(thread: index) }
        }
        let watchdog = PosixThread { [self] in self.watch() }
        scoreboard.worker(slot, .state).store(Scoreboard.WorkerState.running.rawValue, ordering: .releasing)
        logger.debug("worker started", metadata: ["slot": "\(slot)", "threads": "\(configuration.threads)"])

        while !stopping.load(ordering: .acquiring) {
            if let signal = Signals.wait(milliseconds: 250) {
                switch signal {
                case SIGTERM, SIGINT, SIGQUIT: requestStop("\(Signals.name(signal)) received")
                default: break
                }
            }
            if getppid() != supervisor { requestStop("supervisor is gone") }
        }

        let reason = stopReason.withLock { $0 } ?? "stop"
        logger.info("worker stopping", metadata: ["slot": "\(slot)", "reason": "\(reason)"])
        let deadline = Clock.monotonicMilliseconds() + Int(configuration.stopTimeout * 1000)
        let finished = ManagedAtomic<Int>(0)
        let joiner = PosixThread {
            for thread in threads { thread.join() }
            finished.store(1, ordering: .releasing)
        }
        while finished.load(ordering: .acquiring) == 0 && Clock.monotonicMilliseconds() < deadline {
            usleep(10_000)
        }
        if finished.load(ordering: .acquiring) == 0 {
            logger.error("requests still running at the stop timeout; exiting anyway", metadata: ["slot": "\(slot)"])
            return 1
        }
        joiner.join()
        watchdog.join()
        return 0
    }

    /// Stops accepting; busy threads finish what they serve.
    func requestStop(_ reason: String) {
        guard stopping.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
        else { return }
        stopReason.withLock { $0 = reason }
        scoreboard.worker(slot, .state).store(Scoreboard.WorkerState.draining.rawValue, ordering: .releasing)
        _ = epoll_ctl(dispatch, EPOLL_CTL_DEL, Worker.listeningSocketFD, nil)
        drainDeadline.store(
            Clock.monotonicMilliseconds() + Int(configuration.stopTimeout * 500), ordering: .relaxed)
        var one: UInt64 = 1
        _ = write(stopEvent, &one, 8)
    }

    // MARK: Serving

    private func serve(thread index: Int) {
        liveThreads.wrappingIncrement(ordering: .relaxed)
        defer { liveThreads.wrappingDecrement(ordering: .releasing) }
        let connection = FastCGIConnection(listeningSocket: Worker.listeningSocketFD)
        let handler = makeHandler(
            WorkerThreadContext(
                workerSlot: slot, threadIndex: index, configuration: configuration,
                status: { [scoreboard] in scoreboard.snapshot() },
                requestHistograms: { [scoreboard] in scoreboard.requestHistograms() }))
        var ready = epoll_event()
        var peekBuffer = [UInt8](repeating: 0, count: 65_536 + 16)
        let timeout = timeval(tv_sec: Int(configuration.requestTimeout.rounded(.up)), tv_usec: 0)

        while true {
            if stopping.load(ordering: .relaxed) {
                if Clock.monotonicMilliseconds() >= drainDeadline.load(ordering: .relaxed) { closeIdleConnections() }
                if idle.withLock({ $0.isEmpty }) { break }
            }
            let count = epoll_wait(dispatch, &ready, 1, 250)
            if count <= 0 { continue }
            let socket: Int32
            var parked = false
            switch ready.data.fd {
            case stopEvent:
                // Level-triggered, so it wakes every thread; while kept connections drain, the
                // threads look again on the wait's timeout instead of spinning on it.
                if !idle.withLock({ $0.isEmpty }) { _ = epoll_ctl(dispatch, EPOLL_CTL_DEL, stopEvent, nil) }
                continue
            case Worker.listeningSocketFD:
                socket = accept(Worker.listeningSocketFD, nil, nil)
                if socket < 0 {
                    let error = errno
                    if error != EAGAIN && error != EINTR && error != ECONNABORTED {
                        logger.error("accept failed", metadata: ["errno": "\(error)"])
                        usleep(10_000)
                    }
                    continue
                }
                var limit = timeout
                setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
                setsockopt(socket, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
            case let fd:
                // A kept connection with a new request (or closed by the web server). Another
                // thread may have closed it at the drain deadline: then it is not idle any more.
                guard idle.withLock({ $0.remove(fd) != nil }) else { continue }
                socket = fd
                parked = true
            }
            serveConnection(
                socket, parked: parked, connection: connection, handler: handler, thread: index,
                peekBuffer: &peekBuffer)
        }
    }

    /// Puts a kept connection (back) in the epoll set, armed for its next request.
    /// `parked`: it is in the set already (it came from there), so it is re-armed.
    private func park(_ socket: Int32, parked: Bool) {
        var event = epoll_event(
            events: EPOLLIN.rawValue | EPOLLRDHUP.rawValue | EPOLLONESHOT.rawValue, data: epoll_data_t(fd: socket))
        idle.withLock { _ = $0.insert(socket) }
        if epoll_ctl(dispatch, parked ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, socket, &event) != 0 {
            logger.error("cannot keep a connection", metadata: ["errno": "\(errno)"])
            // Not armed, so no other thread can have taken it.
            idle.withLock { _ = $0.remove(socket) }
            close(socket)
        }
    }

    /// At the drain deadline: closes the kept connections that wait for a request.
    private func closeIdleConnections() {
        let waiting = idle.withLock { sockets in
            defer { sockets.removeAll() }
            return sockets
        }
        for socket in waiting { close(socket) }
    }

    private func serveConnection(
        _ socket: Int32, parked: Bool, connection: FastCGIConnection, handler: RequestHandler, thread index: Int,
        peekBuffer: inout [UInt8]
    ) {
        let startedMicros = Clock.monotonicMicroseconds()
        let started = startedMicros / 1000
        scoreboard.thread(slot, index, .active).store(1, ordering: .relaxed)
        defer { scoreboard.thread(slot, index, .active).store(0, ordering: .relaxed) }
        switch admit(socket, buffer: &peekBuffer) {
        case .serve: break
        case .refuse, .closed:
            close(socket)
            return
        }
        guard let params = connection.begin(socket: socket) else {
            logger.warning("malformed FastCGI request dropped", metadata: ["thread": "\(index)"])
            return
        }
        let method = params["REQUEST_METHOD"] ?? "GET"
        let request = FastCGIRequest(params: params)
        let path = request.path
        records[index].withLock {
            $0 = ThreadRecord(socket: connection.socket, method: method, path: path, startedAt: started)
        }

        let response: FastCGIResponse
        var bodyRead = false
        if let declared = params["CONTENT_LENGTH"].flatMap({ Int($0) }), declared > configuration.bodyLimit {
            response = rejectBody()
        } else {
            switch connection.readBody(limit: configuration.bodyLimit) {
            case .complete(let body):
                bodyRead = true
                response = handler.handle(FastCGIRequest(params: params, body: body))
            case .tooLarge:
                response = rejectBody()
            case .incomplete:
                // Never serve a request with half its body: the peer went away mid-request.
                records[index].withLock { $0.socket = -1 }
                connection.abandon()
                logger.warning(
                    "incomplete FastCGI request dropped",
                    metadata: ["thread": "\(index)", "method": "\(method)", "path": "\(path)"])
                return
            }
        }
        connection.write(response.serialized)
        records[index].withLock { $0.socket = -1 }
        if bodyRead && connection.peerKeepsConnection && !connection.inputFailed,
            let open = connection.finishKeepingConnection()
        {
            park(open, parked: parked && open == socket)
        } else {
            connection.finish(drain: !bodyRead)
        }

        let total = scoreboard.worker(slot, .requestsServed).loadThenWrappingIncrement(ordering: .relaxed) + 1
        scoreboard.recordRequest(
            route: response.route, status: response.status, microseconds: Clock.monotonicMicroseconds() - startedMicros)
        accessLogger.info(
            "request",
            metadata: [
                "method": "\(method)", "path": "\(path)", "status": "\(response.status)",
                "ms": "\(Clock.monotonicMilliseconds() - started)",
            ])
        if configuration.maxRequests > 0 && total >= configuration.maxRequests {
            requestStop("recycled after \(total) requests")
        }
    }

    /// Peeks at the request's first records and refuses absurd parameter lengths before
    /// libfcgi allocates them (see `ParamsGuard`). Waits at most 100 ms for parameters that
    /// arrive in pieces, then lets libfcgi read what comes.
    private func admit(_ socket: Int32, buffer: inout [UInt8]) -> Admission {
        for _ in 0..<100 {
            let count = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, Int32(MSG_PEEK)) }
            if count == 0 { return .closed }  // the web server closed it (a kept connection, usually)
            if count < 0 { return .serve }  // libfcgi's read reports it
            switch ParamsGuard.check(buffer[0..<count]) {
            case .ok: return .serve
            case .reject(let reason):
                logger.warning("FastCGI request refused", metadata: ["reason": "\(reason)"])
                return .refuse
            case .needMore:
                if count == buffer.count { return .serve }
                usleep(1000)
            }
        }
        return .serve
    }

    private enum Admission {
        case serve
        case refuse
        case closed
    }

    private func rejectBody() -> FastCGIResponse {
        scoreboard.worker(slot, .rejectedBodies).wrappingIncrement(ordering: .relaxed)
        return .error(
            413, code: "payload_too_large",
            message: "The request body is larger than \(configuration.bodyLimit) bytes.")
    }

    // MARK: Watchdog

    /// The watchdog cuts a request off this long after the request timeout. Limits inside the
    /// request that equal the timeout (PostgreSQL's statement_timeout) fire a few milliseconds
    /// after the request began, and must get to answer first (503 request_timeout, worker
    /// kept); without the grace the watchdog's 100 ms tick often beat them, closed the socket
    /// (502 at nginx) and retired a healthy worker.
    static let hardTimeoutGraceMs = 500

    /// Writes the slow log and ends requests that run past the request timeout.
    ///
    /// A request that overruns is ended by shutting its socket down (the web server answers
    /// 502/504 at once). Its thread may be stuck in code that will not return, so the worker
    /// then retires: it stops accepting, and the supervisor starts a replacement.
    private func watch() {
        let slowMs = Int(configuration.slowRequest * 1000)
        let timeoutMs = Int(configuration.requestTimeout * 1000) + Worker.hardTimeoutGraceMs
        while true {
            let count = pollStop(milliseconds: 100)
            let now = Clock.monotonicMilliseconds()
            for (index, record) in records.enumerated() {
                record.withLock { current in
                    guard current.socket >= 0 else { return }
                    let elapsed = now - current.startedAt
                    if elapsed >= slowMs && !current.reportedSlow {
                        current.reportedSlow = true
                        scoreboard.worker(slot, .slowRequests).wrappingIncrement(ordering: .relaxed)
                        logger.warning(
                            "slow request",
                            metadata: [
                                "method": "\(current.method)", "path": "\(current.path)", "ms": "\(elapsed)",
                                "thread": "\(index)", "slow_log": "true",
                            ])
                    }
                    if elapsed >= timeoutMs && !current.timedOut {
                        current.timedOut = true
                        scoreboard.worker(slot, .timeouts).wrappingIncrement(ordering: .relaxed)
                        logger.error(
                            "request timed out; ending it and retiring this worker",
                            metadata: [
                                "method": "\(current.method)", "path": "\(current.path)", "ms": "\(elapsed)",
                                "thread": "\(index)", "slow_log": "true",
                            ])
                        shutdown(current.socket, Int32(SHUT_RDWR))
                        requestStop("a request timed out")
                    }
                }
            }
            if count && stopping.load(ordering: .relaxed) && liveThreads.load(ordering: .acquiring) == 0 { return }
        }
    }

    /// Sleeps up to `milliseconds`, waking early when the stop event is set; true if it is set.
    private func pollStop(milliseconds: Int32) -> Bool {
        var descriptor = pollfd(fd: stopEvent, events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, milliseconds) > 0
    }
}
