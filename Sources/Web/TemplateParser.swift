/// Mustache templates parsed once into a tree (`TemplateNode`), which `Templates` renders.
///
/// The part of Mustache our templates use: `{{name}}` (HTML-escaped), `{{{name}}}` and
/// `{{&name}}` (not escaped), dotted names and `{{.}}`, sections `{{#name}}...{{/name}}` and
/// inverted sections `{{^name}}...{{/name}}`, comments `{{! ...}}`, partials `{{>name}}`, and
/// inheritance: `{{<layout}}{{$block}}...{{/block}}{{/layout}}` fills the layout's
/// `{{$block}}default{{/block}}`. A tag other than a variable alone on its line ("standalone")
/// takes the whole line with it, as the Mustache specification says, so templates can be laid
/// out on lines of their own without blank lines in the page. Changing delimiters (`{{=`) and
/// lambdas are not supported: a template that uses them is refused when it loads.
indirect enum TemplateNode: Sendable {
    case text(String)
    /// `path` is the name split at its dots; `["."]` is the current value.
    case variable(path: [String], escaped: Bool)
    case section(path: [String], inverted: Bool, body: [TemplateNode])
    /// A partial on a line of its own is indented as its tag was.
    case partial(name: String, indentation: String)
    case parent(name: String, blocks: [String: [TemplateNode]])
    case block(name: String, defaultBody: [TemplateNode])
}

struct TemplateParseError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

enum TemplateParser {
    /// A tag or a run of text, before the tree is built.
    private enum Piece {
        case text(Substring)
        case tag(kind: Character?, name: String)
    }

    static func parse(_ source: String) throws -> [TemplateNode] {
        let pieces = try removeStandaloneLines(try scan(source))
        var index = 0
        let nodes = try build(pieces, &index, closing: nil)
        return nodes
    }

    /// Text and tags, the text cut after every line break so that lines can be told apart.
    private static func scan(_ source: String) throws -> [Piece] {
        var pieces: [Piece] = []
        var rest = source[...]
        func addText(_ text: Substring) {
            var text = text
            while let newline = text.firstIndex(where: isLineBreak) {
                let end = text.index(after: newline)
                pieces.append(.text(text[..<end]))
                text = text[end...]
            }
            if !text.isEmpty { pieces.append(.text(text)) }
        }
        while let open = rest.range(of: "{{") {
            addText(rest[..<open.lowerBound])
            var body = rest[open.upperBound...]
            let triple = body.first == "{"
            let closer = triple ? "}}}" : "}}"
            guard let close = body.range(of: closer) else {
                throw TemplateParseError(message: "a tag is not closed: \(rest[open.lowerBound...].prefix(40))")
            }
            var inside = body[..<close.lowerBound]
            body = body[close.upperBound...]
            var kind: Character? = nil
            if triple {
                kind = "{"
                inside = inside.dropFirst()
            } else if let first = inside.first, "#^/!>&<$=%".contains(first) {
                kind = first
                inside = inside.dropFirst()
            }
            if kind == "=" || kind == "%" {
                throw TemplateParseError(message: "{{\(kind!) is not supported")
            }
            let name = inside.trimmingSpaces()
            if kind != "!" && name.isEmpty { throw TemplateParseError(message: "a tag without a name") }
            pieces.append(.tag(kind: kind, name: kind == "!" ? "" : name))
            rest = body
        }
        addText(rest)
        return pieces
    }

    /// Tags that may stand alone on a line, taking the line with them.
    private static let standaloneKinds: Set<Character> = ["#", "^", "/", "!", ">", "<", "$"]

    /// Drops the white space and the line break around a standalone tag; a standalone
    /// partial keeps its line's leading white space as its indentation.
    private static func removeStandaloneLines(_ pieces: [Piece]) throws -> [Piece] {
        var result: [Piece] = []
        var line: [Piece] = []
        func flush() {
            defer { line.removeAll(keepingCapacity: true) }
            var tags = 0
            var standalone = true
            var indentation = ""
            for piece in line {
                switch piece {
                case .tag(let kind, _):
                    tags += 1
                    if kind == nil || !standaloneKinds.contains(kind!) { standalone = false }
                case .text(let text):
                    let content = text.last.map(isLineBreak) == true ? text.dropLast() : text
                    if !content.allSatisfy({ $0 == " " || $0 == "\t" }) { standalone = false }
                    if tags == 0 { indentation += content }
                }
            }
            guard standalone, tags == 1 else {
                result.append(contentsOf: line)
                return
            }
            for case .tag(let kind, let name) in line {
                // The indentation rides in the partial's name until the tree is built.
                result.append(.tag(kind: kind, name: kind == ">" ? name + "\u{0}" + indentation : name))
            }
        }
        for piece in pieces {
            line.append(piece)
            if case .text(let text) = piece, text.last.map(isLineBreak) == true { flush() }
        }
        flush()
        return result
    }

    /// The tree of pieces from `index` up to the tag that closes `closing` (or the end).
    private static func build(_ pieces: [Piece], _ index: inout Int, closing: String?) throws -> [TemplateNode] {
        var nodes: [TemplateNode] = []
        var pendingText = ""
        func flushText() {
            if !pendingText.isEmpty { nodes.append(.text(pendingText)) }
            pendingText = ""
        }
        while index < pieces.count {
            let piece = pieces[index]
            index += 1
            switch piece {
            case .text(let text):
                pendingText += text
            case .tag(let kind, let name):
                switch kind {
                case "!":
                    continue
                case "/":
                    guard name == closing else {
                        throw TemplateParseError(
                            message: "{{/\(name)}} closes \(closing.map { "{{#\($0)}}" } ?? "nothing")")
                    }
                    flushText()
                    return nodes
                case "#", "^":
                    flushText()
                    let body = try build(pieces, &index, closing: name)
                    nodes.append(.section(path: path(name), inverted: kind == "^", body: body))
                case "$":
                    flushText()
                    nodes.append(.block(name: name, defaultBody: try build(pieces, &index, closing: name)))
                case "<":
                    flushText()
                    var blocks: [String: [TemplateNode]] = [:]
                    for node in try build(pieces, &index, closing: name) {
                        if case .block(let block, let body) = node { blocks[block] = body }
                    }
                    nodes.append(.parent(name: name, blocks: blocks))
                case ">":
                    flushText()
                    let parts = name.split(separator: "\u{0}", maxSplits: 1, omittingEmptySubsequences: false)
                    nodes.append(
                        .partial(name: String(parts[0]), indentation: parts.count > 1 ? String(parts[1]) : ""))
                case "{", "&":
                    flushText()
                    nodes.append(.variable(path: path(name), escaped: false))
                default:
                    flushText()
                    nodes.append(.variable(path: path(name), escaped: true))
                }
            }
        }
        if let closing { throw TemplateParseError(message: "{{#\(closing)}} is not closed") }
        flushText()
        return nodes
    }

    /// "\r\n" is one `Character` in Swift.
    private static func isLineBreak(_ character: Character) -> Bool { character == "\n" || character == "\r\n" }

    private static func path(_ name: String) -> [String] {
        name == "." ? ["."] : name.split(separator: ".").map(String.init)
    }
}

extension Substring {
    fileprivate func trimmingSpaces() -> String {
        let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let first = firstIndex(where: { !blank($0) }), let last = lastIndex(where: { !blank($0) }) else {
            return ""
        }
        return String(self[first...last])
    }
}
