import Foundation
import Testing

@testable import Web

@Suite struct TemplatesTests {
    @Test func valuesAreEscapedByDefault() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("encore-templates-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "<main>{{$content}}{{/content}}</main>".write(
            toFile: directory + "/layout.mustache", atomically: true, encoding: .utf8)
        try "{{<layout}}{{$content}}<p>{{name}}</p>{{/content}}{{/layout}}".write(
            toFile: directory + "/page.mustache", atomically: true, encoding: .utf8)
        let templates = try Templates(directories: [directory])
        let html = try templates.render("page", ["name": "<script>alert(1)</script>"])
        #expect(html == "<main><p>&lt;script&gt;alert(1)&lt;/script&gt;</p></main>")
    }
}
