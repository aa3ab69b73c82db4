import Foundation

/// Draws a rebuild's progress on standard error: a bar, counts, rate and ETA.
///
/// On a terminal it redraws one line (at most ten times a second); otherwise it prints a
/// line every few seconds, so logs stay readable.
public final class ProgressBar {
    private let isTerminal = isatty(FileHandle.standardError.fileDescriptor) == 1
    private var lastDraw = Date.distantPast

    public init() {}

    public func update(_ progress: RebuildProgress) {
        let now = Date()
        let interval = isTerminal ? 0.1 : 5
        guard progress.isFinished || now.timeIntervalSince(lastDraw) >= interval else { return }
        lastDraw = now
        let line = Self.render(progress)
        let text = isTerminal ? "\r\u{1B}[2K" + line + (progress.isFinished ? "\n" : "") : line + "\n"
        FileHandle.standardError.write(Data(text.utf8))
    }

    /// `stream_overview [#########...........] 45% 45000/100000 events, 21000/s, ETA 0:03`
    public static func render(_ progress: RebuildProgress, width: Int = 30) -> String {
        let total = max(progress.estimatedTotal, 1)
        let fraction = progress.isFinished ? 1 : min(1, Double(progress.processed) / Double(total))
        let filled = Int((fraction * Double(width)).rounded(.down))
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let percent = Int((fraction * 100).rounded(.down))
        let rate = Int(progress.eventsPerSecond.rounded())
        let tail =
            progress.isFinished
            ? "done in \(duration(progress.elapsed))"
            : "ETA " + (progress.secondsLeft.map(duration) ?? "?")
        return "\(progress.projection) [\(bar)] \(percent)% \(progress.processed)/\(total) events, \(rate)/s, \(tail)"
    }

    static func duration(_ seconds: Double) -> String {
        let whole = Int(seconds.rounded())
        let (hours, minutes, secs) = (whole / 3600, whole / 60 % 60, whole % 60)
        let mmss = (minutes < 10 && hours > 0 ? "0" : "") + "\(minutes):" + (secs < 10 ? "0" : "") + "\(secs)"
        return hours > 0 ? "\(hours):\(mmss)" : mmss
    }
}
