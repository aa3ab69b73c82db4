import Foundation
import Glibc
import Logging
import Testing

@testable import Finance

/// The PDF renderer: Chromium's PDF of a page; a renderer that hangs is killed at the deadline
/// with every process it started; without Chromium, a clear 503-worthy error.
@Suite(.serialized) struct PDFRendererTests {
    let logger = Logger(label: "test")

    @Test func chromiumPrintsThePageToAPDF() throws {
        let renderer = PDFRenderer()
        guard renderer.executable != nil else {
            Issue.record("chromium is not installed (bin/test installs it)")
            return
        }
        let pdf = try renderer.render(
            html: "<!doctype html><title>t</title><h1>Invoice EN/2030/000001</h1>", logger: logger)
        #expect(pdf.starts(with: Array("%PDF".utf8)) && pdf.count > 500)
    }

    @Test func aRenderThatHangsIsKilledWithItsHelpersAtTheDeadline() throws {
        let folder = try PDFRenderer.temporaryFolder()
        defer {
            do { try FileManager.default.removeItem(atPath: folder) } catch { Issue.record("cleanup: \(error)") }
        }
        // A stand-in that starts a helper and hangs, as a stuck Chromium would; its sleeps are
        // told apart from any other by their length.
        let seconds = 600 + Int.random(in: 1...9_000)
        let script = folder + "/hang.sh"
        try "#!/bin/sh\nsleep \(seconds) &\nsleep \(seconds)\n".write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        let started = Date()
        #expect(throws: FinanceError.self) {
            try PDFRenderer(executable: script, timeout: 2).render(html: "<p>x</p>", logger: logger)
        }
        let elapsed = Date().timeIntervalSince(started)
        #expect(elapsed >= 1.9 && elapsed < 10, "killed at its deadline, not before")
        #expect(try processes(withCommandLine: "sleep\0\(seconds)\0").isEmpty, "the helper went with it")
    }

    @Test func withoutChromiumThePDFIsUnavailable() {
        #expect(throws: FinanceError.pdfUnavailable("Chromium is not installed.")) {
            try PDFRenderer(executable: nil).render(html: "<p>x</p>", logger: logger)
        }
    }

    /// Pids whose command line (NUL-separated) is `text`.
    func processes(withCommandLine text: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: "/proc").filter { $0.allSatisfy(\.isNumber) }.filter {
            guard let line = FileManager.default.contents(atPath: "/proc/\($0)/cmdline") else { return false }
            return String(decoding: line, as: UTF8.self) == text
        }
    }
}
