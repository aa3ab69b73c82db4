import Foundation
import Glibc
import Logging

/// Turns a document's HTML into a PDF with headless Chromium (Debian's `chromium`), as
/// `chromium --headless --print-to-pdf`.
///
/// Each render is a short-lived Chromium of its own, in a temporary folder (the page, its
/// profile, the PDF) that is removed afterwards, in a process group of its own so that its
/// helper processes end with it. A render that takes longer than `timeout` is killed, group
/// and all. One render at a time per worker process: Chromium takes a core and a few hundred
/// megabytes while it runs, and a request that finds another render going waits for it; waiting
/// and rendering share one budget, `timeout`, after which it gives up (503). Documents never
/// change, so a PDF is rendered once and kept (`PDFCache`).
public struct PDFRenderer: Sendable {
    /// Chromium's path; nil when none is installed (PDFs are then 503 `pdf_unavailable`).
    public let executable: String?
    public let timeout: TimeInterval

    public init(executable: String? = PDFRenderer.findChromium(), timeout: TimeInterval = 20) {
        self.executable = executable
        self.timeout = timeout
    }

    /// The first of Chromium's usual names on `PATH` (and `/usr/bin`).
    public static func findChromium() -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let folders = path.split(separator: ":").map(String.init) + ["/usr/bin"]
        for name in ["chromium", "chromium-browser", "google-chrome"] {
            for folder in folders where access(folder + "/" + name, X_OK) == 0 { return folder + "/" + name }
        }
        return nil
    }

    /// One render at a time in this process.
    private static let gate = DispatchSemaphore(value: 1)

    /// The PDF of `html` (a whole page whose resources are inline).
    public func render(html: String, logger: Logger) throws -> [UInt8] {
        guard let executable else { throw FinanceError.pdfUnavailable("Chromium is not installed.") }
        // One budget for waiting and rendering, well inside the pool's request timeout, so a
        // request never outlives its worker with a Chromium of its own still running.
        let deadline = Date().addingTimeInterval(timeout)
        let busy = FinanceError.pdfUnavailable("Another document is being rendered; try again in a moment.")
        guard Self.gate.wait(timeout: .now() + timeout) == .success else { throw busy }
        defer { Self.gate.signal() }
        guard deadline.timeIntervalSinceNow > 1 else { throw busy }
        let folder = try Self.temporaryFolder()
        defer {
            do {
                try FileManager.default.removeItem(atPath: folder)
            } catch {
                logger.warning(
                    "a PDF render's folder was left behind", metadata: ["folder": "\(folder)", "error": "\(error)"])
            }
        }
        let page = folder + "/document.html"
        let output = folder + "/document.pdf"
        try Data(html.utf8).write(to: URL(fileURLWithPath: page))
        let status = try run(
            executable,
            [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
                "--user-data-dir=\(folder)/profile", "--no-pdf-header-footer", "--print-to-pdf=\(output)",
                "file://\(page)",
            ], home: folder, deadline: deadline)
        guard status == 0 else { throw FinanceError.pdfUnavailable("Chromium failed (\(status)).") }
        let pdf = [UInt8](try Data(contentsOf: URL(fileURLWithPath: output)))
        guard pdf.starts(with: Array("%PDF".utf8)) else { throw FinanceError.pdfUnavailable("Chromium made no PDF.") }
        return pdf
    }

    static func temporaryFolder() throws -> String {
        var template = Array("/tmp/encore-pdf-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw FinanceError.pdfUnavailable("No temporary folder.") }
        return String(cString: made)
    }

    /// Runs the program in a process group of its own with nothing on its standard streams;
    /// its exit status, or -signal. Past `deadline` the group is killed.
    func run(_ executable: String, _ arguments: [String], home: String, deadline: Date) throws -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for descriptor: Int32 in [0, 1, 2] {
            posix_spawn_file_actions_addopen(
                &actions, descriptor, "/dev/null", descriptor == 0 ? O_RDONLY : O_WRONLY, 0)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The pool's processes block their signals and ignore SIGPIPE; Chromium gets the defaults.
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var defaults = sigset_t()
        sigfillset(&defaults)
        sigdelset(&defaults, SIGKILL)
        sigdelset(&defaults, SIGSTOP)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))
        let environment = ["HOME=\(home)", "PATH=/usr/bin:/bin", "LANG=C.UTF-8", "TZ=UTC"]
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard spawned == 0 else { throw FinanceError.pdfUnavailable("Chromium could not be started (\(spawned)).") }

        var timedOut = false
        while true {
            // Exited? Asked without reaping it, so its process group cannot be reused yet.
            var info = siginfo_t()
            if waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0, info.si_signo == SIGCHLD { break }
            if Date() >= deadline {
                timedOut = true
                break
            }
            usleep(20_000)
        }
        kill(-pid, SIGKILL)  // the helpers it left behind (all of the group, on a timeout)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        if timedOut { throw FinanceError.pdfUnavailable("Rendering took longer than \(Int(timeout)) s.") }
        return status & 0x7f == 0 ? (status >> 8) & 0xff : -(status & 0x7f)
    }
}
