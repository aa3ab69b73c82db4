/// Markup that code made (an SVG drawn from a QR code), for a template's triple braces
/// `{{{qr}}}`, the one place where escaping is skipped. Never built from what a user typed
/// unless it went through `escape` first.
public struct HTML: Sendable, Equatable, CustomStringConvertible, Encodable {
    public let description: String

    public init(trusted markup: String) {
        description = markup
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    /// HTML escaping for the few places that build markup in code rather than in templates.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }
}
