/// Percent-decoding of paths and form values (`%C3%A9` -> `é`).
///
/// Most paths and values have no `%` at all and come back as they are, without Foundation's
/// `removingPercentEncoding`, which bridges through CoreFoundation: a cost on every request
/// (measured: bench/FINDINGS.md, session 13).
enum PercentDecoding {
    /// `text` with each `%XX` replaced by its byte; nil when a `%` is not followed by two hex
    /// digits or the bytes are not UTF-8 (as `removingPercentEncoding`).
    static func decode<Text: StringProtocol>(_ text: Text) -> String? {
        let percent = UInt8(ascii: "%")
        guard text.utf8.contains(percent) else { return String(text) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == percent else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                return nil
            }
            bytes.append(high << 4 | low)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
