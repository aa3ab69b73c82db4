import Foundation
import Testing

@testable import Web

/// Pages render from view models turned into dictionaries; what a template sees is what it
/// saw through reflection: nil is absent (looked up in the enclosing context), booleans and
/// arrays open sections, code-made markup passes unescaped only through triple braces.
struct TemplateEncoderTests {
    struct Line: Encodable {
        let name: String
        let note: String?
    }
    struct Page: Encodable {
        let title: String
        let count: Int
        let version: Int64
        let ratio: Float
        let open: Bool
        let lines: [Line]
        let qr: HTML
        let when: Date
        let note: String?
    }

    let page = Page(
        title: "Tickets <&>", count: 2, version: 7, ratio: 0.5, open: true,
        lines: [Line(name: "Ann", note: nil), Line(name: "Ben", note: "VIP")],
        qr: HTML(trusted: "<svg/>"), when: Date(timeIntervalSince1970: 0), note: "page note")

    @Test func nilIsAbsentAndTheRestIsKept() throws {
        let tree = try #require(try TemplateEncoder().encode(page) as? [String: Any])
        #expect(tree["title"] as? String == "Tickets <&>")
        #expect(tree["count"] as? Int == 2)
        // Every number width (an Int64's own encoding would call back into the encoder).
        #expect(tree["version"] as? Int64 == 7 && tree["ratio"] as? Float == 0.5)
        #expect(tree["open"] as? Bool == true)
        #expect(tree["qr"] as? String == "<svg/>")
        #expect(tree["when"] as? Date == Date(timeIntervalSince1970: 0))
        let lines = try #require(tree["lines"] as? [[String: Any]])
        #expect(lines.count == 2 && lines[0]["note"] == nil && lines[1]["note"] as? String == "VIP")
    }

    @Test func templatesRenderTheTreeAsTheyRenderedStructs() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("templates-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try "{{title}}|{{#open}}open{{/open}}|{{#lines}}{{name}}:{{note}};{{/lines}}|{{{qr}}}|{{qr}}"
            .write(to: folder.appendingPathComponent("page.mustache"), atomically: true, encoding: .utf8)
        let text = try Templates(directories: [folder.path]).render("page", page)
        // Ann has no note of her own: the page's is found, as Mustache looks up the stack.
        #expect(text == "Tickets &lt;&amp;&gt;|open|Ann:page note;Ben:VIP;|<svg/>|&lt;svg/&gt;")
    }
}
