import CQREncode

/// A QR code's modules (its black and white squares), made by libqrencode, and drawn as SVG
/// for pages or as PNG for e-mail (which many mail programs show only as an image).
public struct QRCode: Sendable, Equatable {
    /// How much of the symbol may be damaged and still read: `medium` (15%) suits a phone's
    /// screen or paper; `quartile` (25%) a ticket that may be folded or scuffed.
    public enum Correction: Sendable {
        case low, medium, quartile, high

        var level: QRecLevel {
            switch self {
            case .low: QR_ECLEVEL_L
            case .medium: QR_ECLEVEL_M
            case .quartile: QR_ECLEVEL_Q
            case .high: QR_ECLEVEL_H
            }
        }
    }

    public enum Failure: Error, Equatable {
        /// Empty, with a NUL, or too long for any QR version.
        case cannotEncode(String)
    }

    /// Modules per side, without the quiet zone.
    public let size: Int
    /// Row by row, `true` for a dark module.
    public let modules: [Bool]

    /// Encodes `text` (case kept) in the smallest version that holds it: libqrencode splits it
    /// into numeric, alphanumeric and byte segments by itself, so an upper-case code takes the
    /// compact alphanumeric mode.
    public init(_ text: String, correction: Correction = .medium) throws(Failure) {
        guard !text.isEmpty, !text.utf8.contains(0) else { throw .cannotEncode("empty or with a NUL byte") }
        guard let symbol = QRcode_encodeString(text, 0, correction.level, QR_MODE_8, 1) else {
            throw .cannotEncode("too long for a QR code (\(text.utf8.count) bytes)")
        }
        defer { QRcode_free(symbol) }
        let width = Int(symbol.pointee.width)
        size = width
        modules = (0..<width * width).map { symbol.pointee.data[$0] & 1 == 1 }
    }

    public func isDark(x: Int, y: Int) -> Bool { modules[y * size + x] }

    /// The modules as one SVG path (a square per run of dark modules in a row), scaled by the
    /// viewer: `viewBox` in modules, with the 4-module quiet zone that readers need.
    public func svg(title: String? = nil) -> String {
        let quiet = 4
        let side = size + 2 * quiet
        var path = ""
        for y in 0..<size {
            var x = 0
            while x < size {
                guard isDark(x: x, y: y) else {
                    x += 1
                    continue
                }
                var end = x
                while end < size, isDark(x: end, y: y) { end += 1 }
                path += "M\(x + quiet) \(y + quiet)h\(end - x)v1h-\(end - x)z"
                x = end
            }
        }
        let label = title.map { "<title>\(Self.escaped($0))</title>" } ?? ""
        return """
            <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \(side) \(side)" shape-rendering="crispEdges" \
            role="img"\(title == nil ? "" : " aria-label=\"\(Self.escaped(title!))\"")>\(label)\
            <rect width="\(side)" height="\(side)" fill="#fff"/><path d="\(path)" fill="#000"/></svg>
            """
    }

    /// A black-and-white PNG, `scale` pixels per module, with the quiet zone.
    public func png(scale: Int = 8) -> [UInt8] {
        let quiet = 4
        let side = (size + 2 * quiet) * scale
        return PNG.grayscale1Bit(width: side, height: side) { x, y in
            let mx = x / scale - quiet
            let my = y / scale - quiet
            guard mx >= 0, my >= 0, mx < size, my < size else { return false }
            return isDark(x: mx, y: my)
        }
    }

    static func escaped(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(character)
            }
        }
        return out
    }
}
