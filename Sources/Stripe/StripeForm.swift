/// The body of a Stripe API request: `application/x-www-form-urlencoded` fields in the order
/// they were added, with Stripe's bracket syntax for nested keys: `metadata[checkout_id]=...`
/// for a hash, `payment_method_types[]=card` for a list.
///
/// Keys and values are percent-encoded as UTF-8, everything but RFC 3986's unreserved
/// characters (`A-Z a-z 0-9 - . _ ~`), so a space is `%20` and `&`, `=`, `+` cannot break the
/// body apart. The brackets of a key stay as they are: they are its structure, and the names
/// inside them are checked (by `StripeClient`) never to contain brackets themselves.
public struct StripeForm: Sendable, Equatable {
    public struct Field: Sendable, Equatable {
        public let key: String
        public let value: String
    }

    public private(set) var fields: [Field] = []

    public init() {}

    public mutating func add(_ key: String, _ value: String) {
        fields.append(Field(key: key, value: value))
    }

    public mutating func add(_ key: String, _ value: Int) {
        add(key, String(value))
    }

    /// `name[key]=value` for each entry, keys in sorted order (so a body is repeatable, which
    /// an idempotent retry needs: Stripe compares a retried request's parameters with the first).
    public mutating func add(_ name: String, dictionary: [String: String]) {
        for key in dictionary.keys.sorted() {
            add("\(name)[\(key)]", dictionary[key]!)
        }
    }

    /// `name[]=value` for each element, in order.
    public mutating func add(_ name: String, list: [String]) {
        for value in list { add("\(name)[]", value) }
    }

    /// The encoded body, `key=value` pairs joined by `&`.
    public var encoded: String {
        fields.map { Self.percentEncode($0.key, keeping: Self.keyCharacters) + "=" + Self.percentEncode($0.value) }
            .joined(separator: "&")
    }

    public var bytes: [UInt8] { Array(encoded.utf8) }

    static let keyCharacters: Set<UInt8> = [UInt8(ascii: "["), UInt8(ascii: "]")]

    /// Percent-encodes every byte of the UTF-8 form except unreserved characters (and `keeping`).
    static func percentEncode(_ text: String, keeping: Set<UInt8> = []) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            if isUnreserved(byte) || keeping.contains(byte) {
                out.append(byte)
            } else {
                out += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0x0f)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
            UInt8(ascii: "~"):
            true
        default: false
        }
    }
}
