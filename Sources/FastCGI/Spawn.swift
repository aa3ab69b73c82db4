import Glibc

/// Starts child processes with `posix_spawn`, handing down chosen descriptors at fixed numbers.
enum Spawn {
    static func process(
        executable: String, arguments: [String], environment: [String: String],
        descriptors: [(source: Int32, target: Int32)]
    ) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (source, target) in descriptors {
            // dup2 onto a different number clears FD_CLOEXEC on the copy, so exactly these
            // descriptors survive exec. The sources are never 3 or 4 themselves (see `park`).
            precondition(source != target, "descriptor \(source) must be parked above the targets first")
            posix_spawn_file_actions_adddup2(&actions, source, target)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaultMask = sigset_t()
        sigemptyset(&defaultMask)
        posix_spawnattr_setsigmask(&attributes, &defaultMask)
        var defaults = Signals.makeSet(Signals.handled + [SIGPIPE])
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        var merged: [String: String] = [:]
        var index = 0
        while let entry = environ[index] {
            let pair = String(cString: entry)
            if let equals = pair.firstIndex(of: "=") {
                merged[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
            }
            index += 1
        }
        merged.merge(environment) { $1 }

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid = pid_t()
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard result == 0 else { throw SystemError(call: "posix_spawn \(executable)", errno: result) }
        return pid
    }

    /// Moves a descriptor above the numbers handed to children, keeping it close-on-exec.
    static func park(_ fd: Int32) -> Int32 {
        let moved = fcntl(fd, F_DUPFD_CLOEXEC, 64)
        guard moved >= 0 else { return fd }
        close(fd)
        return moved
    }
}
