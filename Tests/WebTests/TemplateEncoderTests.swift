import Foundation
import Testing

@testable import Web

/// Pages render from view models turned into `TemplateValue` trees; what a template sees is what it
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
        let tree = try TemplateEncoder().encode(page)
        #expect(tree.child("title") == .text("Tickets <&>"))
        #expect(tree.child("count") == .text("2"))
        // Every number width (an Int64's own encoding would call back into the encoder).
        #expect(tree.child("version") == .text("7") && tree.child("ratio") == .text("0.5"))
        #expect(tree.child("open") == .bool(true))
        #expect(tree.child("qr") == .text("<svg/>"))
        #expect(tree.child("when") == .text(String(describing: Date(timeIntervalSince1970: 0))))
        guard case .list(let lines)? = tree.child("lines") else {
            Issue.record("lines is not a list")
            return
        }
        #expect(lines.count == 2 && lines[0].child("note") == nil && lines[1].child("note") == .text("VIP"))
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
