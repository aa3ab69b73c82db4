/// A CSV file as organisers download it (orders, attendees): RFC 4180, UTF-8, safe to open in
/// a spreadsheet.
///
/// - Every field is quoted (`"`), a `"` inside doubled, and records end with CRLF, as RFC 4180
///   says; a field may then hold commas and line breaks.
/// - Formula injection (OWASP, "CSV Injection"): a field that begins with `=`, `+`, `-`, `@`,
///   a tab or a carriage return (or their full-width forms, which some spreadsheets also take
///   as formulas) gets a leading apostrophe, inside the quotes: `"'=HYPERLINK(...)"`. Quoting
///   alone does not help (a spreadsheet unquotes before it looks for a formula); the
///   apostrophe makes the spreadsheet show the text as typed. The price: such a cell shows the
///   apostrophe in a plain text editor, and a number that begins with a sign would become
///   text, so numbers Encore writes are never negative.
/// - The file begins with a UTF-8 byte order mark, without which Excel reads UTF-8 as the
///   machine's code page ("BeyoncÃ©"); RFC 4180 parsers that read `utf-8-sig` (or skip a BOM)
///   see the same fields.
public struct CSV: Sendable, Equatable {
    public let header: [String]
    public private(set) var rows: [[String]] = []

    public init(header: [String]) {
        self.header = header
    }

    public mutating func append(_ row: [String]) {
        precondition(row.count == header.count, "a CSV row has one field per column")
        rows.append(row)
    }

    /// The file's bytes: the byte order mark, the header, then each row.
    public var bytes: [UInt8] {
        var out: [UInt8] = [0xEF, 0xBB, 0xBF]
        out.reserveCapacity(64 * (rows.count + 1))
        for record in [header] + rows {
            for (index, field) in record.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                out += Array(CSV.quoted(field).utf8)
            }
            out += [13, 10]
        }
        return out
    }

    /// One field as the file holds it: neutralised, then quoted.
    public static func quoted(_ field: String) -> String {
        "\"" + neutralised(field).replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// The field with an apostrophe before it when a spreadsheet would take it as a formula.
    public static func neutralised(_ field: String) -> String {
        guard let first = field.unicodeScalars.first, formulaStarts.contains(first) else { return field }
        return "'" + field
    }

    /// What a spreadsheet takes as the start of a formula: OWASP's list (`= + - @`, tab and
    /// carriage return), with line feed and the full-width forms of the four signs.
    static let formulaStarts: Set<Unicode.Scalar> = [
        "=", "+", "-", "@", "\t", "\r", "\n", "\u{FF1D}", "\u{FF0B}", "\u{FF0D}", "\u{FF20}",
    ]

    /// A response that downloads the file as `filename` (letters, digits, `-`, `_` and `.`
    /// kept; anything else becomes `-`). Never cached: it holds buyers' personal data.
    public func response(filename: String) -> HTTPResponse {
        let safe = String(
            filename.unicodeScalars.map { scalar -> Character in
                scalar.isASCII
                    && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar)
                        || "-_.".unicodeScalars.contains(scalar))
                    ? Character(scalar) : "-"
            })
        return HTTPResponse(
            status: 200,
            headers: [
                ("Content-Type", "text/csv; charset=utf-8; header=present"),
                ("Content-Disposition", "attachment; filename=\"\(safe)\""),
                ("Cache-Control", "private, no-store"),
            ], body: bytes)
    }
}
