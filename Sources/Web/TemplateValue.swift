/// What a template renders: a page's view model as `TemplateEncoder` turns it into text,
/// booleans, lists and objects. A `nil` optional is not here at all (a name it had is looked
/// up in the enclosing context); `null` is a nil inside a list.
public enum TemplateValue: Sendable, Equatable {
    /// A string, a number, a date: shown as it is (escaped by `{{name}}`).
    case text(String)
    case bool(Bool)
    case list([TemplateValue])
    case object([String: TemplateValue])
    case null

    /// The value at `name` of an object; nil for anything else.
    @inline(__always) func child(_ name: String) -> TemplateValue? {
        if case .object(let fields) = self { fields[name] } else { nil }
    }
}
