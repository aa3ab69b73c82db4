import Foundation

/// Server-side templates (Mustache): every `{{value}}` is HTML-escaped; raw output needs
/// triple braces, which our templates use only for markup that code produced with `HTML`.
///
/// Loaded and parsed once per process from the contexts' folders of `.mustache` files
/// (`TemplateParser`); rendering is thread-safe. Pages render from typed view models (a struct
/// per page), turned into a `TemplateValue` tree first (`TemplateEncoder`): a value that is nil
/// is absent, so a template never shows "nil".
///
/// The renderer is ours rather than a Mustache library's: a library looks names up in values
/// of any type, with dynamic casts at every name, which made rendering the largest part of a
/// page's CPU (bench/FINDINGS.md). Here a name is a hash lookup in a tree of four kinds of value.
public final class Templates: Sendable {
    private let templates: [String: [TemplateNode]]

    /// Loads every `.mustache` file of the folders; a name may appear in one folder only.
    public init(directories: [String]) throws {
        var templates: [String: [TemplateNode]] = [:]
        var seen: [String: String] = [:]
        for directory in directories {
            let files = try FileManager.default.contentsOfDirectory(atPath: directory)
            for file in files.sorted() where file.hasSuffix(".mustache") {
                let name = String(file.dropLast(".mustache".count))
                if let other = seen[name] { throw Error.duplicateTemplate(name, directory, other) }
                seen[name] = directory
                let text = try String(contentsOfFile: directory + "/" + file, encoding: .utf8)
                do {
                    templates[name] = try TemplateParser.parse(text)
                } catch {
                    throw Error.invalidTemplate(name, "\(error)")
                }
            }
        }
        self.templates = templates
    }

    public enum Error: Swift.Error {
        case missingTemplate(String)
        case duplicateTemplate(String, String, String)
        case invalidTemplate(String, String)
    }

    /// Renders a template with a view model: a struct (of structs, arrays, strings, numbers
    /// and booleans).
    public func render<Model: Encodable>(_ name: String, _ model: Model) throws -> String {
        let value = try TemplateEncoder().encode(model)
        guard let nodes = templates[name] else { throw Error.missingTemplate(name) }
        var renderer = Renderer(templates: templates)
        renderer.stack.append(value)
        try renderer.render(nodes, blocks: [:])
        return renderer.out
    }
}

/// One rendering: the context stack (the values sections opened, innermost last) and the text.
private struct Renderer {
    let templates: [String: [TemplateNode]]
    var stack: [TemplateValue] = []
    var out = ""

    init(templates: [String: [TemplateNode]]) {
        self.templates = templates
        out.reserveCapacity(16_384)
    }

    /// `blocks` are the `{{$name}}` contents that inheriting templates gave, outermost first.
    mutating func render(_ nodes: [TemplateNode], blocks: [String: [TemplateNode]]) throws {
        for node in nodes {
            switch node {
            case .text(let text):
                out += text
            case .variable(let path, let escaped):
                switch lookup(path) {
                case .text(let text)?: escaped ? Self.escape(text, into: &out) : out.append(text)
                case .bool(let value)?: out += value ? "true" : "false"
                default: break
                }
            case .section(let path, let inverted, let body):
                let value = lookup(path)
                if inverted {
                    if !Self.isTruthy(value) { try render(body, blocks: blocks) }
                    continue
                }
                switch value {
                case nil, .null?, .bool(false)?: break
                case .bool(true)?: try render(body, blocks: blocks)
                case .list(let items)?:
                    for item in items {
                        stack.append(item)
                        try render(body, blocks: blocks)
                        stack.removeLast()
                    }
                case let value?:
                    stack.append(value)
                    try render(body, blocks: blocks)
                    stack.removeLast()
                }
            case .partial(let name, let indentation):
                // Checked here rather than at load: some loads (an e-mail's, in tests) take one
                // context's folder without the site's layout, which their templates never use.
                guard let partial = templates[name] else { throw Templates.Error.missingTemplate(name) }
                if indentation.isEmpty {
                    try render(partial, blocks: blocks)
                } else {
                    var inner = Renderer(templates: templates)
                    inner.stack = stack
                    try inner.render(partial, blocks: blocks)
                    Self.indent(inner.out, by: indentation, into: &out)
                }
            case .parent(let name, let given):
                guard let parent = templates[name] else { throw Templates.Error.missingTemplate(name) }
                // The outermost template's blocks win over those of templates it inherits from.
                try render(parent, blocks: blocks.merging(given) { outer, _ in outer })
            case .block(let name, let defaultBody):
                try render(blocks[name] ?? defaultBody, blocks: blocks)
            }
        }
    }

    /// A name's value: its first part looked up from the innermost value of the stack outwards,
    /// the rest in what that found; `.` is the innermost value.
    func lookup(_ path: [String]) -> TemplateValue? {
        guard let first = path.first else { return nil }
        if first == "." { return stack.last }
        for value in stack.reversed() {
            guard var found = value.child(first) else { continue }
            for name in path.dropFirst() {
                guard let child = found.child(name) else { return nil }
                found = child
            }
            return found
        }
        return nil
    }

    static func isTruthy(_ value: TemplateValue?) -> Bool {
        switch value {
        case nil, .null?, .bool(false)?: false
        case .list(let items)?: !items.isEmpty
        default: true
        }
    }

    /// `indentation` before every line of `text` that has a character (a line break counts),
    /// by UTF-8 bytes: the lines are copied whole. A line ends at "\n"; "\r\n" is one
    /// character in Swift, and a line ending in it is not ended, as when this went by characters.
    static func indent(_ text: String, by indentation: String, into out: inout String) {
        var text = text
        text.withUTF8 { bytes in
            var lineStart = 0
            var index = 0
            while index < bytes.count {
                if bytes[index] == UInt8(ascii: "\n"), index == 0 || bytes[index - 1] != UInt8(ascii: "\r") {
                    out += indentation
                    out += String(decoding: UnsafeBufferPointer(rebasing: bytes[lineStart...index]), as: UTF8.self)
                    lineStart = index + 1
                }
                index += 1
            }
            if lineStart < bytes.count {
                out += indentation
                out += String(decoding: UnsafeBufferPointer(rebasing: bytes[lineStart...]), as: UTF8.self)
            }
        }
    }

    /// HTML escaping of `& < > " '`, by UTF-8 bytes: the text between the characters that need
    /// it is copied in runs.
    static func escape(_ text: String, into out: inout String) {
        var text = text
        let escapedAny = text.withUTF8 { bytes -> Bool in
            var runStart = 0
            for index in bytes.indices {
                let replacement: String
                switch bytes[index] {
                case UInt8(ascii: "&"): replacement = "&amp;"
                case UInt8(ascii: "<"): replacement = "&lt;"
                case UInt8(ascii: ">"): replacement = "&gt;"
                case UInt8(ascii: "\""): replacement = "&quot;"
                case UInt8(ascii: "'"): replacement = "&#39;"
                default: continue
                }
                if runStart < index {
                    out += String(decoding: UnsafeBufferPointer(rebasing: bytes[runStart..<index]), as: UTF8.self)
                }
                out += replacement
                runStart = index + 1
            }
            if runStart > 0, runStart < bytes.count {
                out += String(decoding: UnsafeBufferPointer(rebasing: bytes[runStart...]), as: UTF8.self)
            }
            return runStart > 0
        }
        if !escapedAny { out += text }
    }
}
