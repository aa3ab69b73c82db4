import Glibc

/// The pool's listening unix socket, owned by the supervisor for its whole life so that
/// connections queue in the backlog, never refused, while workers come and go.
enum ListeningSocket {
    /// Binds `path` (replacing a stale socket file left by a crash) and listens.
    /// The socket is non-blocking: workers accept after `epoll` says a connection waits.
    static func open(path: String, backlog: Int) throws -> Int32 {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.utf8.count < capacity else {
            throw SystemError(call: "socket path longer than \(capacity - 1) bytes: \(path)", errno: ENAMETOOLONG)
        }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            buffer.copyBytes(from: path.utf8)
            buffer[path.utf8.count] = 0
        }
        if isLive(path: path, address: address) {
            throw SystemError(call: "another process is listening on \(path)", errno: EADDRINUSE)
        }
        unlink(path)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemError.last("socket") }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0 else {
            let error = SystemError.last("bind \(path)")
            close(fd)
            throw error
        }
        // nginx's workers run as another user; the socket's folder is what restricts access.
        chmod(path, 0o666)
        guard listen(fd, Int32(backlog)) == 0 else { throw SystemError.last("listen") }
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        return fd
    }

    /// Whether a process already accepts on `path` (so we must not steal it).
    private static func isLive(path: String, address: sockaddr_un) -> Bool {
        var address = address
        let probe = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard probe >= 0 else { return false }
        defer { close(probe) }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(probe, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        return result == 0
    }
}
