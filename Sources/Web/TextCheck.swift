import Foundation

/// What the edge refuses in any text a request brings: a NUL character (U+0000, which no field
/// of Encore's takes, which PostgreSQL's text cannot hold, and which C strings end at), and
/// bytes that are not UTF-8 (including a UTF-16 body, which JSON parsers would otherwise accept).
/// Every field is checked here, before any route reads it, so no handler has to remember to.
enum TextCheck {
    /// The first problem with the request's path, query or form body, or nil.
    static func problem(in request: HTTPRequest) -> HTTPError? {
        if request.path.utf8.contains(0) { return HTTPError.nulInText }
        for (name, value) in request.query where name.utf8.contains(0) || value.utf8.contains(0) {
            return field(name)
        }
        guard request.isForm, !request.body.isEmpty else { return nil }
        guard String(validating: request.body, as: UTF8.self) != nil else { return notUTF8 }
        for (name, value) in request.form where name.utf8.contains(0) || value.utf8.contains(0) {
            return field(name)
        }
        return nil
    }

    /// The first problem with a JSON body's text: bytes that are not UTF-8 (or a NUL byte),
    /// or a string that holds `\u0000`, named by its field.
    static func problem(inJSON body: [UInt8]) -> HTTPError? {
        guard !body.contains(0), String(validating: body, as: UTF8.self) != nil else { return notUTF8 }
        guard escapesNUL(body) else { return nil }
        let value = try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed])
        return field(value.flatMap { pathOfNUL(in: $0, at: "") } ?? "")
    }

    static let notUTF8 = HTTPError(
        status: 400, code: "invalid_text", message: "The body must be UTF-8 text (JSON or a form).")

    static func field(_ name: String) -> HTTPError {
        name.isEmpty ? .nulInText : .invalid(name, "Text may not contain NUL (U+0000) characters.")
    }

    /// Whether a JSON text has the escape `\u0000` in it (not counting `\\u0000`, a backslash
    /// followed by the letters "u0000").
    static func escapesNUL(_ body: [UInt8]) -> Bool {
        let backslash = UInt8(ascii: "\\")
        let nul = Array("u0000".utf8)
        var index = 0
        while index < body.count {
            if body[index] == backslash, index + 1 < body.count {
                if body[index + 1] == UInt8(ascii: "u"), index + 6 <= body.count,
                    Array(body[index + 1..<index + 6]) == nul
                {
                    return true
                }
                index += 2  // an escape: the next character is taken, whatever it is
                continue
            }
            index += 1
        }
        return false
    }

    /// The API's name of the first string holding NUL in a parsed JSON value
    /// (`address.name`, `ticketLevels[1].name`), or nil.
    static func pathOfNUL(in value: Any, at path: String) -> String? {
        switch value {
        case let text as String:
            return text.utf8.contains(0) ? path : nil
        case let object as [String: Any]:
            for key in object.keys.sorted() {
                let child = path.isEmpty ? key : path + "." + key
                if key.utf8.contains(0) { return child }
                if let found = pathOfNUL(in: object[key] as Any, at: child) { return found }
            }
            return nil
        case let array as [Any]:
            for (index, element) in array.enumerated() {
                if let found = pathOfNUL(in: element, at: path + "[\(index)]") { return found }
            }
            return nil
        default:
            return nil
        }
    }
}
