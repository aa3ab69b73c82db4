import Foundation
import Mustache
import Testing

@testable import Web

/// Our renderer against the Mustache library the templates were written for: the same
/// templates and values give the same text, white space included.
struct TemplateRendererTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        let templates: [String: String]
        let value: TemplateValue
        var testDescription: String { name }
    }

    static let person: TemplateValue = .object([
        "name": .text("Ann <admin> & \"co\" 'x'"),
        "age": .text("41"),
        "vip": .bool(true),
        "banned": .bool(false),
        "note": .text(""),
        "address": .object(["city": .text("Kraków"), "zip": .text("30-001")]),
        "tags": .list([.text("a"), .text("b")]),
        "none": .list([]),
        "lines": .list([
            .object(["label": .text("Floor"), "qty": .text("2")]),
            .object(["label": .text("Balcony"), "qty": .text("1"), "name": .text("inner")]),
        ]),
        "qr": .text("<svg/>"),
    ])

    static let cases: [Case] = [
        Case(
            name: "variables", templates: ["t": "Hi {{name}}, {{age}}; {{{name}}} {{&name}} {{missing}}|"],
            value: person),
        Case(name: "booleans shown", templates: ["t": "{{vip}} {{banned}}"], value: person),
        Case(
            name: "dotted", templates: ["t": "{{address.city}} {{address.zip}} {{address.nope}} {{nope.city}}"],
            value: person),
        Case(
            name: "sections",
            templates: [
                "t":
                    "{{#vip}}V{{/vip}}{{#banned}}B{{/banned}}{{^banned}}nb{{/banned}}{{#missing}}M{{/missing}}{{^missing}}nm{{/missing}}"
            ],
            value: person),
        Case(
            name: "lists and the stack",
            templates: [
                "t":
                    "{{#lines}}[{{label}}x{{qty}} {{name}}]{{/lines}}{{#tags}}<{{.}}>{{/tags}}{{#none}}N{{/none}}{{^none}}empty{{/none}}"
            ],
            value: person),
        Case(name: "objects open", templates: ["t": "{{#address}}{{city}}/{{name}}{{/address}}"], value: person),
        Case(name: "empty text is a value", templates: ["t": "{{#note}}n{{/note}}{{^note}}no{{/note}}"], value: person),
        Case(
            name: "standalone lines",
            templates: [
                "t": """
                <ul>
                  {{#lines}}
                  <li>{{label}}</li>
                  {{/lines}}
                  {{^none}}
                  <li>none</li>
                  {{/none}}
                  {{! a comment }}
                </ul>
                <p>{{#vip}}inline{{/vip}}</p>
                  {{#vip}} x {{/vip}}
                end
                """
            ],
            value: person),
        Case(
            name: "partials",
            templates: [
                "t": "<div>\n  {{>row}}\n  <i>{{>row}}</i>\n</div>\n",
                "row": "<b>{{name}}</b>\n<c>{{age}}</c>\n",
            ],
            value: person),
        Case(
            name: "inheritance",
            templates: [
                "t": """
                {{<layout}}
                {{$title}}Page of {{name}}{{/title}}
                {{$content}}
                <main>
                  {{#lines}}
                  <p>{{label}}</p>
                  {{/lines}}
                </main>
                {{/content}}
                {{/layout}}
                """,
                "layout": """
                <html>
                <title>{{$title}}Default{{/title}}</title>
                <body>
                {{$content}}nothing{{/content}}
                {{$footer}}<footer>{{age}}</footer>{{/footer}}
                </body>
                </html>

                """,
            ],
            value: person),
        Case(
            name: "nested inheritance",
            templates: [
                "t": "{{<middle}}{{$a}}outer-a{{/a}}{{/middle}}",
                "middle": "{{<base}}{{$a}}middle-a{{/a}}{{$b}}middle-b{{/b}}{{/base}}",
                "base": "[{{$a}}base-a{{/a}}|{{$b}}base-b{{/b}}|{{$c}}base-c{{/c}}]",
            ],
            value: person),
        Case(name: "CRLF lines", templates: ["t": "a\r\n{{#vip}}\r\nb\r\n{{/vip}}\r\nc"], value: person),
    ]

    @Test(arguments: cases)
    func rendersAsTheLibraryDoes(_ testCase: Case) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("templates-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var library = MustacheLibrary()
        for (name, text) in testCase.templates {
            try text.write(to: folder.appendingPathComponent("\(name).mustache"), atomically: true, encoding: .utf8)
            try library.register(text, named: name)
        }
        let ours = try Templates(directories: [folder.path]).render("t", Model(value: testCase.value))
        let theirs = try #require(library.render(Self.any(testCase.value), withTemplate: "t"))
        #expect(ours == theirs)
    }

    /// Every template of every context, rendered with nothing in it (every section closed,
    /// every inverted one open) and with every name it uses given a text (every section open
    /// once): the same text as the library's, white space included.
    @Test(arguments: [false, true])
    func everyTemplateOfTheContextsRendersAsTheLibraryDoes(filled: Bool) throws {
        let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources")
        var directories: [String] = []
        for module in try FileManager.default.contentsOfDirectory(atPath: sources.path).sorted() {
            let folder = sources.appendingPathComponent(module).appendingPathComponent("Resources/Templates")
            if FileManager.default.fileExists(atPath: folder.path) { directories.append(folder.path) }
        }
        #expect(directories.count >= 5)
        let ours = try Templates(directories: directories)
        var library = MustacheLibrary()
        var names: [String] = []
        var fields: [String: TemplateValue] = [:]
        for directory in directories {
            for file in try FileManager.default.contentsOfDirectory(atPath: directory) where file.hasSuffix(".mustache")
            {
                let text = try String(contentsOfFile: directory + "/" + file, encoding: .utf8)
                let name = String(file.dropLast(".mustache".count))
                try library.register(text, named: name)
                names.append(name)
                for match in text.matches(of: /\{\{\{?[#^&]?\s*([A-Za-z0-9_.]+)\s*\}?\}\}/) {
                    let path = match.1.split(separator: ".").map(String.init)
                    guard !path.isEmpty else { continue }  // {{.}}
                    var value: TemplateValue = .text("v-\(path.joined(separator: "-")) <&>")
                    for part in path.dropFirst().reversed() { value = .object([part: value]) }
                    if case .object(let new)? = Optional(value), case .object(let old)? = fields[path[0]] {
                        value = .object(old.merging(new) { a, _ in a })
                    }
                    fields[path[0]] = value
                }
            }
        }
        let value: TemplateValue = filled ? .object(fields) : .object([:])
        for name in names.sorted() {
            let theirs = library.render(Self.any(value), withTemplate: name)
            #expect(try ours.render(name, Model(value: value)) == theirs, "\(name)")
        }
    }

    @Test func aTemplateWithASectionNotClosedIsRefusedAtLoad() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("templates-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try "{{#a}}x{{/b}}".write(to: folder.appendingPathComponent("t.mustache"), atomically: true, encoding: .utf8)
        #expect(throws: Templates.Error.self) { try Templates(directories: [folder.path]) }
    }

    @Test func aMissingPartialOrLayoutIsAnErrorNotAnEmptyPage() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("templates-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try "a{{>nowhere}}b".write(to: folder.appendingPathComponent("p.mustache"), atomically: true, encoding: .utf8)
        try "{{<nolayout}}{{$x}}y{{/x}}{{/nolayout}}".write(
            to: folder.appendingPathComponent("l.mustache"), atomically: true, encoding: .utf8)
        let templates = try Templates(directories: [folder.path])
        #expect(throws: Templates.Error.self) { try templates.render("p", Model(value: .object([:]))) }
        #expect(throws: Templates.Error.self) { try templates.render("l", Model(value: .object([:]))) }
    }

    /// A view model that is a `TemplateValue` already.
    struct Model: Encodable {
        let value: TemplateValue

        func encode(to encoder: Encoder) throws {
            switch value {
            case .text(let text):
                var container = encoder.singleValueContainer()
                try container.encode(text)
            case .bool(let flag):
                var container = encoder.singleValueContainer()
                try container.encode(flag)
            case .null:
                var container = encoder.singleValueContainer()
                try container.encodeNil()
            case .list(let items):
                var container = encoder.unkeyedContainer()
                for item in items { try container.encode(Model(value: item)) }
            case .object(let fields):
                var container = encoder.container(keyedBy: Key.self)
                for (name, field) in fields {
                    try container.encode(Model(value: field), forKey: Key(stringValue: name))
                }
            }
        }

        struct Key: CodingKey {
            let stringValue: String
            init(stringValue: String) { self.stringValue = stringValue }
            var intValue: Int? { nil }
            init?(intValue: Int) { nil }
        }
    }

    /// The same value as the library reads it: dictionaries, arrays, strings and booleans.
    static func any(_ value: TemplateValue) -> Any {
        switch value {
        case .text(let text): text
        case .bool(let flag): flag
        case .null: NSNull()
        case .list(let items): items.map(any)
        case .object(let fields): fields.mapValues(any)
        }
    }
}
