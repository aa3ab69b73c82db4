/// Text by field name, for a page that shows a form again: what was typed, or the error
/// next to each field. A template reads `{{errors.email}}`, `{{#errors.email}}...{{/errors.email}}`
/// or `{{typed.name}}`; a field with nothing is absent, never the text "nil".
public struct FormFields: Sendable {
    public private(set) var texts: [String: String]

    public init(_ texts: [String: String] = [:]) {
        self.texts = texts
    }

    /// An error's message under the name of its field, as the form names it: the last part of
    /// the API's field path (`address.postalCode` -> `postalCode`); a field-less error under
    /// `form`.
    public init(error: HTTPError?) {
        texts = [:]
        guard let error else { return }
        texts[error.field.map(FormFields.formName(of:)) ?? "form"] = error.message
    }

    public subscript(_ name: String) -> String? {
        get { texts[name] }
        set { texts[name] = newValue }
    }

    /// `address.postalCode` -> `postalCode`; `ticketLevels[1].price` -> `price`.
    public static func formName(of field: String) -> String {
        String(field.split(separator: ".").last ?? Substring(field))
    }
}

extension FormFields: Encodable {
    public func encode(to encoder: Encoder) throws {
        try texts.encode(to: encoder)
    }
}
