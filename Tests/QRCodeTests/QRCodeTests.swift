import Foundation
import Testing

@testable import QRCode

struct QRCodeTests {
    @Test func anUpperCaseCodeFitsASmallSymbol() throws {
        let code = try QRCode("T1" + String(repeating: "ABCDEFGHJK", count: 5) + "MN")
        // 54 alphanumeric characters at 15% correction fit version 3 (29 modules a side).
        #expect(code.size == 29)
        #expect(code.modules.count == 29 * 29)
        // The finder pattern's corner.
        #expect(code.isDark(x: 0, y: 0) && code.isDark(x: 6, y: 6) && !code.isDark(x: 7, y: 7))
    }

    @Test func emptyOrNulTextIsRefused() {
        #expect(throws: QRCode.Failure.self) { try QRCode("") }
        #expect(throws: QRCode.Failure.self) { try QRCode("a\u{0}b") }
        #expect(throws: QRCode.Failure.self) { try QRCode(String(repeating: "x", count: 5000)) }
    }

    @Test func svgHasTheQuietZoneAndEscapesItsTitle() throws {
        let svg = try QRCode("HELLO").svg(title: "Ticket <1> & \"2\"")
        #expect(svg.hasPrefix("<svg"))
        #expect(svg.contains("viewBox=\"0 0 29 29\""))  // 21 modules + 2 x 4
        #expect(svg.contains("<title>Ticket &lt;1&gt; &amp; &quot;2&quot;</title>"))
        #expect(!svg.contains("<1>"))
    }

    @Test func pngChecksumsAreRight() {
        #expect(PNG.crc32(Array("IEND".utf8)) == 0xAE42_6082)
        #expect(PNG.adler32(Array("Wikipedia".utf8)) == 0x11E6_0398)
        let big = [UInt8](repeating: 7, count: 70_000)
        let stream = PNG.zlibStored(big)
        // Two stored blocks: 65,535 bytes, then the rest, the second marked last.
        #expect(stream.count == 2 + 5 + 65_535 + 5 + (70_000 - 65_535) + 4)
        #expect(stream[2] == 0 && stream[2 + 5 + 65_535] == 1)
    }

    /// The PNG reads back as the same text with a real decoder (zbarimg, Debian's zbar-tools).
    @Test(.enabled(if: Zbar.path != nil, "zbarimg is not installed (Debian package zbar-tools)"))
    func pngDecodesWithZbar() throws {
        let text = "T1QZ5M7YB3K2D9R4XW6P8N"
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("qr-\(UUID()).png")
        try Data(try QRCode(text).png(scale: 4)).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        #expect(try Zbar.decode(file) == text)
    }
}

enum Zbar {
    static let path: String? = ["/usr/bin/zbarimg", "/usr/local/bin/zbarimg"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    static func decode(_ file: URL) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path!)
        process.arguments = ["--quiet", "--raw", file.path]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
