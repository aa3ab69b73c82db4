import Foundation
import Testing

@testable import FastCGI

@Suite struct JSONLogHandlerTests {
    @Test(arguments: [
        "plain", "", "quote \" and \\ backslash", "line\nbreak\r\ttab", "bell\u{7}nul\u{0}", "Beyoncé — Warsaw 🎤",
    ])
    func quotedStringsAreJSONThatReadsBackTheSame(_ text: String) throws {
        var literal: [UInt8] = []
        JSONLogHandler.appendQuoted(text, to: &literal)
        let decoded = try JSONDecoder().decode(String.self, from: Data(literal))
        #expect(decoded == text)
    }

    @Test func timestampsAreUTCToTheMillisecond() {
        var bytes: [UInt8] = []
        JSONLogHandler.appendTimestamp(to: &bytes)
        let stamp = String(decoding: bytes, as: UTF8.self)
        #expect(stamp.count == 24)
        #expect(stamp.wholeMatch(of: /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z/) != nil)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let parsed = formatter.date(from: stamp)
        #expect(parsed.map { abs($0.timeIntervalSinceNow) < 5 } == true)
    }
}
