/// A one-dimensional PostgreSQL array literal, bound as one text parameter (`{"a","b"}`).
///
/// Lets one statement carry a batch (the events of an append, the rows of a projection's
/// upsert) through `unnest`, instead of one round trip per row.
public struct SQLArray: PostgresEncodable, Sendable {
    public let postgresText: String

    /// Quoted elements; `nil` becomes NULL. Works on UTF-8 bytes: this runs for every append
    /// and every projection batch.
    public init(_ elements: [String?]) {
        var bytes: [UInt8] = [UInt8(ascii: "{")]
        bytes.reserveCapacity(elements.reduce(2) { $0 + ($1?.utf8.count ?? 4) + 3 })
        for (index, element) in elements.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            guard let element else {
                bytes.append(contentsOf: "NULL".utf8)
                continue
            }
            bytes.append(UInt8(ascii: "\""))
            for byte in element.utf8 {
                if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { bytes.append(UInt8(ascii: "\\")) }
                bytes.append(byte)
            }
            bytes.append(UInt8(ascii: "\""))
        }
        bytes.append(UInt8(ascii: "}"))
        postgresText = String(decoding: bytes, as: UTF8.self)
    }

    public init(_ elements: [String]) { self.init(elements.map { Optional($0) }) }

    /// Elements whose text needs no quoting (numbers, uuids).
    public init(unquoted elements: [some PostgresEncodable]) {
        postgresText = "{" + elements.map(\.postgresText).joined(separator: ",") + "}"
    }

    /// Parses an array of integers as PostgreSQL prints it (`{1,2,3}`).
    public static func int64s(_ text: String) -> [Int64]? {
        guard text.hasPrefix("{"), text.hasSuffix("}") else { return nil }
        let inner = text.dropFirst().dropLast()
        if inner.isEmpty { return [] }
        var values: [Int64] = []
        for part in inner.split(separator: ",") {
            guard let value = Int64(part) else { return nil }
            values.append(value)
        }
        return values
    }
}
