/// Checks a request's FastCGI records before libfcgi reads them.
///
/// libfcgi allocates `nameLength + valueLength + 2` bytes for each parameter pair as the
/// peer declares them, and aborts the whole process when that allocation fails (its `Malloc`
/// asserts). A peer that declares gigabyte lengths could so take a worker down. The pool
/// peeks at what arrived and refuses a connection whose parameter pairs declare a name or
/// value longer than `maxLength` (far above anything a web server sends).
///
/// A pure function over bytes, so it is tested byte by byte.
enum ParamsGuard {
    static let maxLength = 1 << 20

    enum Verdict: Equatable {
        /// Every parameter is seen and sane.
        case ok
        /// Sane so far; the parameters have not all arrived.
        case needMore
        case reject(String)
    }

    static let begin: UInt8 = 1
    static let params: UInt8 = 4

    static func check(_ bytes: ArraySlice<UInt8>) -> Verdict {
        var offset = bytes.startIndex
        var stream: [UInt8] = []
        var ended = false
        while bytes.endIndex - offset >= 8 {
            let type = bytes[offset + 1]
            let length = Int(bytes[offset + 4]) << 8 | Int(bytes[offset + 5])
            let padding = Int(bytes[offset + 6])
            let contentStart = offset + 8
            let available = min(length, bytes.endIndex - contentStart)
            if type == params {
                if length == 0 {
                    ended = true
                } else {
                    stream.append(contentsOf: bytes[contentStart..<(contentStart + available)])
                }
            }
            if available < length || type != params && type != begin || ended { break }
            offset = contentStart + length + padding
        }
        // Walk the name-value pairs whose lengths are visible.
        var index = 0
        func readLength() -> Int? {
            guard index < stream.count else { return nil }
            if stream[index] & 0x80 == 0 {
                defer { index += 1 }
                return Int(stream[index])
            }
            guard index + 4 <= stream.count else { return nil }
            defer { index += 4 }
            return (Int(stream[index]) & 0x7f) << 24 | Int(stream[index + 1]) << 16 | Int(stream[index + 2]) << 8
                | Int(stream[index + 3])
        }
        while index < stream.count {
            guard let nameLength = readLength() else { break }
            guard let valueLength = readLength() else {
                if nameLength > maxLength { return .reject("parameter name of \(nameLength) bytes") }
                break
            }
            if nameLength > maxLength || valueLength > maxLength {
                return .reject("parameter of \(max(nameLength, valueLength)) bytes")
            }
            index += nameLength + valueLength
        }
        return ended ? .ok : .needMore
    }
}
