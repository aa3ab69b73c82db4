/// Writes SVG markup: elements with their attributes and text, every value escaped, so that a
/// name an organiser typed ("<Balcony> & Co") stays text.
struct SVGWriter {
    private(set) var text = ""

    mutating func open(_ name: String, _ attributes: [(String, String)]) {
        text += "<" + name + SVGWriter.attributes(attributes) + ">"
    }

    mutating func close(_ name: String) {
        text += "</" + name + ">"
    }

    /// An element with only text in it, or empty (`<line .../>`) when `text` is nil.
    mutating func element(_ name: String, _ attributes: [(String, String)], text content: String? = nil) {
        if let content {
            text += "<" + name + SVGWriter.attributes(attributes) + ">" + SVGWriter.escape(content) + "</" + name + ">"
        } else {
            text += "<" + name + SVGWriter.attributes(attributes) + "/>"
        }
    }

    static func attributes(_ attributes: [(String, String)]) -> String {
        attributes.map { " " + $0.0 + "=\"" + escape($0.1) + "\"" }.joined()
    }

    /// XML escaping for text and attribute values; control characters, which XML may not
    /// hold, are left out.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case _ where character.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }):
                continue
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

    /// A coordinate to a tenth: `12`, `12.5`.
    static func number(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        let sign = tenths < 0 ? "-" : ""
        let magnitude = tenths.magnitude
        return magnitude % 10 == 0 ? "\(sign)\(magnitude / 10)" : "\(sign)\(magnitude / 10).\(magnitude % 10)"
    }
}
